//! The `executor-service` command line, run as a process: `--help` says what it does and where to
//! read more, `--version` names it, and an unknown argument is a usage error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_executor-service");

/// Runs the binary with `args` in an empty environment, bounded: a flag it did not
/// recognise would otherwise start the executor and never exit.
fn run(args: &[&str]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env_clear()
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("executor-service {args:?} kept running");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_says_what_it_does_and_where_to_read_more() {
    // Act
    let output = run(&["--help"]);

    // Assert
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        text(&output.stderr)
    );
    assert!(stdout.contains("Usage: executor-service"), "{stdout}");
    for expected in [
        "permissions",
        "Print, as JSON RBAC rules",
        ".env.example",
        "README.md",
    ] {
        assert!(stdout.contains(expected), "no {expected:?} in:\n{stdout}");
    }
}

#[test]
fn version_names_the_binary() {
    // Act
    let output = run(&["--version"]);

    // Assert
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        format!("executor-service {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn an_unknown_argument_is_an_error_with_the_usage() {
    // Act
    let output = run(&["--bogus"]);

    // Assert
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("'--bogus'"), "{stderr}");
    assert!(stderr.contains("Usage: executor-service"), "{stderr}");
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
}
