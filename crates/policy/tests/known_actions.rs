//! Action names in rules are checked against the actions an executor implements: a
//! misspelled one is an error with its position and the closest known name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use warden_policy::Policy;
use warden_protocol::BUILTIN_ACTIONS;

const MISSPELLED: &str = "\
version: 1
rules:
  - id: allow-restarts
    effect: allow
    reason: restarts are fine
    match:
      actions: [restart_pods, \"scale_*\"]
";

#[test]
fn a_misspelled_action_fails_the_check_with_its_position_and_the_closest_name() {
    // Arrange
    let policy = Policy::parse(MISSPELLED, "p.yaml").unwrap();

    // Act
    let errors = policy
        .check_actions(&BUILTIN_ACTIONS, "p.yaml")
        .unwrap_err();

    // Assert
    assert_eq!(errors.0.len(), 1, "{errors}");
    let error = &errors.0[0];
    assert_eq!(
        (error.line, error.rule.as_deref()),
        (Some(7), Some("allow-restarts"))
    );
    assert!(
        error.message.contains("unknown action `restart_pods`"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("did you mean `restart_pod`?"),
        "{}",
        error.message
    );
}

#[test]
fn a_pattern_that_matches_no_known_action_fails_and_one_that_matches_passes() {
    // Arrange
    let source = MISSPELLED.replace("restart_pods, \"scale_*\"", "\"evict_*\", \"scale_*\"");
    let policy = Policy::parse(&source, "p.yaml").unwrap();

    // Act
    let errors = policy
        .check_actions(&BUILTIN_ACTIONS, "p.yaml")
        .unwrap_err();

    // Assert
    assert_eq!(errors.0.len(), 1, "{errors}");
    assert!(
        errors.0[0].message.contains("`evict_*` matches no action"),
        "{errors}"
    );
}

#[test]
fn a_policy_that_declares_its_actions_refuses_to_load_with_an_unknown_one() {
    // Arrange
    let source = MISSPELLED.replace(
        "rules:",
        "knownActions: [restart_pod, scale_deployment]\nrules:",
    );

    // Act
    let errors = Policy::parse(&source, "p.yaml").unwrap_err();

    // Assert
    assert_eq!(errors.0.len(), 1, "{errors}");
    assert!(
        errors.0[0].message.contains("did you mean `restart_pod`?"),
        "{errors}"
    );
    let fixed = source.replace("restart_pods", "restart_pod");
    let policy = Policy::parse(&fixed, "p.yaml").unwrap();
    assert_eq!(
        policy.known_actions().unwrap(),
        ["restart_pod".to_owned(), "scale_deployment".to_owned()]
    );
}

#[test]
fn the_default_policy_names_only_built_in_actions() {
    // Arrange
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies/default.yaml");
    let policy = Policy::load(std::path::Path::new(path)).unwrap();

    // Act
    let checked = policy.check_actions(&BUILTIN_ACTIONS, path);

    // Assert
    assert!(checked.is_ok(), "{}", checked.unwrap_err());
}
