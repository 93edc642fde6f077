//! How the built-in actions fail: injected API errors, deadlines, an unreachable API
//! server, and proof that no request is ever re-sent. The outcome flag is the point: a
//! failure is "known, nothing changed" only when the fake shows nothing changed, and
//! "unknown" exactly where the change may have landed (and here, did).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use executor_service::actions::{ActionFailure, Cluster, Limits, Registry};
use executor_service::kube_client::client_for_url;
use serde_json::{Value, json};
use warden_test_support::process::free_port;
use warden_test_support::{FakeKube, Fault, Kind, RecordedRequest};

async fn start(timeout: Duration) -> (FakeKube, Cluster) {
    let kube = FakeKube::start().await;
    kube.add_pod("prod", "api-1");
    kube.add_deployment("prod", "api", 3);
    kube.add_statefulset("prod", "db", 3);
    let cluster = Cluster {
        client: client_for_url(&kube.url(), timeout).unwrap(),
        timeout,
    };
    (kube, cluster)
}

async fn run(
    cluster: &Cluster,
    action: &str,
    params: &Value,
    dry_run: bool,
) -> Result<Value, ActionFailure> {
    let registry = Registry::with_builtins();
    let prepared = registry
        .get(action)
        .unwrap()
        .prepare(params, &Limits { max_replicas: 50 })
        .unwrap();
    prepared.run(cluster, dry_run).await
}

/// One mutating call of one action: where to aim a fault and how to tell it changed
/// nothing.
struct Case {
    action: &'static str,
    params: Value,
    method: &'static str,
    path: &'static str,
    /// RBAC verb and resource the Forbidden hint must name.
    rbac: &'static str,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            action: "restart_pod",
            params: restart_api_1(),
            method: "DELETE",
            path: "/pods/api-1",
            rbac: "grant `delete` on `pods`",
        },
        Case {
            action: "restart_pod",
            params: json!({"namespace": "prod", "podName": "api-1", "mode": "evict"}),
            method: "POST",
            path: "/pods/api-1/eviction",
            rbac: "grant `create` on `pods/eviction`",
        },
        Case {
            action: "scale_deployment",
            params: scale_api_to_5(),
            method: "PATCH",
            path: "/deployments/api/scale",
            rbac: "grant `patch` on `deployments/scale`",
        },
        Case {
            action: "scale_statefulset",
            params: json!({"namespace": "prod", "statefulSetName": "db", "replicas": 5}),
            method: "PATCH",
            path: "/statefulsets/db/scale",
            rbac: "grant `patch` on `statefulsets/scale`",
        },
        Case {
            action: "rollout_restart_deployment",
            params: json!({"namespace": "prod", "deploymentName": "api"}),
            method: "PATCH",
            path: "/deployments/api",
            rbac: "grant `patch` on `deployments`",
        },
    ]
}

impl Case {
    /// A fault aimed at this case's mutating call, to complete with what it does.
    fn fault(&self) -> Fault {
        Fault {
            method: Some(self.method.into()),
            path_contains: Some(self.path.into()),
            ..Fault::default()
        }
    }

    /// Runs this case against a fresh cluster with `fault` injected; it must fail.
    async fn fail(&self, timeout: Duration, fault: Fault) -> (FakeKube, ActionFailure) {
        fail_with(timeout, fault, self.action, &self.params, false).await
    }
}

/// Starts a cluster whose calls time out after `timeout`, injects `fault` and runs `action`
/// on it, which must fail.
async fn fail_with(
    timeout: Duration,
    fault: Fault,
    action: &str,
    params: &Value,
    dry_run: bool,
) -> (FakeKube, ActionFailure) {
    let (kube, cluster) = start(timeout).await;
    kube.inject(fault);
    let failure = run(&cluster, action, params, dry_run).await.unwrap_err();
    (kube, failure)
}

fn scale_api_to_5() -> Value {
    json!({"namespace": "prod", "deploymentName": "api", "replicas": 5})
}

fn restart_api_1() -> Value {
    json!({"namespace": "prod", "podName": "api-1"})
}

