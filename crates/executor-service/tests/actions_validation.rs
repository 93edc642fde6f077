//! `actionParams` of the built-in actions, refused or accepted before anything is sent:
//! strict parsing (unknown fields, wrong types, non-integers), Kubernetes names, replica
//! bounds; and the names, budget keys and targets the registry exposes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use executor_service::actions::{Limits, Registry, Target};
use serde_json::{Value, json};

const LIMITS: Limits = Limits { max_replicas: 50 };

/// The refusal's field and message, or `None` when the params were accepted.
fn refusal(action: &str, params: &Value) -> Option<(Option<String>, String)> {
    let registry = Registry::with_builtins();
    let entry = registry.get(action).unwrap();
    match entry.prepare(params, &LIMITS) {
        Ok(_) => None,
        Err(e) => Some((e.field, e.message)),
    }
}

#[test]
fn registry_knows_the_seven_actions_and_their_budgets() {
    let names = Registry::with_builtins().names();
    assert_eq!(
        names,
        [
            ("get_pod_logs", "read"),
            ("get_workload_status", "read"),
            ("list_events", "read"),
            ("restart_pod", "restart"),
            ("rollout_restart_deployment", "rollout_restart"),
            ("scale_deployment", "scale"),
            ("scale_statefulset", "scale"),
        ]
    );
    // The protocol's list, which `policy-service check` uses, is the registry's.
    let registered: Vec<&str> = names.iter().map(|(name, _)| *name).collect();
    assert_eq!(registered, warden_protocol::BUILTIN_ACTIONS);
}

