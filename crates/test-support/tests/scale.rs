//! The `/scale` subresource of deployments and statefulsets through a real `kube::Client`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use k8s_openapi::api::autoscaling::v1::Scale;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;
use warden_test_support::{Kind, Verb};

fn replicas(n: i32) -> Patch<serde_json::Value> {
    Patch::Merge(json!({"spec": {"replicas": n}}))
}

#[tokio::test]
async fn get_scale_answers_an_autoscaling_v1_scale() {
    // Arrange
    let kube = seeded().await;
    let client = kube.client_without_retries();

    // Act
    let scale = deployments(&kube).get_scale("api").await.unwrap();
    let raw = raw(
        &client,
        "GET",
        "/apis/apps/v1/namespaces/production/deployments/api/scale",
        None,
        "",
    )
    .await
    .unwrap();

    // Assert
    assert_eq!(scale.spec.unwrap().replicas, Some(3));
    let status = scale.status.unwrap();
    assert_eq!(
        (status.replicas, status.selector.as_deref()),
        (3, Some("app=api"))
    );
    let raw: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        (raw["apiVersion"].as_str(), raw["kind"].as_str()),
        (Some("autoscaling/v1"), Some("Scale"))
    );
    serde_json::from_value::<Scale>(raw).unwrap();
}

#[tokio::test]
async fn patch_scale_changes_the_stored_deployment_replicas() {
    // Arrange
    let kube = seeded().await;
    let before = kube.deployment(NS, "api").unwrap();

    // Act
    let scale = deployments(&kube)
        .patch_scale("api", &PatchParams::default(), &replicas(5))
        .await
        .unwrap();

    // Assert
    assert_eq!(scale.spec.unwrap().replicas, Some(5));
    assert_eq!(kube.replicas(Kind::Deployment, NS, "api"), Some(5));
    let after = kube.deployment(NS, "api").unwrap();
    assert_eq!(after["metadata"]["generation"], 2);
    assert_ne!(
        after["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"]
    );
    let mutations = kube.mutations();
    assert_eq!(mutations.len(), 1);
    assert_eq!(mutations[0].verb, Verb::Scale);
    assert_eq!(mutations[0].detail["from"], 3);
    assert_eq!(mutations[0].detail["to"], 5);
}

#[tokio::test]
async fn patch_scale_changes_the_stored_statefulset_replicas() {
    // Arrange
    let kube = seeded().await;

    // Act
    let scale = statefulsets(&kube)
        .patch_scale("db", &PatchParams::default(), &replicas(4))
        .await
        .unwrap();

    // Assert
    assert_eq!(scale.spec.unwrap().replicas, Some(4));
    assert_eq!(kube.replicas(Kind::StatefulSet, NS, "db"), Some(4));
    assert_eq!(
        (kube.mutations()[0].verb, kube.mutations()[0].kind),
        (Verb::Scale, Kind::StatefulSet)
    );
}

#[tokio::test]
async fn replace_scale_writes_replicas_and_refuses_a_stale_resource_version() {
    // Arrange
    let kube = seeded().await;
    let api = statefulsets(&kube);
    let mut scale = api.get_scale("db").await.unwrap();
    scale.spec.as_mut().unwrap().replicas = Some(0);
    let mut stale = scale.clone();
    stale.metadata.resource_version = Some("1".into());

    // Act
    let replaced = api
        .replace_scale("db", &PostParams::default(), &scale)
        .await
        .unwrap();
    let conflict = api
        .replace_scale("db", &PostParams::default(), &stale)
        .await;

    // Assert
    assert_eq!(replaced.spec.unwrap().replicas, Some(0));
    assert_eq!(kube.replicas(Kind::StatefulSet, NS, "db"), Some(0));
    assert_eq!(api_error(conflict), (409, "Conflict".to_owned()));
    assert_eq!(kube.mutations().len(), 1);
}

#[tokio::test]
async fn negative_replicas_are_invalid() {
    // Arrange
    let kube = seeded().await;

    // Act
    let result = deployments(&kube)
        .patch_scale("api", &PatchParams::default(), &replicas(-1))
        .await;

    // Assert
    let Err(kube::Error::Api(status)) = result else {
        panic!("expected an API error, got {result:?}");
    };
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    assert!(
        status.message.contains("spec.replicas"),
        "{}",
        status.message
    );
    assert_eq!(kube.replicas(Kind::Deployment, NS, "api"), Some(3));
    assert!(kube.mutations().is_empty());
}

#[tokio::test]
async fn scaling_a_missing_deployment_is_not_found() {
    // Arrange
    let kube = seeded().await;

    // Act
    let result = deployments(&kube)
        .patch_scale("nope", &PatchParams::default(), &replicas(1))
        .await;

    // Assert
    let Err(kube::Error::Api(status)) = result else {
        panic!("expected an API error, got {result:?}");
    };
    assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));
    assert_eq!(status.message, "deployments.apps \"nope\" not found");
}

#[tokio::test]
async fn a_dry_run_scale_answers_the_new_count_but_changes_nothing() {
    // Arrange
    let kube = seeded().await;

    // Act
    let scale = deployments(&kube)
        .patch_scale("api", &PatchParams::default().dry_run(), &replicas(7))
        .await
        .unwrap();

    // Assert
    assert_eq!(scale.spec.unwrap().replicas, Some(7));
    assert_eq!(kube.replicas(Kind::Deployment, NS, "api"), Some(3));
    assert!(kube.mutations().is_empty());
    let request = kube.requests().pop().unwrap();
    assert!(
        request.dry_run && request.query.contains("dryRun=All"),
        "{request:?}"
    );
}

#[tokio::test]
async fn a_json_patch_scale_is_applied() {
    // Arrange
    let kube = seeded().await;
    let patch = json!([{"op": "replace", "path": "/spec/replicas", "value": 6}]);
    let client = kube.client_without_retries();

    // Act
    let answer = raw(
        &client,
        "PATCH",
        "/apis/apps/v1/namespaces/production/deployments/api/scale",
        Some("application/json-patch+json"),
        &patch.to_string(),
    )
    .await
    .unwrap();

    // Assert
    let scale: Scale = serde_json::from_str(&answer).unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(6));
    assert_eq!(kube.replicas(Kind::Deployment, NS, "api"), Some(6));
}
