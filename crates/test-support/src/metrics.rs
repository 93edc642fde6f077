//! Prometheus scrapes for router tests: read `/metrics` in-process and look up samples.

use axum::Router;
use http::{StatusCode, header};

use crate::router::{get, send_raw};

/// The metrics text `router` serves at `GET /metrics`.
///
/// # Panics
///
/// When the answer is not `200` with an OpenMetrics content type, or not UTF-8: what a
/// Prometheus server would refuse to scrape.
pub async fn scrape(router: Router) -> String {
    let (status, headers, bytes) = send_raw(router, get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "content type {content_type:?}"
    );
    String::from_utf8(bytes).unwrap_or_else(|e| panic!("metrics are not UTF-8: {e}"))
}

/// Whether `text` has exactly the line `line` (a sample with its value, or a `# TYPE`).
pub fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

/// Whether `text` declares the family `name` as `kind` (`# TYPE name kind`).
pub fn has_family(text: &str, name: &str, kind: &str) -> bool {
    has_line(text, &format!("# TYPE {name} {kind}"))
}

/// The value of the sample `series` (a name with its labels, as exported) in `text`;
/// `None` when no such sample is exported.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.split(' ').next()?.parse().ok()
    })
}
