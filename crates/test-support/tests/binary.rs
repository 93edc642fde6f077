//! The `fake-kube` binary: started as a separate process, driven through its admin API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::*;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};

/// A running `fake-kube` process, killed when dropped (even when the test fails).
struct Process {
    child: Child,
    url: String,
}

impl Process {
    fn start(args: &[&str]) -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fake-kube"))
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Process { child, url }
    }

    fn client(&self) -> kube::Client {
        let mut config = kube::Config::new(self.url.parse().unwrap());
        config.default_retry = false;
        kube::Client::try_from(config).unwrap()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn admin(client: &kube::Client, method: &str, path: &str, body: Value) -> Value {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let text = raw(client, method, path, Some("application/json"), &body)
        .await
        .unwrap();
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    }
}

#[tokio::test]
async fn the_binary_serves_the_api_and_its_admin_api_seeds_and_reports_mutations() {
    // Arrange
    let process = Process::start(&["--addr", "127.0.0.1:0"]);
    let client = process.client();
    let seeded = admin(
        &client,
        "POST",
        "/_fake/objects",
        json!([
            {"kind": "Deployment", "namespace": NS, "name": "api", "replicas": 3},
            {"kind": "Pod", "namespace": NS, "name": "web-1"}
        ]),
    )
    .await;

    // Act
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    deployments
        .patch_scale(
            "api",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    pods.delete("web-1", &DeleteParams::default())
        .await
        .unwrap();
    let mutations = admin(&client, "GET", "/_fake/mutations", Value::Null).await;
    let requests = admin(&client, "GET", "/_fake/requests", Value::Null).await;

    // Assert
    assert_eq!(seeded, json!({"added": 2}));
    assert_eq!(mutations[0]["verb"], "Scale");
    assert_eq!(mutations[0]["detail"]["to"], 5);
    assert_eq!(mutations[1]["verb"], "Delete");
    assert_eq!(mutations.as_array().unwrap().len(), 2);
    assert_eq!(
        requests.as_array().unwrap().len(),
        2,
        "admin calls are not recorded"
    );
    assert_eq!(requests[1]["method"], "DELETE");
}

#[tokio::test]
async fn the_admin_api_injects_and_clears_faults_and_resets() {
    // Arrange
    let process = Process::start(&[]);
    let client = process.client();
    admin(
        &client,
        "POST",
        "/_fake/objects",
        json!({"kind": "Pod", "namespace": NS, "name": "web-1"}),
    )
    .await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);

    // Act
    admin(
        &client,
        "POST",
        "/_fake/faults",
        json!({"pathContains": "/pods/", "status": 503, "times": 1}),
    )
    .await;
    let faulted = pods.get("web-1").await;
    let after = pods.get("web-1").await;
    admin(&client, "POST", "/_fake/faults", json!([{"status": 403}])).await;
    admin(&client, "DELETE", "/_fake/faults", Value::Null).await;
    let cleared = pods.get("web-1").await;
    admin(
        &client,
        "POST",
        "/_fake/blocked-evictions",
        json!({"namespace": NS, "name": "web-1"}),
    )
    .await;
    let blocked = pods.evict("web-1", &Default::default()).await;
    admin(&client, "POST", "/_fake/reset", Value::Null).await;
    let gone = pods.get("web-1").await;

    // Assert
    assert_eq!(api_error(faulted), (503, "ServiceUnavailable".to_owned()));
    assert!(after.is_ok() && cleared.is_ok());
    assert_eq!(api_error(blocked), (429, "TooManyRequests".to_owned()));
    assert_eq!(api_error(gone), (404, "NotFound".to_owned()));
    let requests = admin(&client, "GET", "/_fake/requests", Value::Null).await;
    assert_eq!(
        requests.as_array().unwrap().len(),
        1,
        "only the GET after the reset: {requests}"
    );
}

#[tokio::test]
async fn the_binary_preloads_a_seed_file() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.json");
    let document =
        json!({"items": [{"kind": "StatefulSet", "namespace": NS, "name": "db", "replicas": 2}]});
    std::fs::write(&seed, document.to_string()).unwrap();

    // Act
    let process = Process::start(&["--seed", seed.to_str().unwrap()]);
    let scale = Api::<k8s_openapi::api::apps::v1::StatefulSet>::namespaced(process.client(), NS)
        .get_scale("db")
        .await
        .unwrap();

    // Assert
    assert_eq!(scale.spec.unwrap().replicas, Some(2));
}

#[tokio::test]
async fn the_binary_writes_a_kubeconfig_pointing_at_itself() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");

    // Act
    let process = Process::start(&["--kubeconfig", path.to_str().unwrap()]);
    let kubeconfig = Kubeconfig::read_from(&path).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    let pods: Api<Pod> = Api::default_namespaced(kube::Client::try_from(config.clone()).unwrap());
    let listed = pods.list(&Default::default()).await.unwrap();

    // Assert
    assert_eq!(
        config.cluster_url.to_string().trim_end_matches('/'),
        process.url
    );
    assert_eq!(config.default_namespace, "default");
    assert!(listed.items.is_empty());
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(left, ["kubeconfig"], "no temporary file is left behind");
}

#[tokio::test]
async fn the_admin_api_seeds_logs_and_events() {
    // Arrange
    let process = Process::start(&[]);
    let client = process.client();
    admin(
        &client,
        "POST",
        "/_fake/objects",
        json!({"kind": "Pod", "namespace": NS, "name": "web-1"}),
    )
    .await;

    // Act
    admin(
        &client,
        "POST",
        "/_fake/logs",
        json!({"namespace": NS, "pod": "web-1", "container": "app", "text": "started\n"}),
    )
    .await;
    let event = admin(
        &client,
        "POST",
        "/_fake/events",
        json!({"namespace": NS, "event": {"involvedObject": {"name": "web-1"}, "reason": "Started"}}),
    )
    .await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let log = pods.logs("web-1", &Default::default()).await.unwrap();
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), NS);
    let listed = events.list(&Default::default()).await.unwrap();

    // Assert
    assert_eq!(log, "started\n");
    assert!(event["name"].as_str().unwrap().starts_with("web-1."));
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].reason.as_deref(), Some("Started"));
}
