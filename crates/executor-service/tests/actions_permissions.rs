//! The API permissions each action declares are exactly what it uses: every request an
//! action sends to the fake API server, in every mode, is covered by its declared
//! permissions, and every declared permission is used by some run. The deployment's RBAC
//! is checked against the same declarations (`executor-service permissions`), so RBAC
//! grants what the code calls and nothing more.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use executor_service::actions::{Cluster, Limits, Permission, Registry};
use executor_service::kube_client::client_for_url;
use serde_json::{Value, json};
use warden_test_support::FakeKube;

/// The RBAC (apiGroup, resource, verb) of one request at the fake, from its method and path.
fn permission_of(method: &str, path: &str) -> (String, String, String) {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    // /api/v1/namespaces/NS/RES/NAME[/SUB] or /apis/GROUP/VERSION/namespaces/NS/RES/NAME[/SUB]
    let (group, rest) = match segments.as_slice() {
        ["api", _version, rest @ ..] => (String::new(), rest),
        ["apis", group, _version, rest @ ..] => ((*group).to_owned(), rest),
        _ => panic!("unexpected API path {path}"),
    };
    let (resource, named) = match rest {
        ["namespaces", _ns, resource] => ((*resource).to_owned(), false),
        ["namespaces", _ns, resource, _name] => ((*resource).to_owned(), true),
        ["namespaces", _ns, resource, _name, sub] => (format!("{resource}/{sub}"), true),
        _ => panic!("unexpected API path {path}"),
    };
    let verb = match (method, named) {
        ("GET", true) => "get",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => panic!("unexpected method {method}"),
    };
    (group, resource, verb.to_owned())
}

fn triple(p: &Permission) -> (String, String, String) {
    (p.api_group.into(), p.resource.into(), p.verb.into())
}

/// Every way the built-in actions can run, live and as dry runs.
fn runs() -> Vec<(&'static str, Value)> {
    vec![
        (
            "restart_pod",
            json!({"namespace": "prod", "podName": "api-1"}),
        ),
        (
            "restart_pod",
            json!({"namespace": "prod", "podName": "api-2", "mode": "evict"}),
        ),
        (
            "scale_deployment",
            json!({"namespace": "prod", "deploymentName": "api", "replicas": 4}),
        ),
        (
            "scale_deployment",
            json!({"namespace": "prod", "deploymentName": "api", "replicas": 5, "expectedReplicas": 3}),
        ),
        (
            "scale_statefulset",
            json!({"namespace": "prod", "statefulSetName": "db", "replicas": 2, "expectedReplicas": 3}),
        ),
        (
            "rollout_restart_deployment",
            json!({"namespace": "prod", "deploymentName": "api"}),
        ),
        (
            "get_pod_logs",
            json!({"namespace": "prod", "podName": "api-1", "tailLines": 10}),
        ),
        (
            "list_events",
            json!({"namespace": "prod", "kind": "Pod", "name": "api-1"}),
        ),
        (
            "get_workload_status",
            json!({"namespace": "prod", "kind": "deployment", "name": "api"}),
        ),
        (
            "get_workload_status",
            json!({"namespace": "prod", "kind": "statefulset", "name": "db"}),
        ),
    ]
}

/// The read-only actions, whose dry runs send nothing at all.
fn is_read(action: &str) -> bool {
    matches!(
        action,
        "get_pod_logs" | "list_events" | "get_workload_status"
    )
}

#[tokio::test]
async fn every_api_call_of_every_action_is_declared_and_every_declaration_is_used() {
    let registry = Registry::with_builtins();
    let limits = Limits { max_replicas: 50 };
    let mut used = BTreeSet::new();
    for dry_run in [true, false] {
        for (action, params) in runs() {
            // Arrange: a fresh fake per run, so its request log is this run's alone.
            let kube = FakeKube::start().await;
            kube.add_pod("prod", "api-1");
            kube.add_pod("prod", "api-2");
            kube.add_deployment("prod", "api", 3);
            kube.add_statefulset("prod", "db", 3);
            let cluster = Cluster {
                client: client_for_url(&kube.url(), Duration::from_secs(5)).unwrap(),
                timeout: Duration::from_secs(5),
            };
            let entry = registry.get(action).unwrap();
            let declared: BTreeSet<_> = entry.permissions().iter().map(triple).collect();

            // Act
            let outcome = entry
                .prepare(&params, &limits)
                .unwrap()
                .run(&cluster, dry_run)
                .await;

            // Assert
            assert!(outcome.is_ok(), "{action} {params}: {outcome:?}");
            let requests = kube.requests();
            if dry_run && is_read(action) {
                assert!(
                    requests.is_empty(),
                    "a dry run of {action} sent {requests:?}"
                );
            } else {
                assert!(!requests.is_empty(), "{action} sent nothing");
            }
            for request in requests {
                let needed = permission_of(&request.method, &request.path);
                assert!(
                    declared.contains(&needed),
                    "{action} (dry run {dry_run}) sent {} {} needing {needed:?}, \
                     which it does not declare: {declared:?}",
                    request.method,
                    request.path
                );
                used.insert(needed);
            }
        }
    }
    let declared: BTreeSet<_> = registry.permissions().iter().map(triple).collect();
    assert_eq!(used, declared, "declared permissions no run used");
}

#[test]
fn policy_rules_group_the_permissions_by_resource() {
    // Act
    let rules = Registry::with_builtins().policy_rules();

    // Assert
    assert_eq!(
        rules,
        json!([
            {"apiGroups": [""], "resources": ["events"], "verbs": ["list"]},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]},
            {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
            {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "patch"]},
            {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "patch"]},
            {"apiGroups": ["apps"], "resources": ["statefulsets"], "verbs": ["get"]},
            {"apiGroups": ["apps"], "resources": ["statefulsets/scale"], "verbs": ["get", "patch"]},
        ])
    );
}
