//! The built-in actions against the fake Kubernetes API server, through a real
//! `kube::Client` over HTTP built by `kube_client::client_for_url`: happy paths, server-side
//! dry runs and the `expectedReplicas` precondition. Every test asserts on the fake's stored
//! state and its logs of mutations and requests, not only on the returned value.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use executor_service::actions::{ActionFailure, Cluster, Limits, Registry};
use executor_service::kube_client::client_for_url;
use serde_json::{Value, json};
use warden_test_support::{DeleteAnswer, FakeKube, Kind, RecordedRequest, Verb};

const TIMEOUT: Duration = Duration::from_secs(5);

async fn start() -> (FakeKube, Cluster) {
    let kube = FakeKube::start().await;
    let cluster = Cluster {
        client: client_for_url(&kube.url(), TIMEOUT).unwrap(),
        timeout: TIMEOUT,
    };
    (kube, cluster)
}

/// Parses, validates and runs `action` the way the executor does, through the registry.
async fn run(
    cluster: &Cluster,
    action: &str,
    params: Value,
    dry_run: bool,
) -> Result<Value, ActionFailure> {
    let limits = Limits { max_replicas: 50 };
    let registry = Registry::with_builtins();
    let prepared = registry
        .get(action)
        .unwrap()
        .prepare(&params, &limits)
        .unwrap();
    prepared.run(cluster, dry_run).await
}

fn writes(kube: &FakeKube) -> Vec<RecordedRequest> {
    kube.requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect()
}

// ---------------------------------------------------------------------------------------
// restart_pod
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn restart_pod_deletes_the_pod_and_reports_its_uid() {
    // Arrange
    let (kube, cluster) = start().await;
    kube.add_pod("prod", "api-7f9c");
    let uid = kube.pod("prod", "api-7f9c").unwrap()["metadata"]["uid"].clone();

    // Act
    let params = json!({"namespace": "prod", "podName": "api-7f9c"});
    let result = run(&cluster, "restart_pod", params, false).await.unwrap();

    // Assert
    assert_eq!(
        result,
        json!({"pod": "api-7f9c", "namespace": "prod", "mode": "delete", "uid": uid, "dryRun": false})
    );
    assert!(!kube.pod_exists("prod", "api-7f9c"));
    let mutations = kube.mutations();
    assert_eq!(mutations.len(), 1);
    assert_eq!(
        (mutations[0].verb, mutations[0].kind),
        (Verb::Delete, Kind::Pod)
    );
    assert_eq!(mutations[0].detail["uid"], uid);
    let writes = writes(&kube);
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].method, "DELETE");
    assert_eq!(writes[0].path, "/api/v1/namespaces/prod/pods/api-7f9c");
    assert!(!writes[0].dry_run);
}

#[tokio::test]
async fn restart_pod_reads_the_uid_from_a_status_answer_too() {
    // Arrange: the API server answers the delete with a Success Status, not the Pod.
    let (kube, cluster) = start().await;
    kube.add_pod("prod", "api-1");
    kube.set_delete_answer(DeleteAnswer::Status);
    let uid = kube.pod("prod", "api-1").unwrap()["metadata"]["uid"].clone();

    // Act
    let params = json!({"namespace": "prod", "podName": "api-1", "mode": "delete"});
    let result = run(&cluster, "restart_pod", params, false).await.unwrap();

    // Assert
    assert_eq!(result["uid"], uid);
    assert!(!kube.pod_exists("prod", "api-1"));
    assert_eq!(kube.mutations().len(), 1);
}

#[tokio::test]
async fn restart_pod_in_evict_mode_uses_the_eviction_api() {
    // Arrange
    let (kube, cluster) = start().await;
    kube.add_pod("prod", "api-1");

    // Act
    let params = json!({"namespace": "prod", "podName": "api-1", "mode": "evict"});
    let result = run(&cluster, "restart_pod", params, false).await.unwrap();

    // Assert
    assert_eq!(result["mode"], "evict");
    assert_eq!(result["dryRun"], false);
    assert!(!kube.pod_exists("prod", "api-1"));
    let mutations = kube.mutations();
    assert_eq!(mutations.len(), 1);
    assert_eq!(mutations[0].verb, Verb::Evict);
    let writes = writes(&kube);
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].method, "POST");
    assert_eq!(
        writes[0].path,
        "/api/v1/namespaces/prod/pods/api-1/eviction"
    );
    // A well-formed policy/v1 Eviction, not kube's `delete_options` body.
    assert_eq!(writes[0].body["apiVersion"], "policy/v1");
    assert_eq!(writes[0].body["kind"], "Eviction");
    assert_eq!(writes[0].body["metadata"]["name"], "api-1");
    assert!(writes[0].body.get("delete_options").is_none());
}

