//! How matching rules combine, the default deny, identities, versions, and explain.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;
use warden_protocol::RequestContext;

#[test]
fn deny_overrides_allow_wherever_it_is() {
    let p = with_rules(
        "- {id: ok, effect: allow, reason: fine}
         - {id: ask, effect: require_approval, reason: ask}
         - {id: no, effect: deny, reason: never}",
    );

    let decision = p.evaluate(&Req::new("restart_pod", "pod:x").input());

    assert_eq!(decision.kind, Deny);
    assert_eq!(decision.rule, Some("no"));
    assert_eq!(decision.reason, "never");
}

#[test]
fn require_approval_beats_allow() {
    let p = with_rules(
        "- {id: ok, effect: allow, reason: fine}
         - {id: ask, effect: require_approval, reason: ask first}",
    );

    assert_eq!(
        decide(&p, &Req::new("restart_pod", "pod:x")),
        (RequireApproval, Some("ask".into()))
    );
}

#[test]
fn nothing_matching_is_a_default_deny_without_rule() {
    let p = with_rules("- {id: ok, effect: allow, reason: fine, match: {actions: [restart_pod]}}");

    let known = p.evaluate(
        &Req::new("restart_pod", "pod:x")
            .subject("x", &[])
            .metadata(json!({}))
            .input(),
    );
    let unknown = p.evaluate(&Req::new("delete_everything", "pod:x").input());

    assert_eq!((known.kind, known.rule), (Allow, Some("ok")));
    assert_eq!((unknown.kind, unknown.rule), (Deny, None));
    assert!(
        unknown.reason.contains("no rule allows"),
        "{}",
        unknown.reason
    );
}

#[test]
fn default_deny_reason_names_a_known_action_and_explains_wide_scopes() {
    let p = with_rules(
        "- {id: ok, effect: allow, reason: fine, match: {actions: [scale_deployment], resources: [\"prod/deployment\"]}}",
    );

    let narrow = p.evaluate(&Req::new("scale_deployment", "staging/deployment/api").input());
    let wide = p.evaluate(&Req::new("scale_deployment", "prod:resource").input());

    assert_eq!(narrow.rule, None);
    assert!(
        narrow.reason.contains("`scale_deployment`"),
        "{}",
        narrow.reason
    );
    assert!(
        wide.reason.contains("whole requested scope"),
        "{}",
        wide.reason
    );
}

#[test]
fn the_first_matching_rule_of_the_winning_effect_is_reported() {
    let p = with_rules(
        "- {id: allow-1, effect: allow, reason: one, when: metadata.n > 5}
         - {id: allow-2, effect: allow, reason: two}
         - {id: allow-3, effect: allow, reason: three}
         - {id: deny-1, effect: deny, reason: d1, when: metadata.n == 0}
         - {id: deny-2, effect: deny, reason: d2, when: metadata.n <= 1}",
    );
    let n = |n: i64| Req::new("x", "pod:p").metadata(json!({"n": n}));

    assert_eq!(decide(&p, &n(9)), (Allow, Some("allow-1".into())));
    assert_eq!(decide(&p, &n(3)), (Allow, Some("allow-2".into())));
    assert_eq!(decide(&p, &n(0)), (Deny, Some("deny-1".into())));
    assert_eq!(decide(&p, &n(1)), (Deny, Some("deny-2".into())));
}

#[test]
fn an_empty_rule_list_denies_everything() {
    let p = policy("version: 1\nrules: []\n");

    assert_eq!(p.rule_count(), 0);
    assert_eq!(decide(&p, &Req::new("restart_pod", "pod:x")), (Deny, None));
}

#[test]
fn version_is_the_sha256_of_the_source() {
    let source = "version: 1\nrules: []\n";

    let a = policy(source);
    let b = policy(&format!("{source}# comment\n"));

    assert_eq!(a.version().len(), "sha256:".len() + 64);
    assert!(a.version().starts_with("sha256:"));
    assert!(
        a.version()[7..]
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    );
    assert_eq!(a.version(), policy(source).version());
    assert_ne!(a.version(), b.version());
}

#[test]
fn principals_and_dev_identity() {
    let p = policy(
        "version: 1
principals:
  ai-engine: {roles: [service]}
  ops: {roles: [operator, reader], description: humans}
rules: []
",
    );
    let ctx = |v: serde_json::Value| serde_json::from_value::<RequestContext>(v).unwrap();

    assert_eq!(
        p.principal_roles("ops"),
        Some(&["operator".to_owned(), "reader".to_owned()][..])
    );
    assert_eq!(p.principal_roles("nobody"), None);
    assert_eq!(p.dev_identity(None), ("anonymous".into(), vec![]));
    assert_eq!(
        p.dev_identity(Some(&ctx(json!({"userId": "ai-engine"})))),
        ("ai-engine".into(), vec!["service".into()])
    );
    assert_eq!(
        p.dev_identity(Some(&ctx(json!({"userId": "ai-engine", "role": "admin"})))),
        ("ai-engine".into(), vec!["admin".into()]),
        "a claimed role replaces the declared ones in development mode"
    );
    assert_eq!(
        p.dev_identity(Some(&ctx(json!({"role": "service"})))),
        ("anonymous".into(), vec!["service".into()])
    );
}

