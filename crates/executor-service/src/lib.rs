//! Warden's executor service: the only component that changes the cluster.
//!
//! `POST /executor/execute` runs a remediation action only when the request is signed by a
//! known client, carries a policy decision token that verifies and covers exactly this
//! action, target and requester, has not been used before, stays outside protected
//! namespaces and fits the action's rate budget. The attempt is written to
//! `action_audit_logs` before the cluster is called and completed after; refusals are
//! audited too.
//!
//! # Layout
//! - [`config`]: typed configuration from the environment (`.env.example` lists it all).
//! - [`app`] / [`serve`] / [`run`] (this file): router, layers, start-up and shutdown.
//! - [`execute`]: the handler and the order of checks.
//! - [`audit_api`]: `GET /executor/audit`, `/executor/audit/{id}` and `/executor/stats`
//!   for operators, behind `EXECUTOR_ADMIN_TOKEN` (off without it).
//! - [`signature`]: the HMAC over the client's own JSON serialisation (four forms).
//! - [`token`]: decision token verification against the policy service's JWKS.
//! - [`store`]: the audit store trait; [`store::postgres`] implements it (single use,
//!   budgets and the write-ahead row in one transaction).
//! - [`actions`]: the action trait, the registry and the built-in actions.
//! - [`kube_client`]: the Kubernetes client (retries off: no action is ever sent twice).
//! - [`throttle`]: per-client request rate at the HTTP layer.
//! - [`error`]: the one error enum and its JSON answer.
//! - [`metrics`]: Prometheus metrics at `/metrics` and the layer that counts answers.
//! - [`openapi`]: the OpenAPI document at `/openapi.json`.

pub mod actions;
pub mod audit_api;
pub mod config;
pub mod error;
pub mod execute;
pub mod kube_client;
pub mod metrics;
pub mod openapi;
pub mod signature;
pub mod store;
pub mod throttle;
pub mod token;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::json;
use tokio::net::TcpListener;

use crate::actions::{Cluster, Limits, Registry};
use crate::config::Config;
use crate::error::ExecError;
use crate::store::AuditStore;
use crate::throttle::Throttle;
use crate::token::DecisionVerifier;

/// Everything a request needs; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

struct Shared {
    config: Config,
    store: Arc<dyn AuditStore>,
    verifier: DecisionVerifier,
    registry: Registry,
    /// `None`: no cluster is configured; every attempt is a dry run answered without any
    /// API call (see [`AppState::without_cluster`]).
    cluster: Option<Cluster>,
    limits: Limits,
    throttle: Throttle,
    metrics: metrics::Metrics,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.0.config)
            .field("actions", &self.0.registry.names())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State from its parts (tests build it this way, with their own store and cluster).
    pub fn new(
        config: Config,
        store: Arc<dyn AuditStore>,
        verifier: DecisionVerifier,
        registry: Registry,
        client: kube::Client,
    ) -> Self {
        let cluster = Cluster {
            client,
            timeout: config.kube_timeout,
        };
        Self::build(config, store, verifier, registry, Some(cluster))
    }

    /// State for an executor without a cluster (`cargo run` on a laptop without a
    /// kubeconfig): every request runs every check and is audited as a dry run, and the
    /// answer describes what would have been sent, since there is no API server to run a
    /// server-side dry run against. `EXECUTOR_DRY_RUN` is forced on.
    pub fn without_cluster(
        mut config: Config,
        store: Arc<dyn AuditStore>,
        verifier: DecisionVerifier,
        registry: Registry,
    ) -> Self {
        config.dry_run = true;
        Self::build(config, store, verifier, registry, None)
    }

    fn build(
        config: Config,
        store: Arc<dyn AuditStore>,
        verifier: DecisionVerifier,
        registry: Registry,
        cluster: Option<Cluster>,
    ) -> Self {
        let limits = Limits {
            max_replicas: config.max_replicas,
        };
        let throttle = Throttle::new(config.requests_per_second);
        AppState(Arc::new(Shared {
            config,
            store,
            verifier,
            registry,
            cluster,
            limits,
            throttle,
            metrics: metrics::Metrics::default(),
        }))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// The audit store.
    pub fn store(&self) -> &Arc<dyn AuditStore> {
        &self.0.store
    }

    /// The decision token verifier.
    pub fn verifier(&self) -> &DecisionVerifier {
        &self.0.verifier
    }

    /// The registered actions.
    pub fn registry(&self) -> &Registry {
        &self.0.registry
    }

    /// The cluster client and its deadline; `None` without a cluster.
    pub fn cluster(&self) -> Option<&Cluster> {
        self.0.cluster.as_ref()
    }

    /// Validation limits.
    pub fn limits(&self) -> &Limits {
        &self.0.limits
    }

    /// This executor's metrics.
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.0.metrics
    }
}

