//! Injected faults as a real `kube::Client` sees them, and kube's retries of 429/503/504.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;
use warden_test_support::{Fault, Kind};

fn scale_to(n: i32) -> Patch<serde_json::Value> {
    Patch::Merge(json!({"spec": {"replicas": n}}))
}

fn on_scale(status: u16) -> Fault {
    Fault {
        status: Some(status),
        path_contains: Some("/scale".into()),
        ..Fault::default()
    }
}

#[tokio::test]
async fn each_injected_status_surfaces_as_the_matching_api_error() {
    let expected = [
        (403, "Forbidden"),
        (404, "NotFound"),
        (409, "Conflict"),
        (422, "Invalid"),
        (429, "TooManyRequests"),
        (500, "InternalError"),
        (503, "ServiceUnavailable"),
        (504, "Timeout"),
    ];
    for (code, reason) in expected {
        // Arrange
        let kube = seeded().await;
        kube.inject(on_scale(code));

        // Act
        let result = deployments(&kube)
            .patch_scale("api", &PatchParams::default(), &scale_to(5))
            .await;

        // Assert
        let Err(kube::Error::Api(status)) = result else {
            panic!("{code}: expected an API error, got {result:?}");
        };
        assert_eq!((status.code, status.reason.as_str()), (code, reason));
        assert!(!status.message.is_empty());
        assert_eq!(
            kube.replicas(Kind::Deployment, NS, "api"),
            Some(3),
            "{code}"
        );
        assert!(kube.mutations().is_empty(), "{code}");
        let requests = kube.requests();
        assert_eq!(
            requests.len(),
            1,
            "{code}: never retried without default_retry"
        );
        assert!(requests[0].faulted);
        assert_eq!(requests[0].status, Some(code));
    }
}

#[tokio::test]
async fn a_forbidden_fault_reads_like_rbac() {
    let kube = seeded().await;
    kube.inject(on_scale(403));
    let result = deployments(&kube)
        .patch_scale("api", &PatchParams::default(), &scale_to(5))
        .await;
    let Err(kube::Error::Api(status)) = result else {
        panic!("expected an API error, got {result:?}");
    };
    assert!(
        status
            .message
            .contains("cannot patch resource \"deployments/scale\" in API group \"apps\""),
        "{}",
        status.message
    );
}

#[tokio::test]
async fn a_fault_with_times_one_applies_once() {
    // Arrange
    let kube = seeded().await;
    kube.inject(Fault {
        times: Some(1),
        ..on_scale(500)
    });
    let api = deployments(&kube);

    // Act
    let first = api
        .patch_scale("api", &PatchParams::default(), &scale_to(4))
        .await;
    let second = api
        .patch_scale("api", &PatchParams::default(), &scale_to(4))
        .await;

    // Assert
    assert_eq!(api_error(first), (500, "InternalError".to_owned()));
    assert_eq!(second.unwrap().spec.unwrap().replicas, Some(4));
    assert_eq!(kube.mutations().len(), 1);
}

#[tokio::test]
async fn faults_match_only_their_method_and_path_and_can_be_cleared() {
    // Arrange
    let kube = seeded().await;
    kube.inject(Fault {
        method: Some("delete".into()),
        ..on_scale(503)
    });
    kube.inject(Fault {
        status: Some(403),
        path_contains: Some("/pods/web-1".into()),
        ..Fault::default()
    });

    // Act
    let scaled = deployments(&kube)
        .patch_scale("api", &PatchParams::default(), &scale_to(2))
        .await;
    let refused = pods(&kube).get("web-1").await;
    kube.clear_faults();
    let allowed = pods(&kube).get("web-1").await;

    // Assert
    assert!(scaled.is_ok(), "a DELETE-only fault does not match a PATCH");
    assert_eq!(api_error(refused), (403, "Forbidden".to_owned()));
    assert!(allowed.is_ok());
}

#[tokio::test]
async fn a_delay_outlasting_the_client_still_applies_the_change() {
    // Arrange: the fake answers after 800 ms; the caller gives up after 200 ms.
    let kube = seeded().await;
    kube.inject(Fault {
        method: Some("DELETE".into()),
        path_contains: Some("/pods/web-1".into()),
        delay: Some(Duration::from_millis(800)),
        ..Fault::default()
    });

    // Act
    let outcome = tokio::time::timeout(
        Duration::from_millis(200),
        pods(&kube).delete("web-1", &DeleteParams::default()),
    )
    .await;

    // Assert: the caller saw a timeout, the request was logged on arrival, and the delete
    // lands when the delay ends, although nobody is waiting for the answer.
    assert!(outcome.is_err(), "{outcome:?}");
    let requests = kube.requests();
    assert_eq!((requests.len(), requests[0].status), (1, None), "in flight");
    assert!(kube.pod_exists(NS, "web-1"));
    assert!(eventually(Duration::from_secs(3), || !kube.pod_exists(NS, "web-1")).await);
    assert_eq!(kube.mutations().len(), 1);
    assert_eq!(kube.requests()[0].status, Some(200));
}

#[tokio::test]
async fn an_error_fault_with_apply_mutation_changes_state_but_answers_the_error() {
    // Arrange: a 504 after the write landed.
    let kube = seeded().await;
    kube.inject(Fault {
        apply_mutation: true,
        ..on_scale(504)
    });

    // Act
    let result = deployments(&kube)
        .patch_scale("api", &PatchParams::default(), &scale_to(8))
        .await;

    // Assert
    assert_eq!(api_error(result), (504, "Timeout".to_owned()));
    assert_eq!(kube.replicas(Kind::Deployment, NS, "api"), Some(8));
    assert_eq!(kube.mutations().len(), 1);
}

#[tokio::test]
async fn kubes_default_client_silently_retries_503_and_repeats_the_request() {
    // Arrange: two 503s, then the normal answer.
    let kube = seeded().await;
    kube.inject(Fault {
        times: Some(2),
        ..on_scale(503)
    });
    let api: Api<k8s_openapi::api::apps::v1::Deployment> = Api::namespaced(kube.client(), NS);

    // Act
    let result = api
        .patch_scale("api", &PatchParams::default(), &scale_to(5))
        .await;

    // Assert: the caller sees success; the server saw the PATCH three times.
    assert!(result.is_ok(), "{result:?}");
    let statuses: Vec<_> = kube
        .requests()
        .iter()
        .map(|r| (r.method.clone(), r.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("PATCH".to_owned(), Some(503)),
            ("PATCH".to_owned(), Some(503)),
            ("PATCH".to_owned(), Some(200))
        ]
    );
    assert_eq!(kube.mutations().len(), 1);
}

#[tokio::test]
async fn kubes_default_client_waits_for_retry_after() {
    // Arrange
    let kube = seeded().await;
    kube.inject(Fault {
        status: Some(429),
        retry_after_seconds: Some(1),
        times: Some(1),
        ..Fault::default()
    });
    let api: Api<Pod> = Api::namespaced(kube.client(), NS);
    let started = Instant::now();

    // Act
    let result = api.get("web-1").await;

    // Assert
    assert!(result.is_ok(), "{result:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(kube.requests().len(), 2);
}
