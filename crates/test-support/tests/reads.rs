//! Pod logs and the Event list through a real `kube::Client`: query parameters applied in
//! the kubelet's order, the real server's refusals, field selectors, `limit` and `continue`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams, LogParams};
use serde_json::json;

#[tokio::test]
async fn logs_apply_since_then_tail_then_the_byte_cap() {
    // Arrange
    let kube = seeded().await;
    kube.add_pod_log(
        NS,
        "web-1",
        "app",
        Duration::from_secs(3600),
        "old 1\nold 2\n",
    );
    kube.add_pod_log(NS, "web-1", "app", Duration::ZERO, "new 1\nnew 2\nnew 3\n");

    // Act
    let all = pods(&kube)
        .logs("web-1", &LogParams::default())
        .await
        .unwrap();
    let recent = LogParams {
        since_seconds: Some(60),
        tail_lines: Some(2),
        limit_bytes: Some(8),
        ..LogParams::default()
    };
    let recent = pods(&kube).logs("web-1", &recent).await.unwrap();

    // Assert
    assert_eq!(all, "old 1\nold 2\nnew 1\nnew 2\nnew 3\n");
    assert_eq!(recent, "new 2\nne");
    assert!(kube.mutations().is_empty());
}

#[tokio::test]
async fn logs_are_refused_as_the_real_server_refuses_them() {
    // Arrange
    let kube = seeded().await;
    let with = |lp: LogParams| {
        let kube = kube.clone();
        async move { pods(&kube).logs("web-1", &lp).await }
    };

    // Act
    let missing = pods(&kube).logs("gone", &LogParams::default()).await;
    let container = with(LogParams {
        container: Some("nope".into()),
        ..LogParams::default()
    })
    .await;
    let negative = with(LogParams {
        tail_lines: Some(-1),
        ..LogParams::default()
    })
    .await;

    // Assert
    assert_eq!(api_error(missing), (404, "NotFound".into()));
    assert_eq!(api_error(container), (400, "BadRequest".into()));
    assert_eq!(api_error(negative), (422, "Invalid".into()));
}

#[tokio::test]
async fn events_are_listed_by_field_selector_in_pages() {
    // Arrange
    let kube = seeded().await;
    for name in ["web-1", "web-1", "web-2"] {
        kube.add_event(
            NS,
            json!({"involvedObject": {"name": name}, "reason": "BackOff"}),
        )
        .unwrap();
    }
    kube.add_event(
        NS,
        json!({"involvedObject": {"kind": "Deployment", "name": "web-1"}, "type": "Normal"}),
    )
    .unwrap();
    kube.add_event("other", json!({"involvedObject": {"name": "web-1"}}))
        .unwrap();
    let events: Api<Event> = Api::namespaced(kube.client_without_retries(), NS);

    // Act
    let about_pod =
        ListParams::default().fields("involvedObject.kind=Pod,involvedObject.name=web-1");
    let about_pod = events.list(&about_pod).await.unwrap();
    let first_page = events.list(&ListParams::default().limit(3)).await.unwrap();
    let token = first_page.metadata.continue_.clone().unwrap();
    let rest = events
        .list(&ListParams::default().limit(3).continue_token(&token))
        .await
        .unwrap();
    let unknown = events
        .list(&ListParams::default().fields("spec.nodeName=x"))
        .await;

    // Assert
    assert_eq!(about_pod.items.len(), 2);
    let event = &about_pod.items[0];
    assert_eq!(event.reason.as_deref(), Some("BackOff"));
    assert_eq!(event.count, Some(1));
    assert!(event.last_timestamp.is_some() && event.first_timestamp.is_some());
    assert!(
        event
            .metadata
            .name
            .as_deref()
            .unwrap()
            .starts_with("web-1.")
    );
    assert_eq!((first_page.items.len(), rest.items.len()), (3, 1));
    assert!(rest.metadata.continue_.is_none());
    assert_eq!(api_error(unknown), (400, "BadRequest".into()));
}

#[tokio::test]
async fn an_event_needs_the_object_it_is_about() {
    let kube = seeded().await;
    assert!(kube.add_event(NS, json!({"reason": "BackOff"})).is_err());
    assert!(
        kube.add_event(
            NS,
            json!({"involvedObject": {"name": "x"}, "count": "many"})
        )
        .is_err()
    );
}
