//! Decision keys and the revocation floor over HTTP: the executor served on a real socket,
//! the policy service's JWKS from a stub that can fail (or from the real policy service),
//! real Postgres and the fake Kubernetes API.
//!
//! - when the executor cannot tell whether a key exists (its last JWKS fetch failed), the
//!   answer is 503 `token_keys_unavailable`, however recent that fetch; a `kid` the policy
//!   service really does not publish stays 403 `token_unknown_key`;
//! - a token whose `iat` is below the published `minIat` is 403 `token_revoked`;
//! - keys not refreshed for longer than `EXECUTOR_JWKS_MAX_AGE_SECONDS` refuse every token;
//! - end to end, a token issued before a revoking policy reload is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::{SECRET, config, signed_body};
use executor_service::AppState;
use executor_service::actions::Registry;
use executor_service::signature::SignatureForm;
use executor_service::store::postgres::PgStore;
use executor_service::token::{DecisionVerifier, KeyRefresh};
use policy_service::keys::DecisionSigner;
use policy_service::store::PolicyStore;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::net::TcpListener;
use warden_protocol::{DecisionClaims, TOKEN_AUDIENCE, TOKEN_ISSUER};
use warden_test_support::FakeKube;

const MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

const POD: &str = "api-pod-12345";
const RESOURCE: &str = "default/pod/api-pod-12345";

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// The policy service's JWKS endpoint, as a stub that can be made to fail.
struct JwksStub {
    url: String,
    signer: Arc<DecisionSigner>,
    up: Arc<AtomicBool>,
    min_iat: Arc<AtomicI64>,
}

#[derive(Clone)]
struct StubState {
    signer: Arc<DecisionSigner>,
    up: Arc<AtomicBool>,
    min_iat: Arc<AtomicI64>,
}

async fn stub_jwks(State(stub): State<StubState>) -> Response {
    if !stub.up.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    axum::Json(
        stub.signer
            .jwks_document(stub.min_iat.load(Ordering::SeqCst)),
    )
    .into_response()
}

impl JwksStub {
    async fn start(up: bool) -> JwksStub {
        let signer = Arc::new(DecisionSigner::ephemeral());
        let state = StubState {
            signer: signer.clone(),
            up: Arc::new(AtomicBool::new(up)),
            min_iat: Arc::new(AtomicI64::new(0)),
        };
        let router = axum::Router::new()
            .route("/.well-known/jwks.json", axum::routing::get(stub_jwks))
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        JwksStub {
            url,
            signer,
            up: state.up,
            min_iat: state.min_iat,
        }
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }
}

/// An executor serving on a loopback port, its cluster and its database.
struct Executor {
    url: String,
    state: AppState,
    kube: FakeKube,
    pool: PgPool,
    http: reqwest::Client,
}

