//! The real `executor-service` binary refusing to start: each misconfiguration exits
//! non-zero with one message that names the variable and the cause, never a password.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use sqlx::ConnectOptions;

const BIN: &str = env!("CARGO_BIN_EXE_executor-service");

/// Runs the binary in dry run with a clean environment plus `extra`, and waits (bounded)
/// for it to exit.
fn run(extra: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("HOME", dir.path())
        .env("EXECUTOR_BIND", "127.0.0.1:0")
        .env("JWT_SECRET", "0123456789abcdef0123456789abcdef")
        .env("POLICY_URL", "http://127.0.0.1:9")
        .env("EXECUTOR_DRY_RUN", "true")
        .env("RUST_LOG", "warn")
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("executor-service kept running with {extra:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// The last line of stderr, which is the error.
fn refusal(output: &Output) -> String {
    assert!(!output.status.success(), "expected a refusal to start");
    let stderr = String::from_utf8_lossy(&output.stderr);
    stderr.lines().last().unwrap_or_default().to_owned()
}

#[test]
fn a_database_url_of_another_kind_is_an_unsupported_scheme() {
    // Act
    let output = run(&[("DATABASE_URL", "mysql://root:hunter2@db/warden")]);

    // Assert
    let message = refusal(&output);
    assert!(
        message.contains("DATABASE_URL: unsupported scheme `mysql`"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn a_port_where_nothing_listens_is_connection_refused_naming_host_and_port() {
    // Arrange
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://warden:hunter2@127.0.0.1:{port}/warden");

    // Act
    let output = run(&[("DATABASE_URL", &url)]);

    // Assert
    let message = refusal(&output);
    assert!(
        message.contains(&format!("connection refused by 127.0.0.1:{port}")),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn a_database_that_does_not_exist_says_so_and_how_to_create_it() {
    // Arrange: the server of the test suite, a database that is never created.
    let Ok(base) = std::env::var("DATABASE_URL") else {
        panic!("DATABASE_URL must name a Postgres server for this test (scripts/test sets it)");
    };
    let options: sqlx::postgres::PgConnectOptions = base.parse().unwrap();
    let url = options.database("warden_no_such_database").to_url_lossy();

    // Act
    let output = run(&[("DATABASE_URL", url.as_str())]);

    // Assert
    let message = refusal(&output);
    assert!(
        message.contains("database `warden_no_such_database` does not exist"),
        "{message}"
    );
    assert!(message.contains("createdb"), "{message}");
}
