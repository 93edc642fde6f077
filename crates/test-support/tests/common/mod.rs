//! Helpers shared by the integration tests: a seeded fake, typed APIs on it, and ways to
//! read `kube::Error::Api` and to send raw requests kube's typed API would not send.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use warden_test_support::FakeKube;

/// Namespace every seeded object lives in.
pub const NS: &str = "production";

/// A fake with pod `web-1`, deployment `api` (3 replicas) and statefulset `db` (2).
pub async fn seeded() -> FakeKube {
    let kube = FakeKube::start().await;
    kube.add_pod(NS, "web-1");
    kube.add_deployment(NS, "api", 3);
    kube.add_statefulset(NS, "db", 2);
    kube
}

/// Pods in [`NS`], through a client that never retries.
pub fn pods(kube: &FakeKube) -> Api<Pod> {
    Api::namespaced(kube.client_without_retries(), NS)
}

/// Deployments in [`NS`], through a client that never retries.
pub fn deployments(kube: &FakeKube) -> Api<Deployment> {
    Api::namespaced(kube.client_without_retries(), NS)
}

/// StatefulSets in [`NS`], through a client that never retries.
pub fn statefulsets(kube: &FakeKube) -> Api<StatefulSet> {
    Api::namespaced(kube.client_without_retries(), NS)
}

/// `(code, reason)` of a `kube::Error::Api`; panics on any other error.
pub fn api_error<T: std::fmt::Debug>(result: kube::Result<T>) -> (u16, String) {
    match result {
        Err(kube::Error::Api(status)) => (status.code, status.reason.clone()),
        other => panic!("expected kube::Error::Api, got {other:?}"),
    }
}

/// Sends a raw request (any method, content type and body) through kube's client.
pub async fn raw(
    client: &kube::Client,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> kube::Result<String> {
    let mut request = http::Request::builder().method(method).uri(path);
    if let Some(content_type) = content_type {
        request = request.header(http::header::CONTENT_TYPE, content_type);
    }
    client
        .request_text(request.body(body.as_bytes().to_vec()).unwrap())
        .await
}

/// Polls `condition` every 20 ms until it holds or `limit` passes; returns whether it held.
pub async fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    condition()
}
