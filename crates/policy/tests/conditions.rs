//! `when:` conditions: every operator, numbers, type errors, missing fields and how
//! errors fail closed, combinators, and the string and structured forms.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;
use warden_policy::Policy;

/// An allow rule and a deny rule with the same condition, in separate policies: the
/// pair shows whether the condition was true, false or an error.
struct Probe {
    allow: Policy,
    deny: Policy,
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    True,
    False,
    Error,
}

fn probe(condition: &str) -> Probe {
    let rule = |effect: &str| {
        policy(&format!(
            "version: 1\nrules:\n- id: r\n  effect: {effect}\n  reason: probe\n  when: {condition}\n"
        ))
    };
    Probe {
        allow: rule("allow"),
        deny: rule("deny"),
    }
}

impl Probe {
    #[track_caller]
    fn on(&self, req: &Req) -> Outcome {
        let allowed = decide(&self.allow, req).0 == Allow;
        let denied_by_rule = decide(&self.deny, req).1.is_some();
        match (allowed, denied_by_rule) {
            (true, true) => Outcome::True,
            (false, false) => Outcome::False,
            // The allow rule did not match but the deny rule did: the condition errored.
            (false, true) => Outcome::Error,
            (true, false) => panic!("allow matched but deny did not: impossible"),
        }
    }
}

fn meta(metadata: serde_json::Value) -> Req {
    Req::new("restart_pod", "default/pod/web").metadata(metadata)
}

#[test]
fn equality_compares_strings_numbers_and_booleans() {
    // Arrange
    let severity = probe("metadata.severity == high");
    let count = probe("metadata.count == 10");
    let automated = probe("metadata.automated == false");

    // Act / Assert
    assert_eq!(
        severity.on(&meta(json!({"severity": "high"}))),
        Outcome::True
    );
    assert_eq!(
        severity.on(&meta(json!({"severity": "low"}))),
        Outcome::False
    );
    assert_eq!(
        count.on(&meta(json!({"count": 10.0}))),
        Outcome::True,
        "10 == 10.0"
    );
    assert_eq!(
        count.on(&meta(json!({"count": "10"}))),
        Outcome::False,
        "types differ"
    );
    assert_eq!(
        automated.on(&meta(json!({"automated": false}))),
        Outcome::True
    );
    assert_eq!(
        automated.on(&meta(json!({"automated": "false"}))),
        Outcome::False
    );
}

#[test]
fn inequality_is_the_negation_of_equality() {
    let p = probe("metadata.severity != low");

    assert_eq!(p.on(&meta(json!({"severity": "high"}))), Outcome::True);
    assert_eq!(p.on(&meta(json!({"severity": "low"}))), Outcome::False);
    assert_eq!(
        p.on(&meta(json!({}))),
        Outcome::Error,
        "missing stays an error"
    );
}

#[test]
fn in_and_not_in_test_membership() {
    let within = probe("metadata.severity in [high, critical]");
    let outside = probe("metadata.severity not in [high, critical]");
    let numbers = probe("metadata.replicas in [1, 2, 3]");

    assert_eq!(
        within.on(&meta(json!({"severity": "critical"}))),
        Outcome::True
    );
    assert_eq!(
        within.on(&meta(json!({"severity": "medium"}))),
        Outcome::False
    );
    assert_eq!(
        outside.on(&meta(json!({"severity": "medium"}))),
        Outcome::True
    );
    assert_eq!(
        outside.on(&meta(json!({"severity": "high"}))),
        Outcome::False
    );
    assert_eq!(numbers.on(&meta(json!({"replicas": 2}))), Outcome::True);
    assert_eq!(numbers.on(&meta(json!({"replicas": 2.0}))), Outcome::True);
    assert_eq!(numbers.on(&meta(json!({"replicas": 4}))), Outcome::False);
}

#[test]
fn ordering_compares_numbers_as_numbers() {
    let ge = probe("metadata.confidence >= 0.8");
    let gt = probe("metadata.replicas > 9");
    let lt = probe("metadata.replicas < 10");
    let le = probe("metadata.replicas <= 10");

    assert_eq!(ge.on(&meta(json!({"confidence": 0.93}))), Outcome::True);
    assert_eq!(ge.on(&meta(json!({"confidence": 0.8}))), Outcome::True);
    assert_eq!(ge.on(&meta(json!({"confidence": 0.79}))), Outcome::False);
    assert_eq!(
        ge.on(&meta(json!({"confidence": 1}))),
        Outcome::True,
        "integer vs float"
    );
    assert_eq!(
        gt.on(&meta(json!({"replicas": 10}))),
        Outcome::True,
        "10 > 9, not as text"
    );
    assert_eq!(lt.on(&meta(json!({"replicas": 9}))), Outcome::True);
    assert_eq!(lt.on(&meta(json!({"replicas": 10}))), Outcome::False);
    assert_eq!(le.on(&meta(json!({"replicas": 10}))), Outcome::True);
}

