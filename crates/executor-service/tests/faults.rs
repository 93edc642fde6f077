//! Budgets under concurrency, Kubernetes errors and an unreachable database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use sqlx::PgPool;
use warden_test_support::Fault;

const MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

async fn restart_many(
    h: &Harness,
    states: &[executor_service::AppState],
    count: usize,
) -> Vec<Answer> {
    let mut bodies = Vec::new();
    for i in 0..count {
        let pod = format!("pod-{i}");
        h.kube.add_pod("default", &pod);
        bodies.push(h.request(
            "restart_pod",
            json!({"namespace": "default", "podName": pod}),
            "default/*/*",
        ));
    }
    let tasks: Vec<_> = bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let state = states[i % states.len()].clone();
            tokio::spawn(async move { execute_on(&state, &body).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn fifty_concurrent_restarts_with_a_budget_of_five_execute_exactly_five(pool: PgPool) {
    // Arrange
    let h = Harness::new(pool, &[("RATE_LIMIT_RESTART_MAX", "5")]).await;

    // Act
    let answers = restart_many(&h, std::slice::from_ref(&h.state), 50).await;

    // Assert
    let ok = answers.iter().filter(|a| a.status == 200).count();
    let limited: Vec<_> = answers.iter().filter(|a| a.status == 429).collect();
    assert_eq!(ok, 5, "{answers:#?}");
    assert_eq!(limited.len(), 45);
    assert!(
        limited
            .iter()
            .all(|a| a.body["code"] == "budget_exhausted" && a.headers.contains_key("retry-after"))
    );
    assert_eq!(h.kube.mutations().len(), 5);
    let rows = h.rows().await;
    assert_eq!(
        rows.iter()
            .filter(|r| r.reason_code.as_deref() == Some("budget_exhausted"))
            .count(),
        45
    );
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn two_executor_instances_on_one_database_still_execute_exactly_five(pool: PgPool) {
    let h = Harness::new(pool, &[("RATE_LIMIT_RESTART_MAX", "5")]).await;
    let second = h.replica(&[("RATE_LIMIT_RESTART_MAX", "5")]);
    let answers = restart_many(&h, &[h.state.clone(), second], 50).await;
    assert_eq!(answers.iter().filter(|a| a.status == 200).count(), 5);
    assert_eq!(h.kube.mutations().len(), 5);
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn one_decision_replayed_concurrently_on_two_instances_runs_once(pool: PgPool) {
    let h = Harness::new(pool, &[("RATE_LIMIT_RESTART_MAX", "100")]).await;
    let second = h.replica(&[("RATE_LIMIT_RESTART_MAX", "100")]);
    let body = h.request(
        "restart_pod",
        json!({"namespace": "default", "podName": "api-pod-12345"}),
        "default/pod/api-pod-12345",
    );
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let state = if i % 2 == 0 {
                h.state.clone()
            } else {
                second.clone()
            };
            let body = body.clone();
            tokio::spawn(async move { execute_on(&state, &body).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap().status.as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn each_kubernetes_error_is_a_clear_audited_failure(pool: PgPool) {
    let h = Harness::new(pool, &[("RATE_LIMIT_SCALE_MAX", "100")]).await;
    for status in [403u16, 404, 409, 422, 429, 500, 503] {
        // Arrange
        h.kube.clear_faults();
        h.kube.inject(Fault {
            status: Some(status),
            path_contains: Some("/scale".into()),
            ..Fault::default()
        });
        let body = h.request(
            "scale_deployment",
            json!({"namespace": "production", "deploymentName": "api-deployment", "replicas": 4}),
            "production/deployment/api-deployment",
        );

        // Act
        let answer = h.execute(&body).await;

        // Assert
        assert!(
            answer.status.is_client_error() || answer.status.is_server_error(),
            "{status}: {}",
            answer.body
        );
        assert_eq!(answer.body["success"], false);
        let code = answer.body["code"].as_str().unwrap().to_owned();
        assert!(code.starts_with("kube_"), "{status}: {code}");
        let rows = h.rows().await;
        let row = rows
            .iter()
            .find(|r| Some(r.id.to_string().as_str()) == answer.body["auditId"].as_str())
            .unwrap();
        assert_eq!(row.status, "failed", "{status}");
        assert_eq!(row.reason_code.as_deref(), Some(code.as_str()));
        if status == 403 {
            assert!(
                row.error.as_deref().unwrap().contains("RBAC")
                    || row.error.as_deref().unwrap().contains("grant"),
                "{:?}",
                row.error
            );
        }
    }
    assert_eq!(
        h.kube.replicas(
            warden_test_support::Kind::Deployment,
            "production",
            "api-deployment"
        ),
        Some(3)
    );
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn a_cluster_call_that_times_out_is_audited_as_unknown_and_not_retried(pool: PgPool) {
    // Arrange: the fake applies the delete but answers after the executor's deadline (2 s).
    let h = Harness::new(pool, &[]).await;
    h.kube.inject(Fault {
        delay: Some(Duration::from_secs(4)),
        path_contains: Some("api-pod-12345".into()),
        method: Some("DELETE".into()),
        ..Fault::default()
    });
    let body = h.request(
        "restart_pod",
        json!({"namespace": "default", "podName": "api-pod-12345"}),
        "default/pod/api-pod-12345",
    );

    // Act
    let answer = h.execute(&body).await;

    // Assert
    assert_eq!(answer.body["code"], "kube_timeout", "{}", answer.body);
    let rows = h.rows().await;
    assert_eq!(rows[0].status, "unknown");
    let deletes = h
        .kube
        .requests()
        .iter()
        .filter(|r| r.method == "DELETE")
        .count();
    assert_eq!(deletes, 1, "never retried");
    // The outcome is unknown to the executor, so the invariant (succeeded rows == mutations)
    // does not apply to this row; check no row is pending instead.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(h.rows().await.iter().all(|r| r.status != "pending"));
}
