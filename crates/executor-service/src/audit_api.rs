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

use std::collections::{BTreeMap, HashMap};

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::Serialize;
use uuid::Uuid;
use warden_protocol::ExecuteResponse;

use crate::AppState;
use crate::error::ExecError;
use crate::store::{AuditCursor, AuditQuery, AuditRecord, AuditStatus, StatsBucket, StoreError};

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

/// The figures of one population of attempts (all of a window, one namespace, one type).
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Figures {
    /// Every attempt recorded in the window.
    pub total: u64,
    /// Attempts that reached the cluster: `succeeded + failed + unknown`.
    pub executed: u64,
    /// The cluster call succeeded.
    pub succeeded: u64,
    /// The cluster call failed (nothing changed).
    pub failed: u64,
    /// The cluster call's outcome is not known (timeout, executor interrupted).
    pub unknown: u64,
    /// Refused before any side effect.
    pub rejected: u64,
    /// Still running (or interrupted and not yet reconciled).
    pub pending: u64,
    /// `executed` per minute of the window.
    pub executions_per_minute: f64,
    /// `succeeded / executed`; `null` when nothing ran.
    pub success_ratio: Option<f64>,
    /// `failed / executed`; `null` when nothing ran. Unknown outcomes count in neither
    /// ratio, so the two add up to 1 only when no outcome is unknown.
    pub failure_ratio: Option<f64>,
    /// `rejected / total`; `null` when there was no attempt.
    pub denial_rate: Option<f64>,
    /// Mean `durationMs` of the executed attempts that have one; `null` when none has.
    pub average_duration_ms: Option<f64>,
}

/// `GET /executor/stats`: the figures of a window `[since, until)`.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Start of the window (included).
    #[schema(value_type = String, format = DateTime)]
    pub since: DateTime<Utc>,
    /// End of the window (excluded).
    #[schema(value_type = String, format = DateTime)]
    pub until: DateTime<Utc>,
    /// `until - since` in seconds.
    pub window_seconds: f64,
    /// The figures of every real (not dry-run) attempt of the window.
    #[serde(flatten)]
    pub figures: Figures,
    /// The same per target namespace; `""` holds attempts refused before their target
    /// was known.
    pub by_namespace: BTreeMap<String, Figures>,
    /// The same per `actionType`; `""` holds requests without one.
    pub by_type: BTreeMap<String, Figures>,
    /// The same figures for the dry runs of the window, which the others leave out.
    pub dry_run: Figures,
}

impl Stats {
    /// The figures of `buckets` (rows of `[since, until)`, `since < until`).
    pub fn from_buckets(
        buckets: &[StatsBucket],
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Stats {
        let mut all = Tally::default();
        let mut dry_run = Tally::default();
        let mut by_namespace: BTreeMap<String, Tally> = BTreeMap::new();
        let mut by_type: BTreeMap<String, Tally> = BTreeMap::new();
        for bucket in buckets {
            if bucket.dry_run {
                dry_run.add(bucket);
                continue;
            }
            all.add(bucket);
            by_namespace
                .entry(bucket.namespace.clone().unwrap_or_default())
                .or_default()
                .add(bucket);
            by_type
                .entry(bucket.action_type.clone().unwrap_or_default())
                .or_default()
                .add(bucket);
        }
        let window_seconds = (until - since).as_seconds_f64();
        let figures = |tally: &Tally| tally.figures(window_seconds);
        Stats {
            since,
            until,
            window_seconds,
            figures: figures(&all),
            by_namespace: by_namespace
                .iter()
                .map(|(k, t)| (k.clone(), figures(t)))
                .collect(),
            by_type: by_type
                .iter()
                .map(|(k, t)| (k.clone(), figures(t)))
                .collect(),
            dry_run: figures(&dry_run),
        }
    }
}

/// Counts of one population, before the division.
#[derive(Default)]
struct Tally {
    by_status: HashMap<AuditStatus, u64>,
    /// Summed `durationMs` of executed rows (i128: no sum of i64s can overflow it).
    executed_duration_ms: i128,
    /// Executed rows with a `durationMs`.
    executed_with_duration: u64,
}

impl Tally {
    fn add(&mut self, bucket: &StatsBucket) {
        *self.by_status.entry(bucket.status).or_default() += bucket.count;
        if ran(bucket.status) {
            self.executed_duration_ms += i128::from(bucket.duration_ms_sum);
            self.executed_with_duration += bucket.duration_count;
        }
    }

    fn count(&self, status: AuditStatus) -> u64 {
        self.by_status.get(&status).copied().unwrap_or(0)
    }

