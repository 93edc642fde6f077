//! `GET /metrics`: the metric names operators alert on exist, and they count what happened.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use policy_service::{AppState, app};
use serde_json::json;
use warden_test_support::metrics::{self, has_family, has_line};
use warden_test_support::router;

use common::*;

/// The metrics text of `state`'s service.
async fn scrape(state: &AppState) -> String {
    metrics::scrape(app(state.clone())).await
}

#[tokio::test]
async fn every_documented_metric_is_exported() {
    // Arrange: one answer and one refusal (a family appears with its first series).
    let state = state(false);
    evaluate(&state, &seed_request(), None).await;
    get(&state, "/nowhere").await;

    // Act
    let text = scrape(&state).await;

    // Assert
    for (name, kind) in [
        ("warden_policy_decisions", "counter"),
        ("warden_policy_http_requests", "counter"),
        ("warden_policy_http_request_duration_seconds", "histogram"),
        ("warden_policy_refusals", "counter"),
        ("warden_policy_reloads", "counter"),
        ("warden_policy_rules", "gauge"),
    ] {
        assert!(
            has_family(&text, name, kind),
            "{name} ({kind}) missing:\n{text}"
        );
    }
}

#[tokio::test]
async fn decisions_answers_and_refusals_are_counted() {
    // Arrange
    let state = state(false);
    let mut system = seed_request();
    system["resource"] = json!("kube-system/pod/coredns-1");

    // Act
    assert_eq!(evaluate(&state, &seed_request(), None).await.status, 200);
    assert_eq!(evaluate(&state, &system, None).await.status, 200);
    let wrong_type = Request::post("/api/v1/policy/evaluate")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("{}"))
        .unwrap();
    let (status, _, _) = router::send_raw(app(state.clone()), wrong_type).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    get(&state, "/nowhere").await;
    let text = scrape(&state).await;

    // Assert
    for line in [
        r#"warden_policy_decisions_total{decision="allow",rule="allow-ai-remediation"} 1"#,
        r#"warden_policy_decisions_total{decision="deny",rule="deny-system-namespaces"} 1"#,
        r#"warden_policy_http_requests_total{route="/api/v1/policy/evaluate",status="200"} 2"#,
        r#"warden_policy_http_requests_total{route="/api/v1/policy/evaluate",status="415"} 1"#,
        r#"warden_policy_http_requests_total{route="unmatched",status="404"} 1"#,
        r#"warden_policy_refusals_total{code="unsupported_media_type"} 1"#,
        r#"warden_policy_refusals_total{code="not_found"} 1"#,
        r#"warden_policy_reloads_total{result="failed"} 0"#,
        "warden_policy_rules 9",
    ] {
        assert!(has_line(&text, line), "missing `{line}` in:\n{text}");
    }
}

#[tokio::test]
async fn a_failed_reload_is_counted() {
    // Arrange: a policy file that is then broken.
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "policy.yaml",
        &std::fs::read_to_string(default_policy_path()).unwrap(),
    );
    let state = state_for(&path, false);
    write(dir.path(), "policy.yaml", "version: 1\nrules: [oops\n");

    // Act
    state.policy().reload(true);
    let text = scrape(&state).await;

    // Assert
    assert!(
        has_line(&text, r#"warden_policy_reloads_total{result="failed"} 1"#),
        "{text}"
    );
    assert!(has_line(&text, "warden_policy_rules 9"), "{text}");
}
