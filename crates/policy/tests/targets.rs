//! `match:` targets: globs on actions, types, users and resources, roles, the three
//! resource forms, and covers-versus-intersects for wide requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

fn allows(rules: &str, req: &Req) -> bool {
    decide(&with_rules(rules), req).0 == Allow
}

#[test]
fn actions_match_exactly_or_by_glob() {
    let rules = "- {id: a, effect: allow, reason: r, match: {actions: [restart_pod, \"scale_*\", \"roll?ut\"]}}";

    assert!(allows(rules, &Req::new("restart_pod", "pod:x")));
    assert!(allows(rules, &Req::new("scale_deployment", "pod:x")));
    assert!(allows(rules, &Req::new("scale_statefulset", "pod:x")));
    assert!(allows(rules, &Req::new("rollout", "pod:x")));
    assert!(!allows(rules, &Req::new("restart_pods", "pod:x")));
    assert!(!allows(rules, &Req::new("rescale_x", "pod:x")));
}

#[test]
fn a_single_string_is_a_one_element_list() {
    let rules =
        "- {id: a, effect: allow, reason: r, match: {actions: restart_pod, types: self_healing}}";

    assert!(allows(
        rules,
        &Req::new("restart_pod", "pod:x").typ("self_healing")
    ));
    assert!(!allows(
        rules,
        &Req::new("restart_pod", "pod:x").typ("manual")
    ));
}

#[test]
fn types_match_by_glob_and_an_absent_type_is_every_type() {
    let allow = "- {id: a, effect: allow, reason: r, match: {types: [\"self_*\"]}}";
    let allow_any = "- {id: a, effect: allow, reason: r, match: {types: [\"*\"]}}";
    let deny = "- {id: d, effect: deny, reason: r, match: {types: [experimental]}}
                - {id: a, effect: allow, reason: r}";

    assert!(allows(allow, &Req::new("x", "pod:p").typ("self_healing")));
    assert!(
        !allows(allow, &Req::new("x", "pod:p")),
        "absent type is not covered by self_*"
    );
    assert!(
        allows(allow_any, &Req::new("x", "pod:p")),
        "`*` covers an absent type"
    );
    assert!(allows(deny, &Req::new("x", "pod:p").typ("self_healing")));
    assert!(
        !allows(deny, &Req::new("x", "pod:p")),
        "a deny on a type applies to an absent type"
    );
}

#[test]
fn users_are_globs_on_the_subject_and_roles_any_of() {
    let users = "- {id: a, effect: allow, reason: r, match: {subjects: {users: [\"ai-*\"]}}}";
    let roles =
        "- {id: a, effect: allow, reason: r, match: {subjects: {roles: [service, operator]}}}";
    let both = "- {id: a, effect: allow, reason: r, match: {subjects: {users: [ai-engine], roles: [service]}}}";

    assert!(allows(
        users,
        &Req::new("x", "pod:p").subject("ai-engine", &[])
    ));
    assert!(!allows(
        users,
        &Req::new("x", "pod:p").subject("bob", &["service"])
    ));
    assert!(allows(
        roles,
        &Req::new("x", "pod:p").subject("bob", &["reader", "operator"])
    ));
    assert!(!allows(
        roles,
        &Req::new("x", "pod:p").subject("bob", &["reader"])
    ));
    assert!(!allows(roles, &Req::new("x", "pod:p").subject("bob", &[])));
    assert!(allows(
        both,
        &Req::new("x", "pod:p").subject("ai-engine", &["service"])
    ));
    assert!(!allows(
        both,
        &Req::new("x", "pod:p").subject("ai-engine", &["reader"])
    ));
    assert!(!allows(
        both,
        &Req::new("x", "pod:p").subject("other", &["service"])
    ));
}

#[test]
fn resource_patterns_are_globs_per_part_with_short_forms() {
    let rules = "- {id: a, effect: allow, reason: r, match: {resources: [\"kube-*/*/*\", \"*/pod/api-*\", staging, \"prod/deploy\"]}}";

    assert!(allows(rules, &Req::new("x", "kube-system/pod/coredns")));
    assert!(
        allows(rules, &Req::new("x", "web/pods/api-1")),
        "kind normalised on both sides"
    );
    assert!(!allows(rules, &Req::new("x", "web/pod/db-1")));
    assert!(
        allows(rules, &Req::new("x", "staging/service/anything")),
        "`staging` = staging/*/*"
    );
    assert!(
        allows(rules, &Req::new("x", "prod/deployment/api")),
        "`prod/deploy` = prod/deployment/*"
    );
    assert!(!allows(rules, &Req::new("x", "prod/statefulset/api")));
}

#[test]
fn the_three_request_forms_match_as_documented() {
    let default_pods =
        "- {id: a, effect: allow, reason: r, match: {resources: [\"default/pod/*\"]}}";
    let production = "- {id: a, effect: allow, reason: r, match: {resources: [production]}}";

    // kind:name is an object in the `default` namespace.
    assert!(allows(default_pods, &Req::new("x", "pod:api-pod-12345")));
    // namespace:label is the whole namespace, covered by a namespace-only pattern.
    assert!(allows(production, &Req::new("x", "production:resource")));
    // canonical.
    assert!(allows(
        production,
        &Req::new("x", "production/deployment/api-deployment")
    ));
    assert!(!allows(
        production,
        &Req::new("x", "staging/deployment/api-deployment")
    ));
}

#[test]
fn allow_rules_must_cover_wide_requests() {
    let narrow =
        "- {id: a, effect: allow, reason: r, match: {resources: [\"production/deployment/*\"]}}";
    let glob_ns = "- {id: a, effect: allow, reason: r, match: {resources: [\"prod*\"]}}";
    let everything = "- {id: a, effect: allow, reason: r, match: {resources: [\"*\"]}}";

    assert!(
        !allows(narrow, &Req::new("x", "production:resource")),
        "kind `*` needs a `*` pattern"
    );
    assert!(allows(narrow, &Req::new("x", "production/deployment/*")));
    assert!(
        !allows(glob_ns, &Req::new("x", "*/pod/p")),
        "`prod*` does not cover every namespace"
    );
    assert!(allows(glob_ns, &Req::new("x", "production:resource")));
    assert!(allows(everything, &Req::new("x", "*/*/*")));
}

#[test]
fn deny_rules_apply_to_any_overlap_with_wide_requests() {
    let rules = "- {id: no-db, effect: deny, reason: r, match: {resources: [\"production/statefulset/db-*\"]}}
                 - {id: ok, effect: allow, reason: r}";
    let p = with_rules(rules);

    assert_eq!(
        decide(&p, &Req::new("x", "production:resource")),
        (Deny, Some("no-db".into()))
    );
    assert_eq!(
        decide(&p, &Req::new("x", "*/statefulset/*")),
        (Deny, Some("no-db".into()))
    );
    assert_eq!(
        decide(&p, &Req::new("x", "production/deployment/*")),
        (Allow, Some("ok".into()))
    );
    assert_eq!(
        decide(&p, &Req::new("x", "staging:resource")),
        (Allow, Some("ok".into()))
    );
}

#[test]
fn a_deny_on_a_namespace_denies_requests_across_all_namespaces() {
    let p = with_rules(
        "- {id: no-system, effect: deny, reason: r, match: {resources: [kube-system]}}
         - {id: ok, effect: allow, reason: r}",
    );

    assert_eq!(
        decide(&p, &Req::new("x", "*/deployment/api")),
        (Deny, Some("no-system".into()))
    );
    assert_eq!(
        decide(&p, &Req::new("x", "web/deployment/api")),
        (Allow, Some("ok".into()))
    );
}