#[test]
fn ordering_strings_compares_bytes() {
    let p = probe("metadata.since >= \"2026-01-01\"");

    assert_eq!(p.on(&meta(json!({"since": "2026-03-04"}))), Outcome::True);
    assert_eq!(p.on(&meta(json!({"since": "2025-12-31"}))), Outcome::False);
}

#[test]
fn ordering_mixed_types_is_a_type_error() {
    let p = probe("metadata.confidence >= 0.8");

    assert_eq!(p.on(&meta(json!({"confidence": "0.93"}))), Outcome::Error);
    assert_eq!(p.on(&meta(json!({"confidence": true}))), Outcome::Error);
    assert_eq!(p.on(&meta(json!({"confidence": [0.9]}))), Outcome::Error);
    assert_eq!(
        p.on(&meta(json!({"confidence": {"v": 0.9}}))),
        Outcome::Error
    );
}

#[test]
fn exists_never_errors() {
    let present = probe("metadata.ticket exists");
    let absent = probe("metadata.ticket exists false");
    let explicit = probe("metadata.ticket exists true");

    assert_eq!(present.on(&meta(json!({"ticket": "INC-1"}))), Outcome::True);
    assert_eq!(present.on(&meta(json!({}))), Outcome::False);
    assert_eq!(
        present.on(&meta(json!({"ticket": null}))),
        Outcome::False,
        "null is absent"
    );
    assert_eq!(absent.on(&meta(json!({}))), Outcome::True);
    assert_eq!(explicit.on(&meta(json!({"ticket": 0}))), Outcome::True);
    assert_eq!(
        present.on(&Req::new("restart_pod", "default/pod/web")),
        Outcome::False,
        "no context"
    );
}

#[test]
fn matches_uses_globs_and_refuses_non_strings() {
    let p = probe("context.userAgent matches \"ai-engine/*\"");

    let agent = |ua: serde_json::Value| {
        Req::new("restart_pod", "default/pod/web").context(json!({"userAgent": ua}))
    };
    assert_eq!(p.on(&agent(json!("ai-engine/1.2"))), Outcome::True);
    assert_eq!(p.on(&agent(json!("curl/8"))), Outcome::False);
    assert_eq!(
        probe("metadata.n matches \"1*\"").on(&meta(json!({"n": 12}))),
        Outcome::Error
    );
}

#[test]
fn missing_fields_fail_closed_allow_does_not_match_and_deny_does() {
    // Arrange
    let allow = with_rules(
        "- {id: allow-high, effect: allow, reason: ok, when: metadata.severity == high}",
    );
    let deny = with_rules(
        "- {id: deny-low, effect: deny, reason: no, when: metadata.severity == low}
         - {id: allow-all, effect: allow, reason: ok}",
    );
    let approval = with_rules(
        "- {id: ask, effect: require_approval, reason: ask, when: metadata.severity == medium}
         - {id: allow-all, effect: allow, reason: ok}",
    );
    let no_severity = meta(json!({"confidence": 0.9}));

    // Act / Assert
    assert_eq!(decide(&allow, &no_severity), (Deny, None));
    assert_eq!(decide(&deny, &no_severity), (Deny, Some("deny-low".into())));
    assert_eq!(
        decide(&approval, &no_severity),
        (Allow, Some("allow-all".into()))
    );
}

#[test]
fn fields_of_the_request_are_readable() {
    let req = Req::new("scale_deployment", "prod/deploy/api")
        .typ("self_healing")
        .subject("ai-engine", &["service", "reader"])
        .context(json!({
            "userId": "ai-engine", "role": "service", "ipAddress": "10.0.0.7",
            "userAgent": "ai-engine/1.2", "ticket": {"id": "INC-7"},
            "metadata": {"incident": {"pods": ["a", "b"]}}
        }));

    for condition in [
        "action == scale_deployment",
        "type == self_healing",
        "resource.namespace == prod",
        "resource.kind == Deployments",
        "resource.name matches \"a*\"",
        "subject.id == ai-engine",
        "subject.roles == reader",
        "subject.roles in [admin, service]",
        "subject.roles exists",
        "context.userId == ai-engine",
        "context.role == service",
        "context.ipAddress matches \"10.*\"",
        "context.userAgent == ai-engine/1.2",
        "context.ticket.id == INC-7",
        "context.metadata.incident.pods.1 == b",
        "metadata.incident.pods == a",
    ] {
        assert_eq!(probe(condition).on(&req), Outcome::True, "{condition}");
    }
    assert_eq!(
        probe("subject.roles not in [service]").on(&req),
        Outcome::False
    );
    assert_eq!(probe("subject.roles != admin").on(&req), Outcome::True);
}

