//! Helpers shared by the policy service's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use policy_service::identity::ApiKeys;
use policy_service::keys::DecisionSigner;
use policy_service::store::PolicyStore;
use policy_service::{AppState, app};
use serde_json::{Value, json};
use warden_protocol::DecisionClaims;
use warden_test_support::router::{self, post_json_with_bearer};
pub use warden_test_support::router::{Answer, send};

/// API key of `ai-engine` in tests that configure keys.
pub const AI_KEY: &str = "test-key-ai-engine-0123456789";
/// API key of `ops` in tests that configure keys.
pub const OPS_KEY: &str = "test-key-ops-0123456789abcdef";

/// The repository's default policy.
pub fn default_policy_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/default.yaml")
}

/// A state on the default policy with an ephemeral key; `keys` turns API keys on.
pub fn state(keys: bool) -> AppState {
    state_for(&default_policy_path(), keys)
}

/// A state on the policy at `path`.
pub fn state_for(path: &Path, keys: bool) -> AppState {
    let store = PolicyStore::load(path).unwrap_or_else(|e| panic!("policy does not load: {e}"));
    let api_keys =
        keys.then(|| ApiKeys::parse(&format!("ai-engine={AI_KEY},ops={OPS_KEY}")).unwrap());
    AppState::new(
        Arc::new(store),
        DecisionSigner::ephemeral(),
        api_keys,
        Duration::from_secs(60),
        Duration::from_secs(10),
    )
}

/// The seed request of the design notes.
pub fn seed_request() -> Value {
    json!({
        "action": "restart_pod",
        "resource": "pod:api-pod-12345",
        "type": "self_healing",
        "context": {
            "userId": "ai-engine",
            "role": "service",
            "metadata": {"severity": "high", "confidence": 0.93, "automated": true},
            "ipAddress": "10.0.0.7",
            "userAgent": "ai-engine/1.2"
        }
    })
}

/// `POST /api/v1/policy/evaluate` with a JSON body and an optional bearer key.
pub async fn evaluate(state: &AppState, body: &Value, key: Option<&str>) -> Answer {
    evaluate_at(state, "/api/v1/policy/evaluate", body, key).await
}

/// Like [`evaluate`] at another URI (for query strings).
pub async fn evaluate_at(state: &AppState, uri: &str, body: &Value, key: Option<&str>) -> Answer {
    send(
        app(state.clone()),
        post_json_with_bearer(uri, body.to_string(), key),
    )
    .await
}

/// `GET` a path.
pub async fn get(state: &AppState, uri: &str) -> Answer {
    send(app(state.clone()), router::get(uri)).await
}

/// Verifies `token` against the JWKS the service publishes, as the executor does.
pub async fn verify(
    state: &AppState,
    token: &str,
) -> Result<DecisionClaims, jsonwebtoken::errors::Error> {
    verify_for(state, token, warden_protocol::TOKEN_AUDIENCE).await
}

/// Like [`verify`], accepting only the audience `audience` (e.g. the approval audience).
pub async fn verify_for(
    state: &AppState,
    token: &str,
    audience: &str,
) -> Result<DecisionClaims, jsonwebtoken::errors::Error> {
    let jwks: JwkSet =
        serde_json::from_value(get(state, "/.well-known/jwks.json").await.body).unwrap();
    let header = jsonwebtoken::decode_header(token)?;
    let kid = header.kid.expect("token has a kid");
    let jwk = jwks.find(&kid).expect("kid is in the JWKS");
    let key = DecodingKey::from_jwk(jwk)?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[warden_protocol::TOKEN_ISSUER]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub", "jti"]);
    jsonwebtoken::decode::<DecisionClaims>(token, &key, &validation).map(|d| d.claims)
}

/// The claims of `token` as sent, without checking its signature: for asserting which
/// claims are absent on the wire.
pub fn payload(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    let payload =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap();
    serde_json::from_slice(&payload).unwrap()
}

/// Writes `content` to a new file `name` in `dir`.
pub fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

/// The default policy's rule for system namespaces.
pub const SYSTEM_NAMESPACES_RULE: &str = "deny-system-namespaces";