/// The service's router with all its layers.
pub fn app(state: AppState) -> Router {
    let timeout = state.config().request_timeout;
    let throttle = state.0.throttle.clone();
    let mut router = Router::new()
        .route(
            "/executor/execute",
            post(execute::execute).layer(axum::middleware::from_fn_with_state(
                throttle,
                throttle::throttle,
            )),
        )
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::serve_metrics))
        .route("/openapi.json", get(openapi::serve_openapi));
    if state.config().admin_token.is_some() {
        // Without its token the audit API does not exist: 404 like any unknown path.
        router = router.merge(audit_api::routes(&state));
    }
    let router = router
        .fallback(|| async { ExecError::NotFound })
        .method_not_allowed_fallback(|| async { ExecError::MethodNotAllowed })
        // Innermost: the body limit, enforced while the body is read (413 as JSON).
        .layer(DefaultBodyLimit::max(execute::BODY_LIMIT))
        // Counts every answer the router gives, by route template, status and error code.
        .layer(axum::middleware::from_fn_with_state(
            state.metrics().http(),
            warden_service_kit::track,
        ))
        .with_state(state);
    warden_service_kit::with_request_layers(router, timeout, || ExecError::Timeout.into_response())
}

/// `GET /healthz`: the process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "The process is up", body = Object)),
)]
pub async fn healthz() -> axum::Json<serde_json::Value> {
    axum::Json(json!({"status": "ok"}))
}

/// Ready when the audit store answers and the policy service's keys are loaded (fetching
/// them if not yet): without either, every execute would be refused.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "The audit store answers and the decision keys are loaded", body = Object),
        (status = 503, description = "Not ready, with the reasons", body = Object),
    ),
)]
pub async fn readyz(State(state): State<AppState>) -> axum::response::Response {
    let store = state.store().ping().await;
    if !state.verifier().has_keys() {
        let _ = state.verifier().refresh(false).await;
    }
    let keys = state.verifier().has_keys();
    let ready = store.is_ok() && keys;
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "auditStore": if store.is_ok() { "ok" } else { "unavailable" },
        "policyKeys": if keys { "ok" } else { "unavailable" },
        "dryRun": state.config().dry_run,
        "cluster": if state.cluster().is_some() { "configured" } else { "none" },
        "actions": state.registry().names().iter().map(|(n, _)| *n).collect::<Vec<_>>(),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// Serves `state` on `listener` until `shutdown` resolves, then drains open requests.
/// Also reconciles interrupted rows and prunes the throttle while running.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let housekeeping = tokio::spawn(housekeeping(state.clone()));
    // The server loop puts each request's peer address in its extensions, as
    // `ConnectInfo<SocketAddr>` (the throttle and the audit row use it).
    let result = warden_service_kit::serve(listener, app(state), shutdown).await;
    housekeeping.abort();
    result
}

/// Rows left `pending` longer than this were interrupted (the executor died mid-action).
fn interrupted_after(config: &Config) -> Duration {
    config.kube_timeout * 3 + Duration::from_secs(60)
}

async fn housekeeping(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        state.0.throttle.retain_recent();
        match state
            .store()
            .reconcile_pending(interrupted_after(state.config()))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::warn!(rows = n, "marked interrupted pending audit rows as unknown"),
            Err(err) => tracing::warn!(error = %err, "could not reconcile pending audit rows"),
        }
    }
}

