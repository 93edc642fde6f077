//! Pods through a real `kube::Client`: get, list, delete (both answer shapes), eviction.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, EvictParams, ListParams, PostParams, Preconditions};
use warden_test_support::{DeleteAnswer, Kind, Verb};

#[tokio::test]
async fn get_answers_the_stored_pod_and_list_filters_by_label() {
    // Arrange
    let kube = seeded().await;
    kube.add_pod(NS, "web-2");
    kube.add_pod("other", "web-3");

    // Act
    let pod = pods(&kube).get("web-1").await.unwrap();
    let listed = pods(&kube)
        .list(&ListParams::default().labels("app=web-2"))
        .await
        .unwrap();
    let everywhere: Api<Pod> = Api::all(kube.client_without_retries());
    let all = everywhere.list(&ListParams::default()).await.unwrap();

    // Assert
    assert_eq!(pod.metadata.name.as_deref(), Some("web-1"));
    assert!(pod.metadata.uid.is_some() && pod.metadata.resource_version.is_some());
    assert!(pod.metadata.creation_timestamp.is_some());
    let names: Vec<_> = listed
        .items
        .iter()
        .map(|p| p.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["web-2"]);
    assert_eq!(all.items.len(), 3);
}

#[tokio::test]
async fn delete_answers_the_deleted_pod_and_records_one_delete() {
    // Arrange
    let kube = seeded().await;

    // Act
    let answer = pods(&kube)
        .delete("web-1", &DeleteParams::default())
        .await
        .unwrap();

    // Assert
    let pod = answer.left().expect("a pod delete answers the Pod");
    assert_eq!(pod.metadata.name.as_deref(), Some("web-1"));
    assert!(pod.metadata.deletion_timestamp.is_some());
    assert!(!kube.pod_exists(NS, "web-1"));
    let mutations = kube.mutations();
    assert_eq!(mutations.len(), 1);
    assert_eq!(
        (
            mutations[0].verb,
            mutations[0].kind,
            mutations[0].name.as_str()
        ),
        (Verb::Delete, Kind::Pod, "web-1")
    );
    let request = kube.requests().pop().unwrap();
    assert_eq!(
        (request.method.as_str(), request.status),
        ("DELETE", Some(200))
    );
    assert_eq!(
        request.body,
        serde_json::json!({}),
        "kube sends an empty DeleteOptions"
    );
}

#[tokio::test]
async fn delete_answers_a_success_status_when_the_server_is_set_to() {
    // Arrange
    let kube = seeded().await;
    kube.set_delete_answer(DeleteAnswer::Status);

    // Act
    let answer = pods(&kube)
        .delete("web-1", &DeleteParams::default())
        .await
        .unwrap();

    // Assert
    let status = answer.right().expect("a Status answer is Either::Right");
    assert!(status.is_success());
    assert_eq!(status.details.unwrap().name, "web-1");
    assert!(!kube.pod_exists(NS, "web-1"));
    assert_eq!(kube.mutations().len(), 1);
}

#[tokio::test]
async fn deleting_a_missing_pod_is_a_not_found_status() {
    // Arrange
    let kube = seeded().await;

    // Act
    let result = pods(&kube).delete("nope", &DeleteParams::default()).await;

    // Assert
    let Err(kube::Error::Api(status)) = result else {
        panic!("expected an API error, got {result:?}");
    };
    assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));
    assert_eq!(status.message, "pods \"nope\" not found");
    assert_eq!(status.details.unwrap().kind, "pods");
    assert!(kube.mutations().is_empty());
}

#[tokio::test]
async fn a_dry_run_delete_changes_nothing_and_is_recorded_as_a_dry_run() {
    // Arrange
    let kube = seeded().await;

    // Act
    let answer = pods(&kube)
        .delete(
            "web-1",
            &DeleteParams {
                dry_run: true,
                ..DeleteParams::default()
            },
        )
        .await
        .unwrap();

    // Assert
    assert!(answer.is_left());
    assert!(kube.pod_exists(NS, "web-1"));
    assert!(kube.mutations().is_empty());
    let request = kube.requests().pop().unwrap();
    assert!(
        request.dry_run,
        "kube puts dryRun in the DELETE body: {request:?}"
    );
}

#[tokio::test]
async fn a_delete_with_a_stale_uid_precondition_is_a_conflict() {
    // Arrange
    let kube = seeded().await;
    let params = DeleteParams::default().preconditions(Preconditions {
        uid: Some("not-the-uid".into()),
        resource_version: None,
    });

    // Act
    let result = pods(&kube).delete("web-1", &params).await;

    // Assert
    assert_eq!(api_error(result), (409, "Conflict".to_owned()));
    assert!(kube.pod_exists(NS, "web-1"));
}

