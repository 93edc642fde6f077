//! `params` in evaluate requests: rules read them, and an allowing decision's token binds
//! their digest (claim `prm`) exactly when they were given.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{Value, json};
use warden_protocol::params_digest;

fn scale_request(params: Option<Value>) -> Value {
    let mut request = seed_request();
    request["action"] = json!("scale_deployment");
    request["resource"] = json!("production/deployment/api");
    if let Some(params) = params {
        request["params"] = params;
    }
    request
}

#[tokio::test]
async fn the_token_binds_the_digest_of_the_params_given() {
    // Arrange
    let state = state(false);
    let params = json!({"namespace": "production", "deploymentName": "api", "replicas": 3});

    // Act
    let answer = evaluate(&state, &scale_request(Some(params.clone())), None).await;

    // Assert
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["decision"], "allow", "{}", answer.body);
    let claims = verify(&state, answer.body["token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(claims.prm.as_deref(), Some(params_digest(&params).as_str()));
    // The answer itself stays as it was: the binding lives in the token only.
    assert!(answer.body.get("params").is_none(), "{}", answer.body);
}

#[tokio::test]
async fn without_params_the_token_has_no_prm_claim() {
    // Arrange
    let state = state(false);

    // Act
    let answer = evaluate(&state, &seed_request(), None).await;

    // Assert
    assert_eq!(answer.body["decision"], "allow", "{}", answer.body);
    let token = answer.body["token"].as_str().unwrap();
    let claims = verify(&state, token).await.unwrap();
    assert_eq!(claims.prm, None);
    let payload = payload(token);
    assert!(payload.get("prm").is_none(), "{payload}");
}

#[tokio::test]
async fn the_default_policy_sends_scaling_to_zero_for_approval_bound_to_the_params() {
    // Arrange
    let state = state(false);
    let params = json!({"namespace": "production", "deploymentName": "api", "replicas": 0});

    // Act
    let answer = evaluate_at(
        &state,
        "/api/v1/policy/evaluate?explain=true",
        &scale_request(Some(params.clone())),
        None,
    )
    .await;

    // Assert: the approval token binds the params as an allow token does, so an approved
    // scale to zero cannot be run with other parameters.
    assert_eq!(
        answer.body["decision"], "require_approval",
        "{}",
        answer.body
    );
    assert_eq!(answer.body["matchedRule"], "approve-scale-to-zero");
    let claims = verify_for(
        &state,
        answer.body["token"].as_str().unwrap(),
        warden_protocol::APPROVAL_AUDIENCE,
    )
    .await
    .unwrap();
    assert_eq!(claims.prm.as_deref(), Some(params_digest(&params).as_str()));
    let trace = answer.body["explanation"].as_array().unwrap();
    let rule = trace
        .iter()
        .find(|t| t["rule"] == "approve-scale-to-zero")
        .unwrap();
    assert_eq!(rule["matched"], true);
}

#[tokio::test]
async fn the_explain_trace_names_a_params_field_the_request_lacks() {
    // Arrange
    let state = state(false);

    // Act
    let answer = evaluate_at(
        &state,
        "/api/v1/policy/evaluate?explain=true",
        &scale_request(None),
        None,
    )
    .await;

    // Assert: without params scaling is allowed as before, and the trace says why the
    // scale-to-zero rule did not apply.
    assert_eq!(answer.body["decision"], "allow", "{}", answer.body);
    let trace = answer.body["explanation"].as_array().unwrap();
    let rule = trace
        .iter()
        .find(|t| t["rule"] == "approve-scale-to-zero")
        .unwrap();
    assert_eq!(rule["matched"], false);
    let failed = rule["failed"].as_str().unwrap();
    assert!(
        failed.contains("the request has no `params.replicas`"),
        "{failed}"
    );
}

#[tokio::test]
async fn params_that_are_not_an_object_are_a_400_naming_the_field() {
    // Arrange
    let state = state(false);

    // Act
    let answer = evaluate(&state, &scale_request(Some(json!([1, 2]))), None).await;

    // Assert
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.body["field"], "params", "{}", answer.body);
}
