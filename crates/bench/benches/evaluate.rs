//! Policy evaluation benchmarks: Warden vs Cedar on one rule, the default policy, and
//! generated policies of 100 to 10,000 rules. Run with `cargo bench -p warden-bench`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::str::FromStr;

use cedar_policy::{Authorizer, Context, Entities, EntityUid, PolicySet, Request};
use criterion::{Criterion, criterion_group, criterion_main};
use warden_bench::{CEDAR_ENTITIES, ONE_RULE_CEDAR, ONE_RULE_YAML, Prepared, seed_request};
use warden_policy::{Policy, synthetic};
use warden_protocol::{DecisionKind, PolicyRequest};

fn one_rule(c: &mut Criterion) {
    let mut group = c.benchmark_group("one_rule");

    // Warden: request parsed once, as Cedar's is below.
    let policy = Policy::parse(ONE_RULE_YAML, "one-rule.yaml").unwrap();
    let mut request = seed_request();
    request.resource = "production/pod/api-pod-12345".into();
    let prepared = Prepared::new(&policy, request).unwrap();
    assert_eq!(policy.evaluate(&prepared.input()).kind, DecisionKind::Allow);
    group.bench_function("warden", |b| {
        b.iter(|| black_box(policy.evaluate(black_box(&prepared.input())).kind))
    });

    // Cedar: the same rule, entities and request built once.
    let policies = PolicySet::from_str(ONE_RULE_CEDAR).unwrap();
    let entities = Entities::from_json_str(CEDAR_ENTITIES, None).unwrap();
    // Cedar has no floating-point type, so the context carries only what the rule reads.
    let context = Context::from_json_str(r#"{"severity": "high"}"#, None).unwrap();
    let cedar_request = Request::new(
        EntityUid::from_str(r#"User::"ai-engine""#).unwrap(),
        EntityUid::from_str(r#"Action::"restart_pod""#).unwrap(),
        EntityUid::from_str(r#"Pod::"production/api-pod-12345""#).unwrap(),
        context,
        None,
    )
    .unwrap();
    let authorizer = Authorizer::new();
    assert_eq!(
        authorizer
            .is_authorized(&cedar_request, &policies, &entities)
            .decision(),
        cedar_policy::Decision::Allow
    );
    group.bench_function("cedar", |b| {
        b.iter(|| {
            black_box(
                authorizer
                    .is_authorized(black_box(&cedar_request), &policies, &entities)
                    .decision(),
            )
        })
    });
    group.finish();
}

fn default_policy(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies/default.yaml");
    let policy = Policy::load(std::path::Path::new(path)).unwrap();
    let seed = Prepared::new(&policy, seed_request()).unwrap();
    c.bench_function("default_policy/seed_request", |b| {
        b.iter(|| black_box(policy.evaluate(black_box(&seed.input())).kind))
    });
}

fn generated(c: &mut Criterion) {
    let mut group = c.benchmark_group("generated");
    for rules in [100usize, 1_000, 10_000] {
        let policy = Policy::parse(&synthetic::generate_policy(rules), "generated.yaml").unwrap();
        // A cycle of varied requests (every effect, wide scopes, system namespaces) so the
        // figure is an average over realistic mixes, not one lucky path.
        let requests: Vec<Prepared> = (0..1024)
            .map(|seed| synthetic::sample_request(rules, seed))
            .filter_map(|r: PolicyRequest| Prepared::new(&policy, r))
            .collect();
        let mut i = 0usize;
        group.bench_function(format!("{rules}_rules"), |b| {
            b.iter(|| {
                i = (i + 1) % requests.len();
                black_box(policy.evaluate(black_box(&requests[i].input())).kind)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, one_rule, default_policy, generated);
criterion_main!(benches);
