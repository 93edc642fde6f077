//! `POST /executor/execute` end to end: real Postgres, the fake Kubernetes API server over
//! HTTP, tokens from the policy service's signer. Every test asserts the answer, the audit
//! table and the fake's recorded mutations, and ends with the invariant check.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use executor_service::signature::SignatureForm;
use serde_json::{Value, json};
use sqlx::PgPool;
use warden_protocol::DecisionClaims;

const MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

fn restart_params() -> Value {
    json!({"namespace": "default", "podName": "api-pod-12345"})
}

// ---------------------------------------------------------------------------------------
// Happy paths
// ---------------------------------------------------------------------------------------

#[sqlx::test(migrator = "MIGRATIONS")]
async fn restart_pod_deletes_the_pod_and_audits_success(pool: PgPool) {
    // Arrange
    let h = Harness::new(pool, &[]).await;
    let body = h.request("restart_pod", restart_params(), "default/pod/api-pod-12345");

    // Act
    let answer = h.execute(&body).await;

    // Assert
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["success"], true);
    assert!(!h.kube.pod_exists("default", "api-pod-12345"));
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "succeeded");
    assert_eq!(
        rows[0].id.to_string(),
        answer.body["auditId"].as_str().unwrap()
    );
    assert_eq!(rows[0].signature_form.as_deref(), Some("js_insertion"));
    assert!(
        rows[0]
            .policy_decision
            .as_ref()
            .unwrap()
            .get("token")
            .is_none(),
        "the token is not stored"
    );
    assert!(rows[0].decision_id.is_some());
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn restart_pod_in_evict_mode_uses_the_eviction_api(pool: PgPool) {
    let h = Harness::new(pool, &[]).await;
    let body = h.request(
        "restart_pod",
        json!({"namespace": "default", "podName": "api-pod-12345", "mode": "evict"}),
        "default/pod/api-pod-12345",
    );
    let answer = h.execute(&body).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(!h.kube.pod_exists("default", "api-pod-12345"));
    assert!(
        h.kube
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/eviction"))
    );
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn scale_deployment_records_previous_and_new_replicas(pool: PgPool) {
    let h = Harness::new(pool, &[]).await;
    let body = h.request(
        "scale_deployment",
        json!({"namespace": "production", "deploymentName": "api-deployment", "replicas": 5}),
        "production/deployment/api-deployment",
    );
    let answer = h.execute(&body).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["result"]["previousReplicas"], 3);
    assert_eq!(answer.body["result"]["replicas"], 5);
    assert_eq!(
        h.kube.replicas(
            warden_test_support::Kind::Deployment,
            "production",
            "api-deployment"
        ),
        Some(5)
    );
    let rows = h.rows().await;
    assert_eq!(rows[0].result.as_ref().unwrap()["previousReplicas"], 3);
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn scale_statefulset_with_a_namespace_wide_decision(pool: PgPool) {
    // The seed's `production:resource` decision covers the whole namespace.
    let h = Harness::new(pool, &[]).await;
    let body = h.request(
        "scale_statefulset",
        json!({"namespace": "production", "statefulSetName": "db", "replicas": 4}),
        "production/*/*",
    );
    let answer = h.execute(&body).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        h.kube
            .replicas(warden_test_support::Kind::StatefulSet, "production", "db"),
        Some(4)
    );
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn rollout_restart_writes_kubectls_annotation(pool: PgPool) {
    let h = Harness::new(pool, &[]).await;
    let body = h.request(
        "rollout_restart_deployment",
        json!({"namespace": "production", "deploymentName": "api-deployment"}),
        "production/deployment/api-deployment",
    );
    let answer = h.execute(&body).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let deployment = h.kube.deployment("production", "api-deployment").unwrap();
    let annotation = &deployment["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"];
    assert!(annotation.is_string(), "{deployment}");
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn each_of_the_four_client_serialisations_verifies(pool: PgPool) {
    let h = Harness::new(pool, &[]).await;
    for (i, form) in [
        SignatureForm::PythonDefault,
        SignatureForm::PythonSorted,
        SignatureForm::JsInsertion,
        SignatureForm::JsSorted,
    ]
    .into_iter()
    .enumerate()
    {
        // Arrange: one pod per form so each restart has a target.
        let pod = format!("pod-{i}");
        h.kube.add_pod("default", &pod);
        let claims = h.claims("restart_pod", &format!("default/pod/{pod}"), "ai-engine");
        let body = signed_body(
            "restart_pod",
            json!({"namespace": "default", "podName": pod}),
            "ai-engine",
            h.decision(&claims),
            form,
            SECRET,
        );

        // Act
        let answer = h.execute(&body).await;

        // Assert
        assert_eq!(answer.status, 200, "{form:?}: {}", answer.body);
    }
    let forms: Vec<_> = h
        .rows()
        .await
        .into_iter()
        .filter_map(|r| r.signature_form)
        .collect();
    assert_eq!(
        forms,
        [
            "python_default",
            "python_sorted",
            "js_insertion",
            "js_sorted"
        ]
    );
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn per_client_secrets_override_the_default(pool: PgPool) {
    let h = Harness::new(
        pool,
        &[(
            "EXECUTOR_CLIENT_SECRETS",
            "ai-engine=a-different-secret-for-ai-engine-0001",
        )],
    )
    .await;
    let claims = h.claims("restart_pod", "default/pod/api-pod-12345", "ai-engine");
    let with_default = h.request_with("restart_pod", restart_params(), h.decision(&claims));
    assert_eq!(h.execute(&with_default).await.status, 401);
    let claims = h.claims("restart_pod", "default/pod/api-pod-12345", "ai-engine");
    let with_own = signed_body(
        "restart_pod",
        restart_params(),
        "ai-engine",
        h.decision(&claims),
        SignatureForm::JsInsertion,
        "a-different-secret-for-ai-engine-0001",
    );
    assert_eq!(h.execute(&with_own).await.status, 200);
    h.assert_invariant().await;
}

// ---------------------------------------------------------------------------------------
// Forgeries: each is refused, audited as rejected, and the cluster is untouched.
// ---------------------------------------------------------------------------------------

async fn assert_refused(h: &Harness, body: &str, status: u16, code: &str) -> Answer {
    let answer = h.execute(body).await;
    assert_eq!(answer.status.as_u16(), status, "{}", answer.body);
    assert_eq!(answer.body["success"], false);
    assert_eq!(answer.body["code"], code, "{}", answer.body);
    let rows = h.rows().await;
    let row = rows
        .iter()
        .find(|r| Some(r.id.to_string().as_str()) == answer.body["auditId"].as_str())
        .unwrap_or_else(|| panic!("no audit row for {}", answer.body));
    assert_eq!(row.status, "rejected");
    assert_eq!(row.reason_code.as_deref(), Some(code));
    assert!(h.kube.mutations().is_empty(), "the cluster was touched");
    h.assert_invariant().await;
    answer
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn a_wrong_secret_is_refused(pool: PgPool) {
    let h = Harness::new(pool, &[]).await;
    let claims = h.claims("restart_pod", "default/pod/api-pod-12345", "ai-engine");
    let body = signed_body(
        "restart_pod",
        restart_params(),
        "ai-engine",
        h.decision(&claims),
        SignatureForm::PythonDefault,
        "not-the-secret-0123456789abcdef",
    );
    assert_refused(&h, &body, 401, "bad_signature").await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn tampered_params_are_refused(pool: PgPool) {
    let h = Harness::new(pool, &[]).await;
    let body = h.request("restart_pod", restart_params(), "default/*/*");
    let tampered = body.replace("api-pod-12345", "api-pod-99999");
    h.kube.add_pod("default", "api-pod-99999");
    assert_refused(&h, &tampered, 401, "bad_signature").await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn a_malformed_signature_is_refused(pool: PgPool) {
    let h = Harness::new(pool, &[]).await;
    let mut body: Value = serde_json::from_str(&h.request(
        "restart_pod",
        restart_params(),
        "default/pod/api-pod-12345",
    ))
    .unwrap();
    body["signature"] = json!("not-hex");
    assert_refused(&h, &body.to_string(), 401, "signature_malformed").await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn a_token_for_another_action_is_refused(pool: PgPool) {
    let h = Harness::new(pool, &[]).await;
    let claims = h.claims("scale_deployment", "default/pod/api-pod-12345", "ai-engine");
    let body = h.request_with("restart_pod", restart_params(), h.decision(&claims));
    assert_refused(&h, &body, 403, "token_binding").await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn a_token_for_another_resource_is_refused(pool: PgPool) {
    let h = Harness::new(pool, &[]).await;
    for resource in [
        "default/pod/other-pod",
        "staging/*/*",
        "default/deployment/api-pod-12345",
    ] {
        let claims = h.claims("restart_pod", resource, "ai-engine");
        let body = h.request_with("restart_pod", restart_params(), h.decision(&claims));
        assert_refused(&h, &body, 403, "token_binding").await;
    }
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn a_token_for_another_requester_is_refused(pool: PgPool) {
    let h = Harness::new(pool, &[]).await;
    let claims = h.claims("restart_pod", "default/pod/api-pod-12345", "ops");
    let body = h.request_with("restart_pod", restart_params(), h.decision(&claims));
    assert_refused(&h, &body, 403, "token_binding").await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn an_expired_token_is_refused(pool: PgPool) {
    let h = Harness::new(pool, &[]).await;
    let mut claims = h.claims("restart_pod", "default/pod/api-pod-12345", "ai-engine");
    claims.iat -= 600;
    claims.nbf -= 600;
    claims.exp = chrono::Utc::now().timestamp() - 60;
    let body = h.request_with("restart_pod", restart_params(), h.decision(&claims));
    assert_refused(&h, &body, 403, "token_expired").await;
}

/// A restart body whose decision for `claims` carries `token` in place of its own.
fn restart_with_token(h: &Harness, claims: &DecisionClaims, token: impl Into<Value>) -> String {
    let mut decision = h.decision(claims);
    decision["token"] = token.into();
    h.request_with("restart_pod", restart_params(), decision)
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn a_token_signed_by_another_key_is_refused(pool: PgPool) {
    // Arrange: a token from another signer (unknown kid), and one that claims our kid but
    // is signed with another key.
    let h = Harness::new(pool, &[]).await;
    let other = policy_service::keys::DecisionSigner::ephemeral();
    let claims = h.claims("restart_pod", "default/pod/api-pod-12345", "ai-engine");
    let body = restart_with_token(&h, &claims, other.sign(&claims).unwrap());
    assert_refused(&h, &body, 403, "token_unknown_key").await;

    let pem = policy_service::keys::generate_pem().unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(h.signer.kid().to_owned());
    let claims = h.claims("restart_pod", "default/pod/api-pod-12345", "ai-engine");
    let forged = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap();
    let body = restart_with_token(&h, &claims, forged);
    assert_refused(&h, &body, 403, "token_signature").await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn alg_none_and_hmac_tokens_are_refused(pool: PgPool) {
    let h = Harness::new(pool, &[]).await;
    let claims = h.claims("restart_pod", "default/pod/api-pod-12345", "ai-engine");
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let none_header = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"alg":"none","typ":"JWT","kid":"{}"}}"#,
        h.signer.kid()
    ));
    let body = restart_with_token(&h, &claims, format!("{none_header}.{payload}."));
    assert_refused(&h, &body, 403, "token_algorithm").await;

    // The classic confusion: HS256 keyed with the published public key.
    let x = h.signer.jwks().keys[0].x.clone();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(h.signer.kid().to_owned());
    let claims = h.claims("restart_pod", "default/pod/api-pod-12345", "ai-engine");
    let hs = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(x.as_bytes()),
    )
    .unwrap();
    let body = restart_with_token(&h, &claims, hs);
    assert_refused(&h, &body, 403, "token_algorithm").await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn a_missing_token_is_refused(pool: PgPool) {
    let h = Harness::new(pool, &[]).await;
    let claims = h.claims("restart_pod", "default/pod/api-pod-12345", "ai-engine");
    let mut decision = h.decision(&claims);
    decision.as_object_mut().unwrap().remove("token");
    let body = h.request_with("restart_pod", restart_params(), decision);
    assert_refused(&h, &body, 403, "token_missing").await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn a_decision_marked_not_allowed_is_refused(pool: PgPool) {
    let h = Harness::new(pool, &[]).await;
    let claims = h.claims("restart_pod", "default/pod/api-pod-12345", "ai-engine");
    let mut decision = h.decision(&claims);
    decision["allowed"] = json!(false);
    let body = h.request_with("restart_pod", restart_params(), decision);
    assert_refused(&h, &body, 403, "decision_not_allowed").await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn a_replay_gets_409_and_the_first_attempts_audit_id(pool: PgPool) {
    // Arrange
    let h = Harness::new(pool, &[]).await;
    h.kube.add_pod("default", "api-pod-12345");
    let body = h.request("restart_pod", restart_params(), "default/pod/api-pod-12345");
    let first = h.execute(&body).await;
    assert_eq!(first.status, 200);
    h.kube.add_pod("default", "api-pod-12345");

    // Act
    let replay = h.execute(&body).await;

    // Assert
    assert_eq!(replay.status, 409, "{}", replay.body);
    assert_eq!(replay.body["code"], "replay");
    assert_eq!(replay.body["auditId"], first.body["auditId"]);
    assert!(
        h.kube.pod_exists("default", "api-pod-12345"),
        "the replay did not run"
    );
    let rows = h.rows().await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].status, "rejected");
    assert_eq!(rows[1].reason_code.as_deref(), Some("replay"));
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn protected_namespaces_hold_whatever_the_token_says(pool: PgPool) {
    let h = Harness::new(pool, &[]).await;
    let body = h.request(
        "restart_pod",
        json!({"namespace": "kube-system", "podName": "coredns-1"}),
        "*/*/*",
    );
    assert_refused(&h, &body, 403, "protected_namespace").await;
    assert!(h.kube.pod_exists("kube-system", "coredns-1"));
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn invalid_names_and_replicas_are_refused_with_the_field(pool: PgPool) {
    let h = Harness::new(pool, &[]).await;
    for (action, params, field) in [
        (
            "restart_pod",
            json!({"namespace": "default", "podName": "Bad_Name"}),
            "actionParams.podName",
        ),
        (
            "restart_pod",
            json!({"namespace": "-bad", "podName": "x"}),
            "actionParams.namespace",
        ),
        (
            "restart_pod",
            json!({"namespace": "default"}),
            "actionParams",
        ),
        (
            "restart_pod",
            json!({"namespace": "default", "podName": "x", "extra": 1}),
            "actionParams",
        ),
        (
            "scale_deployment",
            json!({"namespace": "production", "deploymentName": "api-deployment", "replicas": -1}),
            "actionParams.replicas",
        ),
        (
            "scale_deployment",
            json!({"namespace": "production", "deploymentName": "api-deployment", "replicas": 51}),
            "actionParams.replicas",
        ),
        (
            "scale_deployment",
            json!({"namespace": "production", "deploymentName": "api-deployment", "replicas": 2.5}),
            "actionParams.replicas",
        ),
        (
            "scale_deployment",
            json!({"namespace": "production", "deploymentName": "api-deployment", "replicas": "3"}),
            "actionParams.replicas",
        ),
    ] {
        let body = h.request(action, params.clone(), "*/*/*");
        let answer = assert_refused(&h, &body, 400, "invalid_params").await;
        assert!(
            answer.body["field"]
                .as_str()
                .unwrap_or("")
                .starts_with(field),
            "{params}: {}",
            answer.body
        );
    }
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn an_unknown_action_is_refused(pool: PgPool) {
    let h = Harness::new(pool, &[]).await;
    let body = h.request("delete_namespace", json!({"namespace": "default"}), "*/*/*");
    assert_refused(&h, &body, 400, "unknown_action").await;
}

// ---------------------------------------------------------------------------------------
// Dry run
// ---------------------------------------------------------------------------------------

#[sqlx::test(migrator = "MIGRATIONS")]
async fn a_dry_run_request_changes_nothing_and_is_audited_as_such(pool: PgPool) {
    // Arrange
    let h = Harness::new(pool, &[]).await;
    let signed = h.request(
        "scale_deployment",
        json!({"namespace": "production", "deploymentName": "api-deployment", "replicas": 7}),
        "production/deployment/api-deployment",
    );
    // `dryRun` is not signed; appended as text so the signed members keep their order.
    let body = format!("{},\"dryRun\":true}}", signed.strip_suffix('}').unwrap());

    // Act
    let answer = h.execute(&body).await;

    // Assert
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["dryRun"], true);
    assert_eq!(
        h.kube.replicas(
            warden_test_support::Kind::Deployment,
            "production",
            "api-deployment"
        ),
        Some(3)
    );
    assert!(h.kube.mutations().is_empty());
    assert!(
        h.kube.requests().iter().any(|r| r.dry_run),
        "a server-side dry run was sent"
    );
    let rows = h.rows().await;
    assert!(rows[0].dry_run);
    assert_eq!(rows[0].status, "succeeded");
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn executor_wide_dry_run_mode_changes_nothing(pool: PgPool) {
    let h = Harness::new(pool, &[("EXECUTOR_DRY_RUN", "true")]).await;
    let body = h.request("restart_pod", restart_params(), "default/pod/api-pod-12345");
    let answer = h.execute(&body).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["dryRun"], true);
    assert!(h.kube.pod_exists("default", "api-pod-12345"));
    h.assert_invariant().await;
}

// ---------------------------------------------------------------------------------------
// Bad HTTP input
// ---------------------------------------------------------------------------------------

#[sqlx::test(migrator = "MIGRATIONS")]
async fn bad_http_input_gets_4xx_json(pool: PgPool) {
    use axum::body::Body;
    use axum::http::{Request, header};
    let h = Harness::new(pool, &[]).await;
    let big = format!(r#"{{"actionType":"{}"}}"#, "a".repeat(70 * 1024));
    let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    for (name, content_type, body, status, code) in [
        (
            "no content type",
            None,
            "{}".to_owned(),
            415,
            "unsupported_media_type",
        ),
        (
            "text/plain",
            Some("text/plain"),
            "{}".to_owned(),
            415,
            "unsupported_media_type",
        ),
        (
            "too large",
            Some("application/json"),
            big,
            413,
            "payload_too_large",
        ),
        (
            "malformed",
            Some("application/json"),
            "{".to_owned(),
            400,
            "invalid_json",
        ),
        (
            "not an object",
            Some("application/json"),
            "[1]".to_owned(),
            400,
            "invalid_json",
        ),
        ("deep", Some("application/json"), deep, 400, "invalid_json"),
        (
            "missing fields",
            Some("application/json"),
            r#"{"actionType":"restart_pod"}"#.to_owned(),
            400,
            "invalid_request",
        ),
    ] {
        let mut request = Request::post("/executor/execute");
        if let Some(ct) = content_type {
            request = request.header(header::CONTENT_TYPE, ct);
        }
        let answer = send(&h.state, request.body(Body::from(body)).unwrap()).await;
        assert_eq!(answer.status.as_u16(), status, "{name}: {}", answer.body);
        assert_eq!(answer.body["code"], code, "{name}");
    }
    assert!(h.kube.mutations().is_empty());
    h.assert_invariant().await;
}
