//! The harness of the `warden` command-line tests: a real executor served over HTTP on
//! 127.0.0.1 (port 0) with a real Postgres (`#[sqlx::test]`), the fake Kubernetes API
//! server, decision tokens signed by the policy service's own signer, three operators and
//! the admin token; and the built `warden` binary run against it as a person runs it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use executor_service::AppState;
use executor_service::actions::Registry;
use executor_service::config::Config;
use executor_service::signature::{SignatureForm, SignedPayload, sign};
use executor_service::store::postgres::PgStore;
use executor_service::token::DecisionVerifier;
use policy_service::keys::DecisionSigner;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use sqlx::PgPool;
use tokio::sync::oneshot;
use warden_protocol::{ApprovalClaims, GrantScope, SessionRule};
use warden_test_support::FakeKube;
use warden_test_support::claims::ClaimsBuilder;

/// The HMAC secret of every client.
pub const SECRET: &str = "cli-test-secret-0123456789abcdef-0123456789";
/// `EXECUTOR_ADMIN_TOKEN`: the audit API's token.
pub const ADMIN_TOKEN: &str = "cli-test-admin-token-0123456789abcdef";
/// Operator `alice`, role `sre`.
pub const ALICE: &str = "alice-operator-token-0123456789abcdef";
/// Operator `bob`, role `sre`.
pub const BOB: &str = "bob-operator-token-0123456789abcdef";
/// Operator `carol`, role `viewer` only: may read, may not decide `sre` requests.
pub const CAROL: &str = "carol-operator-token-0123456789abcdef";

