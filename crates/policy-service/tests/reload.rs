//! Hot reload: a changed file takes effect, a broken one leaves the old policy in force, and
//! its warning lasts only while the broken file is on disk.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use policy_service::store::{PolicyStore, ReloadOutcome, watch};
use serde_json::json;

const ALLOW_RESTART: &str = r#"
version: 1
rules:
  - id: allow-restart
    effect: allow
    reason: restarts are fine
    match:
      actions: restart_pod
"#;

const DENY_EVERYTHING: &str = r#"
version: 1
rules:
  - id: deny-all
    effect: deny
    reason: frozen
"#;

const BROKEN: &str = r#"
version: 1
rules:
  - id: broken
    effect: maybe
    reason: not an effect
"#;

fn request() -> serde_json::Value {
    json!({"action": "restart_pod", "resource": "default/pod/web-1"})
}

#[tokio::test]
async fn a_broken_file_keeps_the_previous_policy_in_force() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "policy.yaml", ALLOW_RESTART);
    let state = state_for(&path, false);
    let before = state.policy().current().version().to_owned();

    // Act
    write(dir.path(), "policy.yaml", BROKEN);
    let outcome = state.policy().reload(false);

    // Assert
    let ReloadOutcome::Failed(errors) = outcome else {
        panic!("expected a failure, got {outcome:?}");
    };
    assert!(errors.to_string().contains("policy.yaml:5"), "{errors}");
    assert_eq!(state.policy().current().version(), before);
    assert_eq!(
        evaluate(&state, &request(), None).await.body["decision"],
        "allow"
    );
    let ready = get(&state, "/readyz").await.body;
    assert!(
        ready["warnings"].to_string().contains("reload failed"),
        "{ready}"
    );
}

#[tokio::test]
async fn a_good_change_takes_effect_and_clears_the_failure() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "policy.yaml", ALLOW_RESTART);
    let state = state_for(&path, false);
    write(dir.path(), "policy.yaml", BROKEN);
    state.policy().reload(false);

    // Act
    write(dir.path(), "policy.yaml", DENY_EVERYTHING);
    let outcome = state.policy().reload(false);

    // Assert
    assert!(
        matches!(outcome, ReloadOutcome::Reloaded { .. }),
        "{outcome:?}"
    );
    assert!(state.policy().last_failure().is_none());
    let answer = evaluate(&state, &request(), None).await;
    assert_eq!(answer.body["matchedRule"], "deny-all");
}

#[tokio::test]
async fn an_unchanged_file_is_not_reparsed_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "policy.yaml", ALLOW_RESTART);
    let store = PolicyStore::load(&path).unwrap();
    assert!(matches!(store.reload(false), ReloadOutcome::Unchanged));
    assert!(matches!(store.reload(true), ReloadOutcome::Reloaded { .. }));
}

#[tokio::test]
async fn the_watcher_picks_up_a_change() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "policy.yaml", ALLOW_RESTART);
    let store = Arc::new(PolicyStore::load(&path).unwrap());
    let before = store.current().version().to_owned();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(watch(store.clone(), Duration::from_millis(50), async {
        let _ = stopped.await;
    }));

    // Act
    write(dir.path(), "policy.yaml", DENY_EVERYTHING);

    // Assert: wait (bounded) for the new version to be in force.
    let mut changed = false;
    for _ in 0..200 {
        if store.current().version() != before {
            changed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    stop.send(()).unwrap();
    task.await.unwrap();
    assert!(changed, "the watcher did not reload the policy");
    assert_eq!(store.current().rule_count(), 1);
}

#[tokio::test]
async fn restoring_the_file_in_force_clears_the_reload_warning() {
    // Arrange: a good policy in force, watched.
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "policy.yaml", ALLOW_RESTART);
    let state = state_for(&path, false);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(watch(
        state.policy().clone(),
        Duration::from_millis(50),
        async {
            let _ = stopped.await;
        },
    ));
    let warned =
        |ready: &serde_json::Value| ready["warnings"].to_string().contains("reload failed");

    // Act: break it, wait for the failure to show, then put the original bytes back.
    write(dir.path(), "policy.yaml", BROKEN);
    let mut failed = false;
    for _ in 0..200 {
        if warned(&get(&state, "/readyz").await.body) {
            failed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    write(dir.path(), "policy.yaml", ALLOW_RESTART);
    let mut cleared = false;
    for _ in 0..200 {
        if !warned(&get(&state, "/readyz").await.body) {
            cleared = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // Assert
    stop.send(()).unwrap();
    task.await.unwrap();
    assert!(failed, "the broken file was never reported");
    assert!(
        cleared,
        "the warning outlived the restore: {}",
        get(&state, "/readyz").await.body
    );
    assert!(state.policy().last_failure().is_none());
    assert_eq!(
        evaluate(&state, &request(), None).await.body["decision"],
        "allow"
    );
}

#[tokio::test]
async fn restoring_the_file_clears_the_failure_on_the_next_reload() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "policy.yaml", ALLOW_RESTART);
    let store = PolicyStore::load(&path).unwrap();
    write(dir.path(), "policy.yaml", BROKEN);
    assert!(matches!(store.reload(false), ReloadOutcome::Failed(_)));

    // Act
    write(dir.path(), "policy.yaml", ALLOW_RESTART);
    let outcome = store.reload(false);

    // Assert
    assert!(matches!(outcome, ReloadOutcome::Unchanged), "{outcome:?}");
    assert!(store.last_failure().is_none());
    assert_eq!(store.reload_counts(), (0, 1));
}
