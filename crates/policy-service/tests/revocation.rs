//! The revocation floor: `minIat` beside the keys in the JWKS, raised by revoking reloads
//! (`POLICY_RELOAD_REVOKES`) and by nothing else.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use jsonwebtoken::jwk::JwkSet;
use policy_service::AppState;
use policy_service::keys::DecisionSigner;
use policy_service::store::{PolicyStore, ReloadOutcome};
use serde_json::json;

const ALLOW: &str = r#"
version: 1
rules:
  - id: allow-restart
    effect: allow
    reason: restarts are fine
    match:
      actions: restart_pod
"#;

const ALLOW_REWORDED: &str = r#"
version: 1
rules:
  - id: allow-restart
    effect: allow
    reason: restarts are still fine
    match:
      actions: restart_pod
"#;

const BROKEN: &str = r#"
version: 1
rules:
  - id: broken
    effect: maybe
    reason: not an effect
"#;

/// A state on the policy at `path`, revoking mode `revokes`.
fn state_with(path: &Path, revokes: bool) -> AppState {
    let store = PolicyStore::load(path).unwrap().revoking(revokes);
    AppState::new(
        Arc::new(store),
        DecisionSigner::ephemeral(),
        None,
        Duration::from_secs(60),
        Duration::from_secs(10),
    )
}

/// The `minIat` the service publishes, checking the document is still a JWKS.
async fn published_floor(state: &AppState) -> i64 {
    let answer = get(state, "/.well-known/jwks.json").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["cache-control"], "no-cache");
    let jwks: JwkSet = serde_json::from_value(answer.body.clone()).unwrap();
    assert!(jwks.find(state.signer().kid()).is_some(), "{}", answer.body);
    answer.body["minIat"].as_i64().expect("minIat is a number")
}

/// The `iat` of a fresh allowed decision.
async fn issued_at(state: &AppState) -> i64 {
    let answer = evaluate(
        state,
        &json!({"action": "restart_pod", "resource": "default/pod/web-1"}),
        None,
    )
    .await;
    let token = answer.body["token"].as_str().expect("an allow has a token");
    verify(state, token).await.unwrap().iat
}

#[tokio::test]
async fn without_revoking_mode_the_floor_is_zero_and_reloads_leave_it() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "policy.yaml", ALLOW);
    let state = state_with(&path, false);
    assert_eq!(published_floor(&state).await, 0);

    // Act: a change, then a forced (SIGHUP) reload.
    write(dir.path(), "policy.yaml", ALLOW_REWORDED);
    let changed = state.policy().reload(false);
    let forced = state.policy().reload(true);

    // Assert
    assert!(matches!(changed, ReloadOutcome::Reloaded { .. }));
    assert!(matches!(forced, ReloadOutcome::Reloaded { .. }));
    assert_eq!(published_floor(&state).await, 0);
    assert!(!state.policy().revokes());
}

#[tokio::test]
async fn revoking_mode_starts_the_floor_at_start_up() {
    // Arrange
    let before = chrono::Utc::now().timestamp();
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "policy.yaml", ALLOW);

    // Act
    let state = state_with(&path, true);

    // Assert: every token of an earlier process is below it, every token of this one not.
    let floor = published_floor(&state).await;
    assert!(floor > before, "{floor} <= {before}");
    assert!(issued_at(&state).await >= floor);
}

#[tokio::test]
async fn a_revoking_reload_raises_the_floor_above_every_earlier_token() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "policy.yaml", ALLOW);
    let state = state_with(&path, true);
    let start = published_floor(&state).await;
    let earlier = issued_at(&state).await;

    // Act
    write(dir.path(), "policy.yaml", ALLOW_REWORDED);
    let outcome = state.policy().reload(false);

    // Assert
    assert!(matches!(outcome, ReloadOutcome::Reloaded { .. }));
    let floor = published_floor(&state).await;
    assert!(floor > start, "{floor} <= {start}");
    assert!(
        earlier < floor,
        "a token from before the reload is not revoked"
    );
    assert!(issued_at(&state).await >= floor, "a new token is revoked");
}

#[tokio::test]
async fn only_changes_and_sighup_raise_the_floor() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "policy.yaml", ALLOW);
    let state = state_with(&path, true);
    let start = published_floor(&state).await;

    // Act + Assert: an unchanged file and a broken one leave it.
    assert!(matches!(
        state.policy().reload(false),
        ReloadOutcome::Unchanged
    ));
    write(dir.path(), "policy.yaml", BROKEN);
    assert!(matches!(
        state.policy().reload(false),
        ReloadOutcome::Failed(_)
    ));
    assert!(matches!(
        state.policy().reload(true),
        ReloadOutcome::Failed(_)
    ));
    assert_eq!(published_floor(&state).await, start);

    // Act + Assert: a SIGHUP reload of the unchanged good file raises it.
    write(dir.path(), "policy.yaml", ALLOW);
    let earlier = issued_at(&state).await;
    assert!(matches!(
        state.policy().reload(true),
        ReloadOutcome::Reloaded { .. }
    ));
    let floor = published_floor(&state).await;
    assert!(floor > start);
    assert!(earlier < floor);
}
