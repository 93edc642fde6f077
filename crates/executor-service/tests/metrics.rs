//! `GET /metrics`: the metric names operators alert on exist, and they count what happened
//! (actions by outcome, refusals by kind, replays, budgets, store errors).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use executor_service::signature::SignatureForm;
use executor_service::store::postgres::PgStore;
use executor_service::{AppState, app};
use serde_json::json;
use sqlx::PgPool;
use warden_test_support::metrics::{self, has_family, has_line};

use common::*;

const MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// The metrics text of `state`'s executor.
async fn scrape(state: &AppState) -> String {
    metrics::scrape(app(state.clone())).await
}

fn restart() -> serde_json::Value {
    json!({"namespace": "default", "podName": "api-pod-12345"})
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn actions_refusals_replays_and_budgets_are_counted(pool: PgPool) {
    // Arrange: a budget of one restart.
    let h = Harness::new(pool, &[("RATE_LIMIT_RESTART_MAX", "1")]).await;
    h.kube.add_pod("default", "api-pod-2");
    let first = h.request("restart_pod", restart(), "default/pod/api-pod-12345");
    let claims = h.claims("restart_pod", "default/pod/api-pod-12345", "ai-engine");
    let wrong_secret = signed_body(
        "restart_pod",
        restart(),
        "ai-engine",
        h.decision(&claims),
        SignatureForm::JsInsertion,
        "not-the-secret-0123456789abcdef",
    );
    let other_action = h.request("scale_deployment", restart(), "default/pod/api-pod-12345");
    let over_budget = h.request(
        "restart_pod",
        json!({"namespace": "default", "podName": "api-pod-2"}),
        "default/pod/api-pod-2",
    );

    // Act
    assert_eq!(h.execute(&first).await.status, 200);
    assert_eq!(h.execute(&first).await.status, 409);
    assert_eq!(h.execute(&wrong_secret).await.status, 401);
    let refused = h.execute(&other_action).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(h.execute(&over_budget).await.status, 429);
    let text = scrape(&h.state).await;

    // Assert
    for line in [
        r#"warden_executor_actions_total{action_type="restart_pod",namespace="default",outcome="succeeded",dry_run="false"} 1"#,
        r#"warden_executor_actions_total{action_type="restart_pod",namespace="default",outcome="rejected",dry_run="false"} 2"#,
        r#"warden_executor_actions_total{action_type="restart_pod",namespace="",outcome="rejected",dry_run="false"} 1"#,
        r#"warden_executor_actions_total{action_type="scale_deployment",namespace="",outcome="rejected",dry_run="false"} 1"#,
        r#"warden_executor_action_duration_seconds_count{action_type="restart_pod",outcome="succeeded"} 1"#,
        "warden_executor_replays_total 1",
        r#"warden_executor_signature_refusals_total{code="bad_signature"} 1"#,
        r#"warden_executor_budget_refusals_total{budget="restart"} 1"#,
        r#"warden_executor_errors_total{code="replay"} 1"#,
        r#"warden_executor_errors_total{code="budget_exhausted"} 1"#,
        r#"warden_executor_http_requests_total{route="/executor/execute",status="200"} 1"#,
        r#"warden_executor_http_requests_total{route="/executor/execute",status="429"} 1"#,
    ] {
        assert!(has_line(&text, line), "missing `{line}` in:\n{text}");
    }
    for (name, kind) in [
        ("warden_executor_actions", "counter"),
        ("warden_executor_action_duration_seconds", "histogram"),
        ("warden_executor_budget_refusals", "counter"),
        ("warden_executor_signature_refusals", "counter"),
        ("warden_executor_replays", "counter"),
        ("warden_executor_errors", "counter"),
        ("warden_executor_http_requests", "counter"),
        ("warden_executor_http_request_duration_seconds", "histogram"),
    ] {
        assert!(
            has_family(&text, name, kind),
            "{name} ({kind}) missing:\n{text}"
        );
    }
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn token_refusals_are_counted_by_code(pool: PgPool) {
    // Arrange: a token for another pod than the request names.
    let h = Harness::new(pool, &[]).await;
    let body = h.request("restart_pod", restart(), "default/pod/other-pod");

    // Act
    let answer = h.execute(&body).await;
    let text = scrape(&h.state).await;

    // Assert
    assert_eq!(answer.status, 403, "{}", answer.body);
    let code = answer.body["code"].as_str().unwrap();
    assert!(
        has_line(
            &text,
            &format!(r#"warden_executor_token_refusals_total{{code="{code}"}} 1"#)
        ),
        "{text}"
    );
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn an_unreachable_store_is_counted(pool: PgPool) {
    // Arrange: the same executor with a store on a port where nothing listens.
    let h = Harness::new(pool, &[]).await;
    let store = PgStore::connect("postgres://postgres@127.0.0.1:9/none", 1)
        .await
        .unwrap();
    let state = h.state_with_store(Arc::new(store));
    let body = h.request("restart_pod", restart(), "default/pod/api-pod-12345");

    // Act
    let answer = execute_on(&state, &body).await;
    let text = scrape(&state).await;

    // Assert
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert!(
        has_line(
            &text,
            r#"warden_executor_audit_store_errors_total{operation="begin"} 1"#
        ),
        "{text}"
    );
    assert!(h.kube.mutations().is_empty());
}
