//! Warden's policy service: evaluates remediation requests against a YAML policy and signs
//! the decisions that allow them.
//!
//! An AI engine asks `POST /api/v1/policy/evaluate` whether it may run an action on a
//! resource. The answer names the rule that decided and, when allowed, carries an Ed25519
//! decision token that binds the action, resource, requester and expiry, and records the
//! policy version; the executor verifies it against `/.well-known/jwks.json` before it
//! touches the cluster, and refuses tokens issued before the JWKS's `minIat` (raised by a
//! revoking reload, `POLICY_RELOAD_REVOKES`).
//!
//! # Layout
//! - [`config`]: typed configuration from the environment (`.env.example` lists it all).
//! - [`startup`]: the start-up, [`Application`]: build (policy, key, port), then serve
//!   until stopped.
//! - [`AppState`] / [`app`] (this file): the shared state, the router and its layers.
//! - [`routes`]: the handlers (evaluate, JWKS, health, readiness) and caller identity.
//! - [`store`]: the policy in force, hot reload on change and on SIGHUP.
//! - [`keys`]: the signing key, token signing and the JWKS.
//! - [`identity`]: API keys, compared in constant time.
//! - [`extract`]: the JSON body extractor (415 / 413 / 400 with the field at fault).
//! - [`error`]: the one error enum and its JSON answer.
//! - [`cli`]: `policy-service [serve] | check FILE | test FILE | keygen`.
//! - [`metrics`]: Prometheus metrics at `/metrics` and the layer that counts answers.
//! - [`openapi`]: the OpenAPI document at `/openapi.json`.
//!
//! The policy language itself lives in the `warden-policy` crate; wire types in
//! `warden-protocol`; start-up plumbing shared with the executor (configuration errors,
//! logging, signals, the server loop) in `warden-service-kit`.

pub mod cli;
pub mod config;
pub mod error;
pub mod extract;
pub mod identity;
pub mod keys;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod startup;
pub mod store;

pub use startup::Application;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::config::Config;
use crate::error::ApiError;
use crate::identity::ApiKeys;
use crate::keys::DecisionSigner;
use crate::store::PolicyStore;

/// Everything a request handler needs; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    policy: Arc<PolicyStore>,
    signer: DecisionSigner,
    api_keys: Option<ApiKeys>,
    decision_ttl: Duration,
    request_timeout: Duration,
    metrics: metrics::Metrics,
}

impl AppState {
    /// State from its parts (tests build it this way).
    pub fn new(
        policy: Arc<PolicyStore>,
        signer: DecisionSigner,
        api_keys: Option<ApiKeys>,
        decision_ttl: Duration,
        request_timeout: Duration,
    ) -> Self {
        AppState(Arc::new(Shared {
            policy,
            signer,
            api_keys,
            decision_ttl,
            request_timeout,
            metrics: metrics::Metrics::default(),
        }))
    }

    /// Loads the policy and the signing key named by `config`.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let policy = PolicyStore::load(&config.policy_file)
            .map_err(|errors| anyhow::anyhow!("POLICY_FILE: the policy does not load:\n{errors}"))?
            .revoking(config.reload_revokes);
        let signer = match &config.signing_key_file {
            Some(path) => DecisionSigner::from_files(path, &config.previous_key_files)
                .map_err(|e| anyhow::anyhow!("DECISION_SIGNING_KEY_FILE: {e}"))?,
            None => DecisionSigner::ephemeral(),
        };
        Ok(Self::new(
            Arc::new(policy),
            signer,
            config.api_keys.clone(),
            config.decision_ttl,
            config.request_timeout,
        ))
    }

    /// The policy store.
    pub fn policy(&self) -> &Arc<PolicyStore> {
        &self.0.policy
    }

    /// The decision signer.
    pub fn signer(&self) -> &DecisionSigner {
        &self.0.signer
    }

    /// The API keys; `None` in development mode.
    pub fn api_keys(&self) -> Option<&ApiKeys> {
        self.0.api_keys.as_ref()
    }

    /// Lifetime of a decision token.
    pub fn decision_ttl(&self) -> Duration {
        self.0.decision_ttl
    }

    /// This service's metrics.
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.0.metrics
    }
}

/// The service's router with all its layers.
pub fn app(state: AppState) -> Router {
    let timeout = state.0.request_timeout;
    let router = Router::new()
        .route("/api/v1/policy/evaluate", post(routes::evaluate))
        .route("/.well-known/jwks.json", get(routes::jwks))
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz))
        .route("/metrics", get(metrics::serve_metrics))
        .route("/openapi.json", get(openapi::serve_openapi))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        // Innermost: the body limit, enforced while the body is read (413 as JSON).
        .layer(DefaultBodyLimit::max(extract::BODY_LIMIT))
        // Counts every answer the router gives, by route template, status and error code.
        .layer(axum::middleware::from_fn_with_state(
            state.metrics().http(),
            warden_service_kit::track,
        ))
        .with_state(state);
    warden_service_kit::with_request_layers(router, timeout, || {
        axum::response::IntoResponse::into_response(ApiError::Timeout)
    })
}
