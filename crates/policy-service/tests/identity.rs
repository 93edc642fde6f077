//! Caller identity with API keys: the key decides who is asking, the body cannot lie.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn without_a_key_the_answer_is_401_with_a_challenge() {
    // Arrange
    let state = state(true);

    // Act
    let answer = evaluate(&state, &seed_request(), None).await;

    // Assert
    assert_eq!(answer.status, 401);
    assert_eq!(answer.body["code"], "unauthorized");
    assert!(
        answer.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
}

#[tokio::test]
async fn a_wrong_key_is_401_before_the_body_is_read() {
    let state = state(true);
    let answer = evaluate(
        &state,
        &json!("not even an object"),
        Some("wrong-key-0123456789"),
    )
    .await;
    assert_eq!(answer.status, 401);
}

#[tokio::test]
async fn the_key_identity_is_the_token_subject() {
    // Arrange: a body with no userId at all.
    let state = state(true);
    let mut request = seed_request();
    request["context"].as_object_mut().unwrap().remove("userId");

    // Act
    let answer = evaluate(&state, &request, Some(AI_KEY)).await;

    // Assert
    assert_eq!(answer.body["decision"], "allow", "{}", answer.body);
    assert_eq!(answer.body["subject"], "ai-engine");
    let claims = verify(&state, answer.body["token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(claims.sub, "ai-engine");
}

#[tokio::test]
async fn claiming_another_user_is_403() {
    // Arrange: ops's key, ai-engine in the body.
    let state = state(true);

    // Act
    let answer = evaluate(&state, &seed_request(), Some(OPS_KEY)).await;

    // Assert
    assert_eq!(answer.status, 403);
    assert_eq!(answer.body["code"], "identity_mismatch");
    assert_eq!(answer.body["field"], "context.userId");
}

#[tokio::test]
async fn claiming_a_role_the_principal_lacks_is_403() {
    // Arrange
    let state = state(true);
    let mut request = seed_request();
    request["context"]["role"] = json!("cluster-admin");

    // Act
    let answer = evaluate(&state, &request, Some(AI_KEY)).await;

    // Assert
    assert_eq!(answer.status, 403);
    assert_eq!(answer.body["field"], "context.role");
}

#[tokio::test]
async fn roles_come_from_the_policy_not_the_body() {
    // Arrange: ops has no `service` role, so ai-engine's allow rule cannot apply to it,
    // even though ops's body does not claim a role.
    let state = state(true);
    let mut request = seed_request();
    request["context"] = json!({"metadata": {"severity": "high"}});

    // Act
    let ai = evaluate(&state, &request, Some(AI_KEY)).await;
    let ops = evaluate(&state, &request, Some(OPS_KEY)).await;

    // Assert
    assert_eq!(ai.body["decision"], "allow", "{}", ai.body);
    assert_ne!(
        ops.body["matchedRule"], ai.body["matchedRule"],
        "{}",
        ops.body
    );
}

#[tokio::test]
async fn in_development_mode_the_body_names_the_caller() {
    let state = state(false);
    let answer = evaluate(&state, &seed_request(), None).await;
    assert_eq!(answer.body["subject"], "ai-engine");
    let mut anonymous = seed_request();
    anonymous["context"]
        .as_object_mut()
        .unwrap()
        .remove("userId");
    anonymous["context"].as_object_mut().unwrap().remove("role");
    let answer = evaluate(&state, &anonymous, None).await;
    assert_eq!(answer.body["subject"], "anonymous");
    assert_eq!(answer.body["allowed"], false);
}
