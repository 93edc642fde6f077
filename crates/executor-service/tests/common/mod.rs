//! The executor's integration-test harness: a real Postgres (one fresh database per test
//! from `#[sqlx::test]`), the fake Kubernetes API server over HTTP, and decision tokens
//! signed by the policy service's own signer.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod approvals;
pub mod proxy;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use executor_service::actions::Registry;
use executor_service::config::Config;
use executor_service::signature::{SignatureForm, SignedPayload, sign};
use executor_service::store::postgres::PgStore;
use executor_service::token::DecisionVerifier;
use executor_service::{AppState, app};
use policy_service::keys::DecisionSigner;
use serde_json::{Value, json};
use sqlx::PgPool;
use warden_protocol::DecisionClaims;
use warden_test_support::FakeKube;
use warden_test_support::claims::ClaimsBuilder;
pub use warden_test_support::router::Answer;
use warden_test_support::router::{self, get_with_bearer, post_json};

/// The read-only actions: their rows change nothing, so the invariant leaves them out.
pub const READ_ACTIONS: [&str; 3] = ["get_pod_logs", "get_workload_status", "list_events"];

/// The HMAC secret of every client in these tests.
pub const SECRET: &str = "test-secret-0123456789abcdef-0123456789";

/// The `EXECUTOR_ADMIN_TOKEN` of tests that turn the audit API on.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef-0123456789";

/// A running executor (in-process router), its fake cluster and its database.
pub struct Harness {
    pub state: AppState,
    pub kube: FakeKube,
    pub signer: Arc<DecisionSigner>,
    pub pool: PgPool,
}

