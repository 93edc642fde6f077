//! The evaluate endpoint on the default policy: decisions, tokens and explanations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{Value, json};

/// Evaluates the seed request after `edit`, on the default policy without API keys.
async fn evaluate_seed_with(edit: impl FnOnce(&mut Value)) -> Answer {
    let state = state(false);
    let mut request = seed_request();
    edit(&mut request);
    evaluate(&state, &request, None).await
}

#[tokio::test]
async fn the_seed_request_is_allowed_with_a_token_that_verifies_against_the_jwks() {
    // Arrange
    let state = state(false);

    // Act
    let answer = evaluate(&state, &seed_request(), None).await;

    // Assert
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body = &answer.body;
    assert_eq!(body["allowed"], true);
    assert_eq!(body["decision"], "allow");
    assert!(body["matchedRule"].is_string());
    assert!(body["reason"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(
        body["policyVersion"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert_eq!(body["resource"], "default/pod/api-pod-12345");
    let claims = verify(&state, body["token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(claims.jti, body["decisionId"].as_str().unwrap());
    assert_eq!(claims.sub, "ai-engine");
    assert_eq!(claims.act, "restart_pod");
    assert_eq!(claims.res, "default/pod/api-pod-12345");
    assert_eq!(claims.pv, body["policyVersion"].as_str().unwrap());
    assert_eq!(claims.rule, body["matchedRule"].as_str().unwrap());
    let expires =
        chrono::DateTime::parse_from_rfc3339(body["expiresAt"].as_str().unwrap()).unwrap();
    assert_eq!(expires.timestamp(), claims.exp);
    assert_eq!(claims.exp - claims.iat, 60);
}

#[tokio::test]
async fn a_namespace_wide_seed_request_is_allowed_and_bound_to_the_namespace() {
    // Arrange
    let state = state(false);
    let mut request = seed_request();
    request["action"] = json!("scale_deployment");
    request["resource"] = json!("production:resource");

    // Act
    let answer = evaluate(&state, &request, None).await;

    // Assert
    assert_eq!(answer.body["decision"], "allow", "{}", answer.body);
    let claims = verify(&state, answer.body["token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(claims.res, "production/*/*");
}

#[tokio::test]
async fn kube_system_is_denied_with_the_rule_named_and_no_token() {
    // Act
    let answer =
        evaluate_seed_with(|request| request["resource"] = json!("kube-system/pod/coredns-1"))
            .await;

    // Assert
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["allowed"], false);
    assert_eq!(answer.body["decision"], "deny");
    assert_eq!(answer.body["matchedRule"], SYSTEM_NAMESPACES_RULE);
    assert!(answer.body.get("token").is_none());
}

#[tokio::test]
async fn low_severity_is_not_allowed() {
    // Act
    let answer =
        evaluate_seed_with(|request| request["context"]["metadata"]["severity"] = json!("low"))
            .await;

    // Assert
    assert_eq!(answer.body["allowed"], false, "{}", answer.body);
    assert!(answer.body.get("token").is_none());
}

#[tokio::test]
async fn medium_severity_requires_approval_with_an_approval_token() {
    // Act
    let answer =
        evaluate_seed_with(|request| request["context"]["metadata"]["severity"] = json!("medium"))
            .await;

    // Assert: signed, but never for the executor's allow audience (see tests/approval.rs).
    assert_eq!(
        answer.body["decision"], "require_approval",
        "{}",
        answer.body
    );
    assert_eq!(answer.body["allowed"], false);
    let token = answer.body["token"].as_str().unwrap();
    assert_eq!(payload(token)["aud"], warden_protocol::APPROVAL_AUDIENCE);
    assert!(answer.body["approval"].is_object(), "{}", answer.body);
}

#[tokio::test]
async fn an_unknown_action_is_denied_by_its_named_rule() {
    // Act
    let answer = evaluate_seed_with(|request| request["action"] = json!("delete_namespace")).await;

    // Assert
    assert_eq!(answer.body["decision"], "deny");
    assert_eq!(answer.body["matchedRule"], "deny-unknown-actions");
    assert!(answer.body.get("token").is_none());
}

#[tokio::test]
async fn nothing_matching_is_the_default_deny_with_no_rule() {
    // Arrange: a known action by a caller with no role matches no rule at all.
    let state = state(false);
    let request = json!({"action": "restart_pod", "resource": "pod:web-1", "context": {"userId": "stranger"}});

    // Act
    let answer = evaluate(&state, &request, None).await;

    // Assert
    assert_eq!(answer.body["decision"], "deny", "{}", answer.body);
    assert_eq!(answer.body["matchedRule"], serde_json::Value::Null);
    assert!(
        answer.body["reason"]
            .as_str()
            .unwrap()
            .contains("restart_pod")
    );
}

#[tokio::test]
async fn explain_lists_each_rule_and_the_condition_that_failed() {
    // Arrange
    let state = state(false);
    let mut request = seed_request();
    request["context"]["metadata"]["severity"] = json!("low");

    // Act
    let answer = evaluate_at(
        &state,
        "/api/v1/policy/evaluate?explain=true",
        &request,
        None,
    )
    .await;

    // Assert
    let trace = answer.body["explanation"]
        .as_array()
        .expect("explanation present");
    let rules = policy_service::store::PolicyStore::load(&default_policy_path())
        .unwrap()
        .current()
        .rule_count();
    assert_eq!(trace.len(), rules, "every rule is reported");
    assert!(
        trace
            .iter()
            .all(|t| t["rule"].is_string() && t["matched"].is_boolean())
    );
    let failed: Vec<_> = trace
        .iter()
        .filter_map(|t| t["failed"].as_str())
        .filter(|f| f.contains("severity"))
        .collect();
    assert!(
        !failed.is_empty(),
        "the severity condition is named: {trace:?}"
    );
}

#[tokio::test]
async fn without_explain_there_is_no_trace() {
    let state = state(false);
    let answer = evaluate(&state, &seed_request(), None).await;
    assert!(answer.body.get("explanation").is_none());
}

#[tokio::test]
async fn each_decision_has_its_own_id() {
    let state = state(false);
    let a = evaluate(&state, &seed_request(), None).await;
    let b = evaluate(&state, &seed_request(), None).await;
    assert_ne!(a.body["decisionId"], b.body["decisionId"]);
}

#[tokio::test]
async fn jwks_publishes_one_ed25519_key_with_a_kid() {
    let state = state(false);
    let answer = get(&state, "/.well-known/jwks.json").await;
    assert_eq!(answer.status, 200);
    let key = &answer.body["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["alg"], "EdDSA");
    assert_eq!(key["kid"], state.signer().kid());
}

#[tokio::test]
async fn a_token_from_another_key_does_not_verify() {
    // Arrange: two services with different keys.
    let issuer = state(false);
    let other = state(false);
    let token = evaluate(&issuer, &seed_request(), None).await.body["token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Act + Assert: the other service's JWKS does not know the kid.
    let jwks = get(&other, "/.well-known/jwks.json").await.body;
    let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["kid"] != kid.as_str())
    );
}

#[tokio::test]
async fn health_and_readiness_report_the_mode() {
    let dev = get(&state(false), "/readyz").await;
    assert_eq!(dev.status, 200);
    assert_eq!(dev.body["mode"], "development");
    assert!(
        dev.body["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("development"))
    );
    let keyed = get(&state(true), "/readyz").await;
    assert_eq!(keyed.body["mode"], "api_keys");
    assert_eq!(get(&state(false), "/healthz").await.body["status"], "ok");
}
