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

use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::AppState;

/// Marks an error answer with its stable `code`, so the metrics layer can count refusals
/// without parsing bodies. Set by [`crate::error::ApiError`]'s `IntoResponse`.
#[derive(Clone, Copy, Debug)]
pub struct ErrorCode(pub &'static str);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    decision: &'static str,
    rule: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

fn duration_histogram() -> Histogram {
    // 50 µs to ~1.6 s: evaluation is microseconds, a slow client can make it seconds.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

/// The service's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    decisions: Family<DecisionLabels, Counter>,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram, fn() -> Histogram>,
    refusals: Family<CodeLabels, Counter>,
    reloads: Family<ResultLabels, Counter>,
    rules: Gauge,
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
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP answers by route and status",
            requests.clone(),
        );
        let durations = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            duration_histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer, by route",
            durations.clone(),
        );
        let refusals = Family::<CodeLabels, Counter>::default();
        registry.register(
            "refusals",
            "Client errors (4xx) by error code",
            refusals.clone(),
        );
        let reloads = Family::<ResultLabels, Counter>::default();
        registry.register("reloads", "Policy reloads by result", reloads.clone());
        let rules = Gauge::default();
        registry.register("rules", "Rules in the policy in force", rules.clone());
        Metrics {
            registry,
            decisions,
            requests,
            durations,
            refusals,
            reloads,
            rules,
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

    /// The OpenMetrics text of every metric, with the policy figures read from `state`.
    pub fn render(&self, state: &AppState) -> Result<String, std::fmt::Error> {
        let _one_at_a_time = self.scrape.lock().unwrap_or_else(|e| e.into_inner());
        let store = state.policy();
        let (reloaded, failed) = store.reload_counts();
        for (result, total) in [("reloaded", reloaded), ("failed", failed)] {
            let counter = self.reloads.get_or_create(&ResultLabels { result });
            counter.inc_by(total.saturating_sub(counter.get()));
        }
        self.rules
            .set(i64::try_from(store.current().rule_count()).unwrap_or(i64::MAX));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Middleware counting every answer by route template and status, its duration, and
/// refusals by error code.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let metrics = state.metrics();
    metrics
        .durations
        .get_or_create(&RouteLabels {
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    let status = response.status();
    metrics
        .requests
        .get_or_create(&RequestLabels {
            route,
            status: status.as_u16(),
        })
        .inc();
    if status.is_client_error() {
        let code = response
            .extensions()
            .get::<ErrorCode>()
            .map_or("other", |c| c.0);
        metrics.refusals.get_or_create(&CodeLabels { code }).inc();
    }
    response
}

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus metrics (OpenMetrics text)", content_type = "application/openmetrics-text", body = String)),
)]
pub async fn serve_metrics(State(state): State<AppState>) -> Response {
    match state.metrics().render(&state) {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(err) => crate::error::ApiError::Internal(anyhow::anyhow!("encoding metrics: {err}"))
            .into_response(),
    }
}
