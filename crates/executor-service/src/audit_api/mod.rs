//! The audit API: read access to `action_audit_logs` for operators, and the monitoring
//! figures computed from it.
//!
//! - `GET /executor/audit`: rows newest first, filtered by `requestedBy`, `actionType`,
//!   `namespace`, `status`, `since` / `until` (RFC 3339), in pages of `limit` (1..=500,
//!   default 50) linked by an opaque `cursor`.
//! - `GET /executor/audit/{id}`: one row.
//! - `GET /executor/stats?since=&until=`: execution rate, success and failure ratios,
//!   average duration and denial rate, in total, by namespace and by action type.
//!
//! # Access
//!
//! The endpoints exist only when `EXECUTOR_ADMIN_TOKEN` is set (otherwise they answer 404
//! like any unknown path), and then only for `Authorization: Bearer <token>`. The token is
//! compared as a SHA-256 digest in constant time ([`crate::config::AdminToken`]). Without a
//! token the answer is 401 with `WWW-Authenticate: Bearer`; with a wrong one it is 401 as
//! well (RFC 6750 `invalid_token`: 403 would mean a valid credential lacking a right, and
//! there is only one right here). These reads are neither throttled nor audited: they are
//! not actions, and an audit row per read would grow the table it reads.
//!
//! # Strict parameters
//!
//! An unknown, repeated or empty query parameter is a 400 naming it, as is a bad value: a
//! typo such as `requested_by=` must not silently widen an audit query to every row.
//!
//! # Paging
//!
//! Keyset paging on `("createdAt", id)`, the order of the listing: the cursor is the
//! position of the last row of the page (base64url of `<createdAt RFC 3339>|<id>`), and the
//! next page holds the rows strictly after it. Rows written meanwhile never shift a page,
//! so a walk sees every older row exactly once. One row more than the page is fetched, so
//! `nextCursor` is `null` exactly on the last page.
//!
//! # Figures
//!
//! Each store counts rows per `(namespace, actionType, status, dryRun)` in the window
//! ([`crate::store::AuditStore::stats_buckets`]); [`Stats::from_buckets`] does the
//! arithmetic, so every store gives the same figures. Dry runs change nothing, so the
//! figures, `byNamespace` and `byType` count real attempts only, and `dryRun` holds the same
//! figures for dry runs (in total).

//!
//! # Layout
//!
//! - `mod.rs`: the routes, the admin check and the three handlers;
//! - `query.rs`: strict query parameters and the opaque cursor;
//! - `stats.rs`: the figures, computed from a store's [`crate::store::StatsBucket`]s.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{TimeDelta, Utc};
use serde::Serialize;
use uuid::Uuid;
use warden_protocol::ExecuteResponse;

use crate::AppState;
use crate::error::ExecError;
use crate::store::{AuditCursor, AuditQuery, AuditRecord, AuditStatus, StoreError};

mod query;
mod stats;

use query::{Params, invalid, ordered};
pub use query::{decode_cursor, encode_cursor};
pub use stats::{Figures, Stats};

/// Page size when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page size.
pub const MAX_LIMIT: u32 = 500;
/// Window of `/executor/stats` when `since` is not given.
pub const DEFAULT_STATS_WINDOW: TimeDelta = TimeDelta::hours(24);

/// The audit API's routes, behind the admin token check. [`crate::app`] adds them only
/// when `EXECUTOR_ADMIN_TOKEN` is set.
pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/executor/audit", get(list))
        .route("/executor/audit/{id}", get(get_record))
        .route("/executor/stats", get(stats))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_admin,
        ))
}

/// Lets a request through only with `Authorization: Bearer <EXECUTOR_ADMIN_TOKEN>`.
pub async fn require_admin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(admin) = state.config().admin_token.as_ref() else {
        // Not reached while `app` leaves the routes out without a token; off either way.
        return ExecError::NotFound.into_response();
    };
    match bearer(request.headers()) {
        None => ExecError::AdminTokenMissing.into_response(),
        Some(presented) if admin.verify(presented) => next.run(request).await,
        Some(_) => {
            tracing::warn!(path = %request.uri().path(), "audit API: wrong admin token");
            ExecError::AdminTokenInvalid.into_response()
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// One page of `GET /executor/audit`.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    /// The rows, newest first.
    pub items: Vec<AuditRecord>,
    /// Pass as `cursor` (with the same filters) for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /executor/audit`.
#[utoipa::path(
    get,
    path = "/executor/audit",
    tag = "audit",
    params(
        ("requestedBy" = Option<String>, Query, description = "Only rows of this requester"),
        ("actionType" = Option<String>, Query, description = "Only rows of this action type"),
        ("namespace" = Option<String>, Query, description = "Only rows whose target is in this namespace"),
        ("status" = Option<AuditStatus>, Query, description = "Only rows in this state"),
        ("since" = Option<String>, Query, format = DateTime, description = "RFC 3339 time: only rows created at or after it (write `+` as `%2B`)"),
        ("until" = Option<String>, Query, format = DateTime, description = "RFC 3339 time: only rows created before it"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Page size, default 50"),
        ("cursor" = Option<String>, Query, description = "The `nextCursor` of the previous page"),
    ),
    security(("adminToken" = [])),
    responses(
        (status = 200, description = "A page of audit rows, newest first", body = AuditPage),
        (status = 400, description = "An unknown, repeated, empty or invalid parameter (`field` names it)", body = ExecuteResponse),
        (status = 401, description = "No bearer token, or not the admin token", body = ExecuteResponse),
        (status = 404, description = "The audit API is off (EXECUTOR_ADMIN_TOKEN unset)", body = ExecuteResponse),
        (status = 503, description = "The audit store is unavailable", body = ExecuteResponse),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<AuditPage>, ExecError> {
    let mut params = Params::new(
        query,
        &[
            "requestedBy",
            "actionType",
            "namespace",
            "status",
            "since",
            "until",
            "limit",
            "cursor",
        ],
    )?;
    let limit = match params.take("limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                invalid(
                    "limit",
                    format!("limit: expected a whole number from 1 to {MAX_LIMIT}"),
                )
            })?,
    };
    let status = params
        .take("status")
        .map(|raw| {
            raw.parse::<AuditStatus>()
                .map_err(|e| invalid("status", format!("status: {e}")))
        })
        .transpose()?;
    let since = params.time("since")?;
    let until = params.time("until")?;
    if let (Some(since), Some(until)) = (since, until) {
        ordered(since, until)?;
    }
    let query = AuditQuery {
        requested_by: params.take("requestedBy"),
        action_type: params.take("actionType"),
        namespace: params.take("namespace"),
        status,
        since,
        until,
        // One more than the page: whether it comes back says whether a next page exists.
        limit: limit + 1,
        after: params
            .take("cursor")
            .map(|c| decode_cursor(&c))
            .transpose()?,
    };
    let mut items = state
        .store()
        .list(&query)
        .await
        .map_err(|e| unavailable(&state, "list", e))?;
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items
            .last()
            .map(|last| encode_cursor(AuditCursor::of(last)))
    } else {
        None
    };
    Ok(Json(AuditPage { items, next_cursor }))
}

