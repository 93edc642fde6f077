//! Prometheus metrics, served at `GET /metrics` in the OpenMetrics text format.
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `warden_executor_actions_total` | `action_type`, `namespace`, `outcome`, `dry_run` | attempts by outcome: `succeeded`, `failed`, `unknown` (ran), `rejected` (refused before running) |
//! | `warden_executor_action_duration_seconds` | `action_type`, `outcome` | from request to final audit row, for attempts that ran |
//! | `warden_executor_budget_refusals_total` | `budget` | attempts refused by a rate budget |
//! | `warden_executor_signature_refusals_total` | `code` | bad or malformed HMAC signatures |
//! | `warden_executor_token_refusals_total` | `code` | decision tokens refused (signature, expiry, binding, not allowed) |
//! | `warden_executor_replays_total` | | decisions presented again after their single use |
//! | `warden_executor_audit_store_errors_total` | `operation` | audit store calls that failed (`begin`, `reject`, `finish`; the audit API's `list`, `get`, `stats`) |
//! | `warden_executor_errors_total` | `code` | error answers by their `code` |
//! | `warden_executor_http_requests_total` | `route`, `status` | every answer, by route template (`unmatched` for unknown paths) |
//! | `warden_executor_http_request_duration_seconds` | `route` | time to answer |
//!
//! Label values come from the executor's own vocabulary, never verbatim from a request
//! that was refused: `action_type` is a registered action or `other`, and `namespace` is
//! only filled in for attempts whose target passed validation and token binding (`""`
//! otherwise), so a client cannot create unbounded series.
//!
//! The registry belongs to the [`crate::AppState`], so tests can run several executors in
//! one process and read each one's figures.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use warden_service_kit::HttpMetrics;

use crate::AppState;
use crate::error::ExecError;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action_type: String,
    namespace: String,
    outcome: &'static str,
    dry_run: bool,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DurationLabels {
    action_type: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BudgetLabels {
    budget: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn action_histogram() -> Histogram {
    // 1 ms to ~33 s: an action is an audit commit and one or two API calls, and a call may
    // run into the Kubernetes timeout.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// The executor's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    actions: Family<ActionLabels, Counter>,
    action_durations: Histograms<DurationLabels>,
    budget_refusals: Family<BudgetLabels, Counter>,
    signature_refusals: Family<CodeLabels, Counter>,
    token_refusals: Family<CodeLabels, Counter>,
    replays: Counter,
    store_errors: Family<OperationLabels, Counter>,
    http: Arc<HttpMetrics>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("warden_executor");
        let actions = Family::default();
        registry.register("actions", "Attempts by outcome", Family::clone(&actions));
        let action_durations = Histograms::new_with_constructor(action_histogram as fn() -> _);
        registry.register(
            "action_duration_seconds",
            "From request to final audit row, for attempts that ran",
            action_durations.clone(),
        );
        let budget_refusals = Family::default();
        registry.register(
            "budget_refusals",
            "Attempts refused by a rate budget",
            Family::clone(&budget_refusals),
        );
        let signature_refusals = Family::default();
        registry.register(
            "signature_refusals",
            "Requests refused for their HMAC signature",
            Family::clone(&signature_refusals),
        );
        let token_refusals = Family::default();
        registry.register(
            "token_refusals",
            "Requests refused for their decision token",
            Family::clone(&token_refusals),
        );
        let replays = Counter::default();
        registry.register(
            "replays",
            "Decisions presented again after their single use",
            replays.clone(),
        );
        let store_errors = Family::default();
        registry.register(
            "audit_store_errors",
            "Audit store calls that failed",
            Family::clone(&store_errors),
        );
        let http = Arc::new(HttpMetrics::register(
            &mut registry,
            "errors",
            "Error answers by code",
        ));
        Metrics {
            registry,
            actions,
            action_durations,
            budget_refusals,
            signature_refusals,
            token_refusals,
            replays,
            store_errors,
            http,
        }
    }
}

impl Metrics {
    /// Counts an attempt that ran, with its outcome (`succeeded`, `failed`, `unknown`).
    pub fn ran(
        &self,
        action_type: &str,
        namespace: &str,
        outcome: &'static str,
        dry_run: bool,
        elapsed: Duration,
    ) {
        self.actions
            .get_or_create(&ActionLabels {
                action_type: action_type.to_owned(),
                namespace: namespace.to_owned(),
                outcome,
                dry_run,
            })
            .inc();
        self.action_durations
            .get_or_create(&DurationLabels {
                action_type: action_type.to_owned(),
                outcome,
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts a refused attempt. `action_type` must already be a registered action or
    /// `other`; `namespace` is empty unless the target was validated and bound.
    pub fn refused(&self, err: &ExecError, action_type: &str, namespace: &str, dry_run: bool) {
        let outcome = match err {
            // A cluster failure ran and is counted by `ran`.
            ExecError::Cluster(_) => return,
            _ => "rejected",
        };
        self.actions
            .get_or_create(&ActionLabels {
                action_type: action_type.to_owned(),
                namespace: namespace.to_owned(),
                outcome,
                dry_run,
            })
            .inc();
        let code = CodeLabels { code: err.code() };
        match err {
            ExecError::Signature(_) => self.signature_refusals.get_or_create(&code).inc(),
            ExecError::Token(_) | ExecError::Binding(_) | ExecError::NotAllowed => {
                self.token_refusals.get_or_create(&code).inc()
            }
            ExecError::Replay { .. } => self.replays.inc(),
            ExecError::OverBudget { key, .. } => self
                .budget_refusals
                .get_or_create(&BudgetLabels {
                    budget: key.clone(),
                })
                .inc(),
            _ => 0,
        };
    }

    /// Counts a failed audit store call.
    pub fn store_error(&self, operation: &'static str) {
        self.store_errors
            .get_or_create(&OperationLabels { operation })
            .inc();
    }

    /// The HTTP answer metrics, for the router's tracking layer.
    pub fn http(&self) -> Arc<HttpMetrics> {
        self.http.clone()
    }
}

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus metrics (OpenMetrics text)", content_type = "application/openmetrics-text", body = String)),
)]
pub async fn serve_metrics(State(state): State<AppState>) -> Response {
    warden_service_kit::openmetrics(&state.metrics().registry).unwrap_or_else(|err| {
        ExecError::Internal(anyhow::anyhow!("encoding metrics: {err}")).into_response()
    })
}
