//! Warden's policy service: evaluates remediation requests against a YAML policy and signs
//! the decisions that allow them.
//!
//! An AI engine asks `POST /api/v1/policy/evaluate` whether it may run an action on a
//! resource. The answer names the rule that decided and, when allowed, carries an Ed25519
//! decision token that binds the action, resource, requester, policy version and expiry; the
//! executor verifies it against `/.well-known/jwks.json` before it touches the cluster.
//!
//! # Layout
//! - [`config`]: typed configuration from the environment (`.env.example` lists it all).
//! - [`app`] / [`serve`] (this file): the router, its layers and graceful shutdown.
//! - [`routes`]: the handlers (evaluate, JWKS, health, readiness) and caller identity.
//! - [`store`]: the policy in force, hot reload on change and on SIGHUP.
//! - [`keys`]: the signing key, token signing and the JWKS.
//! - [`identity`]: API keys, compared in constant time.
//! - [`extract`]: the JSON body extractor (415 / 413 / 400 with the field at fault).
//! - [`error`]: the one error enum and its JSON answer.
//! - [`cli`]: `policy-service [serve] | check FILE | test FILE | keygen`.
//! - [`telemetry`]: logging set-up (`LOG_FORMAT=json` for JSON lines).
//! - [`metrics`]: Prometheus metrics at `/metrics` and the layer that counts answers.
//! - [`openapi`]: the OpenAPI document at `/openapi.json`.
//!
//! The policy language itself lives in the `warden-policy` crate; wire types in
//! `warden-protocol`.

pub mod cli;
pub mod config;
pub mod error;
pub mod extract;
pub mod identity;
pub mod keys;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod store;
pub mod telemetry;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::net::TcpListener;

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

/// Serves `state` on `listener` until `shutdown` resolves, then drains open requests.
/// Also runs the policy watcher for as long as the server runs.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    reload_interval: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let watcher = tokio::spawn(store::watch(
        state.policy().clone(),
        reload_interval,
        wait_for(stop_rx.clone()),
    ));
    let result = warden_service_kit::serve(listener, app(state), shutdown).await;
    let _ = stop_tx.send(true);
    let _ = watcher.await;
    result
}

async fn wait_for(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Everything before serving: loads the policy and the signing key, says at start-up what
/// mode the service runs in, and binds `POLICY_BIND`.
pub async fn prepare(config: &Config) -> anyhow::Result<(TcpListener, AppState)> {
    let state = AppState::from_config(config)?;
    announce(config, &state);
    let listener = TcpListener::bind(config.bind)
        .await
        .map_err(|e| anyhow::anyhow!("POLICY_BIND: cannot listen on {}: {e}", config.bind))?;
    tracing::info!(address = %listener.local_addr()?, "policy service listening");
    Ok((listener, state))
}

/// Runs the service as configured until SIGTERM or Ctrl-C.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let (listener, state) = prepare(&config).await?;
    serve(listener, state, config.reload_interval, shutdown_signal()).await?;
    Ok(())
}

fn announce(config: &Config, state: &AppState) {
    let policy = state.policy().current();
    tracing::info!(
        file = %config.policy_file.display(),
        policy_version = %policy.version(),
        rules = policy.rule_count(),
        "policy loaded"
    );
    match state.api_keys() {
        Some(keys) => tracing::info!(
            identities = ?keys.identities().collect::<Vec<_>>(),
            "API keys configured: callers are authenticated"
        ),
        None => tracing::warn!(
            "DEVELOPMENT MODE: POLICY_API_KEYS is not set. Anyone who can reach this port can \
             claim any userId and role. Set POLICY_API_KEYS before exposing the service."
        ),
    }
    if state.signer().is_ephemeral() {
        tracing::warn!(
            kid = %state.signer().kid(),
            "DECISION_SIGNING_KEY_FILE is not set: using an ephemeral signing key; tokens stop \
             verifying when this process exits and replicas cannot share it"
        );
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
