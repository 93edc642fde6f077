//! Generated policies and requests for benchmarks and index tests.
//!
//! Not part of the language; shapes are chosen to look like a large real policy: many
//! actions and namespaces, mostly literal targets, some globs, conditions on metadata,
//! and a system-namespace deny rule that applies to every action.

use std::fmt::Write as _;

use serde_json::{Map, Value};
use warden_protocol::{PolicyRequest, RequestContext};

/// Distinct actions the generated rules are spread over.
pub const ACTIONS: usize = 100;
/// Distinct namespaces the generated rules are spread over.
pub const NAMESPACES: usize = 500;

/// The action of generated rule `j`.
fn action(j: usize) -> usize {
    j % ACTIONS
}

/// The namespace of generated rule `j`; chosen so that one action's rules land in
/// different namespaces (201 is coprime with 500).
fn namespace(j: usize) -> usize {
    (j / ACTIONS + j * 7) % NAMESPACES
}

/// A valid policy with exactly `rules` rules (one of them the system-namespace deny).
pub fn generate_policy(rules: usize) -> String {
    let mut out = String::with_capacity(rules * 260 + 512);
    out.push_str(
        "version: 1\n\
         description: synthetic policy for benchmarks\n\
         principals:\n  ai-engine: {roles: [service]}\n  ops: {roles: [operator]}\n",
    );
    if rules == 0 {
        out.push_str("rules: []\n");
        return out;
    }
    out.push_str(
        "rules:\n  - id: deny-system-namespaces\n    effect: deny\n    \
         reason: system namespaces are off limits\n    \
         match: {resources: [kube-system, kube-public, kube-node-lease]}\n",
    );
    for j in 1..rules {
        let (effect, subjects, when) = if j.is_multiple_of(10) {
            ("deny", "", "metadata.confidence < 0.2".to_owned())
        } else if j.is_multiple_of(7) {
            (
                "require_approval",
                ", subjects: {roles: [service]}",
                "metadata.severity == medium".to_owned(),
            )
        } else {
            (
                "allow",
                ", subjects: {roles: [service, operator]}",
                format!(
                    "{{all: [\"metadata.severity in [high, critical]\", \
                     {{field: metadata.confidence, op: \">=\", value: 0.{}}}]}}",
                    j % 9 + 1
                ),
            )
        };
        // Every 97th rule uses a glob action to exercise the non-literal bucket.
        let actions = if j.is_multiple_of(97) {
            format!("\"action_{:02}*\"", action(j) / 10)
        } else {
            format!("action_{:03}", action(j))
        };
        let resources = if j.is_multiple_of(3) {
            format!("ns-{:03}", namespace(j))
        } else {
            format!("ns-{:03}/deployment/*", namespace(j))
        };
        let _ = writeln!(
            out,
            "  - id: r{j:06}\n    effect: {effect}\n    reason: synthetic rule {j}\n    \
             match: {{actions: [{actions}], resources: [\"{resources}\"]{subjects}}}\n    \
             when: {when}"
        );
    }
    out
}

/// A request aimed at generated rule `seed % rules` (or, for some seeds, at the
/// system namespaces, a namespace-wide scope or an unknown action), with varied
/// metadata, so that a stream of them exercises every effect.
pub fn sample_request(rules: usize, seed: usize) -> PolicyRequest {
    let j = if rules > 1 { seed % rules } else { seed };
    // Aim at the target rule's condition most of the time, miss it sometimes.
    let severity = if j.is_multiple_of(7) && !seed.is_multiple_of(3) {
        "medium"
    } else {
        ["low", "medium", "high", "critical"][seed % 4]
    };
    let confidence = (seed % 10) as f64 / 10.0 + 0.05;
    let (action, resource) = match seed % 13 {
        0 => (
            format!("action_{:03}", action(j)),
            format!("kube-system/pod/p-{seed}"),
        ),
        1 => (
            format!("action_{:03}", action(j)),
            format!("ns-{:03}:resource", namespace(j)),
        ),
        2 => (
            "unknown_action".to_owned(),
            format!("ns-{:03}/pod/p", namespace(j)),
        ),
        _ => (
            format!("action_{:03}", action(j)),
            format!("ns-{:03}/deployment/app-{seed}", namespace(j)),
        ),
    };
    let mut metadata = Map::new();
    if !seed.is_multiple_of(11) {
        metadata.insert("severity".into(), Value::from(severity));
    }
    metadata.insert("confidence".into(), Value::from(confidence));
    PolicyRequest {
        action,
        resource,
        request_type: Some("self_healing".into()),
        context: Some(RequestContext {
            user_id: Some("ai-engine".into()),
            role: Some(
                if seed.is_multiple_of(5) {
                    "operator"
                } else {
                    "service"
                }
                .into(),
            ),
            metadata,
            ..RequestContext::default()
        }),
        params: None,
    }
}
