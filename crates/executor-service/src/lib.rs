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
//! - [`startup`]: the start-up, [`Application`] (build: store, keys, port; then serve
//!   until stopped) and [`run`], the binary's.
//! - [`AppState`] / [`app`] (this file): the shared state (each action armed with its
//!   budget), the router and its layers.
//! - [`execute`]: the handler and the order of checks.
//! - [`approvals`]: `require_approval` decisions become approval requests that people
//!   decide at `/executor/approvals` (and session grants at `/executor/grants`); the
//!   sweeper expires them. [`operators`] says who the people are, [`notify`] tells
//!   webhooks.
//! - [`audit_api`]: `GET /executor/audit`, `/executor/audit/{id}` and `/executor/stats`
//!   for operators, behind `EXECUTOR_ADMIN_TOKEN` (off without it).
//! - [`signature`]: the HMAC over the client's own JSON serialisation (four forms);
//!   `signature/json.rs` parses the body, `signature/render.rs` writes each form.
//! - [`token`]: decision token verification against the policy service's JWKS.
//! - [`store`]: the audit store contract; [`store::postgres`] and [`store::sqlite`]
//!   implement it (single use, budgets and the write-ahead row in one transaction), and
//!   one contract test suite runs on both.
//! - [`actions`]: the action trait, the registry and the built-in actions.
//! - [`kube_client`]: the Kubernetes client (retries off: no action is ever sent twice)
//!   and finding the cluster.
//! - [`throttle`]: per-client request rate at the HTTP layer.
//! - [`error`]: the one error enum and its JSON answer.
//! - [`metrics`]: Prometheus metrics at `/metrics` and the layer that counts answers.
//! - [`openapi`]: the OpenAPI document at `/openapi.json`.
//!
//! Start-up plumbing shared with the policy service (configuration errors, logging,
//! signals, the server loop) lives in `warden-service-kit`.

pub mod actions;
pub mod approvals;
pub mod audit_api;
pub mod config;
pub mod error;
pub mod execute;
pub mod kube_client;
pub mod metrics;
pub mod notify;
pub mod openapi;
pub mod operators;
pub mod signature;
pub mod startup;
pub mod store;
pub mod throttle;
pub mod token;

pub use startup::{Application, run};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::json;

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
    /// Each registered action with the budget it draws on, resolved once here so that a
    /// request never looks a budget up (and never meets a missing one).
    actions: HashMap<&'static str, Armed>,
    /// `None`: no cluster is configured; every attempt is a dry run answered without any
    /// API call (see [`AppState::without_cluster`]).
    cluster: Option<Cluster>,
    limits: Limits,
    throttle: Throttle,
    metrics: metrics::Metrics,
    operators: operators::Operators,
    notifier: notify::Notifier,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.0.config)
            .field("actions", &self.0.registry.names())
            .finish_non_exhaustive()
    }
}

/// A registered action with the rate budget it draws on.
#[derive(Clone)]
pub struct Armed {
    /// The action.
    pub action: Arc<dyn actions::Registered>,
    /// Its budget, from the configuration.
    pub budget: store::Budget,
}

/// Pairs every action of `registry` with its budget. The configuration reads a budget for
/// every key of the registry it was built from ([`config::budget_keys`]); a key it lacks
/// (a configuration built for another registry) gets a budget of zero, so that action is
/// refused rather than run unmetered, and the start-up log says why.
fn arm(registry: &Registry, config: &Config) -> HashMap<&'static str, Armed> {
    let mut armed = HashMap::new();
    for (name, key) in registry.names() {
        let Some(action) = registry.get(name) else {
            continue;
        };
        let budget = config.budgets.get(key).cloned().unwrap_or_else(|| {
            tracing::error!(
                action = name,
                budget = key,
                "no rate budget configured for this action: every attempt is refused"
            );
            store::Budget {
                key: key.to_owned(),
                max: 0,
                ttl: Duration::from_secs(60),
            }
        });
        armed.insert(
            name,
            Armed {
                action: action.clone(),
                budget,
            },
        );
    }
    armed
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
        let actions = arm(&registry, &config);
        let operators = operators::Operators::new(&config.operators);
        let notifier = notify::Notifier::new(&config.approvals);
        let metrics = metrics::Metrics::new(notifier.delivered(), notifier.failures());
        AppState(Arc::new(Shared {
            config,
            store,
            verifier,
            registry,
            actions,
            cluster,
            limits,
            throttle,
            metrics,
            operators,
            notifier,
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

    /// The action called `name` and its budget.
    pub fn action(&self, name: &str) -> Option<&Armed> {
        self.0.actions.get(name)
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

    /// Who may decide approval requests.
    pub fn operators(&self) -> &operators::Operators {
        &self.0.operators
    }

    /// The approval webhooks.
    pub fn notifier(&self) -> &notify::Notifier {
        &self.0.notifier
    }

    /// The per-client request rate limiter.
    pub(crate) fn throttle(&self) -> &Throttle {
        &self.0.throttle
    }
}

/// The service's router with all its layers.
pub fn app(state: AppState) -> Router {
    let timeout = state.config().request_timeout;
    let throttle = state.throttle().clone();
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
    if state.operators().any() {
        // Likewise the approval API without anyone who could approve.
        router = router.merge(approvals::api::routes());
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
