//! The real `executor-service` binary and its settings: a namespace list that would
//! protect nothing, a short HMAC secret or a malformed list refuses to start, naming the
//! variable but never a secret; every spelling of a boolean is read alike; a misspelled
//! variable is warned about, naming the one meant; an audit store that cannot be opened
//! says why (unsupported scheme, connection refused, no such database).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use sqlx::ConnectOptions;

const BIN: &str = env!("CARGO_BIN_EXE_executor-service");

/// An audit store the binary refuses once its settings are read: a run that reaches it
/// accepted every setting, without any database being needed.
const UNSUPPORTED_DATABASE: &str = "mysql://root@db/warden";

/// Runs the binary with a clean environment of valid settings plus `extra` (which may
/// replace them), and waits (bounded) for it to exit.
fn run(extra: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("HOME", dir.path())
        .env("EXECUTOR_BIND", "127.0.0.1:0")
        .env("JWT_SECRET", "0123456789abcdef0123456789abcdef")
        .env("POLICY_URL", "http://127.0.0.1:9")
        .env("DATABASE_URL", UNSUPPORTED_DATABASE)
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

/// A refusal of the settings themselves: exit code 2 and `configuration error: VAR: ...`.
fn configuration_refusal(extra: &[(&str, &str)], var: &str) -> String {
    let output = run(extra);
    let message = refusal(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(
        message.starts_with(&format!("configuration error: {var}: ")),
        "{message}"
    );
    message
}

/// Every setting was accepted: the run got as far as the audit store.
fn accepted(extra: &[(&str, &str)]) {
    let message = refusal(&run(extra));
    assert!(
        message.contains("DATABASE_URL: unsupported scheme `mysql`"),
        "{extra:?}: {message}"
    );
}

#[test]
fn a_protected_namespace_in_capitals_refuses_to_start_naming_the_entry() {
    let message = configuration_refusal(
        &[("EXECUTOR_PROTECTED_NAMESPACES", "KUBE-SYSTEM")],
        "EXECUTOR_PROTECTED_NAMESPACES",
    );
    assert!(
        message.contains("`KUBE-SYSTEM` is not a namespace name"),
        "{message}"
    );
}

#[test]
fn an_empty_protected_namespace_list_must_be_written_none() {
    for value in ["", ",", " , "] {
        let message = configuration_refusal(
            &[("EXECUTOR_PROTECTED_NAMESPACES", value)],
            "EXECUTOR_PROTECTED_NAMESPACES",
        );
        assert!(message.contains("write `none`"), "{value:?}: {message}");
    }
    accepted(&[("EXECUTOR_PROTECTED_NAMESPACES", "none")]);
    accepted(&[("EXECUTOR_PROTECTED_NAMESPACES", "kube-system, production")]);
}

#[test]
fn a_short_jwt_secret_refuses_to_start_naming_the_minimum_not_the_value() {
    let message = configuration_refusal(&[("JWT_SECRET", "hunter2hunter2")], "JWT_SECRET");
    assert!(message.contains("at least 32 bytes"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn client_secret_mistakes_name_the_client_never_the_secret() {
    for (value, says) in [
        (
            "ai-engine=hunter2hunter2",
            "client `ai-engine` is too short",
        ),
        ("ai-engine", "entry 1 has no `=`"),
        (
            "ai-engine=hunter2hunter2hunter2hunter2hunter2,,",
            "entry 2 is empty",
        ),
        (
            "ai engine=hunter2hunter2hunter2hunter2hunter2",
            "has spaces",
        ),
    ] {
        let message = configuration_refusal(
            &[("EXECUTOR_CLIENT_SECRETS", value)],
            "EXECUTOR_CLIENT_SECRETS",
        );
        assert!(message.contains(says), "{value}: {message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
}

#[test]
fn a_policy_url_without_a_host_refuses_to_start() {
    configuration_refusal(&[("POLICY_URL", "http://")], "POLICY_URL");
}

#[test]
fn booleans_are_read_in_any_case_and_a_wrong_word_lists_the_right_ones() {
    for value in ["TRUE", "Yes", "on", "1"] {
        accepted(&[("EXECUTOR_DRY_RUN", value)]);
    }
    let message = configuration_refusal(&[("EXECUTOR_DRY_RUN", "perhaps")], "EXECUTOR_DRY_RUN");
    assert!(
        message.ends_with("expected true/false, yes/no, 1/0 or on/off"),
        "{message}"
    );
}

#[test]
fn a_misspelled_variable_is_warned_about_naming_the_one_meant() {
    let output = run(&[("EXECUTOR_DRYRUN", "true"), ("RATE_LIMIT_RESTRT_MAX", "1")]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("EXECUTOR_DRYRUN is not a setting of this service and is ignored; did you mean EXECUTOR_DRY_RUN?"),
        "{stderr}"
    );
    assert!(
        stderr.contains("did you mean RATE_LIMIT_RESTART_MAX?"),
        "{stderr}"
    );
    // Only a warning: start-up went on to the audit store.
    assert!(
        refusal(&output).contains("DATABASE_URL: unsupported scheme"),
        "{stderr}"
    );
}

// -- the audit store named by DATABASE_URL: why it cannot be opened, in one line --------

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
