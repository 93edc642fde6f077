//! The real `executor-service` binary: when it may start without a Kubernetes cluster
//! (only in dry-run mode, and never with a `KUBECONFIG` it cannot use), on an embedded
//! SQLite audit store. Needs no Postgres.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use warden_test_support::process::free_port;

const BIN: &str = env!("CARGO_BIN_EXE_executor-service");

/// The binary with a clean environment: a HOME without ~/.kube, SQLite in `dir`, a policy
/// service that does not exist, and `extra`.
fn executor(dir: &tempfile::TempDir, port: u16, extra: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("HOME", dir.path())
        .env("EXECUTOR_BIND", format!("127.0.0.1:{port}"))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/audit.db", dir.path().display()),
        )
        .env("JWT_SECRET", "0123456789abcdef0123456789abcdef")
        .env("POLICY_URL", "http://127.0.0.1:9")
        .env("RUST_LOG", "warn")
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in extra {
        command.env(k, v);
    }
    command
}

/// Waits (bounded) for the process to exit and returns its output.
fn exited(mut child: Child) -> Output {
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("executor-service kept running");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn in_dry_run_it_starts_without_a_cluster_and_says_so() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = executor(&dir, port, &[("EXECUTOR_DRY_RUN", "true")])
        .spawn()
        .unwrap();

    // Act
    let client = reqwest::Client::new();
    let mut ready = None;
    for _ in 0..400 {
        if let Ok(answer) = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
        {
            ready = Some(answer.json::<serde_json::Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let _ = child.kill();
    let _ = child.wait();

    // Assert
    let ready = ready.expect("executor-service did not answer /readyz");
    assert_eq!(ready["cluster"], "none", "{ready}");
    assert_eq!(ready["dryRun"], true, "{ready}");
    assert_eq!(ready["auditStore"], "ok", "{ready}");
    assert!(dir.path().join("audit.db").exists());
}

#[test]
fn without_dry_run_a_missing_cluster_stops_it() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();

    // Act
    let output = exited(executor(&dir, free_port(), &[]).spawn().unwrap());

    // Assert
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("KUBECONFIG"), "{stderr}");
}

#[test]
fn an_unusable_kubeconfig_stops_it_even_in_dry_run() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-kubeconfig");

    // Act
    let output = exited(
        executor(
            &dir,
            free_port(),
            &[
                ("EXECUTOR_DRY_RUN", "true"),
                ("KUBECONFIG", missing.to_str().unwrap()),
            ],
        )
        .spawn()
        .unwrap(),
    );

    // Assert
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("KUBECONFIG"), "{stderr}");
}
