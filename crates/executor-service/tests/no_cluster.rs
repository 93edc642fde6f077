//! The real `executor-service` binary when no cluster is found: one short cause per place
//! looked at and the way out, rather than kube's one line that repeats its innermost error.
//! Needs no Postgres (SQLite) and stops before serving.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_executor-service");

/// The binary in a clean environment (a HOME without ~/.kube, not in a pod) with `extra`,
/// waited for (bounded).
fn run(dir: &tempfile::TempDir, extra: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("HOME", dir.path())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/audit.db", dir.path().display()),
        )
        .env("JWT_SECRET", "0123456789abcdef0123456789abcdef")
        .env("EXECUTOR_BIND", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in extra {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
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

#[test]
fn without_a_cluster_it_names_each_place_looked_at_and_the_way_out() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let home_config = dir.path().join(".kube").join("config");

    // Act
    let output = run(&dir, &[]);

    // Assert
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "error: KUBECONFIG: no usable Kubernetes configuration; looked in:",
            "  in-cluster ServiceAccount: KUBERNETES_SERVICE_HOST/PORT not set (not running in a pod)",
            "  KUBECONFIG: not set",
            &format!("  ~/.kube/config: {}: no such file", home_config.display()),
            "set KUBECONFIG to a cluster's kubeconfig, or EXECUTOR_DRY_RUN=true to run without a cluster",
        ],
        "{stderr}"
    );
}

#[test]
fn an_unusable_kubeconfig_is_named_with_its_cause() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-kubeconfig");

    // Act
    let output = run(
        &dir,
        &[
            ("EXECUTOR_DRY_RUN", "true"),
            ("KUBECONFIG", missing.to_str().unwrap()),
        ],
    );

    // Assert
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "  KUBECONFIG: {}: no such file\n",
            missing.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("  ~/.kube/config: not read, since KUBECONFIG is set\n"),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(
            "fix KUBECONFIG, or unset it and set EXECUTOR_DRY_RUN=true to run without a cluster\n"
        ),
        "{stderr}"
    );
    assert_eq!(stderr.matches("os error").count(), 0, "{stderr}");
}