/// The seeded state, untouched.
fn assert_unchanged(kube: &FakeKube, context: &str) {
    assert!(
        kube.mutations().is_empty(),
        "{context}: {:?}",
        kube.mutations()
    );
    assert!(kube.pod_exists("prod", "api-1"), "{context}");
    assert_eq!(
        kube.replicas(Kind::Deployment, "prod", "api"),
        Some(3),
        "{context}"
    );
    assert_eq!(
        kube.replicas(Kind::StatefulSet, "prod", "db"),
        Some(3),
        "{context}"
    );
    let template = &kube.deployment("prod", "api").unwrap()["spec"]["template"]["metadata"];
    assert!(template.get("annotations").is_none(), "{context}");
}

fn sent(kube: &FakeKube, method: &str) -> Vec<RecordedRequest> {
    kube.requests()
        .into_iter()
        .filter(|r| r.method == method)
        .collect()
}

/// Waits for a detached (delayed) handler in the fake to finish.
async fn wait_for_mutations(kube: &FakeKube, n: usize) {
    for _ in 0..100 {
        if kube.mutations().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn api_errors_map_to_stable_codes_with_nothing_changed() {
    let expected = [
        (403, "kube_forbidden", 502),
        (404, "kube_not_found", 404),
        (409, "kube_conflict", 409),
        (422, "kube_invalid", 502),
        (429, "kube_too_many_requests", 429),
        (500, "kube_error", 502),
        (503, "kube_unavailable", 503),
    ];
    for case in cases() {
        for (status, code, http) in expected {
            let context = format!("{} {} → {status}", case.action, case.path);
            // Arrange
            let fault = Fault {
                status: Some(status),
                ..case.fault()
            };

            // Act
            let (kube, failure) = case.fail(Duration::from_secs(5), fault).await;

            // Assert
            assert_eq!(
                (failure.code, failure.http_status, failure.outcome_unknown),
                (code, http, false),
                "{context}: {}",
                failure.message
            );
            assert!(!failure.message.is_empty(), "{context}");
            if status == 403 {
                assert!(
                    failure.message.contains(case.rbac),
                    "{context}: {}",
                    failure.message
                );
                assert!(failure.message.contains("namespace `prod`"), "{context}");
            }
            if status == 429 && case.path.ends_with("/eviction") {
                assert!(failure.message.contains("PodDisruptionBudget"), "{context}");
            }
            assert_unchanged(&kube, &context);
            // Retries are off: one request, whatever the status.
            assert_eq!(sent(&kube, case.method).len(), 1, "{context}");
        }
    }
}

#[tokio::test]
async fn a_failed_scale_read_names_the_get_permission_and_sends_no_patch() {
    // Arrange
    let fault = Fault {
        method: Some("GET".into()),
        path_contains: Some("/deployments/api/scale".into()),
        status: Some(403),
        ..Fault::default()
    };

    // Act
    let (kube, failure) = fail_with(
        Duration::from_secs(5),
        fault,
        "scale_deployment",
        &scale_api_to_5(),
        false,
    )
    .await;

    // Assert
    assert_eq!(
        (failure.code, failure.outcome_unknown),
        ("kube_forbidden", false)
    );
    assert!(
        failure
            .message
            .contains("grant `get` on `deployments/scale` in API group `apps`"),
        "{}",
        failure.message
    );
    assert!(sent(&kube, "PATCH").is_empty());
    assert_unchanged(&kube, "get forbidden");
}

#[tokio::test]
async fn a_gateway_timeout_after_the_write_is_an_unknown_outcome() {
    for case in cases() {
        // Arrange: the API server applies the change, then answers 504 Timeout.
        let fault = Fault {
            status: Some(504),
            apply_mutation: true,
            ..case.fault()
        };

        // Act
        let (kube, failure) = case.fail(Duration::from_secs(5), fault).await;

        // Assert
        assert_eq!(
            (failure.code, failure.http_status, failure.outcome_unknown),
            ("kube_timeout", 504, true),
            "{}",
            case.action
        );
        assert!(
            failure.message.contains("may or may not"),
            "{}",
            failure.message
        );
        assert_eq!(
            kube.mutations().len(),
            1,
            "{}: the change did land",
            case.action
        );
        assert_eq!(sent(&kube, case.method).len(), 1, "{}", case.action);
    }
}

#[tokio::test]
async fn our_deadline_on_a_write_is_an_unknown_outcome_and_the_write_lands() {
    for case in cases() {
        // Arrange: the API server takes longer than the executor waits.
        let fault = Fault {
            delay: Some(Duration::from_millis(1200)),
            ..case.fault()
        };

        // Act
        let (kube, failure) = case.fail(Duration::from_millis(300), fault).await;

        // Assert
        assert_eq!(
            (failure.code, failure.http_status, failure.outcome_unknown),
            ("kube_timeout", 504, true),
            "{}: {}",
            case.action,
            failure.message
        );
        assert!(failure.message.contains("may or may not have happened"));
        assert!(
            kube.mutations().is_empty(),
            "not yet applied when we gave up"
        );
        wait_for_mutations(&kube, 1).await;
        assert_eq!(
            kube.mutations().len(),
            1,
            "{}: the API server applied it after all: that is why the outcome is unknown",
            case.action
        );
        assert_eq!(sent(&kube, case.method).len(), 1, "{}", case.action);
    }
}

#[tokio::test]
async fn our_deadline_on_a_read_is_a_known_failure_and_nothing_is_written() {
    // Arrange
    let fault = Fault {
        method: Some("GET".into()),
        path_contains: Some("/deployments/api/scale".into()),
        delay: Some(Duration::from_millis(800)),
        ..Fault::default()
    };

    // Act
    let (kube, failure) = fail_with(
        Duration::from_millis(300),
        fault,
        "scale_deployment",
        &scale_api_to_5(),
        false,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;

    // Assert
    assert_eq!(
        (failure.code, failure.http_status, failure.outcome_unknown),
        ("kube_timeout", 504, false)
    );
    assert!(sent(&kube, "PATCH").is_empty());
    assert_unchanged(&kube, "read timeout");
}

#[tokio::test]
async fn our_deadline_on_a_dry_run_is_a_known_failure() {
    // Arrange: a dry run persists nothing, however late it is answered.
    let fault = Fault {
        method: Some("DELETE".into()),
        delay: Some(Duration::from_millis(800)),
        ..Fault::default()
    };

    // Act
    let (kube, failure) = fail_with(
        Duration::from_millis(300),
        fault,
        "restart_pod",
        &restart_api_1(),
        true,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;

    // Assert
    assert_eq!(
        (failure.code, failure.outcome_unknown),
        ("kube_timeout", false)
    );
    assert_unchanged(&kube, "dry-run timeout");
}

#[tokio::test]
async fn a_transient_error_is_never_retried() {
    for status in [429, 503, 504] {
        // Arrange: one failure, after which the same request would succeed; kube's
        // default policy would re-send it within milliseconds and report success.
        let fault = Fault {
            method: Some("DELETE".into()),
            path_contains: Some("/pods/api-1".into()),
            status: Some(status),
            times: Some(1),
            ..Fault::default()
        };

        // Act
        let (kube, failure) = fail_with(
            Duration::from_secs(5),
            fault,
            "restart_pod",
            &restart_api_1(),
            false,
        )
        .await;
        // Give a retry, if any, every chance to show up.
        tokio::time::sleep(Duration::from_millis(300)).await;

        // Assert
        assert_eq!(sent(&kube, "DELETE").len(), 1, "{status} was re-sent");
        assert!(kube.pod_exists("prod", "api-1"), "{status}");
        assert!(kube.mutations().is_empty(), "{status}");
        // 504 is Kubernetes saying the operation may still complete.
        assert_eq!(failure.outcome_unknown, status == 504, "{status}");
    }
}

#[tokio::test]
async fn an_unreachable_api_server_is_a_known_failure_even_for_a_write() {
    // Arrange: a port nobody listens on (bound, then released).
    let url = format!("http://127.0.0.1:{}", free_port());
    let cluster = Cluster {
        client: client_for_url(&url, Duration::from_secs(2)).unwrap(),
        timeout: Duration::from_secs(2),
    };

    for (action, params) in [
        ("restart_pod", restart_api_1()),
        (
            "restart_pod",
            json!({"namespace": "prod", "podName": "api-1", "mode": "evict"}),
        ),
        (
            "rollout_restart_deployment",
            json!({"namespace": "prod", "deploymentName": "api"}),
        ),
        (
            "scale_deployment",
            json!({"namespace": "prod", "deploymentName": "api", "replicas": 1}),
        ),
    ] {
        // Act
        let failure = run(&cluster, action, &params, false).await.unwrap_err();

        // Assert: the connection was refused, so the request never left.
        assert_eq!(
            (failure.code, failure.http_status, failure.outcome_unknown),
            ("kube_unavailable", 503, false),
            "{action}: {}",
            failure.message
        );
        assert!(
            failure.message.contains("cannot reach"),
            "{}",
            failure.message
        );
    }
}