impl Executor {
    /// An executor whose `POLICY_URL` is `policy_url`, configured with `overrides`.
    async fn start(pool: PgPool, policy_url: &str, overrides: &[(&str, &str)]) -> Executor {
        let kube = FakeKube::start().await;
        kube.add_pod("default", POD);
        let mut vars = vec![("POLICY_URL", policy_url)];
        vars.extend_from_slice(overrides);
        let config = config(&vars);
        let refresh = KeyRefresh {
            every: config.jwks_refresh,
            max_age: config.jwks_max_age,
        };
        let verifier =
            DecisionVerifier::from_policy_url(&config.policy_url, config.token_leeway, refresh)
                .await;
        let client =
            executor_service::kube_client::client_for_url(&kube.url(), Duration::from_secs(2))
                .unwrap();
        let state = AppState::new(
            config,
            Arc::new(PgStore::from_pool(pool.clone())),
            verifier,
            Registry::with_builtins(),
            client,
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let served = state.clone();
        tokio::spawn(async move {
            executor_service::startup::Application::from_state(listener, served)
                .unwrap()
                .run_until(std::future::pending())
                .await
                .unwrap()
        });
        Executor {
            url,
            state,
            kube,
            pool,
            http: reqwest::Client::new(),
        }
    }

    /// `POST /executor/execute` restarting the pod with `decision`; status and body.
    async fn restart(&self, decision: Value) -> (u16, Value) {
        let body = signed_body(
            "restart_pod",
            json!({"namespace": "default", "podName": POD}),
            "ai-engine",
            decision,
            SignatureForm::JsInsertion,
            SECRET,
        );
        let response = self
            .http
            .post(format!("{}/executor/execute", self.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// `(status, reasonCode)` of every audit row, oldest first.
    async fn audit(&self) -> Vec<(String, Option<String>)> {
        sqlx::query_as(
            r#"SELECT "status", "reasonCode" FROM action_audit_logs ORDER BY "createdAt", "id""#,
        )
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }
}

/// Claims allowing `ai-engine` to restart the pod, issued at `iat`.
fn claims_issued_at(iat: i64) -> DecisionClaims {
    let now = chrono::Utc::now().timestamp();
    DecisionClaims {
        iss: TOKEN_ISSUER.into(),
        aud: TOKEN_AUDIENCE.into(),
        sub: "ai-engine".into(),
        jti: uuid::Uuid::now_v7().to_string(),
        iat,
        nbf: iat.min(now),
        exp: now + 60,
        act: "restart_pod".into(),
        res: RESOURCE.into(),
        pv: "sha256:test".into(),
        rule: "test-rule".into(),
        prm: None,
        apr: None,
    }
}

/// The `policyDecision` the policy service would answer for `claims`, signed by `signer`.
fn decision(signer: &DecisionSigner, claims: &DecisionClaims) -> Value {
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
        "token": signer.sign(claims).unwrap(),
    })
}

fn fresh_decision(signer: &DecisionSigner) -> Value {
    decision(signer, &claims_issued_at(chrono::Utc::now().timestamp()))
}

/// Background refreshes far apart, so that only the requests of a test fetch the keys.
const QUIET: &[(&str, &str)] = &[
    ("EXECUTOR_JWKS_REFRESH_SECONDS", "60"),
    ("EXECUTOR_JWKS_MAX_AGE_SECONDS", "120"),
];

fn rejected(code: &str) -> (String, Option<String>) {
    ("rejected".to_owned(), Some(code.to_owned()))
}

// ---------------------------------------------------------------------------------------
// Keys that cannot be fetched
// ---------------------------------------------------------------------------------------

#[sqlx::test(migrator = "MIGRATIONS")]
async fn keys_never_fetched_are_unavailable_on_every_request(pool: PgPool) {
    // Arrange: the policy service's JWKS fails from the start.
    let stub = JwksStub::start(false).await;
    let executor = Executor::start(pool, &stub.url, QUIET).await;

    // Act: two valid tokens in quick succession, within a second of the failed fetch.
    let first = executor.restart(fresh_decision(&stub.signer)).await;
    let second = executor.restart(fresh_decision(&stub.signer)).await;

    // Assert
    for (status, body) in [&first, &second] {
        assert_eq!(*status, 503, "{body}");
        assert_eq!(body["code"], "token_keys_unavailable");
    }
    assert_eq!(
        executor.audit().await,
        vec![rejected("token_keys_unavailable"); 2]
    );
    assert!(executor.kube.requests().is_empty());
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn a_new_kid_while_the_keys_cannot_be_fetched_is_unavailable_not_unknown(pool: PgPool) {
    // Arrange: keys fetched, then the policy service rotates its key and its JWKS fails.
    let stub = JwksStub::start(true).await;
    let executor = Executor::start(pool, &stub.url, QUIET).await;
    stub.set_up(false);
    let rotated = DecisionSigner::ephemeral();
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // Act: the first request fetches (and fails), the second comes within the second.
    let first = executor.restart(fresh_decision(&rotated)).await;
    let second = executor.restart(fresh_decision(&rotated)).await;

    // Assert
    for (status, body) in [&first, &second] {
        assert_eq!(*status, 503, "{body}");
        assert_eq!(body["code"], "token_keys_unavailable");
    }
    assert_eq!(
        executor.audit().await,
        vec![rejected("token_keys_unavailable"); 2]
    );
    assert!(executor.kube.requests().is_empty());
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn a_kid_the_policy_service_does_not_publish_is_unknown(pool: PgPool) {
    // Arrange: the JWKS answers, without the key that signed the token.
    let stub = JwksStub::start(true).await;
    let executor = Executor::start(pool, &stub.url, QUIET).await;
    let stranger = DecisionSigner::ephemeral();

    // Act: once within a second of the last fetch, once after a refetch.
    let first = executor.restart(fresh_decision(&stranger)).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = executor.restart(fresh_decision(&stranger)).await;

    // Assert
    for (status, body) in [&first, &second] {
        assert_eq!(*status, 403, "{body}");
        assert_eq!(body["code"], "token_unknown_key");
    }
    assert_eq!(
        executor.audit().await,
        vec![rejected("token_unknown_key"); 2]
    );
    assert!(executor.kube.requests().is_empty());
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn keys_not_refreshed_within_the_bound_refuse_every_token(pool: PgPool) {
    // Arrange: refreshed every second, trusted for two.
    let stub = JwksStub::start(true).await;
    let executor = Executor::start(
        pool,
        &stub.url,
        &[
            ("EXECUTOR_JWKS_REFRESH_SECONDS", "1"),
            ("EXECUTOR_JWKS_MAX_AGE_SECONDS", "2"),
            ("EXECUTOR_DRY_RUN", "true"),
        ],
    )
    .await;
    let before = executor.restart(fresh_decision(&stub.signer)).await;

    // Act: the JWKS fails for longer than the bound, then recovers.
    stub.set_up(false);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let stale = executor.restart(fresh_decision(&stub.signer)).await;
    stub.set_up(true);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let after = executor.restart(fresh_decision(&stub.signer)).await;

    // Assert: a key the executor holds is not enough once the floor may be stale.
    assert_eq!(before.0, 200, "{}", before.1);
    assert_eq!(stale.0, 503, "{}", stale.1);
    assert_eq!(stale.1["code"], "token_keys_unavailable");
    assert_eq!(after.0, 200, "{}", after.1);
    let audit = executor.audit().await;
    assert_eq!(audit[1], rejected("token_keys_unavailable"));
}

// ---------------------------------------------------------------------------------------
// The revocation floor
// ---------------------------------------------------------------------------------------

#[sqlx::test(migrator = "MIGRATIONS")]
async fn a_token_issued_before_the_floor_is_revoked(pool: PgPool) {
    // Arrange: the policy service publishes a floor of now.
    let now = chrono::Utc::now().timestamp();
    let stub = JwksStub::start(true).await;
    stub.min_iat.store(now, Ordering::SeqCst);
    let executor = Executor::start(pool, &stub.url, QUIET).await;
    assert_eq!(executor.state.verifier().min_iat(), now);

    // Act
    let (status, body) = executor
        .restart(decision(&stub.signer, &claims_issued_at(now - 10)))
        .await;

    // Assert: refused, audited with its reason, nothing sent to the cluster.
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "token_revoked");
    assert_eq!(executor.audit().await, vec![rejected("token_revoked")]);
    assert!(executor.kube.requests().is_empty());
    assert!(executor.kube.pod_exists("default", POD));

    // Act + Assert: a token issued at the floor runs.
    let (status, body) = executor
        .restart(decision(&stub.signer, &claims_issued_at(now)))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(!executor.kube.pod_exists("default", POD));
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn a_lower_floor_from_a_lagging_replica_does_not_lower_it(pool: PgPool) {
    // Arrange
    let now = chrono::Utc::now().timestamp();
    let stub = JwksStub::start(true).await;
    stub.min_iat.store(now, Ordering::SeqCst);
    let executor = Executor::start(pool, &stub.url, QUIET).await;

    // Act
    stub.min_iat.store(0, Ordering::SeqCst);
    executor.state.verifier().refresh(true).await.unwrap();
    let (status, body) = executor
        .restart(decision(&stub.signer, &claims_issued_at(now - 10)))
        .await;

    // Assert
    assert_eq!(executor.state.verifier().min_iat(), now);
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "token_revoked");
}

// ---------------------------------------------------------------------------------------
// End to end, with the real policy service
// ---------------------------------------------------------------------------------------

const ALLOW: &str = r#"
version: 1
rules:
  - id: allow-restart
    effect: allow
    reason: restarts are fine
    match:
      actions: restart_pod
"#;

const ALLOW_REWORDED: &str = r#"
version: 1
rules:
  - id: allow-restart
    effect: allow
    reason: restarts are still fine
    match:
      actions: restart_pod
"#;

/// The policy service on a loopback port, on the policy at `path`, watching it.
async fn start_policy_service(path: &Path, revokes: bool) -> (String, policy_service::AppState) {
    let store = PolicyStore::load(path).unwrap().revoking(revokes);
    let state = policy_service::AppState::new(
        Arc::new(store),
        DecisionSigner::ephemeral(),
        None,
        Duration::from_secs(60),
        Duration::from_secs(10),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = state.clone();
    tokio::spawn(async move {
        policy_service::startup::Application::from_state(
            listener,
            served,
            Duration::from_millis(50),
        )
        .unwrap()
        .run_until(std::future::pending())
        .await
        .unwrap()
    });
    (url, state)
}

/// An allowed decision for restarting the pod, from the policy service at `url`.
async fn evaluate(url: &str) -> Value {
    let decision: Value = reqwest::Client::new()
        .post(format!("{url}/api/v1/policy/evaluate"))
        .json(&json!({
            "action": "restart_pod",
            "resource": RESOURCE,
            "context": {"userId": "ai-engine"},
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(decision["allowed"], true, "{decision}");
    decision
}

/// Rewrites the policy and waits (bounded) for the watcher to put it in force.
async fn change_policy(path: &Path, policy: &policy_service::AppState, content: &str) {
    let before = policy.policy().current().version().to_owned();
    std::fs::write(path, content).unwrap();
    for _ in 0..200 {
        if policy.policy().current().version() != before {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the policy service did not reload");
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn a_token_issued_before_a_revoking_reload_is_refused(pool: PgPool) {
    // Arrange: both services, the executor refreshing its keys every second.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.yaml");
    std::fs::write(&path, ALLOW).unwrap();
    let (policy_url, policy) = start_policy_service(&path, true).await;
    let executor = Executor::start(
        pool,
        &policy_url,
        &[
            ("EXECUTOR_JWKS_REFRESH_SECONDS", "1"),
            ("EXECUTOR_JWKS_MAX_AGE_SECONDS", "10"),
        ],
    )
    .await;
    let issued_before = evaluate(&policy_url).await;

    // Act: the operator changes the policy; the executor learns the new floor by itself.
    change_policy(&path, &policy, ALLOW_REWORDED).await;
    let floor = policy.policy().min_iat();
    let mut learnt = false;
    for _ in 0..100 {
        if executor.state.verifier().min_iat() >= floor {
            learnt = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, body) = executor.restart(issued_before).await;

    // Assert: the old token is refused, audited, and nothing reached the cluster.
    assert!(
        learnt,
        "the executor did not learn the raised floor within 5 s"
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "token_revoked");
    assert_eq!(executor.audit().await, vec![rejected("token_revoked")]);
    assert!(executor.kube.requests().is_empty());

    // Act + Assert: a decision under the reloaded policy runs.
    let (status, body) = executor.restart(evaluate(&policy_url).await).await;
    assert_eq!(status, 200, "{body}");
    assert!(!executor.kube.pod_exists("default", POD));
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn without_revoking_mode_a_reload_leaves_earlier_tokens_valid(pool: PgPool) {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.yaml");
    std::fs::write(&path, ALLOW).unwrap();
    let (policy_url, policy) = start_policy_service(&path, false).await;
    let executor = Executor::start(pool, &policy_url, QUIET).await;
    let issued_before = evaluate(&policy_url).await;

    // Act
    change_policy(&path, &policy, ALLOW_REWORDED).await;
    executor.state.verifier().refresh(true).await.unwrap();
    let (status, body) = executor.restart(issued_before).await;

    // Assert
    assert_eq!(policy.policy().min_iat(), 0);
    assert_eq!(status, 200, "{body}");
    assert!(!executor.kube.pod_exists("default", POD));
}