#[test]
fn a_wide_resource_part_has_no_value() {
    let p = probe("resource.kind == deployment");

    assert_eq!(p.on(&Req::new("x", "prod:resource")), Outcome::Error);
    assert_eq!(p.on(&Req::new("x", "prod/deployment/*")), Outcome::True);
}

#[test]
fn all_any_not_combine() {
    let all = probe("{all: [metadata.a == 1, metadata.b == 2]}");
    let any = probe("{any: [metadata.a == 1, metadata.b == 2]}");
    let not = probe("{not: metadata.a == 1}");
    let list = probe("[metadata.a == 1, metadata.b == 2]");

    let m = |a: i64, b: i64| meta(json!({"a": a, "b": b}));
    assert_eq!(all.on(&m(1, 2)), Outcome::True);
    assert_eq!(all.on(&m(1, 3)), Outcome::False);
    assert_eq!(any.on(&m(0, 2)), Outcome::True);
    assert_eq!(any.on(&m(0, 0)), Outcome::False);
    assert_eq!(not.on(&m(0, 0)), Outcome::True);
    assert_eq!(not.on(&m(1, 0)), Outcome::False);
    assert_eq!(list.on(&m(1, 2)), Outcome::True, "a bare list is `all`");
    assert_eq!(list.on(&m(0, 2)), Outcome::False);
}

#[test]
fn errors_propagate_through_all_any_and_not() {
    let only_a = meta(json!({"a": 1}));

    // `any` with a true branch is still an error when another branch errors: the
    // result never depends on branch order.
    assert_eq!(
        probe("{any: [metadata.a == 1, metadata.b == 2]}").on(&only_a),
        Outcome::Error
    );
    assert_eq!(
        probe("{all: [metadata.a == 2, metadata.b == 2]}").on(&only_a),
        Outcome::Error
    );
    assert_eq!(probe("{not: metadata.b == 2}").on(&only_a), Outcome::Error);
    assert_eq!(
        probe("{not: {not: metadata.b == 2}}").on(&only_a),
        Outcome::Error
    );
}

#[test]
fn string_and_structured_forms_mean_the_same() {
    let cases = [
        (
            "metadata.c >= 0.8",
            "{field: metadata.c, op: \">=\", value: 0.8}",
        ),
        (
            "metadata.s in [high, critical]",
            "{field: metadata.s, op: in, value: [high, critical]}",
        ),
        (
            "metadata.s not in [low]",
            "{field: metadata.s, op: not in, value: [low]}",
        ),
        ("metadata.t exists", "{field: metadata.t, op: exists}"),
        (
            "metadata.t exists false",
            "{field: metadata.t, op: exists, value: false}",
        ),
        (
            "metadata.s matches \"h*\"",
            "{field: metadata.s, op: matches, value: \"h*\"}",
        ),
        (
            "metadata.b == true",
            "{field: metadata.b, op: \"==\", value: true}",
        ),
        (
            "metadata.s == \"two words\"",
            "{field: metadata.s, op: \"==\", value: two words}",
        ),
    ];
    let requests = [
        meta(json!({"c": 0.9, "s": "high", "t": 1, "b": true})),
        meta(json!({"c": 0.1, "s": "low", "b": false})),
        meta(json!({"c": "x", "s": "two words"})),
        meta(json!({})),
    ];
    for (short, structured) in cases {
        let (a, b) = (probe(short), probe(structured));
        for req in &requests {
            assert_eq!(a.on(req), b.on(req), "{short} vs {structured} on {req:?}");
        }
    }
}

#[test]
fn kind_literals_in_conditions_are_normalised() {
    let p = probe("resource.kind in [deploy, Pods]");

    assert_eq!(p.on(&Req::new("x", "prod/deployment/a")), Outcome::True);
    assert_eq!(p.on(&Req::new("x", "pod:a")), Outcome::True);
    assert_eq!(p.on(&Req::new("x", "prod/service/a")), Outcome::False);
}
