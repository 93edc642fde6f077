//! Prometheus metrics, served at `GET /metrics` in the OpenMetrics text format.
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `warden_policy_decisions_total` | `decision`, `rule` | decisions answered (`rule` is `none` for the default deny) |
//! | `warden_policy_http_requests_total` | `route`, `status` | every answer, by route template (`unmatched` for unknown paths) |
//! | `warden_policy_http_request_duration_seconds` | `route` | time to answer |
//! | `warden_policy_refusals_total` | `code` | 4xx answers by their error `code` (`identity_mismatch`, `unsupported_media_type`, ...) |
//! | `warden_policy_reloads_total` | `result` | policy reloads: `reloaded` or `failed` |
//! | `warden_policy_rules` | | rules in the policy in force |
//!
//! The registry belongs to the [`crate::AppState`], not to the process, so tests can run
//! several services side by side and read each one's figures.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use warden_service_kit::HttpMetrics;

use crate::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    decision: &'static str,
    rule: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

/// The service's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    decisions: Family<DecisionLabels, Counter>,
    reloads: Family<ResultLabels, Counter>,
    rules: Gauge,
    http: Arc<HttpMetrics>,
    /// Serialises scrapes, which bring the reload counters up to date before encoding.
    scrape: Mutex<()>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("warden_policy");
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register("decisions", "Decisions answered", decisions.clone());
        let reloads = Family::<ResultLabels, Counter>::default();
        registry.register("reloads", "Policy reloads by result", reloads.clone());
        let rules = Gauge::default();
        registry.register("rules", "Rules in the policy in force", rules.clone());
        let http = Arc::new(HttpMetrics::register(
            &mut registry,
            "refusals",
            "Client errors (4xx) by error code",
        ));
        Metrics {
            registry,
            decisions,
            reloads,
            rules,
            http,
            scrape: Mutex::new(()),
        }
    }
}

impl Metrics {
    /// Counts one decision.
    pub fn decision(&self, decision: &'static str, rule: Option<&str>) {
        self.decisions
            .get_or_create(&DecisionLabels {
                decision,
                rule: rule.unwrap_or("none").to_owned(),
            })
            .inc();
    }

    /// The HTTP answer metrics, for the router's tracking layer.
    pub fn http(&self) -> Arc<HttpMetrics> {
        self.http.clone()
    }
}

/// `GET /metrics`, with the policy figures brought up to date from the store first.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus metrics (OpenMetrics text)", content_type = "application/openmetrics-text", body = String)),
)]
pub async fn serve_metrics(State(state): State<AppState>) -> Response {
    let metrics = state.metrics();
    let _one_at_a_time = metrics.scrape.lock().unwrap_or_else(|e| e.into_inner());
    let store = state.policy();
    let (reloaded, failed) = store.reload_counts();
    for (result, total) in [("reloaded", reloaded), ("failed", failed)] {
        let counter = metrics.reloads.get_or_create(&ResultLabels { result });
        counter.inc_by(total.saturating_sub(counter.get()));
    }
    metrics
        .rules
        .set(i64::try_from(store.current().rule_count()).unwrap_or(i64::MAX));
    warden_service_kit::openmetrics(&metrics.registry).unwrap_or_else(|err| {
        crate::error::ApiError::Internal(anyhow::anyhow!("encoding metrics: {err}")).into_response()
    })
}