/// Opens the audit store `DATABASE_URL` names and applies its migrations: Postgres
/// (`postgres://`, the production store) or an embedded SQLite file (`sqlite:`, for a
/// single node).
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn AuditStore>> {
    if store::sqlite::is_sqlite_url(&config.database_url) {
        let store = store::sqlite::SqliteStore::open(&config.database_url)
            .await
            .map_err(|e| anyhow::anyhow!("DATABASE_URL: {e:#}"))?;
        return Ok(Arc::new(store));
    }
    let store =
        store::postgres::PgStore::connect(&config.database_url, config.database_max_connections)
            .await
            .map_err(|e| anyhow::anyhow!("DATABASE_URL: {e}"))?;
    store
        .migrate()
        .await
        .map_err(|e| anyhow::anyhow!("DATABASE_URL: migrations failed: {e}"))?;
    Ok(Arc::new(store))
}

/// Everything before serving: opens the store, loads the policy service's keys, reconciles
/// interrupted rows and binds `EXECUTOR_BIND`. `client: None` runs without a cluster
/// (see [`AppState::without_cluster`]).
pub async fn prepare(
    config: Config,
    client: Option<kube::Client>,
) -> anyhow::Result<(TcpListener, AppState)> {
    let registry = Registry::with_builtins();
    for weak in config.secrets.weak() {
        tracing::warn!(secret = %weak, "HMAC secret is shorter than 32 bytes; use a longer random secret");
    }
    let store = open_store(&config).await?;
    let refresh = token::KeyRefresh {
        every: config.jwks_refresh,
        max_age: config.jwks_max_age,
    };
    let verifier =
        DecisionVerifier::from_policy_url(&config.policy_url, config.token_leeway, refresh).await;
    let bind = config.bind;
    if config.admin_token.is_none() {
        tracing::info!(
            "EXECUTOR_ADMIN_TOKEN is not set: the audit API (/executor/audit, /executor/stats) is off"
        );
    }
    let state = match client {
        Some(client) => AppState::new(config, store, verifier, registry, client),
        None => {
            tracing::warn!(
                "no Kubernetes cluster configured: every action is a dry run answered by the executor; nothing is sent anywhere"
            );
            AppState::without_cluster(config, store, verifier, registry)
        }
    };
    if state.config().dry_run && state.cluster().is_some() {
        tracing::warn!(
            "EXECUTOR_DRY_RUN=true: every action is a server-side dry run; nothing changes"
        );
    }
    match state
        .store()
        .reconcile_pending(interrupted_after(state.config()))
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::warn!(rows = n, "marked interrupted pending audit rows as unknown"),
        Err(err) => tracing::warn!(error = %err, "could not reconcile pending audit rows"),
    }
    let listener = TcpListener::bind(bind)
        .await
        .map_err(|e| anyhow::anyhow!("EXECUTOR_BIND: cannot listen on {bind}: {e}"))?;
    tracing::info!(address = %listener.local_addr()?, "executor listening");
    Ok((listener, state))
}

/// Runs the service as configured until SIGTERM or Ctrl-C.
///
/// Without a usable Kubernetes configuration the executor refuses to start, unless
/// `EXECUTOR_DRY_RUN=true` and `KUBECONFIG` is not set: then it runs without a cluster
/// (every attempt checked, audited and answered as a dry run; `/readyz` says
/// `"cluster": "none"`), which is how `docker compose up` works before a kubeconfig is
/// mounted. A set but unusable `KUBECONFIG` is always an error.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let kubeconfig_set = std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty());
    let client = match kube_client::client_from_env(config.kube_timeout).await {
        Ok(client) => Some(client),
        Err(e) if config.dry_run && !kubeconfig_set => {
            tracing::warn!(
                error = format!("{e:#}"),
                "no Kubernetes configuration found; EXECUTOR_DRY_RUN=true, so running without a cluster"
            );
            None
        }
        Err(e) => {
            return Err(anyhow::anyhow!(
                "KUBECONFIG: no usable Kubernetes configuration: {e:#}"
            ));
        }
    };
    let (listener, state) = prepare(config, client).await?;
    serve(listener, state, shutdown_signal()).await?;
    Ok(())
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

/// Installs the log subscriber: text by default, JSON lines with `LOG_FORMAT=json`.
pub fn init_tracing() -> Result<(), config::ConfigError> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match std::env::var("LOG_FORMAT").unwrap_or_default().trim() {
        "" | "text" => builder.try_init(),
        "json" => builder.json().flatten_event(true).try_init(),
        _ => {
            return Err(config::ConfigError {
                var: "LOG_FORMAT".into(),
                message: "expected `text` or `json`".into(),
            });
        }
    };
    Ok(())
}
