//! require_approval decisions: a signed token under the approval audience carrying the
//! rule's requirements (claim `apr`), the same requirements in the answer's `approval`,
//! and allow tokens exactly as before.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{Value, json};
use warden_protocol::{
    APPROVAL_AUDIENCE, ApprovalClaims, GrantScope, SessionRule, TOKEN_AUDIENCE, params_digest,
};

fn medium_request() -> Value {
    let mut request = seed_request();
    request["context"]["metadata"]["severity"] = json!("medium");
    request
}

/// What `approve-medium-severity` in the default policy says.
fn medium_requirements() -> ApprovalClaims {
    ApprovalClaims {
        approvers: 1,
        roles: vec!["operator".into()],
        expires_in: 900,
        session: Some(SessionRule {
            scope: GrantScope::Namespace,
            max_ttl: 3600,
        }),
    }
}

#[tokio::test]
async fn a_require_approval_decision_gets_a_token_for_the_approval_audience() {
    // Arrange
    let state = state(false);

    // Act
    let answer = evaluate(&state, &medium_request(), None).await;

    // Assert
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body = &answer.body;
    assert_eq!(body["decision"], "require_approval");
    assert_eq!(body["allowed"], false);
    assert_eq!(body["matchedRule"], "approve-medium-severity");
    let claims = verify_for(&state, body["token"].as_str().unwrap(), APPROVAL_AUDIENCE)
        .await
        .unwrap();
    assert_eq!(claims.aud, APPROVAL_AUDIENCE);
    assert_eq!(claims.apr, Some(medium_requirements()));
    assert_eq!(claims.jti, body["decisionId"].as_str().unwrap());
    assert_eq!(claims.sub, "ai-engine");
    assert_eq!(claims.act, "restart_pod");
    assert_eq!(claims.res, "default/pod/api-pod-12345");
    assert_eq!(claims.rule, "approve-medium-severity");
    assert_eq!(claims.pv, body["policyVersion"].as_str().unwrap());
    assert_eq!(claims.prm, None);
    let expires =
        chrono::DateTime::parse_from_rfc3339(body["expiresAt"].as_str().unwrap()).unwrap();
    assert_eq!(expires.timestamp(), claims.exp);
    let shown: ApprovalClaims = serde_json::from_value(body["approval"].clone()).unwrap();
    assert_eq!(shown, medium_requirements());
    assert_eq!(
        body["approval"],
        json!({"approvers": 1, "roles": ["operator"], "expiresIn": 900,
               "session": {"scope": "namespace", "maxTtl": 3600}})
    );
}

#[tokio::test]
async fn an_approval_token_is_refused_by_a_verifier_of_allow_tokens() {
    // Arrange
    let state = state(false);
    let answer = evaluate(&state, &medium_request(), None).await;
    let token = answer.body["token"].as_str().unwrap();

    // Act
    let as_allow = verify(&state, token).await;

    // Assert
    let error = as_allow.unwrap_err();
    assert_eq!(
        error.kind(),
        &jsonwebtoken::errors::ErrorKind::InvalidAudience,
        "{error}"
    );
}

#[tokio::test]
async fn an_allow_token_is_unchanged_and_has_no_apr() {
    // Arrange
    let state = state(false);

    // Act
    let answer = evaluate(&state, &seed_request(), None).await;

    // Assert
    assert_eq!(answer.body["decision"], "allow", "{}", answer.body);
    assert!(answer.body.get("approval").is_none(), "{}", answer.body);
    let token = answer.body["token"].as_str().unwrap();
    let claims = verify(&state, token).await.unwrap();
    assert_eq!(claims.aud, TOKEN_AUDIENCE);
    assert_eq!(claims.apr, None);
    let payload = payload(token);
    assert!(payload.get("apr").is_none(), "{payload}");
    assert!(
        verify_for(&state, token, APPROVAL_AUDIENCE).await.is_err(),
        "an allow token is not an approval token"
    );
}

#[tokio::test]
async fn a_deny_has_neither_token_nor_approval() {
    // Arrange
    let state = state(false);
    let mut request = seed_request();
    request["resource"] = json!("kube-system/pod/coredns-1");

    // Act
    let answer = evaluate(&state, &request, None).await;

    // Assert
    assert_eq!(answer.body["decision"], "deny", "{}", answer.body);
    assert!(answer.body.get("token").is_none());
    assert!(answer.body.get("approval").is_none());
}

#[tokio::test]
async fn the_token_carries_the_block_of_the_rule_that_decided() {
    // Arrange: a policy of its own, with API keys on and params given.
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "p.yaml",
        "version: 1
principals:
  ai-engine: {roles: [service]}
rules:
  - id: two-people
    effect: require_approval
    reason: two people look at every restart
    match: {actions: [restart_pod]}
    approval:
      approvers: 2
      roles: [sre, operator]
      expires: 1h30m
      session: {scope: object, maxTtl: 10m}
",
    );
    let state = state_for(&path, true);
    let params = json!({"namespace": "default", "podName": "api-pod-12345"});
    let mut request = seed_request();
    request["params"] = params.clone();

    // Act
    let answer = evaluate(&state, &request, Some(AI_KEY)).await;

    // Assert
    assert_eq!(
        answer.body["decision"], "require_approval",
        "{}",
        answer.body
    );
    let claims = verify_for(
        &state,
        answer.body["token"].as_str().unwrap(),
        APPROVAL_AUDIENCE,
    )
    .await
    .unwrap();
    let expected = ApprovalClaims {
        approvers: 2,
        roles: vec!["sre".into(), "operator".into()],
        expires_in: 5400,
        session: Some(SessionRule {
            scope: GrantScope::Object,
            max_ttl: 600,
        }),
    };
    assert_eq!(claims.apr.as_ref(), Some(&expected));
    assert_eq!(claims.rule, "two-people");
    assert_eq!(claims.prm.as_deref(), Some(params_digest(&params).as_str()));
    let shown: ApprovalClaims = serde_json::from_value(answer.body["approval"].clone()).unwrap();
    assert_eq!(shown, expected);
}

#[tokio::test]
async fn explain_gives_the_same_approval_and_token() {
    // Arrange
    let state = state(false);

    // Act
    let answer = evaluate_at(
        &state,
        "/api/v1/policy/evaluate?explain=true",
        &medium_request(),
        None,
    )
    .await;

    // Assert
    assert!(answer.body["explanation"].is_array(), "{}", answer.body);
    let claims = verify_for(
        &state,
        answer.body["token"].as_str().unwrap(),
        APPROVAL_AUDIENCE,
    )
    .await
    .unwrap();
    assert_eq!(claims.apr, Some(medium_requirements()));
    let shown: ApprovalClaims = serde_json::from_value(answer.body["approval"].clone()).unwrap();
    assert_eq!(shown, medium_requirements());
}
