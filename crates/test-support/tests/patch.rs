//! PATCH of deployments through a real `kube::Client`, and the errors of malformed requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use kube::api::{Patch, PatchParams};
use serde_json::json;
use warden_test_support::{Kind, Verb};

const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";
const DEPLOYMENT: &str = "/apis/apps/v1/namespaces/production/deployments/api";

fn restart_patch() -> serde_json::Value {
    json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: "2026-11-22T08:00:00Z"}}}}})
}

#[tokio::test]
async fn a_strategic_merge_patch_of_the_restart_annotation_is_stored() {
    // Arrange
    let kube = seeded().await;

    // Act
    let deployment = deployments(&kube)
        .patch(
            "api",
            &PatchParams::default(),
            &Patch::Strategic(restart_patch()),
        )
        .await
        .unwrap();

    // Assert
    let annotations = deployment
        .spec
        .template
        .metadata
        .unwrap()
        .annotations
        .unwrap();
    assert_eq!(annotations[RESTARTED_AT], "2026-11-22T08:00:00Z");
    let stored = kube.deployment(NS, "api").unwrap();
    assert_eq!(
        stored["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT],
        "2026-11-22T08:00:00Z"
    );
    assert_eq!(
        stored["spec"]["template"]["metadata"]["labels"]["app"], "api",
        "merged, not replaced"
    );
    assert_eq!(stored["metadata"]["generation"], 2);
    assert_eq!(stored["status"]["observedGeneration"], 2);
    let mutations = kube.mutations();
    assert_eq!((mutations.len(), mutations[0].verb), (1, Verb::Patch));
    assert_eq!(
        mutations[0].detail["contentType"],
        "application/strategic-merge-patch+json"
    );
}

#[tokio::test]
async fn kubes_own_restart_is_a_merge_patch_that_is_stored() {
    // Arrange
    let kube = seeded().await;

    // Act
    deployments(&kube).restart("api").await.unwrap();

    // Assert
    let stored = kube.deployment(NS, "api").unwrap();
    let annotations = &stored["spec"]["template"]["metadata"]["annotations"];
    assert!(
        annotations["kube.kubernetes.io/restartedAt"].is_string(),
        "{stored}"
    );
}

#[tokio::test]
async fn a_dry_run_patch_answers_the_result_but_stores_nothing() {
    // Arrange
    let kube = seeded().await;
    let before = kube.deployment(NS, "api").unwrap();

    // Act
    let answer = deployments(&kube)
        .patch(
            "api",
            &PatchParams::default().dry_run(),
            &Patch::Strategic(restart_patch()),
        )
        .await
        .unwrap();

    // Assert
    assert!(answer.spec.template.metadata.unwrap().annotations.is_some());
    assert_eq!(kube.deployment(NS, "api").unwrap(), before);
    assert!(kube.mutations().is_empty());
    assert!(kube.requests()[0].dry_run);
}

#[tokio::test]
async fn a_json_patch_of_a_deployment_is_applied() {
    // Arrange
    let kube = seeded().await;
    let client = kube.client_without_retries();
    let body = json!([
        {"op": "test", "path": "/spec/replicas", "value": 3},
        {"op": "replace", "path": "/spec/replicas", "value": 2}
    ]);

    // Act
    raw(
        &client,
        "PATCH",
        DEPLOYMENT,
        Some("application/json-patch+json"),
        &body.to_string(),
    )
    .await
    .unwrap();

    // Assert
    assert_eq!(kube.replicas(Kind::Deployment, NS, "api"), Some(2));
}

#[tokio::test]
async fn a_patch_with_a_stale_resource_version_is_a_conflict() {
    // Arrange
    let kube = seeded().await;
    let patch = json!({"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 9}});

    // Act
    let result = deployments(&kube)
        .patch("api", &PatchParams::default(), &Patch::Merge(patch))
        .await;

    // Assert
    assert_eq!(api_error(result), (409, "Conflict".to_owned()));
    assert_eq!(kube.replicas(Kind::Deployment, NS, "api"), Some(3));
}

#[tokio::test]
async fn malformed_requests_get_the_real_servers_statuses() {
    // Arrange
    let kube = seeded().await;
    let client = kube.client_without_retries();

    // Act
    let wrong_type = raw(&client, "PATCH", DEPLOYMENT, Some("text/plain"), "{}").await;
    let bad_json = raw(
        &client,
        "PATCH",
        DEPLOYMENT,
        Some("application/merge-patch+json"),
        "{nope",
    )
    .await;
    let bad_field = raw(
        &client,
        "PATCH",
        DEPLOYMENT,
        Some("application/merge-patch+json"),
        r#"{"spec": {"replicas": "three"}}"#,
    )
    .await;
    let immutable = raw(
        &client,
        "PATCH",
        DEPLOYMENT,
        Some("application/merge-patch+json"),
        r#"{"spec": {"selector": {"matchLabels": {"app": "other"}}}}"#,
    )
    .await;
    let unknown_path = raw(
        &client,
        "GET",
        "/apis/batch/v1/namespaces/production/jobs",
        None,
        "",
    )
    .await;
    let wrong_method = raw(&client, "POST", DEPLOYMENT, Some("application/json"), "{}").await;

    // Assert
    assert_eq!(
        api_error(wrong_type),
        (415, "UnsupportedMediaType".to_owned())
    );
    assert_eq!(api_error(bad_json), (400, "BadRequest".to_owned()));
    assert_eq!(api_error(bad_field), (400, "BadRequest".to_owned()));
    assert_eq!(api_error(immutable), (422, "Invalid".to_owned()));
    assert_eq!(api_error(unknown_path), (404, "NotFound".to_owned()));
    assert_eq!(
        api_error(wrong_method),
        (405, "MethodNotAllowed".to_owned())
    );
    assert!(kube.mutations().is_empty());
    let statuses: Vec<_> = kube.requests().iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            Some(415),
            Some(400),
            Some(400),
            Some(422),
            Some(404),
            Some(405)
        ]
    );
}