/// Environment for [`Config::from_lookup`], with `overrides` applied.
pub fn config(overrides: &[(&str, &str)]) -> Config {
    let mut vars: std::collections::HashMap<String, String> = [
        ("DATABASE_URL", "postgres://unused-in-tests"),
        ("JWT_SECRET", SECRET),
        ("EXECUTOR_KUBE_TIMEOUT_SECONDS", "2"),
        ("EXECUTOR_REQUESTS_PER_SECOND", "100000"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in overrides {
        vars.insert(k.to_string(), v.to_string());
    }
    let keys: Vec<&str> = Registry::with_builtins()
        .names()
        .into_iter()
        .map(|(_, k)| k)
        .collect();
    Config::from_lookup(|name| vars.get(name).cloned(), &keys).unwrap()
}

impl Harness {
    /// A harness on `pool` (migrated by `#[sqlx::test]`) with a seeded fake cluster.
    pub async fn new(pool: PgPool, overrides: &[(&str, &str)]) -> Harness {
        let kube = FakeKube::start().await;
        kube.add_pod("default", "api-pod-12345");
        kube.add_pod("production", "web-1");
        kube.add_pod("kube-system", "coredns-1");
        kube.add_deployment("production", "api-deployment", 3);
        kube.add_statefulset("production", "db", 2);
        let signer = Arc::new(DecisionSigner::ephemeral());
        let state = Harness::state_for(&pool, &kube, &signer, overrides);
        Harness {
            state,
            kube,
            signer,
            pool,
        }
    }

    /// Another executor instance on the same database and cluster (as a second replica).
    pub fn replica(&self, overrides: &[(&str, &str)]) -> AppState {
        Harness::state_for(&self.pool, &self.kube, &self.signer, overrides)
    }

    fn state_for(
        pool: &PgPool,
        kube: &FakeKube,
        signer: &DecisionSigner,
        overrides: &[(&str, &str)],
    ) -> AppState {
        let store = Arc::new(PgStore::from_pool(pool.clone()));
        Harness::build(store, kube, signer, overrides)
    }

    /// This harness's executor with another audit store (same cluster, keys and config).
    pub fn state_with_store(
        &self,
        store: Arc<dyn executor_service::store::AuditStore>,
    ) -> AppState {
        self.state_with_store_and(store, &[])
    }

    /// Like [`Harness::state_with_store`], with configuration `overrides`.
    pub fn state_with_store_and(
        &self,
        store: Arc<dyn executor_service::store::AuditStore>,
        overrides: &[(&str, &str)],
    ) -> AppState {
        Harness::build(store, &self.kube, &self.signer, overrides)
    }

    /// This harness's executor without a cluster (as `cargo run` without a kubeconfig),
    /// on `store`.
    pub fn state_without_cluster(
        &self,
        store: Arc<dyn executor_service::store::AuditStore>,
    ) -> AppState {
        AppState::without_cluster(
            config(&[]),
            store,
            Harness::verifier(&self.signer),
            Registry::with_builtins(),
        )
    }

    fn verifier(signer: &DecisionSigner) -> DecisionVerifier {
        let jwks = serde_json::from_value(serde_json::to_value(signer.jwks()).unwrap()).unwrap();
        DecisionVerifier::from_jwks(&jwks, Duration::from_secs(5))
    }

    fn build(
        store: Arc<dyn executor_service::store::AuditStore>,
        kube: &FakeKube,
        signer: &DecisionSigner,
        overrides: &[(&str, &str)],
    ) -> AppState {
        let verifier = Harness::verifier(signer);
        let client =
            executor_service::kube_client::client_for_url(&kube.url(), Duration::from_secs(2))
                .unwrap();
        AppState::new(
            config(overrides),
            store,
            verifier,
            Registry::with_builtins(),
            client,
        )
    }

    /// Claims for an allowed decision.
    pub fn claims(&self, action: &str, resource: &str, subject: &str) -> DecisionClaims {
        ClaimsBuilder::new()
            .action(action)
            .resource(resource)
            .subject(subject)
            .build()
    }

    /// The `policyDecision` object the policy service would return for `claims`.
    pub fn decision(&self, claims: &DecisionClaims) -> Value {
        json!({
            "allowed": true,
            "decision": "allow",
            "reason": "test",
            "matchedRule": claims.rule,
            "decisionId": claims.jti,
            "policyVersion": claims.pv,
            "expiresAt": "2099-01-01T00:00:00Z",
            "action": claims.act,
            "resource": claims.res,
            "subject": claims.sub,
            "token": self.signer.sign(claims).unwrap(),
        })
    }

    /// A signed execute body for an allowed decision bound to exactly this request.
    pub fn request(&self, action: &str, params: Value, resource: &str) -> String {
        let claims = self.claims(action, resource, "ai-engine");
        self.request_with(action, params, self.decision(&claims))
    }

    /// An execute body from `ai-engine` carrying `decision` as is, signed as a JavaScript
    /// client signs it with [`SECRET`]: for decisions that do not match the request.
    pub fn request_with(&self, action: &str, params: Value, decision: Value) -> String {
        signed_body(
            action,
            params,
            "ai-engine",
            decision,
            SignatureForm::JsInsertion,
            SECRET,
        )
    }

    /// `GET path` on this harness's executor with the admin token ([`ADMIN_TOKEN`], which
    /// the harness must have been configured with for the audit API to exist).
    pub async fn admin_get(&self, path: &str) -> Answer {
        get_on(&self.state, path, Some(ADMIN_TOKEN)).await
    }

    /// `POST /executor/execute` with `body` on this harness's executor.
    pub async fn execute(&self, body: &str) -> Answer {
        execute_on(&self.state, body).await
    }

    /// Audit rows, oldest first.
    pub async fn rows(&self) -> Vec<AuditRow> {
        sqlx::query_as::<_, AuditRow>(
            r#"SELECT "id", "actionType", "requestedBy", "decisionId", "status", "reasonCode", "error", "result", "dryRun", "namespace", "targetName", "signatureForm", "policyDecision", "requestId"
               FROM action_audit_logs ORDER BY "createdAt", "id""#,
        )
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    /// The invariant every test ends with: each mutation the cluster saw has a
    /// `succeeded` non-dry-run audit row of a write and vice versa, no read is `unknown`,
    /// and no row is left `pending`.
    pub async fn assert_invariant(&self) {
        // The final update runs in a task that outlives the response, so wait (bounded)
        // for pending rows to settle before comparing.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut rows = self.rows().await;
        while rows.iter().any(|r| r.status == "pending") && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
            rows = self.rows().await;
        }
        let is_read = |r: &AuditRow| {
            r.action_type
                .as_deref()
                .is_some_and(|a| READ_ACTIONS.contains(&a))
        };
        let succeeded = rows
            .iter()
            .filter(|r| r.status == "succeeded" && !r.dry_run && !is_read(r))
            .count();
        assert!(
            !rows.iter().any(|r| is_read(r) && r.status == "unknown"),
            "a read has an unknown outcome: {rows:#?}"
        );
        let mutations = self.kube.mutations().len();
        assert_eq!(
            mutations, succeeded,
            "mutations at the fake vs succeeded rows: {rows:#?}"
        );
        assert!(
            rows.iter().all(|r| r.status != "pending"),
            "a row is still pending: {rows:#?}"
        );
    }
}

/// Builds an execute body whose `signature` is `form`'s HMAC with `secret`.
pub fn signed_body(
    action: &str,
    params: Value,
    requested_by: &str,
    decision: Value,
    form: SignatureForm,
    secret: &str,
) -> String {
    // Written by hand in a client's insertion order (not serde_json's, which sorts keys
    // unless a feature elsewhere in the build turns on preserve_order), so the insertion
    // and sorted forms of the body really differ.
    let fields = format!(
        r#""actionType":{},"actionParams":{},"requestedBy":{},"policyDecision":{}"#,
        json!(action),
        params,
        json!(requested_by),
        decision
    );
    let unsigned = format!("{{{fields}}}");
    let payload = SignedPayload::from_body(unsigned.as_bytes()).unwrap();
    let signature = sign(&payload, form, secret.as_bytes());
    format!(r#"{{{fields},"signature":{}}}"#, json!(signature))
}

/// Sends an execute request through `state`'s router.
pub async fn execute_on(state: &AppState, body: &str) -> Answer {
    send(state, post_json("/executor/execute", body.to_owned())).await
}

/// `GET path` through `state`'s router, with `Authorization: Bearer <token>` when given.
pub async fn get_on(state: &AppState, path: &str, token: Option<&str>) -> Answer {
    send(state, get_with_bearer(path, token)).await
}

/// Sends any request through `state`'s router.
pub async fn send(state: &AppState, request: Request<Body>) -> Answer {
    router::send(app(state.clone()), request).await
}

/// One audit row, the columns tests look at.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub id: uuid::Uuid,
    #[sqlx(rename = "actionType")]
    pub action_type: Option<String>,
    #[sqlx(rename = "requestedBy")]
    pub requested_by: Option<String>,
    #[sqlx(rename = "decisionId")]
    pub decision_id: Option<String>,
    pub status: String,
    #[sqlx(rename = "reasonCode")]
    pub reason_code: Option<String>,
    pub error: Option<String>,
    pub result: Option<Value>,
    #[sqlx(rename = "dryRun")]
    pub dry_run: bool,
    pub namespace: Option<String>,
    #[sqlx(rename = "targetName")]
    pub target_name: Option<String>,
    #[sqlx(rename = "signatureForm")]
    pub signature_form: Option<String>,
    #[sqlx(rename = "policyDecision")]
    pub policy_decision: Option<Value>,
    #[sqlx(rename = "requestId")]
    pub request_id: Option<String>,
}
