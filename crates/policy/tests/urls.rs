//! `url:` resources: patterns and their load errors, host/scheme/port/path matching with the
//! domain hierarchy, how URL and Kubernetes targets keep apart, conditions on URLs, and the
//! explain texts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use warden_policy::Policy;

const TICKETS: &str = "url:https://api.internal.example.com/v1/tickets";

fn allow_urls(patterns: &str) -> Policy {
    with_rules(&format!(
        "- {{id: a, effect: allow, reason: r, match: {{actions: [call_api], resources: [{patterns}]}}}}"
    ))
}

#[track_caller]
fn allows(p: &Policy, resource: &str) -> bool {
    decide(p, &Req::new("call_api", resource)).0 == Allow
}

#[test]
fn a_host_pattern_covers_that_host_and_paths_under_its_prefix_on_segment_boundaries() {
    // Arrange
    let p = allow_urls("\"url:https://api.internal.example.com/v1/\"");

    // Act / Assert
    for covered in [
        TICKETS,
        "url:https://api.internal.example.com/v1",
        "url:https://api.internal.example.com/v1/",
        "url:https://API.Internal.Example.com.:443/v1/a/../tickets?id=7",
    ] {
        assert!(allows(&p, covered), "{covered}");
    }
    for refused in [
        "url:https://api.internal.example.com/v10",
        "url:https://api.internal.example.com/v2/tickets",
        "url:https://api.internal.example.com/",
        "url:https://api.internal.example.com/v1/../admin",
        "url:https://x.api.internal.example.com/v1/tickets",
        "url:https://api.internal.example.com.evil.com/v1/tickets",
        "url:https://evil.com/api.internal.example.com/v1/tickets",
        "url:http://api.internal.example.com/v1/tickets",
        "url:https://api.internal.example.com:8443/v1/tickets",
    ] {
        assert!(!allows(&p, refused), "{refused}");
    }
}

#[test]
fn a_wildcard_covers_subdomains_at_any_depth_but_not_the_bare_domain() {
    // Arrange
    let wildcard = allow_urls("\"url:https://*.internal.example.com/v1/\"");
    let both = allow_urls(
        "\"url:https://internal.example.com/v1/\", \"url:https://*.internal.example.com/v1/\"",
    );

    // Act / Assert
    assert!(allows(&wildcard, TICKETS));
    assert!(allows(
        &wildcard,
        "url:https://a.b.internal.example.com/v1/x"
    ));
    assert!(!allows(
        &wildcard,
        "url:https://internal.example.com/v1/tickets"
    ));
    assert!(!allows(
        &wildcard,
        "url:https://evilinternal.example.com/v1/tickets"
    ));
    assert!(!allows(&wildcard, "url:https://api.example.com/v1/tickets"));
    assert!(allows(&both, "url:https://internal.example.com/v1/tickets"));
    assert!(allows(&both, TICKETS));
}

#[test]
fn scheme_and_port_must_match_the_pattern() {
    // Arrange
    let p = allow_urls("\"url:http://hooks.example.com:8080\"");

    // Act / Assert
    assert!(allows(&p, "url:http://hooks.example.com:8080/notify"));
    assert!(!allows(&p, "url:https://hooks.example.com:8080/notify"));
    assert!(!allows(&p, "url:http://hooks.example.com/notify"));
    assert!(!allows(&p, "url:http://hooks.example.com:8081/notify"));
}

#[test]
fn an_ip_pattern_matches_that_address_only() {
    // Arrange
    let p = allow_urls("\"url:http://127.0.0.1:9000/\", \"url:http://[::1]/\"");

    // Act / Assert
    assert!(allows(&p, "url:http://127.0.0.1:9000/hook"));
    assert!(allows(&p, "url:http://[0:0::1]/hook"));
    assert!(!allows(&p, "url:http://127.0.0.2:9000/hook"));
    assert!(!allows(&p, "url:http://localhost:9000/hook"));
}