#[tokio::test]
async fn restart_pod_eviction_blocked_by_a_disruption_budget_changes_nothing() {
    // Arrange
    let (kube, cluster) = start().await;
    kube.add_pod("prod", "api-1");
    kube.block_evictions("prod", "api-1");

    // Act
    let params = json!({"namespace": "prod", "podName": "api-1", "mode": "evict"});
    let failure = run(&cluster, "restart_pod", params, false)
        .await
        .unwrap_err();

    // Assert
    assert_eq!(failure.code, "kube_too_many_requests");
    assert_eq!(failure.http_status, 429);
    assert!(!failure.outcome_unknown);
    assert!(
        failure.message.contains("PodDisruptionBudget"),
        "{}",
        failure.message
    );
    assert!(kube.pod_exists("prod", "api-1"));
    assert!(kube.mutations().is_empty());
    // Retries are off: a budget's 429 is answered once, not re-sent.
    assert_eq!(writes(&kube).len(), 1);
}

#[tokio::test]
async fn restart_pod_dry_run_deletes_nothing() {
    // Arrange
    let (kube, cluster) = start().await;
    kube.add_pod("prod", "api-1");

    // Act
    let params = json!({"namespace": "prod", "podName": "api-1"});
    let result = run(&cluster, "restart_pod", params, true).await.unwrap();

    // Assert
    assert_eq!(result["dryRun"], true);
    assert!(kube.pod_exists("prod", "api-1"));
    assert!(kube.mutations().is_empty());
    let writes = writes(&kube);
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].method, "DELETE");
    assert!(writes[0].dry_run);
    assert_eq!(writes[0].body["dryRun"], json!(["All"]));
}

#[tokio::test]
async fn restart_pod_evict_dry_run_evicts_nothing() {
    // Arrange
    let (kube, cluster) = start().await;
    kube.add_pod("prod", "api-1");

    // Act
    let params = json!({"namespace": "prod", "podName": "api-1", "mode": "evict"});
    let result = run(&cluster, "restart_pod", params, true).await.unwrap();

    // Assert
    assert_eq!(result["dryRun"], true);
    assert!(kube.pod_exists("prod", "api-1"));
    assert!(kube.mutations().is_empty());
    let writes = writes(&kube);
    assert_eq!(writes.len(), 1);
    assert!(writes[0].dry_run);
    // Both places a real API server reads it from.
    assert!(
        writes[0].query.contains("dryRun=All"),
        "{}",
        writes[0].query
    );
    assert_eq!(writes[0].body["deleteOptions"]["dryRun"], json!(["All"]));
}

#[tokio::test]
async fn restart_pod_of_a_missing_pod_is_not_found() {
    // Arrange
    let (kube, cluster) = start().await;
    kube.add_pod("prod", "other");

    // Act
    let params = json!({"namespace": "prod", "podName": "gone"});
    let failure = run(&cluster, "restart_pod", params, false)
        .await
        .unwrap_err();

    // Assert
    assert_eq!(
        (failure.code, failure.http_status, failure.outcome_unknown),
        ("kube_not_found", 404, false)
    );
    assert!(kube.mutations().is_empty());
    assert!(kube.pod_exists("prod", "other"));
}

// ---------------------------------------------------------------------------------------
// scale_deployment / scale_statefulset
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn scale_deployment_patches_the_scale_subresource() {
    // Arrange
    let (kube, cluster) = start().await;
    kube.add_deployment("prod", "api", 3);

    // Act
    let params = json!({"namespace": "prod", "deploymentName": "api", "replicas": 5});
    let result = run(&cluster, "scale_deployment", params, false)
        .await
        .unwrap();

    // Assert
    assert_eq!(
        result,
        json!({"kind": "Deployment", "name": "api", "namespace": "prod",
               "previousReplicas": 3, "replicas": 5, "dryRun": false})
    );
    assert_eq!(kube.replicas(Kind::Deployment, "prod", "api"), Some(5));
    let mutations = kube.mutations();
    assert_eq!(mutations.len(), 1);
    assert_eq!(
        (mutations[0].verb, mutations[0].kind),
        (Verb::Scale, Kind::Deployment)
    );
    assert_eq!(mutations[0].detail["from"], 3);
    assert_eq!(mutations[0].detail["to"], 5);
    let requests = kube.requests();
    let calls: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            ("GET", "/apis/apps/v1/namespaces/prod/deployments/api/scale"),
            (
                "PATCH",
                "/apis/apps/v1/namespaces/prod/deployments/api/scale"
            ),
        ]
    );
    assert_eq!(
        requests[1].content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(requests[1].body, json!({"spec": {"replicas": 5}}));
}

