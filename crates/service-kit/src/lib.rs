//! Plumbing both Warden services share, so that it is written once:
//!
//! - [`run_binary`]: the start-up every binary shares (`.env`, logging, configuration,
//!   runtime, exit codes);
//! - [`ConfigError`]: the configuration error both services report, naming the variable,
//!   and the parsers of shared value kinds ([`config::parse_bool`],
//!   [`config::parse_named_list`]);
//! - [`warn_unknown_vars`]: a warning for each misspelled setting, naming the closest one;
//! - [`init_tracing`]: text or JSON log lines (`LOG_FORMAT`), filtered by `RUST_LOG`;
//! - [`shutdown_signal`]: SIGTERM or Ctrl-C, when every server stops;
//! - [`load_dotenv`]: the `.env` rule (read when present, the environment wins);
//! - [`HttpMetrics`] and [`track`]: answers by route and status, their durations and
//!   error answers by code, for any axum router;
//! - [`ErrorCode`]: how a service's error type marks its answers for [`track`];
//! - [`openmetrics`]: a registry as an OpenMetrics text answer;
//! - [`with_request_layers`]: request id, tracing span and deadline around a router;
//!   [`request_id`] decides which client ids are kept;
//! - [`serve`]: the server loop, with a header-read timeout `axum::serve` lacks.
//!
//! # Layout
//! - [`start`]: the start-up sequence, [`run_binary`].
//! - [`config`]: the configuration error, [`ConfigError`], and the shared value parsers.
//! - [`env_names`]: misspelled settings, [`warn_unknown_vars`].
//! - [`telemetry`]: logging set-up, [`init_tracing`].
//! - [`shutdown`]: the stop signals, [`shutdown_signal`].
//! - [`serve`](mod@serve): the server loop.
//! - [`request_id`]: which client request ids are kept.
//! - this file: `.env`, HTTP metrics and the request layers.

pub mod config;
pub mod env_names;
pub mod request_id;
pub mod serve;
pub mod shutdown;
pub mod start;
pub mod telemetry;

pub use config::ConfigError;
pub use env_names::warn_unknown_vars;
pub use serve::serve;
pub use shutdown::shutdown_signal;
pub use start::run_binary;
pub use telemetry::init_tracing;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// Reads `.env` from the working directory (or the nearest parent that has one) into the
/// environment when such a file exists, without overriding variables already set: the
/// environment wins. Returns the file read; a file that exists but cannot be parsed is an
/// error naming it.
pub fn load_dotenv() -> Result<Option<std::path::PathBuf>, String> {
    match dotenvy::dotenv() {
        Ok(path) => Ok(Some(path)),
        Err(err) if err.not_found() => Ok(None),
        Err(err) => Err(format!(".env: {err}")),
    }
}

/// Marks an error answer with its stable `code`, so [`track`] can count it without parsing
/// bodies. A service's error type inserts it into the response's extensions.
#[derive(Clone, Copy, Debug)]
pub struct ErrorCode(pub &'static str);

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

fn duration_histogram() -> Histogram {
    // 50 µs to ~1.6 s: refusals are answered in microseconds, actions in milliseconds.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

/// Metrics of every HTTP answer: `http_requests_total{route,status}`,
/// `http_request_duration_seconds{route}` and `<errors_name>_total{code}`, registered under
/// the registry's prefix. `route` is the route template (`unmatched` for unknown paths), so
/// clients cannot create series by inventing paths.
#[derive(Clone)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram, fn() -> Histogram>,
    errors: Family<CodeLabels, Counter>,
}

impl std::fmt::Debug for HttpMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpMetrics").finish_non_exhaustive()
    }
}

impl HttpMetrics {
    /// Registers the three families in `registry`; error answers are counted as
    /// `errors_name` (`refusals` in the policy service, `errors` in the executor).
    pub fn register(registry: &mut Registry, errors_name: &str, errors_help: &str) -> Self {
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
        let errors = Family::<CodeLabels, Counter>::default();
        registry.register(errors_name, errors_help, errors.clone());
        HttpMetrics {
            requests,
            durations,
            errors,
        }
    }
}

/// Middleware counting every answer of the router it wraps (add it with
/// `axum::middleware::from_fn_with_state(metrics, track)` as a router layer, so the route
/// template is known).
pub async fn track(
    State(metrics): State<Arc<HttpMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    metrics
        .durations
        .get_or_create(&RouteLabels {
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels {
            route,
            status: response.status().as_u16(),
        })
        .inc();
    if let Some(ErrorCode(code)) = response.extensions().get::<ErrorCode>() {
        metrics.errors.get_or_create(&CodeLabels { code }).inc();
    }
    response
}

/// `registry` encoded as an OpenMetrics text answer. Encoding into a `String` fails only on
/// a bug in a metric's encoder; the caller turns that into its own internal error.
pub fn openmetrics(registry: &Registry) -> Result<Response, std::fmt::Error> {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry)?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// Wraps `router` in the layers every Warden service puts outside its routes, outermost
/// first:
///
/// 1. a request id, kept from the client's `x-request-id` when it sent one that
///    [`request_id::acceptable`] admits (the executor stores it in the audit row), else
///    generated;
/// 2. a tracing span per request that carries it, so every log line names the request;
/// 3. the id echoed back in the answer;
/// 4. a deadline for the answer, answered with `on_timeout` (the service's own JSON error).
///    Work a handler hands to its own task (a started action) still completes.
pub fn with_request_layers(
    router: Router,
    timeout: Duration,
    on_timeout: fn() -> Response,
) -> Router {
    router.layer(
        ServiceBuilder::new()
            .layer(axum::middleware::from_fn(request_id::screen))
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                    let id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
                }),
            )
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(HandleErrorLayer::new(move |_: tower::BoxError| async move {
                on_timeout()
            }))
            .timeout(timeout),
    )
}