#[test]
fn bad_params_are_refused_naming_the_field() {
    let long_label = "a".repeat(64);
    let long_name = format!(
        "{}.{}.{}.{}",
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(63)
    );
    // (action, params, field, text the message must contain)
    #[rustfmt::skip]
    let table: Vec<(&str, Value, &str, &str)> = vec![
        // restart_pod: names
        ("restart_pod", json!({"namespace": "Prod", "podName": "api-1"}), "actionParams.namespace", "DNS-1123 label"),
        ("restart_pod", json!({"namespace": "-prod", "podName": "api-1"}), "actionParams.namespace", "DNS-1123 label"),
        ("restart_pod", json!({"namespace": "my.ns", "podName": "api-1"}), "actionParams.namespace", "DNS-1123 label"),
        ("restart_pod", json!({"namespace": "", "podName": "api-1"}), "actionParams.namespace", "DNS-1123 label"),
        ("restart_pod", json!({"namespace": long_label, "podName": "api-1"}), "actionParams.namespace", "DNS-1123 label"),
        ("restart_pod", json!({"namespace": "prod", "podName": "api_1"}), "actionParams.podName", "DNS-1123 subdomain"),
        ("restart_pod", json!({"namespace": "prod", "podName": "API-1"}), "actionParams.podName", "DNS-1123 subdomain"),
        ("restart_pod", json!({"namespace": "prod", "podName": "api..1"}), "actionParams.podName", "DNS-1123 subdomain"),
        ("restart_pod", json!({"namespace": "prod", "podName": ""}), "actionParams.podName", "DNS-1123 subdomain"),
        ("restart_pod", json!({"namespace": "prod", "podName": "../secrets"}), "actionParams.podName", "DNS-1123 subdomain"),
        ("restart_pod", json!({"namespace": "prod", "podName": format!("{long_name}x")}), "actionParams.podName", "DNS-1123 subdomain"),
        // restart_pod: shape
        ("restart_pod", json!({"namespace": "prod", "podName": "api-1", "mode": "restart"}), "actionParams.mode", "unknown variant"),
        ("restart_pod", json!({"namespace": "prod", "podName": "api-1", "force": true}), "actionParams.force", "unknown field `force`"),
        ("restart_pod", json!({"namespace": "prod", "pod_name": "api-1"}), "actionParams.pod_name", "unknown field `pod_name`"),
        ("restart_pod", json!({"namespace": "prod"}), "actionParams", "missing field `podName`"),
        ("restart_pod", json!({"namespace": "prod", "podName": 7}), "actionParams.podName", "invalid type"),
        // Serde would fill a struct from an array by position: refused.
        ("restart_pod", json!(["prod", "api-1"]), "actionParams", "expected a JSON object"),
        ("scale_deployment", json!(["prod", "api", 3]), "actionParams", "expected a JSON object"),
        ("scale_statefulset", json!(["prod", "db", 3]), "actionParams", "expected a JSON object"),
        ("rollout_restart_deployment", json!(["prod", "api"]), "actionParams", "expected a JSON object"),
        ("rollout_restart_deployment", json!("prod/api"), "actionParams", "expected a JSON object"),
        ("rollout_restart_deployment", Value::Null, "actionParams", "expected a JSON object"),
        // scale_deployment: replicas
        ("scale_deployment", json!({"namespace": "prod", "deploymentName": "api", "replicas": -1}), "actionParams.replicas", "between 0 and 50"),
        ("scale_deployment", json!({"namespace": "prod", "deploymentName": "api", "replicas": 51}), "actionParams.replicas", "between 0 and 50"),
        ("scale_deployment", json!({"namespace": "prod", "deploymentName": "api", "replicas": 10_000_000_000_i64}), "actionParams.replicas", "i32"),
        ("scale_deployment", json!({"namespace": "prod", "deploymentName": "api", "replicas": 3.5}), "actionParams.replicas", "invalid type"),
        ("scale_deployment", json!({"namespace": "prod", "deploymentName": "api", "replicas": 3.0}), "actionParams.replicas", "invalid type"),
        ("scale_deployment", json!({"namespace": "prod", "deploymentName": "api", "replicas": "3"}), "actionParams.replicas", "invalid type"),
        ("scale_deployment", json!({"namespace": "prod", "deploymentName": "api", "replicas": null}), "actionParams.replicas", "invalid type"),
        ("scale_deployment", json!({"namespace": "prod", "deploymentName": "api", "replicas": true}), "actionParams.replicas", "invalid type"),
        ("scale_deployment", json!({"namespace": "prod", "deploymentName": "api"}), "actionParams", "missing field `replicas`"),
        ("scale_deployment", json!({"namespace": "prod", "deploymentName": "api", "replicas": 2, "expectedReplicas": -3}), "actionParams.expectedReplicas", "0 or more"),
        ("scale_deployment", json!({"namespace": "prod", "deploymentName": "api", "replicas": 2, "expectedReplicas": "3"}), "actionParams.expectedReplicas", "invalid type"),
        ("scale_deployment", json!({"namespace": "prod", "deploymentName": "api", "replicas": 2, "statefulSetName": "db"}), "actionParams.statefulSetName", "unknown field `statefulSetName`"),
        ("scale_deployment", json!({"namespace": "prod", "deploymentName": "Api", "replicas": 2}), "actionParams.deploymentName", "DNS-1123 subdomain"),
        ("scale_deployment", json!({"namespace": "prod ", "deploymentName": "api", "replicas": 2}), "actionParams.namespace", "DNS-1123 label"),
        // scale_statefulset
        ("scale_statefulset", json!({"namespace": "prod", "statefulSetName": "db_0", "replicas": 2}), "actionParams.statefulSetName", "DNS-1123 subdomain"),
        ("scale_statefulset", json!({"namespace": "prod", "statefulSetName": "db", "replicas": 999}), "actionParams.replicas", "between 0 and 50"),
        ("scale_statefulset", json!({"namespace": "prod", "deploymentName": "db", "replicas": 2}), "actionParams.deploymentName", "unknown field `deploymentName`"),
        ("scale_statefulset", json!({"namespace": "prod", "statefulsetName": "db", "replicas": 2}), "actionParams.statefulsetName", "unknown field `statefulsetName`"),
        // rollout_restart_deployment
        ("rollout_restart_deployment", json!({"namespace": "prod", "deploymentName": "api", "replicas": 3}), "actionParams.replicas", "unknown field `replicas`"),
        ("rollout_restart_deployment", json!({"namespace": "kube system", "deploymentName": "api"}), "actionParams.namespace", "DNS-1123 label"),
        ("rollout_restart_deployment", json!({"namespace": "prod", "deploymentName": "api/../x"}), "actionParams.deploymentName", "DNS-1123 subdomain"),
        ("rollout_restart_deployment", json!({"namespace": "prod"}), "actionParams", "missing field `deploymentName`"),
    ];
    // Every row is checked before failing, so one run shows every wrong row.
    let mut wrong = Vec::new();
    for (action, params, field, text) in table {
        match refusal(action, &params) {
            None => wrong.push(format!("{action} accepted {params}")),
            Some((got_field, message)) => {
                if got_field.as_deref() != Some(field)
                    || !message.starts_with(&format!("{field}:"))
                    || !message.contains(text)
                {
                    wrong.push(format!(
                        "{action} {params}: want {field} / {text:?}, got {got_field:?}: {message}"
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_refused_value_is_echoed_only_in_part() {
    let huge = "x_".repeat(5_000);
    let (_, message) = refusal(
        "restart_pod",
        &json!({"namespace": "prod", "podName": huge}),
    )
    .unwrap();
    assert!(message.len() < 400, "{} bytes", message.len());
}

#[test]
fn good_params_are_accepted_with_their_target() {
    let long_name = format!(
        "{}.{}.{}.{}",
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(61)
    );
    let table: Vec<(&str, Value, Target)> = vec![
        (
            "restart_pod",
            json!({"namespace": "prod", "podName": "api-pod-12345"}),
            Target {
                namespace: "prod".into(),
                kind: "pod",
                name: "api-pod-12345".into(),
            },
        ),
        (
            "restart_pod",
            json!({"namespace": "prod", "podName": "api-1", "mode": "evict"}),
            Target {
                namespace: "prod".into(),
                kind: "pod",
                name: "api-1".into(),
            },
        ),
        (
            "restart_pod",
            json!({"namespace": "a".repeat(63), "podName": long_name, "mode": "delete"}),
            Target {
                namespace: "a".repeat(63),
                kind: "pod",
                name: long_name.clone(),
            },
        ),
        (
            "scale_deployment",
            json!({"namespace": "prod", "deploymentName": "api", "replicas": 0}),
            Target {
                namespace: "prod".into(),
                kind: "deployment",
                name: "api".into(),
            },
        ),
        (
            "scale_deployment",
            // `expectedReplicas` describes the live state and may exceed the cap.
            json!({"namespace": "prod", "deploymentName": "api", "replicas": 50, "expectedReplicas": 120}),
            Target {
                namespace: "prod".into(),
                kind: "deployment",
                name: "api".into(),
            },
        ),
        (
            "scale_statefulset",
            json!({"namespace": "data", "statefulSetName": "db", "replicas": 3, "expectedReplicas": null}),
            Target {
                namespace: "data".into(),
                kind: "statefulset",
                name: "db".into(),
            },
        ),
        (
            "rollout_restart_deployment",
            json!({"namespace": "prod", "deploymentName": "api.v2"}),
            Target {
                namespace: "prod".into(),
                kind: "deployment",
                name: "api.v2".into(),
            },
        ),
    ];
    let registry = Registry::with_builtins();
    for (action, params, target) in table {
        let prepared = registry
            .get(action)
            .unwrap()
            .prepare(&params, &LIMITS)
            .unwrap_or_else(|e| panic!("{action} refused {params}: {}", e.message));
        assert_eq!(prepared.target(), &target, "{action} {params}");
    }
}
