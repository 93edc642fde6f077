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
//! | `warden_executor_approvals_requested_total` | `action_type` | approval requests made |
//! | `warden_executor_approval_decisions_total` | `action_type`, `outcome` | requests `approved`, `denied` or `expired` |
//! | `warden_executor_approval_wait_seconds` | `outcome` | from request to decision or expiry |
//! | `warden_executor_approvals_pending` | | requests waiting for people (from the database, every sweep) |
//! | `warden_executor_grants_active` | | session grants in force (from the database, every sweep) |
//! | `warden_executor_grant_uses_total` | `action_type` | decisions that ran at once under a session grant |
//! | `warden_executor_approval_notifications_total` | | webhook messages a receiver accepted |
//! | `warden_executor_approval_notification_failures_total` | | webhook messages given up on |
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
use prometheus_client::metrics::gauge::Gauge;
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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApprovalLabels {
    action_type: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabels {
    action_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// The approval metrics.
struct Approvals {
    requested: Family<TypeLabels, Counter>,
    decisions: Family<ApprovalLabels, Counter>,
    wait: Histograms<OutcomeLabels>,
    pending: Gauge,
    grants: Gauge,
    grant_uses: Family<TypeLabels, Counter>,
}

fn wait_histogram() -> Histogram {
    // 1 s to ~9 h: people answer in seconds to hours; the longest wait is 24 h.
    Histogram::new(exponential_buckets(1.0, 2.0, 16))
}

impl Default for Approvals {
    fn default() -> Self {
        Approvals {
            requested: Family::default(),
            decisions: Family::default(),
            wait: Histograms::new_with_constructor(wait_histogram as fn() -> _),
            pending: Gauge::default(),
            grants: Gauge::default(),
            grant_uses: Family::default(),
        }
    }
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
    approvals: Approvals,
    http: Arc<HttpMetrics>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(Counter::default(), Counter::default())
    }
}

impl Metrics {
    /// The metrics, with the notifier's counters of delivered and failed messages.
    pub fn new(delivered: Counter, failures: Counter) -> Self {
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
        let approvals = Approvals::default();
        registry.register(
            "approvals_requested",
            "Approval requests made",
            Family::clone(&approvals.requested),
        );
        registry.register(
            "approval_decisions",
            "Approval requests approved, denied or expired",
            Family::clone(&approvals.decisions),
        );
        registry.register(
            "approval_wait_seconds",
            "From approval request to decision or expiry",
            approvals.wait.clone(),
        );
        registry.register(
            "approvals_pending",
            "Approval requests waiting for people",
            approvals.pending.clone(),
        );
        registry.register(
            "grants_active",
            "Session grants in force",
            approvals.grants.clone(),
        );
        registry.register(
            "grant_uses",
            "Decisions that ran at once under a session grant",
            Family::clone(&approvals.grant_uses),
        );
        registry.register(
            "approval_notifications",
            "Webhook messages a receiver accepted",
            delivered,
        );
        registry.register(
            "approval_notification_failures",
            "Webhook messages given up on after every retry",
            failures,
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
            approvals,
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

    /// Counts an approval request made.
    pub fn approval_requested(&self, action_type: &str) {
        self.approvals
            .requested
            .get_or_create(&TypeLabels {
                action_type: action_type.to_owned(),
            })
            .inc();
    }

    /// Counts a request `approved`, `denied` or `expired`, and how long it waited.
    pub fn approval_decided(
        &self,
        outcome: &'static str,
        record: &crate::store::approvals::ApprovalRecord,
    ) {
        self.approvals
            .decisions
            .get_or_create(&ApprovalLabels {
                action_type: record.action_type.clone(),
                outcome,
            })
            .inc();
        let decided = record.decided_at.unwrap_or_else(chrono::Utc::now);
        let waited = (decided - record.created_at).to_std().unwrap_or_default();
        self.approvals
            .wait
            .get_or_create(&OutcomeLabels { outcome })
            .observe(waited.as_secs_f64());
    }

    /// Counts a decision that ran under a session grant.
    pub fn grant_used(&self, action_type: &str) {
        self.approvals
            .grant_uses
            .get_or_create(&TypeLabels {
                action_type: action_type.to_owned(),
            })
            .inc();
    }

    /// Sets the gauges from the database's counts.
    pub fn approval_gauges(&self, counts: crate::store::approvals::ApprovalCounts) {
        self.approvals
            .pending
            .set(i64::try_from(counts.pending).unwrap_or(i64::MAX));
        self.approvals
            .grants
            .set(i64::try_from(counts.active_grants).unwrap_or(i64::MAX));
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
