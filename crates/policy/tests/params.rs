//! The action's parameters: `params.*` conditions, `requireParams`, and how a request
//! without params fails closed for both.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;

fn scale() -> Req {
    Req::new("scale_deployment", "production/deployment/api")
}

fn scale_to(replicas: serde_json::Value) -> Req {
    scale()
        .params(json!({"namespace": "production", "deploymentName": "api", "replicas": replicas}))
}

#[test]
fn conditions_read_params_paths() {
    // Arrange
    let p = with_rules(
        "
        - id: no-zero
          effect: deny
          reason: scaling to zero is refused
          when: params.replicas == 0
        - id: big-needs-approval
          effect: require_approval
          reason: large scale-ups need a person
          when: {field: params.replicas, op: '>', value: 10}
        - id: scale
          effect: allow
          reason: scaling is allowed
          match: {actions: [scale_deployment]}
          when: params.deploymentName matches 'api*'
        ",
    );

    // Act / Assert
    assert_eq!(
        decide(&p, &scale_to(json!(3))),
        (Allow, Some("scale".into()))
    );
    assert_eq!(
        decide(&p, &scale_to(json!(0))),
        (Deny, Some("no-zero".into()))
    );
    assert_eq!(
        decide(&p, &scale_to(json!(20))),
        (RequireApproval, Some("big-needs-approval".into()))
    );
    let other = scale().params(json!({"deploymentName": "web", "replicas": 3}));
    assert_eq!(decide(&p, &other), (Deny, None));
}

#[test]
fn params_are_their_own_root_not_metadata() {
    // Arrange: the reported attack asked with `metadata.replicas` the policy never saw.
    let p = with_rules(
        "
        - id: no-zero
          effect: deny
          reason: scaling to zero is refused
          when: params.replicas == 0
        - id: scale
          effect: allow
          reason: scaling is allowed
        ",
    );
    let in_metadata = scale_to(json!(3)).metadata(json!({"replicas": 0}));

    // Act / Assert
    assert_eq!(decide(&p, &in_metadata), (Allow, Some("scale".into())));
}

#[test]
fn a_missing_params_field_fails_closed() {
    // Arrange
    let p = with_rules(
        "
        - id: no-zero
          effect: deny
          reason: scaling to zero is refused
          when: params.replicas == 0
        - id: scale
          effect: allow
          reason: small scale-ups are fine
          when: params.replicas <= 5
        ",
    );

    // Act / Assert: without params, or without the field, the deny applies.
    assert_eq!(decide(&p, &scale()), (Deny, Some("no-zero".into())));
    let without_field = scale().params(json!({"deploymentName": "api"}));
    assert_eq!(decide(&p, &without_field), (Deny, Some("no-zero".into())));
    assert!(
        failed(&p, &scale(), "no-zero")
            .unwrap()
            .contains("the request has no `params.replicas`")
    );
    assert!(
        failed(&p, &scale(), "scale")
            .unwrap()
            .contains("condition `params.replicas <= 5` cannot be evaluated")
    );
}

#[test]
fn require_params_keeps_allow_and_approval_rules_from_matching_without_params() {
    // Arrange
    let p = with_rules(
        "
        - id: approve
          effect: require_approval
          reason: scaling needs approval
          requireParams: true
        - id: scale
          effect: allow
          reason: scaling is allowed
          requireParams: true
        ",
    );
    let allow_only = with_rules(
        "
        - id: scale
          effect: allow
          reason: scaling is allowed
          requireParams: true
        ",
    );

    // Act / Assert
    assert_eq!(decide(&p, &scale()), (Deny, None));
    assert_eq!(
        decide(&p, &scale_to(json!(3))),
        (RequireApproval, Some("approve".into()))
    );
    assert_eq!(decide(&allow_only, &scale()), (Deny, None));
    assert_eq!(
        decide(&allow_only, &scale_to(json!(3))),
        (Allow, Some("scale".into()))
    );
    // An empty object is params given: nothing is left for the executor to vary.
    assert_eq!(
        decide(&allow_only, &scale().params(json!({}))),
        (Allow, Some("scale".into()))
    );
    assert!(
        failed(&allow_only, &scale(), "scale")
            .unwrap()
            .contains("no `params`, which this rule requires")
    );
}

#[test]
fn require_params_makes_a_deny_rule_match_without_params() {
    // Arrange
    let p = with_rules(
        "
        - id: no-blind-scaling
          effect: deny
          reason: say what you will scale to
          match: {actions: [scale_deployment]}
          requireParams: true
          when: params.replicas == 0
        - id: scale
          effect: allow
          reason: scaling is allowed
        ",
    );

    // Act / Assert
    assert_eq!(
        decide(&p, &scale()),
        (Deny, Some("no-blind-scaling".into()))
    );
    assert_eq!(
        decide(&p, &scale_to(json!(0))),
        (Deny, Some("no-blind-scaling".into()))
    );
    assert_eq!(
        decide(&p, &scale_to(json!(2))),
        (Allow, Some("scale".into()))
    );
    let why = failed(&p, &scale(), "no-blind-scaling").unwrap();
    assert!(why.contains("fail closed"), "{why}");
    // Other targets still come first: a deny for another action does not apply.
    let restart = Req::new("restart_pod", "default/pod/web");
    assert_eq!(decide(&p, &restart), (Allow, Some("scale".into())));
}

#[test]
fn require_params_false_is_the_default() {
    // Arrange
    let p = with_rules(
        "
        - id: scale
          effect: allow
          reason: scaling is allowed
          requireParams: false
        ",
    );

    // Act / Assert
    assert_eq!(decide(&p, &scale()), (Allow, Some("scale".into())));
}

#[test]
fn bad_params_fields_and_require_params_values_are_load_errors() {
    // Arrange
    let source = lines(&[
        "version: 1",
        "rules:",
        "- id: r",
        "  effect: allow",
        "  reason: x",
        "  requireParams: yes",
        "  when: params == 0",
        "- id: s",
        "  effect: allow",
        "  reason: x",
        "  when: params..replicas == 0",
    ]);

    // Act
    let errors = errors(&source);

    // Assert
    assert_error(
        &errors,
        6,
        18,
        Some("r"),
        "`requireParams` must be true or false",
    );
    assert_error(&errors, 7, 9, Some("r"), "e.g. `params.replicas`");
    assert_error(&errors, 11, 9, Some("s"), "empty path segment");
}

#[test]
fn the_unknown_field_message_lists_params() {
    // Act
    let errors =
        errors("version: 1\nrules:\n- {id: r, effect: allow, reason: x, when: parms.x == 1}\n");

    // Assert
    assert!(
        errors.iter().any(|e| e.message.contains("params.<path>")),
        "{errors:?}"
    );
}