    // The casts to f64 lose precision only beyond 2^53 rows or milliseconds.
    fn figures(&self, window_seconds: f64) -> Figures {
        let succeeded = self.count(AuditStatus::Succeeded);
        let failed = self.count(AuditStatus::Failed);
        let unknown = self.count(AuditStatus::Unknown);
        let rejected = self.count(AuditStatus::Rejected);
        let pending = self.count(AuditStatus::Pending);
        let executed = succeeded + failed + unknown;
        let total = executed + rejected + pending;
        let ratio = |part: u64, whole: u64| (whole > 0).then(|| part as f64 / whole as f64);
        Figures {
            total,
            executed,
            succeeded,
            failed,
            unknown,
            rejected,
            pending,
            executions_per_minute: if window_seconds > 0.0 {
                executed as f64 * 60.0 / window_seconds
            } else {
                0.0
            },
            success_ratio: ratio(succeeded, executed),
            failure_ratio: ratio(failed, executed),
            denial_rate: ratio(rejected, total),
            average_duration_ms: (self.executed_with_duration > 0)
                .then(|| self.executed_duration_ms as f64 / self.executed_with_duration as f64),
        }
    }
}

/// Whether rows in `status` reached the cluster.
fn ran(status: AuditStatus) -> bool {
    matches!(
        status,
        AuditStatus::Succeeded | AuditStatus::Failed | AuditStatus::Unknown
    )
}

/// The opaque cursor of position `at`.
pub fn encode_cursor(at: AuditCursor) -> String {
    let text = format!(
        "{}|{}",
        at.created_at.to_rfc3339_opts(SecondsFormat::Nanos, true),
        at.id
    );
    URL_SAFE_NO_PAD.encode(text)
}

/// The position a cursor of [`encode_cursor`] names.
pub fn decode_cursor(cursor: &str) -> Result<AuditCursor, ExecError> {
    let bad = || {
        invalid(
            "cursor",
            "cursor: not a cursor of this API (pass `nextCursor` as is)",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (created_at, id) = text.split_once('|').ok_or_else(bad)?;
    Ok(AuditCursor {
        created_at: DateTime::parse_from_rfc3339(created_at)
            .map_err(|_| bad())?
            .with_timezone(&Utc),
        id: Uuid::parse_str(id).map_err(|_| bad())?,
    })
}

/// The query parameters of a request, checked against the ones an endpoint knows.
struct Params(HashMap<String, String>);

impl Params {
    fn new(
        query: Result<Query<Vec<(String, String)>>, QueryRejection>,
        known: &[&str],
    ) -> Result<Params, ExecError> {
        let Query(pairs) =
            query.map_err(|_| invalid("query", "the query string cannot be decoded"))?;
        let mut params = HashMap::new();
        for (name, value) in pairs {
            if !known.contains(&name.as_str()) {
                return Err(invalid(
                    &name,
                    format!(
                        "unknown query parameter `{name}` (known: {})",
                        known.join(", ")
                    ),
                ));
            }
            if value.is_empty() {
                return Err(invalid(
                    &name,
                    format!("{name}: empty; leave the parameter out instead"),
                ));
            }
            if params.contains_key(&name) {
                return Err(invalid(&name, format!("{name}: given more than once")));
            }
            params.insert(name, value);
        }
        Ok(Params(params))
    }

    fn take(&mut self, name: &str) -> Option<String> {
        self.0.remove(name)
    }

    /// An RFC 3339 time.
    fn time(&mut self, name: &str) -> Result<Option<DateTime<Utc>>, ExecError> {
        self.take(name)
            .map(|raw| {
                DateTime::parse_from_rfc3339(&raw)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| {
                        invalid(
                            name,
                            format!(
                                "{name}: expected an RFC 3339 time such as 2026-01-31T08:00:00Z \
                                 (in a URL, write `+` of an offset as `%2B`)"
                            ),
                        )
                    })
            })
            .transpose()
    }
}

/// `since` must come before `until`.
fn ordered(since: DateTime<Utc>, until: DateTime<Utc>) -> Result<(), ExecError> {
    if since < until {
        Ok(())
    } else {
        Err(invalid("since", "since: must be before until"))
    }
}

fn invalid(field: &str, message: impl Into<String>) -> ExecError {
    ExecError::InvalidQuery {
        message: message.into(),
        field: field.to_owned(),
    }
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
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp)]
    use super::*;