/// `GET /executor/audit/{id}`.
#[utoipa::path(
    get,
    path = "/executor/audit/{id}",
    tag = "audit",
    params(("id" = String, Path, format = "uuid", description = "The row id (the `auditId` of the execute answer)")),
    security(("adminToken" = [])),
    responses(
        (status = 200, description = "The audit row", body = AuditRecord),
        (status = 400, description = "The id is not a UUID", body = ExecuteResponse),
        (status = 401, description = "No bearer token, or not the admin token", body = ExecuteResponse),
        (status = 404, description = "No such row, or the audit API is off (EXECUTOR_ADMIN_TOKEN unset)", body = ExecuteResponse),
        (status = 503, description = "The audit store is unavailable", body = ExecuteResponse),
    ),
)]
pub async fn get_record(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<AuditRecord>, ExecError> {
    let id = id
        .ok()
        .and_then(|Path(raw)| Uuid::parse_str(&raw).ok())
        .ok_or_else(|| invalid("id", "id: expected a UUID"))?;
    let record = state
        .store()
        .get(id)
        .await
        .map_err(|e| unavailable(&state, "get", e))?;
    record.map(Json).ok_or(ExecError::AuditRecordNotFound(id))
}

/// `GET /executor/stats`.
#[utoipa::path(
    get,
    path = "/executor/stats",
    tag = "audit",
    params(
        ("since" = Option<String>, Query, format = DateTime, description = "RFC 3339 start of the window (included); default 24 hours before `until`"),
        ("until" = Option<String>, Query, format = DateTime, description = "RFC 3339 end of the window (excluded); default now"),
    ),
    security(("adminToken" = [])),
    responses(
        (status = 200, description = "The figures of the window", body = Stats),
        (status = 400, description = "An unknown, repeated, empty or invalid parameter, or `since` not before `until`", body = ExecuteResponse),
        (status = 401, description = "No bearer token, or not the admin token", body = ExecuteResponse),
        (status = 404, description = "The audit API is off (EXECUTOR_ADMIN_TOKEN unset)", body = ExecuteResponse),
        (status = 503, description = "The audit store is unavailable", body = ExecuteResponse),
    ),
)]
pub async fn stats(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Stats>, ExecError> {
    let mut params = Params::new(query, &["since", "until"])?;
    let until = params.time("until")?.unwrap_or_else(Utc::now);
    let since = match params.time("since")? {
        Some(since) => since,
        None => until
            .checked_sub_signed(DEFAULT_STATS_WINDOW)
            .ok_or_else(|| invalid("until", "until: too early"))?,
    };
    ordered(since, until)?;
    let buckets = state
        .store()
        .stats_buckets(since, until)
        .await
        .map_err(|e| unavailable(&state, "stats", e))?;
    Ok(Json(Stats::from_buckets(&buckets, since, until)))
}

/// A store failure, counted and logged, as the 503 of the execute path.
fn unavailable(state: &AppState, operation: &'static str, err: StoreError) -> ExecError {
    state.metrics().store_error(operation);
    tracing::error!(
        error = format!("{err:#}"),
        operation,
        "audit API: store unavailable"
    );
    ExecError::StoreUnavailable
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn the_bearer_token_is_read_from_the_authorization_header() {
        let headers = |value: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, value.parse().unwrap());
            h
        };
        assert_eq!(bearer(&headers("Bearer abc")), Some("abc"));
        assert_eq!(bearer(&headers("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(&headers("Basic abc")), None);
        assert_eq!(bearer(&headers("Bearer")), None);
        assert_eq!(bearer(&headers("Bearer ")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
