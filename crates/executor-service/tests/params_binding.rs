//! A decision made on the action's parameters binds them (claim `prm`): the executor runs
//! the action only with exactly those, and refuses other `actionParams` as `token_binding`
//! before it touches the cluster. A decision without the claim binds no parameters.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use policy_service::keys::{DecisionSigner, generate_pem};
use policy_service::store::PolicyStore;
use serde_json::{Value, json};
use sqlx::PgPool;
use warden_protocol::params_digest;
use warden_test_support::Kind;
use warden_test_support::router::{post_json, send};

const MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

const DEPLOYMENT: &str = "production/deployment/api-deployment";

fn scale_to(replicas: i64) -> Value {
    json!({"namespace": "production", "deploymentName": "api-deployment", "replicas": replicas})
}

/// A signed execute body of `scale_deployment` with `run`, carrying a decision that binds
/// `decided` (or no parameters).
fn scale_body(h: &Harness, decided: Option<&Value>, run: Value) -> String {
    let mut claims = h.claims("scale_deployment", DEPLOYMENT, "ai-engine");
    claims.prm = decided.map(params_digest);
    h.request_with("scale_deployment", run, h.decision(&claims))
}

fn replicas(h: &Harness) -> Option<i32> {
    h.kube
        .replicas(Kind::Deployment, "production", "api-deployment")
}

/// Asserts a `token_binding` refusal for other parameters, audited as rejected, with the
/// cluster untouched.
async fn assert_refused_for_other_params(h: &Harness, body: &str) {
    let answer = h.execute(body).await;
    assert_eq!(answer.status.as_u16(), 403, "{}", answer.body);
    assert_eq!(answer.body["success"], false);
    assert_eq!(answer.body["code"], "token_binding", "{}", answer.body);
    assert!(
        answer.body["error"]
            .as_str()
            .unwrap()
            .contains("it was issued for other parameters"),
        "{}",
        answer.body
    );
    let rows = h.rows().await;
    let row = rows
        .iter()
        .find(|r| Some(r.id.to_string().as_str()) == answer.body["auditId"].as_str())
        .unwrap_or_else(|| panic!("no audit row for {}", answer.body));
    assert_eq!(row.status, "rejected");
    assert_eq!(row.reason_code.as_deref(), Some("token_binding"));
    assert!(h.kube.mutations().is_empty(), "the cluster was touched");
    assert_eq!(replicas(h), Some(3));
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn other_params_than_the_decision_bound_are_refused(pool: PgPool) {
    // Arrange
    let h = Harness::new(pool, &[]).await;
    let body = scale_body(&h, Some(&scale_to(3)), scale_to(0));

    // Act / Assert
    assert_refused_for_other_params(&h, &body).await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn params_with_a_field_the_decision_did_not_see_are_refused(pool: PgPool) {
    // Arrange: the digest covers the whole object as evaluated, optional fields included.
    let h = Harness::new(pool, &[]).await;
    let mut run = scale_to(3);
    run["expectedReplicas"] = json!(3);
    let body = scale_body(&h, Some(&scale_to(3)), run);

    // Act / Assert
    assert_refused_for_other_params(&h, &body).await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn the_params_the_decision_bound_run(pool: PgPool) {
    // Arrange: same object, other key order and spacing than the client evaluated with.
    let h = Harness::new(pool, &[]).await;
    let decided: Value = serde_json::from_str(
        r#"{ "replicas": 5, "deploymentName": "api-deployment", "namespace": "production" }"#,
    )
    .unwrap();
    let body = scale_body(&h, Some(&decided), scale_to(5));

    // Act
    let answer = h.execute(&body).await;

    // Assert
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["success"], true);
    assert_eq!(replicas(&h), Some(5));
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "succeeded");
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn a_decision_without_the_claim_binds_no_params(pool: PgPool) {
    // Arrange
    let h = Harness::new(pool, &[]).await;
    let body = scale_body(&h, None, scale_to(0));

    // Act
    let answer = h.execute(&body).await;

    // Assert
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(replicas(&h), Some(0));
    h.assert_invariant().await;
}

/// The policy service on `policy` (development mode) signing with `pem`.
fn policy_service_on(
    dir: &std::path::Path,
    policy: &str,
    pem: &std::path::Path,
) -> policy_service::AppState {
    let path = dir.join("policy.yaml");
    std::fs::write(&path, policy).unwrap();
    policy_service::AppState::new(
        Arc::new(PolicyStore::load(&path).unwrap()),
        DecisionSigner::from_files(pem, &[]).unwrap(),
        None,
        Duration::from_secs(60),
        Duration::from_secs(10),
    )
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn asking_with_three_replicas_and_running_zero_is_refused(pool: PgPool) {
    // Arrange: the reported attack, end to end through both services. The policy denies
    // scaling to zero; the engine asks for 3 and then sends 0.
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("key.pem");
    std::fs::write(&pem, generate_pem().unwrap()).unwrap();
    let policy = policy_service_on(
        dir.path(),
        "version: 1
rules:
  - id: no-scale-to-zero
    effect: deny
    reason: scaling to zero takes the service down
    match: {actions: [scale_deployment]}
    when: params.replicas == 0
  - id: allow-scaling
    effect: allow
    reason: the engine may scale
    match: {actions: [scale_deployment]}
",
        &pem,
    );
    let mut h = Harness::new(pool, &[]).await;
    h.signer = Arc::new(DecisionSigner::from_files(&pem, &[]).unwrap());
    h.state = h.replica(&[]);
    let evaluate = |params: Value| {
        let body = json!({
            "action": "scale_deployment", "resource": DEPLOYMENT, "type": "self_healing",
            "context": {"userId": "ai-engine", "role": "service"},
            "params": params,
        });
        send(
            policy_service::app(policy.clone()),
            post_json("/api/v1/policy/evaluate", body.to_string()),
        )
    };

    // Act
    let denied = evaluate(scale_to(0)).await;
    let allowed = evaluate(scale_to(3)).await;
    assert_eq!(denied.body["decision"], "deny", "{}", denied.body);
    assert_eq!(denied.body["matchedRule"], "no-scale-to-zero");
    assert_eq!(allowed.body["decision"], "allow", "{}", allowed.body);
    let attack = h.request_with("scale_deployment", scale_to(0), allowed.body.clone());

    // Assert: refused, and the same decision still runs what it was made for.
    assert_refused_for_other_params(&h, &attack).await;
    let honest = h.request_with("scale_deployment", scale_to(3), allowed.body.clone());
    let answer = h.execute(&honest).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(replicas(&h), Some(3));
    h.assert_invariant().await;
}