    fn bucket(
        namespace: Option<&str>,
        action_type: Option<&str>,
        status: AuditStatus,
        dry_run: bool,
        count: u64,
        durations: &[i64],
    ) -> StatsBucket {
        StatsBucket {
            namespace: namespace.map(str::to_owned),
            action_type: action_type.map(str::to_owned),
            status,
            dry_run,
            count,
            duration_ms_sum: durations.iter().sum(),
            duration_count: durations.len() as u64,
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn figures_follow_their_definitions() {
        // Arrange: a 10-minute window.
        let since = at("2026-01-01T00:00:00Z");
        let until = at("2026-01-01T00:10:00Z");
        let buckets = [
            bucket(
                Some("prod"),
                Some("restart_pod"),
                AuditStatus::Succeeded,
                false,
                3,
                &[100, 200, 300],
            ),
            bucket(
                Some("prod"),
                Some("scale_deployment"),
                AuditStatus::Failed,
                false,
                1,
                &[400],
            ),
            bucket(
                Some("dev"),
                Some("restart_pod"),
                AuditStatus::Unknown,
                false,
                1,
                &[],
            ),
            bucket(
                Some("dev"),
                Some("restart_pod"),
                AuditStatus::Rejected,
                false,
                2,
                &[5, 5],
            ),
            bucket(None, None, AuditStatus::Rejected, false, 2, &[1]),
            bucket(
                Some("prod"),
                Some("restart_pod"),
                AuditStatus::Pending,
                false,
                1,
                &[],
            ),
            bucket(
                Some("prod"),
                Some("restart_pod"),
                AuditStatus::Succeeded,
                true,
                4,
                &[10, 10, 10, 10],
            ),
        ];

        // Act
        let stats = Stats::from_buckets(&buckets, since, until);

        // Assert
        assert_eq!(stats.window_seconds, 600.0);
        let all = &stats.figures;
        assert_eq!((all.total, all.executed), (10, 5));
        assert_eq!((all.succeeded, all.failed, all.unknown), (3, 1, 1));
        assert_eq!((all.rejected, all.pending), (4, 1));
        assert_eq!(all.executions_per_minute, 0.5);
        assert_eq!(all.success_ratio, Some(0.6));
        assert_eq!(all.failure_ratio, Some(0.2));
        assert_eq!(all.denial_rate, Some(0.4));
        // Executed rows with a duration: 100, 200, 300, 400 (rejections do not count).
        assert_eq!(all.average_duration_ms, Some(250.0));

        let prod = &stats.by_namespace["prod"];
        assert_eq!((prod.total, prod.executed, prod.pending), (5, 4, 1));
        assert_eq!(prod.success_ratio, Some(0.75));
        assert_eq!(prod.denial_rate, Some(0.0));
        let none = &stats.by_namespace[""];
        assert_eq!((none.total, none.rejected), (2, 2));
        assert_eq!(none.success_ratio, None);
        assert_eq!(none.average_duration_ms, None);
        assert_eq!(stats.by_namespace.len(), 3);

        let restart = &stats.by_type["restart_pod"];
        assert_eq!((restart.total, restart.executed), (7, 4));
        assert_eq!(restart.average_duration_ms, Some(200.0));
        assert_eq!(stats.by_type[""].total, 2);

        assert_eq!((stats.dry_run.total, stats.dry_run.succeeded), (4, 4));
        assert_eq!(stats.dry_run.average_duration_ms, Some(10.0));
    }

    #[test]
    fn an_empty_window_has_zeroes_and_no_ratios() {
        // Act
        let stats =
            Stats::from_buckets(&[], at("2026-01-01T00:00:00Z"), at("2026-01-02T00:00:00Z"));

        // Assert
        assert_eq!(stats.figures, Figures::default());
        assert!(stats.by_namespace.is_empty() && stats.by_type.is_empty());
        let json = serde_json::to_value(&stats).unwrap();
        assert_eq!(json["windowSeconds"], 86_400.0);
        assert_eq!(json["total"], 0);
        assert!(json["successRatio"].is_null());
        assert!(json["denialRate"].is_null());
        assert!(json["averageDurationMs"].is_null());
        assert_eq!(json["dryRun"]["total"], 0);
    }

    #[test]
    fn a_cursor_names_its_position_exactly() {
        // Arrange
        let at = AuditCursor {
            created_at: at("2026-03-04T05:06:07.123456789Z"),
            id: Uuid::now_v7(),
        };

        // Act
        let cursor = encode_cursor(at);

        // Assert
        assert!(
            cursor
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(decode_cursor(&cursor).unwrap(), at);
    }

    #[test]
    fn anything_else_is_not_a_cursor() {
        for bad in [
            "!!",
            "bm90IGEgY3Vyc29y",                                // "not a cursor"
            &URL_SAFE_NO_PAD.encode("2026-01-01T00:00:00Z|x"), // bad uuid
            &URL_SAFE_NO_PAD.encode(format!("yesterday|{}", Uuid::nil())),
        ] {
            let err = decode_cursor(bad).unwrap_err();
            assert_eq!(err.code(), "invalid_query", "{bad}");
        }
    }

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