#[tokio::test]
async fn evict_answers_success_and_removes_the_pod() {
    // Arrange
    let kube = seeded().await;

    // Act
    let status = pods(&kube)
        .evict("web-1", &EvictParams::default())
        .await
        .unwrap();

    // Assert
    assert!(status.is_success());
    assert_eq!(status.code, 201);
    assert!(!kube.pod_exists(NS, "web-1"));
    let mutations = kube.mutations();
    assert_eq!((mutations.len(), mutations[0].verb), (1, Verb::Evict));
    let request = kube.requests().pop().unwrap();
    assert!(request.path.ends_with("/pods/web-1/eviction"));
    assert_eq!(request.status, Some(201));
}

#[tokio::test]
async fn evicting_a_missing_pod_is_not_found() {
    let kube = seeded().await;
    let result = pods(&kube).evict("nope", &EvictParams::default()).await;
    assert_eq!(api_error(result), (404, "NotFound".to_owned()));
}

#[tokio::test]
async fn a_blocked_eviction_is_429_too_many_requests_and_leaves_the_pod() {
    // Arrange
    let kube = seeded().await;
    kube.block_evictions(NS, "web-1");

    // Act
    let result = pods(&kube).evict("web-1", &EvictParams::default()).await;

    // Assert
    let Err(kube::Error::Api(status)) = result else {
        panic!("expected an API error, got {result:?}");
    };
    assert_eq!(
        (status.code, status.reason.as_str()),
        (429, "TooManyRequests")
    );
    assert!(
        status.message.contains("disruption budget"),
        "{}",
        status.message
    );
    assert_eq!(status.details.unwrap().causes[0].reason, "DisruptionBudget");
    assert!(kube.pod_exists(NS, "web-1"));
    assert!(kube.mutations().is_empty());
    assert_eq!(
        kube.requests().len(),
        1,
        "no retries with default_retry = false"
    );
}

#[tokio::test]
async fn with_kubes_default_retries_a_blocked_eviction_is_resent_for_minutes() {
    // Arrange: a client as Client::try_from(Config) builds it, retries on.
    let kube = seeded().await;
    kube.block_evictions(NS, "web-1");
    let pods: Api<Pod> = Api::namespaced(kube.client(), NS);

    // Act
    let outcome = tokio::time::timeout(
        Duration::from_millis(1500),
        pods.evict("web-1", &EvictParams::default()),
    )
    .await;

    // Assert: still retrying after 1.5 s, far more than 3 attempts (15 retries, 5 ms
    // doubling backoff: the error would surface only after minutes).
    assert!(
        outcome.is_err(),
        "the eviction should still be retrying: {outcome:?}"
    );
    let attempts = kube.requests().len();
    assert!(attempts >= 6, "only {attempts} attempts in 1.5 s");
    assert!(kube.pod_exists(NS, "web-1"));
}

#[tokio::test]
async fn a_dry_run_eviction_through_post_options_changes_nothing() {
    // Arrange
    let kube = seeded().await;
    let params = EvictParams {
        post_options: PostParams {
            dry_run: true,
            ..PostParams::default()
        },
        ..EvictParams::default()
    };

    // Act
    let status = pods(&kube).evict("web-1", &params).await.unwrap();

    // Assert
    assert!(status.is_success());
    assert!(kube.pod_exists(NS, "web-1"));
    assert!(kube.mutations().is_empty());
    assert!(kube.requests()[0].dry_run);
}

#[tokio::test]
async fn a_dry_run_in_evict_delete_options_is_ignored_as_by_a_real_server() {
    // Arrange: kube 5 serialises delete_options under "delete_options", an unknown field.
    let kube = seeded().await;
    let params = EvictParams {
        delete_options: Some(DeleteParams {
            dry_run: true,
            ..DeleteParams::default()
        }),
        ..EvictParams::default()
    };

    // Act
    let status = pods(&kube).evict("web-1", &params).await.unwrap();

    // Assert: the eviction really happened.
    assert!(status.is_success());
    assert!(!kube.pod_exists(NS, "web-1"));
    let request = kube.requests().pop().unwrap();
    assert!(!request.dry_run);
    assert!(
        request.body.get("delete_options").is_some(),
        "{}",
        request.body
    );
}
