//! The real binary on a real port: start-up, evaluate, SIGHUP reload, SIGTERM shutdown,
//! configuration errors, and the `check` / `test` commands.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use warden_test_support::process::free_port;

const BIN: &str = env!("CARGO_BIN_EXE_policy-service");

struct Server {
    child: std::process::Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(policy: &std::path::Path) -> Server {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    // Wrapped at once so that the child is killed and reaped whatever happens next.
    let server = Server {
        child: Command::new(BIN)
            .env_clear()
            .env("POLICY_BIND", format!("127.0.0.1:{port}"))
            .env("POLICY_FILE", policy)
            .env("POLICY_RELOAD_INTERVAL_SECONDS", "0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        url,
    };
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client
            .get(format!("{}/healthz", server.url))
            .send()
            .await
            .is_ok()
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("policy-service did not start on {}", server.url);
}

fn signal(child: &std::process::Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn serves_on_a_real_port_reloads_on_sighup_and_stops_on_sigterm() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "policy.yaml",
        &std::fs::read_to_string(default_policy_path()).unwrap(),
    );
    let mut server = start(&policy).await;
    let client = reqwest::Client::new();
    let evaluate = || {
        client
            .post(format!("{}/api/v1/policy/evaluate", server.url))
            .json(&seed_request())
            .send()
    };

    // Act + Assert: evaluate over HTTP.
    let first: serde_json::Value = evaluate().await.unwrap().json().await.unwrap();
    assert_eq!(first["decision"], "allow", "{first}");

    // Act + Assert: SIGHUP reloads the changed file.
    write(
        dir.path(),
        "policy.yaml",
        "version: 1\nrules:\n  - id: frozen\n    effect: deny\n    reason: change freeze\n",
    );
    signal(&server.child, "HUP");
    let mut reloaded = false;
    for _ in 0..200 {
        let answer: serde_json::Value = evaluate().await.unwrap().json().await.unwrap();
        if answer["matchedRule"] == "frozen" {
            reloaded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(reloaded, "SIGHUP did not reload the policy");

    // Act + Assert: SIGTERM stops it cleanly.
    signal(&server.child, "TERM");
    let mut status = None;
    for _ in 0..200 {
        if let Some(s) = server.child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(status.expect("exited after SIGTERM").success());
}

#[test]
fn a_bad_setting_exits_non_zero_naming_the_variable() {
    for (var, value) in [
        ("DECISION_TTL_SECONDS", "forever"),
        ("POLICY_API_KEYS", "ai-engine=short"),
        ("LOG_FORMAT", "xml"),
    ] {
        let output = Command::new(BIN)
            .env_clear()
            .env(var, value)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{var}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(var), "{var}: {stderr}");
    }
}

#[test]
fn a_broken_policy_file_stops_start_up_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "bad.yaml",
        "version: 1\nrules:\n  - id: x\n    effect: nope\n    reason: r\n",
    );
    let output = Command::new(BIN)
        .env_clear()
        .env("POLICY_FILE", &policy)
        .env("POLICY_BIND", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("POLICY_FILE") && stderr.contains("bad.yaml:4"),
        "{stderr}"
    );
}

#[test]
fn check_accepts_the_default_policy_and_reports_errors_with_location() {
    let ok = Command::new(BIN)
        .arg("check")
        .arg(default_policy_path())
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.yaml",
        "version: 1\nrules:\n  - id: a\n    effect: allow\n    reason: r\n  - id: a\n    effect: deny\n    reason: r\n",
    );
    let output = Command::new(BIN).arg("check").arg(&bad).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad.yaml:6") && stderr.contains("`a`"),
        "{stderr}"
    );
}

#[test]
fn test_runs_the_default_policy_cases() {
    let output = Command::new(BIN)
        .arg("test")
        .arg(default_policy_path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains(" 0 failed"), "{stdout}");
}

#[test]
fn a_failing_case_fails_the_test_command() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p.yaml",
        "version: 1\nrules:\n  - id: deny-all\n    effect: deny\n    reason: no\n",
    );
    let tests = write(
        dir.path(),
        "p.tests.yaml",
        "policy: p.yaml\ncases:\n  - name: wrong on purpose\n    request: {action: restart_pod, resource: \"pod:x\"}\n    expect: {decision: allow}\n",
    );
    let output = Command::new(BIN).arg("test").arg(&tests).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 failed"));
}

#[test]
fn keygen_writes_a_key_the_service_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    let status = Command::new(BIN)
        .arg("keygen")
        .arg("--out")
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    let signer = policy_service::keys::DecisionSigner::from_files(&key, &[]).unwrap();
    assert!(!signer.is_ephemeral());
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[tokio::test]
async fn settings_come_from_dot_env_and_the_environment_wins() {
    // Arrange: a directory whose .env sets a bad TTL.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ".env", "DECISION_TTL_SECONDS=forever\n");
    let port = free_port();

    // Act: once with only the file, once with the variable also in the environment.
    let from_file = Command::new(BIN)
        .env_clear()
        .current_dir(dir.path())
        .output()
        .unwrap();
    let mut overridden = Server {
        child: Command::new(BIN)
            .env_clear()
            .current_dir(dir.path())
            .env("DECISION_TTL_SECONDS", "60")
            .env("POLICY_BIND", format!("127.0.0.1:{port}"))
            .env("POLICY_FILE", default_policy_path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        url: format!("http://127.0.0.1:{port}"),
    };

    // Assert: the file's value was read (and refused); the environment's value won.
    assert_eq!(from_file.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&from_file.stderr);
    assert!(stderr.contains("DECISION_TTL_SECONDS"), "{stderr}");
    let mut up = false;
    for _ in 0..200 {
        if reqwest::get(format!("{}/healthz", overridden.url))
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        assert!(
            overridden.child.try_wait().unwrap().is_none(),
            "exited although the environment overrides .env"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(up, "did not start");
}

#[test]
fn an_unparsable_dot_env_stops_start_up_naming_the_file() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ".env", "this line is not KEY=VALUE\n");

    // Act
    let output = Command::new(BIN)
        .env_clear()
        .current_dir(dir.path())
        .output()
        .unwrap();

    // Assert
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(".env"), "{stderr}");
}
