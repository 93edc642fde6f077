//! Properties over random small policies and requests: explain agrees with evaluate,
//! adding a deny rule never allows more, and the parser never panics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use proptest::prelude::*;
use serde_json::json;
use warden_policy::Policy;

const ACTIONS: &[&str] = &[
    "",
    "actions: [restart_pod]",
    "actions: [\"scale_*\"]",
    "actions: [restart_pod, scale_deployment]",
    "actions: \"*\"",
];
const RESOURCES: &[&str] = &[
    "",
    "resources: [prod]",
    "resources: [\"prod/pod/web-*\"]",
    "resources: [\"*/deployment\"]",
    "resources: [\"*\"]",
    "resources: [\"kube-*\", staging]",
    "resources: [\"url:https://*.example.com/v1/\"]",
    "resources: [prod, \"url:https://api.example.com/\"]",
];
const SUBJECTS: &[&str] = &[
    "",
    "subjects: {roles: [service]}",
    "subjects: {users: [\"ai-*\"]}",
];
const TYPES: &[&str] = &["", "types: [self_healing]", "types: \"*\""];
const CONDITIONS: &[&str] = &[
    "",
    "metadata.severity in [high, critical]",
    "metadata.confidence >= 0.5",
    "metadata.confidence < 0.5",
    "{any: [metadata.severity == low, resource.kind == pod]}",
    "{not: metadata.automated == true}",
    "metadata.ticket exists",
    "subject.roles == operator",
    "resource.host == api.example.com",
    "resource.namespace == prod",
];
const EFFECTS: &[&str] = &["allow", "deny", "require_approval"];

/// A rule as indices into the tables above.
type RuleSpec = (usize, usize, usize, usize, usize, usize);

fn rule_spec() -> impl Strategy<Value = RuleSpec> {
    (
        0..EFFECTS.len(),
        0..ACTIONS.len(),
        0..RESOURCES.len(),
        0..SUBJECTS.len(),
        0..TYPES.len(),
        0..CONDITIONS.len(),
    )
}

fn rule_yaml(id: &str, (e, a, r, s, t, c): RuleSpec) -> String {
    let targets: Vec<&str> = [ACTIONS[a], RESOURCES[r], SUBJECTS[s], TYPES[t]]
        .into_iter()
        .filter(|x| !x.is_empty())
        .collect();
    let mut out = format!(
        "  - id: {id}\n    effect: {}\n    reason: {id}\n",
        EFFECTS[e]
    );
    if !targets.is_empty() {
        out.push_str(&format!("    match: {{{}}}\n", targets.join(", ")));
    }
    if !CONDITIONS[c].is_empty() {
        out.push_str(&format!("    when: {}\n", CONDITIONS[c]));
    }
    out
}

fn build(rules: &[RuleSpec], extra_deny: Option<(usize, RuleSpec)>) -> Policy {
    let mut yaml: Vec<String> = rules
        .iter()
        .enumerate()
        .map(|(i, spec)| rule_yaml(&format!("r{i}"), *spec))
        .collect();
    if let Some((at, mut spec)) = extra_deny {
        spec.0 = 1; // deny
        yaml.insert(at % (yaml.len() + 1), rule_yaml("extra-deny", spec));
    }
    if yaml.is_empty() {
        return policy("version: 1\nrules: []\n");
    }
    policy(&format!("version: 1\nrules:\n{}", yaml.concat()))
}

