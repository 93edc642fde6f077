//! The real `policy-service` binary and its settings: a malformed API key list refuses
//! to start naming the identity, never a key; a misspelled variable is warned about,
//! naming the one meant.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_policy-service");

/// Runs the binary with a clean environment plus `vars`, which must make it refuse to
/// start (so that it exits on its own).
fn refused(vars: &[(&str, &str)]) -> (Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .env_clear()
        .env("HOME", dir.path())
        .env("RUST_LOG", "warn")
        .envs(vars.iter().copied())
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default().to_owned();
    (output, last)
}

#[test]
fn api_key_list_mistakes_name_the_identity_never_the_key() {
    for (value, says) in [
        ("ai-engine=hunter2hunter2hunter2,,", "entry 2 is empty"),
        (
            "ops=hunter2hunter2hunter2,ops=hunter3hunter3hunter3",
            "`ops` appears twice",
        ),
        ("ai engine=hunter2hunter2hunter2", "has spaces"),
        ("hunter2hunter2hunter2", "entry 1 has no `=`"),
    ] {
        let (_, message) = refused(&[("POLICY_API_KEYS", value)]);
        assert!(
            message.starts_with("configuration error: POLICY_API_KEYS: "),
            "{message}"
        );
        assert!(message.contains(says), "{value}: {message}");
        assert!(!message.contains("hunter"), "{message}");
    }
}

#[test]
fn a_misspelled_variable_is_warned_about_naming_the_one_meant() {
    // POLICY_URL is the executor's, from a `.env` both read: not a misspelling here.
    let (output, message) = refused(&[
        ("POLICY_FLIE", "policies/other.yaml"),
        ("POLICY_URL", "http://policy:3000"),
        ("POLICY_BIND", "nowhere"),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "POLICY_FLIE is not a setting of this service and is ignored; did you mean POLICY_FILE?"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("POLICY_URL is not"), "{stderr}");
    assert!(message.contains("POLICY_BIND"), "{message}");
}

#[test]
fn reload_revokes_is_read_in_any_case() {
    let (_, message) = refused(&[
        ("POLICY_RELOAD_REVOKES", "TRUE"),
        ("POLICY_BIND", "nowhere"),
    ]);
    assert!(message.contains("POLICY_BIND"), "{message}");
    let (_, message) = refused(&[("POLICY_RELOAD_REVOKES", "sometimes")]);
    assert!(
        message.ends_with("POLICY_RELOAD_REVOKES: expected true/false, yes/no, 1/0 or on/off"),
        "{message}"
    );
}
