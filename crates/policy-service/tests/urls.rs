//! `url:` resources at the evaluate endpoint: the canonical URL in the answer and the
//! token, rules on URLs, and a refused URL as a 400 naming `resource` and the refusal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use policy_service::AppState;
use serde_json::{Value, json};

const POLICY: &str = r#"
version: 1
principals:
  ai-engine: {roles: [service]}
rules:
  - id: no-admin
    effect: deny
    reason: admin endpoints are never called by automation
    match: {actions: [call_api], resources: ["url:https://*.internal.example.com/admin"]}
  - id: tickets
    effect: allow
    reason: the AI engine may call the ticket API
    match:
      actions: [call_api]
      subjects: {roles: [service]}
      resources: ["url:https://*.internal.example.com/v1/"]
    when: resource.path matches "/v1/tickets*"
"#;

/// A state on [`POLICY`]; the directory must outlive it.
fn url_state() -> (tempfile::TempDir, AppState) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "policy.yaml", POLICY);
    let state = state_for(&path, false);
    (dir, state)
}

fn call(resource: &str) -> Value {
    json!({
        "action": "call_api",
        "resource": resource,
        "context": {"userId": "ai-engine", "role": "service"},
        "params": {"url": resource.trim_start_matches("url:")}
    })
}

#[tokio::test]
async fn an_allowed_url_is_answered_and_bound_in_canonical_form_without_its_query() {
    // Arrange
    let (_dir, state) = url_state();
    let request = call("url:HTTPS://API.Internal.Example.com.:443/v1/./tickets?id=7");

    // Act
    let answer = evaluate(&state, &request, None).await;

    // Assert
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["decision"], "allow", "{}", answer.body);
    let canonical = "url:https://api.internal.example.com/v1/tickets";
    assert_eq!(answer.body["resource"], canonical);
    let claims = verify(&state, answer.body["token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(claims.res, canonical);
    assert_eq!(claims.act, "call_api");
    assert!(
        claims.prm.is_some(),
        "the query travels in the bound params"
    );
}

#[tokio::test]
async fn urls_outside_the_rules_are_denied_without_a_token() {
    // Arrange
    let (_dir, state) = url_state();
    let cases = [
        (
            "url:https://api.internal.example.com/admin/users",
            Some("no-admin"),
        ),
        ("url:https://internal.example.com/v1/tickets", None),
        (
            "url:https://api.internal.example.com.evil.com/v1/tickets",
            None,
        ),
        ("url:https://api.internal.example.com/v1/users", None),
        ("url:http://api.internal.example.com/v1/tickets", None),
    ];

    for (resource, rule) in cases {
        // Act
        let answer = evaluate(&state, &call(resource), None).await;

        // Assert
        assert_eq!(answer.status, 200, "{resource}: {}", answer.body);
        assert_eq!(
            answer.body["decision"], "deny",
            "{resource}: {}",
            answer.body
        );
        assert_eq!(answer.body["matchedRule"].as_str(), rule, "{resource}");
        assert!(answer.body.get("token").is_none(), "{resource}");
    }
}

#[tokio::test]
async fn explain_names_the_part_of_the_url_that_missed() {
    // Arrange
    let (_dir, state) = url_state();

    // Act
    let answer = evaluate_at(
        &state,
        "/api/v1/policy/evaluate?explain=true",
        &call("url:https://internal.example.com/v1/tickets"),
        None,
    )
    .await;

    // Assert
    let trace = answer.body["explanation"].as_array().unwrap();
    let tickets = trace.iter().find(|t| t["rule"] == "tickets").unwrap();
    let failed = tickets["failed"].as_str().unwrap();
    assert!(failed.contains("not the domain itself"), "{failed}");
}

#[tokio::test]
async fn a_refused_url_is_a_400_naming_resource_and_the_refusal_code() {
    // Arrange
    let (_dir, state) = url_state();
    let cases = [
        (
            "url:https://api.internal.example.com@evil.com/v1/tickets",
            "userinfo",
        ),
        (
            "url:https://ops:hunter2@api.internal.example.com/v1/",
            "userinfo",
        ),
        ("url:https://0177.0.0.1/v1/", "ip_literal"),
        (
            "url:https://api.internal.example.com/v1/%2e%2e/admin",
            "encoded_dot_segment",
        ),
        (
            "url:gopher://api.internal.example.com/",
            "unsupported_scheme",
        ),
        ("url:api.internal.example.com/v1", "not_absolute"),
    ];

    for (resource, code) in cases {
        // Act
        let answer = evaluate(&state, &call(resource), None).await;

        // Assert
        assert_eq!(answer.status, 400, "{resource}: {}", answer.body);
        assert_eq!(answer.body["code"], "invalid_field");
        assert_eq!(answer.body["field"], "resource");
        let message = answer.body["error"].as_str().unwrap();
        assert!(
            message.contains(&format!("({code})")),
            "{resource}: {message}"
        );
        assert!(
            !message.contains("hunter2") && !message.contains("evil"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn the_default_policy_denies_a_url_by_default() {
    // Arrange
    let state = state(false);

    // Act
    let answer = evaluate(
        &state,
        &call("url:https://api.internal.example.com/v1/tickets"),
        None,
    )
    .await;

    // Assert
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["decision"], "deny", "{}", answer.body);
    assert_eq!(
        answer.body["resource"],
        "url:https://api.internal.example.com/v1/tickets"
    );
    assert!(answer.body.get("token").is_none());
}