fn request() -> impl Strategy<Value = Req> {
    let actions = prop::sample::select(vec![
        "restart_pod",
        "scale_deployment",
        "scale_statefulset",
        "delete_pod",
    ]);
    let resources = prop::sample::select(vec![
        "prod/pod/web-1",
        "prod/deployment/api",
        "prod:resource",
        "pod:web-1",
        "*/deployment/api",
        "kube-system/pod/dns",
        "staging/deployment/*",
        "url:https://api.example.com/v1/tickets",
        "url:https://a.b.example.com/v10",
        "url:https://example.com/v1",
    ]);
    let subjects = prop::sample::select(vec![
        ("ai-engine", vec!["service"]),
        ("bob", vec!["operator"]),
        ("eve", vec![]),
    ]);
    let types = prop::option::of(prop::sample::select(vec!["self_healing", "manual"]));
    let severity = prop::option::of(prop::sample::select(vec!["low", "high", "critical"]));
    let confidence = prop::option::of(prop_oneof![
        Just(json!(0.3)),
        Just(json!(0.9)),
        Just(json!("high"))
    ]);
    let flags = (any::<bool>(), any::<bool>());
    (
        actions, resources, subjects, types, severity, confidence, flags,
    )
        .prop_map(
            |(
                action,
                resource,
                (subject, roles),
                typ,
                severity,
                confidence,
                (automated, ticket),
            )| {
                let mut req = Req::new(action, resource).subject(subject, &roles);
                if let Some(t) = typ {
                    req = req.typ(t);
                }
                let mut m = serde_json::Map::new();
                if let Some(s) = severity {
                    m.insert("severity".into(), json!(s));
                }
                if let Some(c) = confidence {
                    m.insert("confidence".into(), c);
                }
                m.insert("automated".into(), json!(automated));
                if ticket {
                    m.insert("ticket".into(), json!("INC-1"));
                }
                req.metadata(serde_json::Value::Object(m))
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn explain_agrees_with_evaluate(rules in prop::collection::vec(rule_spec(), 0..8), req in request()) {
        let p = build(&rules, None);

        let input = req.input();
        let (explained, trace) = p.explain(&input);

        prop_assert_eq!(p.evaluate(&input), explained);
        prop_assert_eq!(trace.len(), rules.len());
        // The decision is the first matching rule of the winning effect.
        if let Some(id) = explained.rule {
            let t = trace.iter().find(|t| t.rule == id).unwrap();
            prop_assert!(t.matched);
            prop_assert_eq!(t.effect, explained.kind);
        }
    }

    #[test]
    fn adding_a_deny_rule_never_allows_more(
        rules in prop::collection::vec(rule_spec(), 0..8),
        extra in (any::<usize>(), rule_spec()),
        req in request(),
    ) {
        let before = decide(&build(&rules, None), &req).0;

        let after = decide(&build(&rules, Some(extra)), &req).0;

        // Not allowed before means not allowed after; a change can only be to deny.
        if before != Allow {
            prop_assert_ne!(after, Allow);
        }
        prop_assert!(after == before || after == Deny, "{:?} became {:?}", before, after);
    }

    #[test]
    fn the_parser_never_panics_on_arbitrary_text(text in "[a-z:\\-\\[\\]{}\"' ,.*&!|>#\n0-9]{0,200}") {
        let _ = Policy::parse(&text, "fuzz.yaml");
    }

    #[test]
    fn the_parser_never_panics_on_mangled_policies(
        cut in any::<prop::sample::Index>(),
        insert in "[ \n:\\-\\[{*&!\"]{0,3}",
        drop in 0usize..8,
    ) {
        let source = std::fs::read_to_string(policies_dir().join("default.yaml")).unwrap();
        let mut at = cut.index(source.len() + 1);
        while !source.is_char_boundary(at) {
            at -= 1;
        }
        let mut end = (at + drop).min(source.len());
        while !source.is_char_boundary(end) {
            end -= 1;
        }
        let mangled = format!("{}{}{}", &source[..at], insert, &source[end..]);

        let _ = Policy::parse(&mangled, "fuzz.yaml");
    }
}

#[test]
fn deeply_nested_input_is_refused_not_a_stack_overflow() {
    let depth = 10_000;
    let source = format!(
        "version: 1\nrules: {}{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );

    let errs = Policy::parse(&source, "deep.yaml").unwrap_err();

    assert_eq!(errs.0[0].line, Some(2));
}

#[test]
fn deeply_nested_conditions_within_the_limit_work() {
    let depth = 20;
    let condition = format!(
        "{}metadata.a == 1{}",
        "{not: ".repeat(depth),
        "}".repeat(depth)
    );

    let p = with_rules(&format!(
        "- {{id: n, effect: allow, reason: r, when: {condition}}}"
    ));

    let req = Req::new("x", "pod:p").metadata(json!({"a": 1}));
    assert_eq!(decide(&p, &req).0, Allow, "an even number of `not`s");
}

#[test]
fn alias_bombs_are_refused() {
    let mut source =
        String::from("version: 1\nrules: []\nbomb0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = format!("*a{}", i - 1);
        source.push_str(&format!("bomb{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
    }

    let errs = Policy::parse(&source, "bomb.yaml").unwrap_err();

    assert!(
        errs.0[0].message.contains("invalid YAML"),
        "{}",
        errs.0[0].message
    );
}
