//! The cost of each stage of `POST /executor/execute`, in process, on the request
//! `bench/executor-load` sends (a `scale_deployment` of `load/api` carrying a whole policy
//! decision and its token). Run with `cargo bench -p warden-bench --bench executor_stages`.
//!
//! - `parse`: what the executor does first with the body (step 2 of `execute.rs`): the
//!   nesting check, `serde_json::Value`, the copy of what the body claims into the audit
//!   record, `ExecuteRequest` through `serde_path_to_error`, and the action's parameters
//!   parsed and validated.
//! - `hmac/*`: `SignedPayload::from_body` and `verify` with the client's secret (step 3),
//!   for a `python_default` signature (the first form tried) and a `js_insertion` one (the
//!   third, after two renders and HMACs: what `warden-load` sends).
//! - `token`: `DecisionVerifier::verify` of the EdDSA decision token with the key already
//!   loaded (step 4): header, Ed25519 signature, claims. The binding checks after it are
//!   string comparisons. Beside it, in the same run: `token_jsonwebtoken`, the same checks
//!   through `jsonwebtoken::decode` (what the executor did before it checked the JWS
//!   itself), and `ed25519_verify`, the signature check alone (the floor).
//! - `budget_audit`: `PgStore::begin` (single use, budget slot and pending row in one
//!   durable transaction) then `PgStore::finish` (the final row), one attempt at a time on
//!   one connection, against the Postgres of `DATABASE_URL` (default
//!   `postgres://postgres@127.0.0.1:5432/postgres`) in a scratch database
//!   `warden_bench_stages` that is dropped afterwards. Skipped, with a message, when there
//!   is no Postgres. This is the latency of two commits (each a WAL flush), not the
//!   throughput under concurrency, which `bench/executor-load` measures.
//! - `cluster_call`: the prepared scale action run against the fake Kubernetes API server
//!   (`warden-test-support`, in process, over loopback HTTP, as in `bench/executor-load`)
//!   with the executor's own client: a GET and a PATCH of the scale subresource. A real API
//!   server costs more; this is the executor's side of the call.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use executor_service::actions::{Cluster, Limits, Registry};
use executor_service::signature::{SignatureForm, SignedPayload, sign};
use executor_service::store::postgres::PgStore;
use executor_service::store::{Attempt, AuditStore, Begin, Budget, Completion, Outcome};
use executor_service::token::DecisionVerifier;
use policy_service::keys::DecisionSigner;
use serde_json::{Value, json};
use warden_protocol::{DecisionClaims, ExecuteRequest, TOKEN_AUDIENCE, TOKEN_ISSUER};
use warden_test_support::FakeKube;
use warden_test_support::claims::ClaimsBuilder;

const SECRET: &[u8] = b"bench-secret-0123456789abcdef-0123456789";
const NAMESPACE: &str = "load";
const DEPLOYMENT: &str = "api";
const SCRATCH_DB: &str = "warden_bench_stages";
const DROP_SCRATCH: &str = "DROP DATABASE IF EXISTS warden_bench_stages WITH (FORCE)";
const CREATE_SCRATCH: &str = "CREATE DATABASE warden_bench_stages";

/// Fresh decision claims for `scale_deployment` of `load/api`.
fn claims() -> DecisionClaims {
    ClaimsBuilder::new()
        .action("scale_deployment")
        .resource(format!("{NAMESPACE}/deployment/{DEPLOYMENT}"))
        .policy_version("sha256:4d1f0c2a9e6b7d3f8a5c1e0b2d4f6a8c9e1b3d5f7a9c0e2b4d6f8a1c3e5b7d9f")
        .rule("allow-ai-remediation")
        .valid_for(3600)
        .build()
}

/// An execute body as a client sends it: the policy service's whole answer as
/// `policyDecision`, signed in `form`.
fn execute_body(signer: &DecisionSigner, form: SignatureForm) -> Vec<u8> {
    let claims = claims();
    let token = signer.sign(&claims).unwrap();
    let unsigned = json!({
        "actionType": "scale_deployment",
        "actionParams": {"namespace": NAMESPACE, "deploymentName": DEPLOYMENT, "replicas": 3},
        "requestedBy": "ai-engine",
        "policyDecision": {
            "allowed": true,
            "decision": "allow",
            "reason": "The AI engine may restart pods and scale deployments during high or critical incidents",
            "matchedRule": claims.rule,
            "decisionId": claims.jti,
            "policyVersion": claims.pv,
            "expiresAt": "2026-11-22T10:01:00Z",
            "action": claims.act,
            "resource": claims.res,
            "subject": claims.sub,
            "token": token,
        },
    });
    let payload = SignedPayload::from_body(unsigned.to_string().as_bytes()).unwrap();
    let mut body = unsigned;
    body["signature"] = json!(sign(&payload, form, SECRET));
    body.to_string().into_bytes()
}