#[test]
fn url_and_kubernetes_targets_never_match_each_other() {
    // Arrange
    let p = with_rules(
        "- {id: no-system, effect: deny, reason: r, match: {resources: [kube-system, \"*\"]}}
         - {id: pods, effect: allow, reason: r, match: {actions: [call_api, restart_pod], resources: [\"*/pod\"]}}
         - {id: api, effect: allow, reason: r, match: {actions: [call_api, restart_pod], resources: [\"url:https://api.internal.example.com/\"]}}",
    );

    // Act
    let url = decide(&p, &Req::new("call_api", TICKETS));
    let pod = decide(&p, &Req::new("restart_pod", "kube-system/pod/dns"));
    let other_pod = decide(&p, &Req::new("restart_pod", "web/pod/x"));

    // Assert
    assert_eq!(
        url,
        (Allow, Some("api".into())),
        "a deny on Kubernetes patterns, `*` included, does not apply to a URL"
    );
    assert_eq!(pod, (Deny, Some("no-system".into())));
    assert_eq!(
        other_pod,
        (Deny, Some("no-system".into())),
        "`*` still denies every object"
    );
}

#[test]
fn a_rule_without_resources_matches_urls_too() {
    // Arrange
    let p = with_rules(
        "- {id: stop, effect: deny, reason: r, match: {actions: [call_api]}, when: metadata.freeze == true}
         - {id: api, effect: allow, reason: r, match: {resources: [\"url:https://api.internal.example.com/\"]}}
         - {id: anything, effect: require_approval, reason: r, match: {actions: [\"call_*\"]}}",
    );

    // Act
    let frozen = decide(
        &p,
        &Req::new("call_api", TICKETS).metadata(serde_json::json!({"freeze": true})),
    );
    let missing = decide(&p, &Req::new("call_api", TICKETS));
    let elsewhere = decide(
        &p,
        &Req::new("call_api", "url:https://other.example.com/")
            .metadata(serde_json::json!({"freeze": false})),
    );

    // Assert
    assert_eq!(frozen, (Deny, Some("stop".into())));
    assert_eq!(missing, (Deny, Some("stop".into())), "fails closed");
    assert_eq!(elsewhere, (RequireApproval, Some("anything".into())));
}

#[test]
fn a_url_nothing_allows_is_denied_by_default() {
    // Arrange
    let p = with_rules(
        "- {id: pods, effect: allow, reason: r, match: {actions: [call_api], resources: [\"*\"]}}
         - {id: api, effect: allow, reason: r, match: {actions: [call_api], resources: [\"url:https://api.internal.example.com/v1\"]}}",
    );
    let req = Req::new(
        "call_api",
        "url:https://api.internal.example.com/v2/tickets",
    );

    // Act
    let decision = p.evaluate(&req.input());

    // Assert
    assert_eq!(decide(&p, &req), (Deny, None));
    assert!(
        decision.reason.contains("no rule allows `call_api`"),
        "{}",
        decision.reason
    );
}

#[test]
fn conditions_read_url_host_and_path_and_object_fields_are_missing_for_a_url() {
    // Arrange
    let rule = |effect: &str, when: &str| {
        with_rules(&format!(
            "- {{id: r, effect: {effect}, reason: r, when: '{when}'}}"
        ))
    };
    let url_req = Req::new("call_api", &format!("{TICKETS}?id=7"));
    let pod_req = Req::new("restart_pod", "default/pod/web");

    // Act / Assert
    for when in [
        "resource.host == api.internal.example.com",
        "resource.host matches \"*.example.com\"",
        "resource.path matches \"/v1/*\"",
        "resource.path == /v1/tickets",
        "resource.url == \"https://api.internal.example.com/v1/tickets\"",
        "resource.url exists",
        "resource.namespace exists false",
    ] {
        assert_eq!(decide(&rule("allow", when), &url_req).0, Allow, "{when}");
    }
    assert_eq!(
        decide(&rule("allow", "resource.path == /v2"), &url_req).0,
        Deny
    );
    for when in [
        "resource.namespace == default",
        "resource.kind != pod",
        "resource.name matches \"*\"",
    ] {
        assert_eq!(
            decide(&rule("allow", when), &url_req),
            (Deny, None),
            "{when}"
        );
        assert_eq!(
            decide(&rule("deny", when), &url_req),
            (Deny, Some("r".into())),
            "{when}: a deny reading a missing field applies"
        );
    }
    for when in [
        "resource.host == web",
        "resource.path matches \"/*\"",
        "resource.url != x",
    ] {
        assert_eq!(
            decide(&rule("allow", when), &pod_req),
            (Deny, None),
            "{when}"
        );
        assert_eq!(
            decide(&rule("deny", when), &pod_req),
            (Deny, Some("r".into())),
            "{when}"
        );
    }
    assert_eq!(
        decide(&rule("allow", "resource.path exists false"), &pod_req).0,
        Allow
    );
}

#[test]
fn an_ipv6_host_reads_in_brackets() {
    // Arrange
    let p = with_rules("- {id: r, effect: allow, reason: r, when: 'resource.host == \"[::1]\"'}");

    // Act / Assert
    assert_eq!(
        decide(&p, &Req::new("call_api", "url:http://[0::1]:8080/x")).0,
        Allow
    );
}

#[test]
fn explain_says_which_part_of_a_url_missed() {
    // Arrange
    let p = with_rules(
        "- {id: k8s, effect: allow, reason: r, match: {resources: [\"*\"]}}
         - {id: bare, effect: allow, reason: r, match: {resources: [\"url:https://*.internal.example.com/\"]}}
         - {id: scheme, effect: allow, reason: r, match: {resources: [\"url:http://internal.example.com/\"]}}
         - {id: port, effect: allow, reason: r, match: {resources: [\"url:https://internal.example.com:8443/\"]}}
         - {id: path, effect: allow, reason: r, match: {resources: [\"url:https://internal.example.com/v1\"]}}",
    );
    let req = Req::new("call_api", "url:https://internal.example.com/v2?secret=1");

    // Act
    let trace = |id: &str| failed(&p, &req, id).unwrap();

    // Assert
    assert!(
        trace("k8s").contains("match only Kubernetes objects"),
        "{}",
        trace("k8s")
    );
    assert!(
        trace("bare").contains("not the domain itself"),
        "{}",
        trace("bare")
    );
    assert!(
        trace("scheme").contains("another scheme"),
        "{}",
        trace("scheme")
    );
    assert!(trace("port").contains("another port"), "{}", trace("port"));
    assert!(
        trace("path").contains("url:https://internal.example.com/v2`")
            && trace("path").contains("covers this path"),
        "{}",
        trace("path")
    );
    assert!(!trace("path").contains("secret"), "the query is not shown");
    let pod = failed(&p, &Req::new("restart_pod", "pod:web"), "path").unwrap();
    assert!(pod.contains("match only URLs"), "{pod}");
}

#[test]
fn malformed_url_patterns_are_load_errors_with_positions_and_codes() {
    // Arrange
    let source = lines(&[
        "version: 1",
        "rules:",
        "  - id: a",
        "    effect: allow",
        "    reason: r",
        "    match:",
        "      resources:",
        "        - \"url:https://user@api.example.com/\"",
        "        - \"url:https://*.com/\"",
        "        - \"url:https://api.example.com/?q=1\"",
        "        - \"url:ftp://files.example.com/\"",
        "        - \"url:https://api.example.com/v1/../admin\"",
        "        - \"URL:https://api.example.com/\"",
        "        - \"url:https://169.254.169.254/\"",
        "    when: resource.host == API.example.com",
    ]);

    // Act
    let errs = errors(&source);

    // Assert
    assert_error(&errs, 8, 11, Some("a"), "(userinfo)");
    assert_error(&errs, 9, 11, Some("a"), "(invalid_entry)");
    assert_error(&errs, 10, 11, Some("a"), "no query string");
    assert_error(&errs, 11, 11, Some("a"), "(unsupported_scheme)");
    assert_error(&errs, 12, 11, Some("a"), "(invalid_entry)");
    assert_error(&errs, 13, 11, Some("a"), "uses `:`");
    assert_error(&errs, 14, 11, Some("a"), "(metadata_address)");
    assert_error(&errs, 15, 11, Some("a"), "canonical form");
    assert_eq!(errs.len(), 8, "{errs:?}");
}

#[test]
fn url_rules_sit_in_the_index_beside_namespace_rules() {
    // Arrange: a rule with a literal namespace and a URL sits in two index lists; a
    // URL-only deny must not be read for objects, nor a namespace deny for URLs.
    let p = with_rules(
        "- {id: url-deny, effect: deny, reason: r, match: {actions: [call_api], resources: [\"url:https://*.example.com/admin\"]}}
         - {id: ns-deny, effect: deny, reason: r, match: {actions: [call_api], resources: [prod]}}
         - {id: mixed, effect: allow, reason: r, match: {actions: [call_api], resources: [staging, \"url:https://*.example.com/\"]}}
         - {id: glob, effect: require_approval, reason: r, match: {actions: [\"call*\"], resources: [\"url:https://api.example.com/\"]}}",
    );

    // Act / Assert
    assert_eq!(
        decide(&p, &Req::new("call_api", "url:https://a.example.com/v1")),
        (Allow, Some("mixed".into()))
    );
    assert_eq!(
        decide(
            &p,
            &Req::new("call_api", "url:https://a.example.com/admin/x")
        ),
        (Deny, Some("url-deny".into()))
    );
    assert_eq!(
        decide(&p, &Req::new("call_api", "url:https://api.example.com/v1")),
        (RequireApproval, Some("glob".into()))
    );
    assert_eq!(
        decide(&p, &Req::new("call_api", "staging/pod/x")),
        (Allow, Some("mixed".into()))
    );
    assert_eq!(
        decide(&p, &Req::new("call_api", "*/pod/x")),
        (Deny, Some("ns-deny".into())),
        "a namespace-wide request meets the namespace deny, not the URL deny"
    );
    assert_eq!(
        decide(&p, &Req::new("call_api", "prod/pod/x")).1,
        Some("ns-deny".into())
    );
    assert_eq!(
        decide(&p, &Req::new("call_other", "url:https://a.example.com/")),
        (Deny, None)
    );
}