/// What `warden` printed and how it exited.
#[derive(Debug)]
pub struct Ran {
    /// The exit code.
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Ran {
    /// Asserts exit 0 and returns standard output.
    pub fn ok(&self) -> &str {
        assert_eq!(
            self.code,
            Some(0),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        &self.stdout
    }

    /// Standard output parsed as JSON (after asserting exit 0).
    pub fn json(&self) -> Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
}

/// A running executor with its fake cluster and database.
pub struct Executor {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The cluster it acts on.
    pub kube: FakeKube,
    /// Its audit database.
    pub pool: PgPool,
    signer: DecisionSigner,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for Executor {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn sha(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn config() -> Config {
    let operators = format!(
        "alice:sre:{},bob:sre:{},carol:viewer:{}",
        sha(ALICE),
        sha(BOB),
        sha(CAROL)
    );
    let vars: std::collections::HashMap<&str, String> = [
        ("DATABASE_URL", "postgres://unused-in-tests".to_owned()),
        ("JWT_SECRET", SECRET.to_owned()),
        ("EXECUTOR_KUBE_TIMEOUT_SECONDS", "2".to_owned()),
        ("EXECUTOR_REQUESTS_PER_SECOND", "100000".to_owned()),
        ("EXECUTOR_ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
        ("EXECUTOR_OPERATORS", operators),
    ]
    .into_iter()
    .collect();
    let keys: Vec<&str> = Registry::with_builtins()
        .names()
        .into_iter()
        .map(|(_, key)| key)
        .collect();
    Config::from_lookup(|name| vars.get(name).cloned(), &keys).unwrap()
}

impl Executor {
    /// An executor on `pool` (migrated by `#[sqlx::test]`), serving on 127.0.0.1, with
    /// pods `default/api-pod-12345`, `default/api-pod-67890` and `production/web-1`.
    pub async fn start(pool: PgPool) -> Executor {
        let kube = FakeKube::start().await;
        kube.add_pod("default", "api-pod-12345");
        kube.add_pod("default", "api-pod-67890");
        kube.add_pod("production", "web-1");
        let signer = DecisionSigner::ephemeral();
        let jwks = serde_json::from_value(serde_json::to_value(signer.jwks()).unwrap()).unwrap();
        let verifier = DecisionVerifier::from_jwks(&jwks, Duration::from_secs(5));
        let client =
            executor_service::kube_client::client_for_url(&kube.url(), Duration::from_secs(2))
                .unwrap();
        let state = AppState::new(
            config(),
            Arc::new(PgStore::from_pool(pool.clone())),
            verifier,
            Registry::with_builtins(),
            client,
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(warden_service_kit::serve(
            listener,
            executor_service::app(state),
            async move {
                let _ = stopped.await;
            },
        ));
        Executor {
            url,
            kube,
            pool,
            signer,
            stop: Some(stop),
        }
    }

    /// `POST /executor/execute` of `restart_pod` of `namespace/pod` by `ai-engine`, signed,
    /// with a decision token built by `claims`; the executor's answer.
    pub async fn execute(&self, namespace: &str, pod: &str, claims: ClaimsBuilder) -> (u16, Value) {
        let claims = claims
            .action("restart_pod")
            .resource(format!("{namespace}/pod/{pod}"))
            .subject("ai-engine")
            .build();
        let approval = claims.apr.is_some();
        let decision = json!({
            "allowed": !approval,
            "decision": if approval { "require_approval" } else { "allow" },
            "reason": "test",
            "matchedRule": claims.rule,
            "decisionId": claims.jti,
            "policyVersion": claims.pv,
            "token": self.signer.sign(&claims).unwrap(),
        });
        let body = signed_body(
            "restart_pod",
            json!({"namespace": namespace, "podName": pod}),
            "ai-engine",
            decision,
        );
        let answer = reqwest::Client::new()
            .post(format!("{}/executor/execute", self.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        (status, answer.json().await.unwrap())
    }

    /// An approval request for restarting `namespace/pod` (rule `needs-sre`, role `sre`,
    /// `approvers` people, `session` if given); its `approvalId`.
    pub async fn request_approval(
        &self,
        namespace: &str,
        pod: &str,
        approvers: u32,
        session: Option<GrantScope>,
    ) -> String {
        let approval = ApprovalClaims {
            approvers,
            roles: vec!["sre".into()],
            expires_in: 900,
            session: session.map(|scope| SessionRule {
                scope,
                max_ttl: 3600,
            }),
        };
        let claims = ClaimsBuilder::new().rule("needs-sre").approval(approval);
        let (status, answer) = self.execute(namespace, pod, claims).await;
        assert_eq!(status, 202, "{answer}");
        answer["approvalId"].as_str().unwrap().to_owned()
    }

    /// `GET path` of the API with `token`, as JSON: what `--json` must print.
    pub async fn api_get(&self, path: &str, token: &str) -> Value {
        let answer = reqwest::Client::new()
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{path}: {}", answer.status());
        answer.json().await.unwrap()
    }

    /// Runs `warden args` against this executor with `WARDEN_TOKEN=token`.
    pub async fn warden(&self, token: &str, args: &[&str]) -> Ran {
        warden(&[("WARDEN_URL", &self.url), ("WARDEN_TOKEN", token)], args).await
    }
}

/// Runs the built `warden` with only `env` set, bounded to 30 seconds.
pub async fn warden(env: &[(&str, &str)], args: &[&str]) -> Ran {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_warden"));
    command
        .args(args)
        .env_clear()
        .current_dir(std::env::temp_dir())
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .unwrap_or_else(|_| panic!("warden {args:?} kept running"))
        .unwrap();
    Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// An execute body signed with [`SECRET`] as a JavaScript client signs it (members in
/// insertion order, written by hand since serde_json would sort them).
fn signed_body(action: &str, params: Value, requested_by: &str, decision: Value) -> String {
    let fields = format!(
        r#""actionType":{},"actionParams":{},"requestedBy":{},"policyDecision":{}"#,
        json!(action),
        params,
        json!(requested_by),
        decision
    );
    let unsigned = format!("{{{fields}}}");
    let payload = SignedPayload::from_body(unsigned.as_bytes()).unwrap();
    let signature = sign(&payload, SignatureForm::JsInsertion, SECRET.as_bytes());
    format!(r#"{{{fields},"signature":{}}}"#, json!(signature))
}
