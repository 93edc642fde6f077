//! `scripts/verify-token` (python3 and openssl only) checks a real decision token on its
//! own: exit 0 and the expiry as a time while it is valid, exit 3 and "EXPIRED" once it is
//! not, exit 1 when the signature does not verify.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

use policy_service::keys::DecisionSigner;
use warden_test_support::claims::ClaimsBuilder;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/verify-token")
}

/// Runs the script on `token` against `signer`'s JWKS, served from a file.
fn verify(signer: &DecisionSigner, token: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, serde_json::to_vec(&signer.jwks_document(0)).unwrap()).unwrap();
    let output = Command::new(script())
        .arg(token)
        .arg(format!("file://{}", jwks.display()))
        .output()
        .expect("scripts/verify-token runs (needs python3, openssl and curl)");
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("command not found"),
        "a tool the script needs is missing: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[test]
fn a_live_token_verifies_and_its_expiry_is_printed_as_a_time() {
    // Arrange
    let signer = DecisionSigner::ephemeral();
    let token = signer
        .sign(&ClaimsBuilder::new().issued_at(now()).valid_for(60).build())
        .unwrap();

    // Act
    let output = verify(&signer, &token);

    // Assert
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("valid until 20"), "{stdout}");
}

#[test]
fn an_expired_token_is_said_to_be_expired_with_exit_3() {
    // Arrange
    let signer = DecisionSigner::ephemeral();
    let token = signer
        .sign(
            &ClaimsBuilder::new()
                .issued_at(now() - 300)
                .valid_for(60)
                .build(),
        )
        .unwrap();

    // Act
    let output = verify(&signer, &token);

    // Assert
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("EXPIRED at 20"), "{stdout}");
}

#[test]
fn a_token_of_another_key_does_not_verify() {
    // Arrange
    let signer = DecisionSigner::ephemeral();
    let other = DecisionSigner::ephemeral();
    let token = other
        .sign(&ClaimsBuilder::new().issued_at(now()).valid_for(60).build())
        .unwrap();

    // Act
    let output = verify(&signer, &token);

    // Assert
    assert_eq!(output.status.code(), Some(1));
}