#[test]
fn explain_lists_every_rule_in_order_and_names_what_failed() {
    // Arrange
    let p = with_rules(
        "- {id: no-system, effect: deny, reason: r, match: {resources: [kube-system]}}
         - {id: wrong-action, effect: allow, reason: r, match: {actions: [scale_*]}}
         - {id: wrong-role, effect: allow, reason: r, match: {subjects: {roles: [operator]}}}
         - id: severity
           effect: allow
           reason: r
           when: {all: [\"metadata.severity in [high, critical]\", action == restart_pod]}
         - {id: needs-confidence, effect: allow, reason: r, when: metadata.confidence >= 0.8}
         - {id: deny-unconfident, effect: deny, reason: r, when: metadata.confidence < 0.5}
         - {id: narrow, effect: allow, reason: r, match: {resources: [\"default/pod/*\"]}}",
    );
    let req = Req::new("restart_pod", "default:resource").metadata(json!({"severity": "low"}));

    // Act
    let (decision, trace) = p.explain(&req.input());

    // Assert
    let ids: Vec<&str> = trace.iter().map(|t| t.rule.as_str()).collect();
    assert_eq!(
        ids,
        [
            "no-system",
            "wrong-action",
            "wrong-role",
            "severity",
            "needs-confidence",
            "deny-unconfident",
            "narrow"
        ]
    );
    assert_eq!(decision.rule, Some("deny-unconfident"));
    let failed = |id: &str| {
        trace
            .iter()
            .find(|t| t.rule == id)
            .unwrap()
            .failed
            .clone()
            .unwrap_or_default()
    };
    assert!(
        failed("no-system").contains("does not match"),
        "{}",
        failed("no-system")
    );
    assert!(
        failed("wrong-action").contains("action `restart_pod`"),
        "{}",
        failed("wrong-action")
    );
    assert!(
        failed("wrong-role").contains("roles [service]"),
        "{}",
        failed("wrong-role")
    );
    assert!(
        failed("severity").contains("`metadata.severity in [high, critical]` is false"),
        "{}",
        failed("severity")
    );
    assert!(
        failed("needs-confidence").contains("`metadata.confidence >= 0.8` cannot be evaluated"),
        "{}",
        failed("needs-confidence")
    );
    let fail_closed = trace.iter().find(|t| t.rule == "deny-unconfident").unwrap();
    assert!(fail_closed.matched);
    assert!(
        fail_closed
            .failed
            .as_deref()
            .unwrap_or("")
            .contains("fail closed")
    );
    assert!(
        failed("narrow").contains("exactly `*`"),
        "{}",
        failed("narrow")
    );
}

#[test]
fn explain_marks_matching_rules_without_failure() {
    let p = with_rules("- {id: ok, effect: allow, reason: r}");

    let (_, trace) = p.explain(&Req::new("x", "pod:p").input());

    assert!(trace[0].matched);
    assert_eq!(trace[0].failed, None);
}

#[test]
fn explain_names_any_and_not_failures() {
    let p = with_rules(
        "- {id: any, effect: allow, reason: r, when: {any: [metadata.a == 1, metadata.a == 2]}}
         - {id: not, effect: allow, reason: r, when: {not: metadata.a == 3}}",
    );
    let req = Req::new("x", "pod:p").metadata(json!({"a": 3}));

    assert!(
        failed(&p, &req, "any")
            .unwrap()
            .contains("none of the `any` conditions (line 3)")
    );
    assert!(
        failed(&p, &req, "not")
            .unwrap()
            .contains("`metadata.a == 3` holds")
    );
}

#[test]
fn policy_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<warden_policy::Policy>();
}

#[test]
fn yaml_anchors_share_target_lists() {
    let p = policy(
        "version: 1
rules:
  - id: allow-remediation
    effect: allow
    reason: r
    match: {actions: &remediations [restart_pod, scale_deployment]}
  - id: deny-system
    effect: deny
    reason: r
    match: {actions: *remediations, resources: [kube-system]}
",
    );

    assert_eq!(
        decide(
            &p,
            &Req::new("scale_deployment", "kube-system/deployment/dns")
        ),
        (Deny, Some("deny-system".into()))
    );
    assert_eq!(
        decide(&p, &Req::new("scale_deployment", "web/deployment/api")),
        (Allow, Some("allow-remediation".into()))
    );
}

#[test]
fn the_example_in_the_crate_documentation_loads_and_decides() {
    // Arrange: the first ```yaml block of the crate documentation.
    let lib = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs")).unwrap();
    let doc: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect();
    let start = doc.iter().position(|l| *l == "```yaml").unwrap() + 1;
    let end = start + doc[start..].iter().position(|l| *l == "```").unwrap();
    let p = policy(&doc[start..end].join("\n"));
    let req = |severity: &str| {
        Req::new("scale_deployment", "production:resource")
            .typ("self_healing")
            .metadata(json!({"severity": severity, "confidence": 0.93, "automated": true}))
    };

    // Act / Assert
    assert_eq!(
        decide(&p, &req("high")),
        (Allow, Some("allow-ai-remediation".into()))
    );
    assert_eq!(
        decide(&p, &req("medium")),
        (RequireApproval, Some("approve-medium-severity".into()))
    );
    assert_eq!(
        decide(&p, &Req::new("restart_pod", "kube-system/pod/x")),
        (Deny, Some("deny-system-namespaces".into()))
    );
}
