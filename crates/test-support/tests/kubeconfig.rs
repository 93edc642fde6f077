//! Reaching the fake through a kubeconfig file, as the executor does in production.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use k8s_openapi::api::core::v1::Pod;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

/// Set only in the child process of [`config_infer_reads_the_file_named_by_kubeconfig`].
const EXPECTED_URL: &str = "FAKE_KUBE_EXPECTED_URL";

#[tokio::test]
async fn a_written_kubeconfig_loads_with_from_custom_kubeconfig() {
    // Arrange
    let kube = seeded().await;
    let dir = tempfile::tempdir().unwrap();
    let path = kube.write_kubeconfig(dir.path()).unwrap();

    // Act
    let kubeconfig = Kubeconfig::read_from(&path).unwrap();
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    let pods: Api<Pod> = Api::default_namespaced(Client::try_from(config.clone()).unwrap());
    let listed = pods.list(&Default::default()).await.unwrap();

    // Assert
    assert_eq!(
        config.cluster_url.to_string().trim_end_matches('/'),
        kube.url()
    );
    assert_eq!(config.default_namespace, "default");
    assert!(
        listed.items.is_empty(),
        "the seeded pod is in {NS}, not default"
    );
    assert!(
        kube.requests()[0]
            .path
            .ends_with("/namespaces/default/pods")
    );
}

/// `Config::infer` reads `KUBECONFIG` from the environment. Setting it in this process
/// would race with other tests (and needs `unsafe` in edition 2024), so the test runs
/// [`infer_in_a_child_process`] in a fresh copy of this test binary with `KUBECONFIG` set.
#[tokio::test]
async fn config_infer_reads_the_file_named_by_kubeconfig() {
    // Arrange
    let kube = seeded().await;
    let dir = tempfile::tempdir().unwrap();
    let path = kube.write_kubeconfig(dir.path()).unwrap();

    // Act
    let output = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "infer_in_a_child_process",
            "--ignored",
            "--nocapture",
        ])
        .env("KUBECONFIG", &path)
        .env(EXPECTED_URL, kube.url())
        .output()
        .await
        .unwrap();

    // Assert
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        kube.requests()
            .iter()
            .any(|r| r.path.ends_with("/pods/web-1"))
    );
}

#[tokio::test]
#[ignore = "run by config_infer_reads_the_file_named_by_kubeconfig with KUBECONFIG set"]
async fn infer_in_a_child_process() {
    let expected = std::env::var(EXPECTED_URL).expect("run by the parent test only");
    let config = Config::infer().await.unwrap();
    assert_eq!(
        config.cluster_url.to_string().trim_end_matches('/'),
        expected
    );
    let pods: Api<Pod> = Api::namespaced(Client::try_from(config).unwrap(), NS);
    pods.get("web-1").await.unwrap();
}
