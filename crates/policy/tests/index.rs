//! The index must never change a decision: a large generated policy gives, for many
//! requests, exactly what the exhaustive `explain` gives.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use warden_policy::synthetic;

#[test]
fn generated_10k_rule_policy_decides_like_the_exhaustive_scan() {
    // Arrange
    let rules = 10_000;
    let p = policy(&synthetic::generate_policy(rules));
    assert_eq!(p.rule_count(), rules);
    let mut seen = [0usize; 3];

    for seed in 0..2_000 {
        let request = synthetic::sample_request(rules, seed);
        with_wire_input(&p, &request, |input| {
            // Act
            let indexed = p.evaluate(input);
            let exhaustive = p.evaluate_unindexed(input);

            // Assert
            assert_eq!(indexed, exhaustive, "seed {seed}: {request:?}");
            // explain formats a trace entry for each of the 10,000 rules: check a sample.
            if seed % 100 == 0 {
                assert_eq!(p.explain(input).0, indexed, "explain, seed {seed}");
            }
            seen[match indexed.kind {
                Allow => 0,
                Deny => 1,
                RequireApproval => 2,
            }] += 1;
        });
    }
    assert!(
        seen.iter().all(|&n| n > 80),
        "requests should exercise every effect: {seen:?}"
    );
}

#[test]
fn generated_policies_of_every_size_load() {
    for rules in [0, 1, 2, 97, 1_000] {
        let p = policy(&synthetic::generate_policy(rules));
        assert_eq!(p.rule_count(), rules);
    }
}

#[test]
fn index_handles_rules_in_several_buckets() {
    // A rule with two literal actions and two literal namespaces sits in four index
    // slots; a glob-action rule and a rule without resources sit in the fallback lists.
    let p = with_rules(
        "- {id: multi, effect: allow, reason: r, match: {actions: [a, b], resources: [ns1, \"ns2/pod\"]}}
         - {id: glob, effect: require_approval, reason: r, match: {actions: [\"c*\"], resources: [ns1]}}
         - {id: anywhere, effect: deny, reason: r, match: {actions: [b]}, when: metadata.stop == true}",
    );

    assert_eq!(
        decide(&p, &Req::new("a", "ns1/deployment/x")),
        (Allow, Some("multi".into()))
    );
    assert_eq!(
        decide(&p, &Req::new("b", "ns2/pod/x")),
        (Deny, Some("anywhere".into())),
        "missing `stop` fails closed"
    );
    assert_eq!(
        decide(
            &p,
            &Req::new("b", "ns2/pod/x").metadata(serde_json::json!({"stop": false}))
        ),
        (Allow, Some("multi".into()))
    );
    assert_eq!(decide(&p, &Req::new("a", "ns2/deployment/x")), (Deny, None));
    assert_eq!(
        decide(&p, &Req::new("cat", "ns1/pod/x")),
        (RequireApproval, Some("glob".into()))
    );
    assert_eq!(decide(&p, &Req::new("cat", "ns3/pod/x")), (Deny, None));
    assert_eq!(
        decide(&p, &Req::new("a", "*/pod/x")),
        (Deny, None),
        "literal namespaces never cover `*`"
    );
}
