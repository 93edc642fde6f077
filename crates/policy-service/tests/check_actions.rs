//! `policy-service check` fails on an action that no executor implements, naming the
//! closest one, against the built-in actions or a list it is given.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_policy-service");

const POLICY: &str = "\
version: 1
rules:
  - id: allow-restarts
    effect: allow
    reason: restarts are fine
    match:
      actions: [restart_pods]
";

fn policy_file(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let path = dir.path().join("policy.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_misspelled_action_fails_check_with_the_closest_built_in_name() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let path = policy_file(&dir, POLICY);

    // Act
    let output = Command::new(BIN).arg("check").arg(&path).output().unwrap();

    // Assert
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(":7:"), "{stderr}");
    assert!(stderr.contains("unknown action `restart_pods`"), "{stderr}");
    assert!(stderr.contains("did you mean `restart_pod`?"), "{stderr}");
}

#[test]
fn check_takes_the_executors_list_from_a_flag_or_standard_input() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let path = policy_file(&dir, POLICY);

    // Act
    let listed = Command::new(BIN)
        .args(["check", "--actions", "restart_pods,scale_deployment"])
        .arg(&path)
        .output()
        .unwrap();
    let mut piped = Command::new(BIN)
        .args(["check", "--actions-from", "-"])
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    piped
        .stdin
        .take()
        .unwrap()
        .write_all(b"restart_pod\nscale_deployment\n")
        .unwrap();
    let piped = piped.wait_with_output().unwrap();

    // Assert
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert_eq!(piped.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&piped.stderr).contains("did you mean `restart_pod`?"));
}