#[tokio::test]
async fn scale_statefulset_patches_the_scale_subresource() {
    // Arrange
    let (kube, cluster) = start().await;
    kube.add_statefulset("data", "db", 3);

    // Act
    let params = json!({"namespace": "data", "statefulSetName": "db", "replicas": 1});
    let result = run(&cluster, "scale_statefulset", params, false)
        .await
        .unwrap();

    // Assert
    assert_eq!(result["kind"], "StatefulSet");
    assert_eq!(result["previousReplicas"], 3);
    assert_eq!(result["replicas"], 1);
    assert_eq!(kube.replicas(Kind::StatefulSet, "data", "db"), Some(1));
    let mutations = kube.mutations();
    assert_eq!(mutations.len(), 1);
    assert_eq!(
        (mutations[0].verb, mutations[0].kind),
        (Verb::Scale, Kind::StatefulSet)
    );
    assert_eq!(
        writes(&kube)[0].path,
        "/apis/apps/v1/namespaces/data/statefulsets/db/scale"
    );
}

#[tokio::test]
async fn scale_from_zero_reports_zero_previous_replicas() {
    // Arrange: autoscaling/v1 omits `replicas` when it is 0.
    let (kube, cluster) = start().await;
    kube.add_deployment("prod", "idle", 0);

    // Act
    let params = json!({"namespace": "prod", "deploymentName": "idle", "replicas": 2});
    let result = run(&cluster, "scale_deployment", params, false)
        .await
        .unwrap();

    // Assert
    assert_eq!(result["previousReplicas"], 0);
    assert_eq!(kube.replicas(Kind::Deployment, "prod", "idle"), Some(2));
}

#[tokio::test]
async fn scale_dry_runs_change_nothing() {
    for (action, params) in [
        (
            "scale_deployment",
            json!({"namespace": "prod", "deploymentName": "api", "replicas": 7}),
        ),
        (
            "scale_statefulset",
            json!({"namespace": "prod", "statefulSetName": "db", "replicas": 7}),
        ),
    ] {
        // Arrange
        let (kube, cluster) = start().await;
        kube.add_deployment("prod", "api", 3);
        kube.add_statefulset("prod", "db", 3);

        // Act
        let result = run(&cluster, action, params, true).await.unwrap();

        // Assert
        assert_eq!(result["dryRun"], true, "{action}");
        assert_eq!(result["previousReplicas"], 3, "{action}");
        assert_eq!(result["replicas"], 7, "{action}");
        assert_eq!(kube.replicas(Kind::Deployment, "prod", "api"), Some(3));
        assert_eq!(kube.replicas(Kind::StatefulSet, "prod", "db"), Some(3));
        assert!(kube.mutations().is_empty(), "{action}");
        let writes = writes(&kube);
        assert_eq!(writes.len(), 1, "{action}");
        assert_eq!(writes[0].method, "PATCH");
        assert!(writes[0].dry_run, "{action}");
        assert!(writes[0].query.contains("dryRun=All"), "{action}");
    }
}

#[tokio::test]
async fn scale_with_matching_expected_replicas_pins_the_version_it_checked() {
    // Arrange
    let (kube, cluster) = start().await;
    kube.add_deployment("prod", "api", 3);
    let version = kube.deployment("prod", "api").unwrap()["metadata"]["resourceVersion"].clone();

    // Act
    let params =
        json!({"namespace": "prod", "deploymentName": "api", "replicas": 6, "expectedReplicas": 3});
    let result = run(&cluster, "scale_deployment", params, false)
        .await
        .unwrap();

    // Assert
    assert_eq!(result["previousReplicas"], 3);
    assert_eq!(kube.replicas(Kind::Deployment, "prod", "api"), Some(6));
    assert_eq!(kube.mutations().len(), 1);
    let patch = &writes(&kube)[0].body;
    assert_eq!(patch["metadata"]["resourceVersion"], version);
    assert_eq!(patch["spec"]["replicas"], 6);
}