/// Step 2 of the executor's handler, as `execute.rs` does it.
fn parse(body: &[u8], registry: &Registry, limits: &Limits) -> (ExecuteRequest, Attempt) {
    assert!(warden_protocol::json_nesting_depth(body) <= 64);
    let value: Value = serde_json::from_slice(body).unwrap();
    assert!(value.is_object());
    let mut attempt = Attempt {
        id: uuid::Uuid::now_v7(),
        ..Attempt::default()
    };
    executor_service::execute::record_claims(&mut attempt, &value);
    let request: ExecuteRequest = serde_path_to_error::deserialize(&value).unwrap();
    let prepared = registry
        .get(&request.action_type)
        .unwrap()
        .prepare(&request.action_params, limits)
        .unwrap();
    let target = prepared.target();
    attempt.namespace = Some(target.namespace.clone());
    attempt.target_kind = Some(target.kind.to_owned());
    attempt.target_name = Some(target.name.clone());
    (request, attempt)
}

/// Polls a future that must complete without waiting (the verifier with its key loaded
/// never awaits anything), so the measurement carries no runtime overhead.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the future waited"),
    }
}

fn cpu_stages(c: &mut Criterion) {
    let signer = DecisionSigner::ephemeral();
    let registry = Registry::with_builtins();
    let limits = Limits { max_replicas: 100 };
    let body = execute_body(&signer, SignatureForm::PythonDefault);
    let js_body = execute_body(&signer, SignatureForm::JsInsertion);
    eprintln!("execute body: {} bytes", body.len());

    let mut group = c.benchmark_group("executor_stages");
    group.bench_function("parse", |b| {
        b.iter(|| black_box(parse(black_box(&body), &registry, &limits)))
    });

    for (name, body, form) in [
        ("hmac/python_default", &body, SignatureForm::PythonDefault),
        ("hmac/js_insertion", &js_body, SignatureForm::JsInsertion),
    ] {
        let (request, _) = parse(body, &registry, &limits);
        let payload = SignedPayload::from_body(body).unwrap();
        assert_eq!(payload.verify(&request.signature, SECRET), Ok(form));
        group.bench_function(name, |b| {
            b.iter(|| {
                let payload = SignedPayload::from_body(black_box(body)).unwrap();
                black_box(payload.verify(&request.signature, SECRET).unwrap())
            })
        });
    }

    let jwks = serde_json::from_value(serde_json::to_value(signer.jwks()).unwrap()).unwrap();
    let verifier = DecisionVerifier::from_jwks(&jwks, Duration::from_secs(5));
    let (request, _) = parse(&body, &registry, &limits);
    let token = request.policy_decision["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        ready(verifier.verify(&token)).unwrap().act,
        "scale_deployment"
    );
    group.bench_function("token", |b| {
        b.iter(|| black_box(ready(verifier.verify(black_box(&token))).unwrap()))
    });

    // The baseline: the executor's previous verification, through jsonwebtoken.
    let x = &signer.jwks().keys[0].x;
    let key = jsonwebtoken::DecodingKey::from_ed_components(x).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.leeway = 5;
    validation.validate_nbf = true;
    validation.set_audience(&[TOKEN_AUDIENCE]);
    validation.set_issuer(&[TOKEN_ISSUER]);
    validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub", "jti"]);
    group.bench_function("token_jsonwebtoken", |b| {
        b.iter(|| {
            let header = jsonwebtoken::decode_header(black_box(&token)).unwrap();
            assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
            black_box(jsonwebtoken::decode::<DecisionClaims>(&token, &key, &validation).unwrap())
        })
    });

    // The floor: the Ed25519 signature check alone, key already decompressed.
    let public = URL_SAFE_NO_PAD.decode(x).unwrap();
    let public =
        ed25519_dalek::VerifyingKey::from_bytes(&<[u8; 32]>::try_from(public.as_slice()).unwrap())
            .unwrap();
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let signature =
        ed25519_dalek::Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
    group.bench_function("ed25519_verify", |b| {
        b.iter(|| {
            ed25519_dalek::Verifier::verify(&public, black_box(signed.as_bytes()), &signature)
                .unwrap()
        })
    });
    group.finish();
}

/// A scratch database on the Postgres of `DATABASE_URL`, migrated; `None` without Postgres.
async fn scratch_store(base_url: &str) -> Option<(PgStore, String)> {
    let admin = match PgStore::connect(base_url, 1).await {
        Ok(store) => store,
        Err(err) => {
            eprintln!("budget_audit skipped: {err}");
            return None;
        }
    };
    let recreate = async {
        sqlx::query(DROP_SCRATCH).execute(admin.pool()).await?;
        sqlx::query(CREATE_SCRATCH).execute(admin.pool()).await
    };
    if let Err(err) = recreate.await {
        eprintln!(
            "budget_audit skipped: cannot create database {SCRATCH_DB} on DATABASE_URL: {err}"
        );
        return None;
    }
    admin.pool().close().await;
    let url = match base_url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{SCRATCH_DB}"),
        None => {
            eprintln!("budget_audit skipped: DATABASE_URL has no database name");
            return None;
        }
    };
    let store = PgStore::connect(&url, 1).await.ok()?;
    if let Err(err) = store.migrate().await {
        eprintln!("budget_audit skipped: {err}");
        return None;
    }
    Some((store, base_url.to_owned()))
}

async fn drop_scratch(base_url: &str) {
    if let Ok(admin) = PgStore::connect(base_url, 1).await {
        let _ = sqlx::query(DROP_SCRATCH).execute(admin.pool()).await;
        admin.pool().close().await;
    }
}

fn io_stages(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let signer = DecisionSigner::ephemeral();
    let registry = Registry::with_builtins();
    let limits = Limits { max_replicas: 100 };
    let body = execute_body(&signer, SignatureForm::PythonDefault);
    let (request, template) = parse(&body, &registry, &limits);

    let mut group = c.benchmark_group("executor_stages");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(5));

    let base_url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    if let Some((store, base_url)) = runtime.block_on(scratch_store(&base_url)) {
        // As `bench/executor-load` sets it: a budget that never runs out at this rate.
        let budget = Budget {
            key: "scale".into(),
            max: 5_000,
            ttl: Duration::from_secs(1),
        };
        let completion = Completion {
            outcome: Outcome::Succeeded {
                result: json!({"namespace": NAMESPACE, "deployment": DEPLOYMENT,
                               "previousReplicas": 2, "replicas": 3}),
            },
            duration: Duration::from_millis(3),
        };
        let attempt = |template: &Attempt| {
            let id = uuid::Uuid::now_v7();
            Attempt {
                id,
                // Each attempt consumes its own decision, as each load request does.
                decision_id: Some(id.to_string()),
                policy_version: Some("sha256:load".into()),
                signature_form: Some("python_default".into()),
                client_ip: Some("127.0.0.1".into()),
                ..template.clone()
            }
        };
        // The first begin creates the budget's slot rows: outside the measurement.
        runtime.block_on(async {
            let first = attempt(&template);
            assert_eq!(store.begin(&first, &budget).await.unwrap(), Begin::Started);
            store.finish(first.id, &completion).await.unwrap();
        });
        group.bench_function("budget_audit", |b| {
            b.iter(|| {
                let attempt = attempt(&template);
                runtime.block_on(async {
                    assert_eq!(
                        store.begin(&attempt, &budget).await.unwrap(),
                        Begin::Started
                    );
                    store.finish(attempt.id, &completion).await.unwrap();
                })
            })
        });
        runtime.block_on(async {
            store.pool().close().await;
            drop_scratch(&base_url).await;
        });
    }

    let (fake, cluster) = runtime.block_on(async {
        let fake = FakeKube::start().await;
        fake.add_deployment(NAMESPACE, DEPLOYMENT, 2);
        let timeout = Duration::from_secs(10);
        let client = executor_service::kube_client::client_for_url(&fake.url(), timeout).unwrap();
        (fake, Cluster { client, timeout })
    });
    // Alternate the replicas so that every call really changes the deployment.
    let prepared: Vec<_> = [2, 3]
        .into_iter()
        .map(|replicas| {
            let mut params = request.action_params.clone();
            params["replicas"] = json!(replicas);
            registry
                .get("scale_deployment")
                .unwrap()
                .prepare(&params, &limits)
                .unwrap()
        })
        .collect();
    runtime.block_on(async { prepared[1].run(&cluster, false).await.unwrap() });
    let mut turn = 0;
    group.bench_function("cluster_call", |b| {
        b.iter(|| {
            turn += 1;
            let action = &prepared[turn % 2];
            black_box(runtime.block_on(action.run(&cluster, false)).unwrap())
        })
    });
    group.finish();
    runtime.block_on(fake.shutdown());
}

criterion_group!(benches, cpu_stages, io_stages);
criterion_main!(benches);