#[tokio::test]
async fn scale_with_stale_expected_replicas_is_refused_before_any_write() {
    for (action, params) in [
        (
            "scale_deployment",
            json!({"namespace": "prod", "deploymentName": "api", "replicas": 6, "expectedReplicas": 2}),
        ),
        (
            "scale_statefulset",
            json!({"namespace": "prod", "statefulSetName": "db", "replicas": 6, "expectedReplicas": 4}),
        ),
    ] {
        for dry_run in [false, true] {
            // Arrange
            let (kube, cluster) = start().await;
            kube.add_deployment("prod", "api", 3);
            kube.add_statefulset("prod", "db", 3);

            // Act
            let failure = run(&cluster, action, params.clone(), dry_run)
                .await
                .unwrap_err();

            // Assert
            assert_eq!(
                (failure.code, failure.http_status, failure.outcome_unknown),
                ("precondition_failed", 409, false),
                "{action}"
            );
            assert!(
                failure.message.contains("has 3 replicas"),
                "{}",
                failure.message
            );
            assert_eq!(kube.replicas(Kind::Deployment, "prod", "api"), Some(3));
            assert_eq!(kube.replicas(Kind::StatefulSet, "prod", "db"), Some(3));
            assert!(kube.mutations().is_empty());
            assert!(writes(&kube).is_empty(), "{action}: no PATCH may be sent");
        }
    }
}

#[tokio::test]
async fn scale_of_a_missing_deployment_is_not_found_without_a_write() {
    // Arrange
    let (kube, cluster) = start().await;

    // Act
    let params = json!({"namespace": "prod", "deploymentName": "nope", "replicas": 1});
    let failure = run(&cluster, "scale_deployment", params, false)
        .await
        .unwrap_err();

    // Assert
    assert_eq!(
        (failure.code, failure.http_status, failure.outcome_unknown),
        ("kube_not_found", 404, false)
    );
    assert!(writes(&kube).is_empty());
}

// ---------------------------------------------------------------------------------------
// rollout_restart_deployment
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn rollout_restart_stores_kubectls_restarted_at_annotation() {
    // Arrange
    let (kube, cluster) = start().await;
    kube.add_deployment("prod", "api", 3);
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);

    // Act
    let params = json!({"namespace": "prod", "deploymentName": "api"});
    let result = run(&cluster, "rollout_restart_deployment", params, false)
        .await
        .unwrap();

    // Assert
    let stored = kube.deployment("prod", "api").unwrap();
    let annotations = &stored["spec"]["template"]["metadata"]["annotations"];
    let restarted_at = annotations["kubectl.kubernetes.io/restartedAt"]
        .as_str()
        .unwrap();
    assert!(annotations.get("kube.kubernetes.io/restartedAt").is_none());
    assert_eq!(result["restartedAt"], restarted_at);
    let parsed = chrono::DateTime::parse_from_rfc3339(restarted_at).unwrap();
    assert!(parsed >= before && parsed <= chrono::Utc::now());
    assert_eq!(result["deployment"], "api");
    assert_eq!(result["dryRun"], false);
    assert_eq!(result["generation"], stored["metadata"]["generation"]);
    // The template keeps its labels: a strategic merge, not a replace.
    assert_eq!(
        stored["spec"]["template"]["metadata"]["labels"]["app"],
        "api"
    );
    let mutations = kube.mutations();
    assert_eq!(mutations.len(), 1);
    assert_eq!(
        (mutations[0].verb, mutations[0].kind),
        (Verb::Patch, Kind::Deployment)
    );
    let writes = writes(&kube);
    assert_eq!(writes.len(), 1);
    assert_eq!(
        writes[0].path,
        "/apis/apps/v1/namespaces/prod/deployments/api"
    );
    assert_eq!(
        writes[0].content_type.as_deref(),
        Some("application/strategic-merge-patch+json")
    );
}

#[tokio::test]
async fn rollout_restart_dry_run_changes_nothing() {
    // Arrange
    let (kube, cluster) = start().await;
    kube.add_deployment("prod", "api", 3);
    let before = kube.deployment("prod", "api").unwrap();

    // Act
    let params = json!({"namespace": "prod", "deploymentName": "api"});
    let result = run(&cluster, "rollout_restart_deployment", params, true)
        .await
        .unwrap();

    // Assert
    assert_eq!(result["dryRun"], true);
    assert!(result["restartedAt"].is_string());
    assert_eq!(kube.deployment("prod", "api").unwrap(), before);
    assert!(kube.mutations().is_empty());
    let writes = writes(&kube);
    assert_eq!(writes.len(), 1);
    assert!(writes[0].dry_run);
}
