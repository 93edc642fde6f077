//! What the Postgres and SQLite stores share: the SQL of the audit API's reads (filters,
//! keyset paging, the stats `GROUP BY`), the reconcile wording, decoding of the columns
//! both schemas type alike, and the bound on every operation.
//!
//! The schemas differ only in how they type uuids, times and JSON (native on Postgres,
//! text on SQLite), so a store describes exactly those in its [`Dialect`] and everything
//! else is written once here.

use std::future::Future;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{ColumnIndex, Database, Decode, Encode, QueryBuilder, Row, Type};
use uuid::Uuid;

use super::{
    AuditQuery, AuditRecord, AuditStatus, Budget, Completion, Outcome, StatsBucket, StoreError,
};

/// Every column of `action_audit_logs`, in the order [`record`] reads them (a macro, so
/// that `concat!` builds whole statements from it).
macro_rules! record_columns {
    () => {
        r#""id", "actionType", "actionParams", "requestedBy", "decisionId", "policyVersion",
           "policyDecision", "status", "reasonCode", "error", "result", "dryRun", "clientIp",
           "requestId", "signatureForm", "namespace", "targetKind", "targetName", "budgetKey",
           "durationMs", "createdAt", "updatedAt", "approvalId", "grantId", "approvedBy""#
    };
}

/// Bound on one store operation: a wedged database (or file system) must become a quick
/// 503, not a hung request.
pub(super) const OPERATION_TIMEOUT: Duration = Duration::from_secs(15);

/// How a store's database spells the columns the two schemas type differently.
pub(super) trait Dialect: Database {
    /// What the store is called in a timeout message.
    const STORE_NAME: &'static str;

    /// Binds a string a client sent, as the store keeps it.
    fn push_text(sql: &mut QueryBuilder<Self>, value: &str);

    /// Binds a time as the time columns hold it.
    fn push_time(sql: &mut QueryBuilder<Self>, value: DateTime<Utc>);

    /// Binds a uuid as the `id` column holds it.
    fn push_uuid(sql: &mut QueryBuilder<Self>, value: Uuid);

    /// Binds a JSON value as the JSON columns hold it.
    fn push_json(sql: &mut QueryBuilder<Self>, value: &Value);

    /// The current time, as a time column holds it.
    fn push_now(sql: &mut QueryBuilder<Self>);

    /// The time `ago` before now, as a time column holds it.
    fn push_ago(sql: &mut QueryBuilder<Self>, ago: Duration);

    /// Reads the uuid column `column`.
    fn uuid(row: &Self::Row, column: &str) -> Result<Uuid, sqlx::Error>;

    /// Reads the nullable uuid column `column`.
    fn uuid_opt(row: &Self::Row, column: &str) -> Result<Option<Uuid>, sqlx::Error>;

    /// Reads the nullable time column `column`.
    fn time_opt(row: &Self::Row, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error>;

    /// Reads the JSON column `column`.
    fn json(row: &Self::Row, column: &str) -> Result<Option<Value>, sqlx::Error>;

    /// Reads the time column `column`.
    fn time(row: &Self::Row, column: &str) -> Result<DateTime<Utc>, sqlx::Error>;

    /// How many rows a statement changed.
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// What a `SELECT` appends to lock the rows it reads until the transaction ends
    /// (Postgres); empty where [`Dialect::begin_write`] already holds the only write lock.
    const FOR_UPDATE: &'static str;

    /// Opens a transaction that may write: on SQLite it takes the write lock first
    /// (`BEGIN IMMEDIATE`), so that what it reads cannot change before it writes.
    fn begin_write(
        pool: &sqlx::Pool<Self>,
    ) -> impl Future<Output = Result<sqlx::Transaction<'_, Self>, sqlx::Error>> + Send;
}

/// The `approvedBy` column of an attempt: `NULL` when nobody approved it.
pub(super) fn approved_by(attempt: &super::Attempt) -> Option<Value> {
    (!attempt.approved_by.is_empty()).then(|| Value::from(attempt.approved_by.clone()))
}

/// The `UPDATE` of [`AuditStore::finish`](super::AuditStore::finish): the outcome replaces
/// the row only while it is `pending`, so a retried finish, or one that comes after the
/// row was reconciled, changes nothing. Run it with [`finished`] on its answer.
pub(super) fn finish_query<DB: Dialect>(id: Uuid, completion: &Completion) -> QueryBuilder<DB>
where
    i64: for<'q> Encode<'q, DB> + Type<DB>,
{
    let outcome = &completion.outcome;
    let mut sql = QueryBuilder::<DB>::new(r#"UPDATE action_audit_logs SET "status" = "#);
    DB::push_text(&mut sql, outcome.status().as_str());
    match outcome {
        Outcome::Succeeded { result } => {
            sql.push(r#", "reasonCode" = NULL, "error" = NULL, "result" = "#);
            DB::push_json(&mut sql, result);
        }
        Outcome::Failed { reason, error } | Outcome::Unknown { reason, error } => {
            sql.push(r#", "reasonCode" = "#);
            DB::push_text(&mut sql, reason);
            sql.push(r#", "error" = "#);
            DB::push_text(&mut sql, error);
            sql.push(r#", "result" = NULL"#);
        }
    }
    sql.push(r#", "durationMs" = "#)
        .push_bind(millis(completion.duration));
    sql.push(r#", "updatedAt" = "#);
    DB::push_now(&mut sql);
    sql.push(r#" WHERE "id" = "#);
    DB::push_uuid(&mut sql, id);
    sql.push(r#" AND "status" = 'pending'"#);
    sql
}

/// Traces a [`finish_query`] that changed no row.
pub(super) fn finished(id: Uuid, completion: &Completion, rows_affected: u64) {
    if rows_affected == 0 {
        // Expected when a retried finish already landed; worth a trace when the row was
        // reconciled to `unknown` first, since this outcome is then only here.
        tracing::info!(
            audit_id = %id,
            status = completion.outcome.status().as_str(),
            reason = completion.outcome.reason(),
            "audit row is not pending (already final); outcome not written"
        );
    }
}

/// The `UPDATE` of [`AuditStore::reconcile_pending`](super::AuditStore::reconcile_pending):
/// rows still `pending` after `older_than` become `unknown`, reason `interrupted`.
pub(super) fn reconcile_query<DB: Dialect>(older_than: Duration) -> QueryBuilder<DB> {
    let mut sql = QueryBuilder::<DB>::new(
        r#"UPDATE action_audit_logs
           SET "status" = 'unknown', "reasonCode" = 'interrupted',
               "error" = 'the executor stopped before recording the outcome; check the cluster',
               "updatedAt" = "#,
    );
    DB::push_now(&mut sql);
    sql.push(r#" WHERE "status" = 'pending' AND "createdAt" < "#);
    DB::push_ago(&mut sql, older_than);
    sql
}

/// The `SELECT` of [`AuditStore::list`](super::AuditStore::list). Only the filters given
/// become SQL, so each combination gets a plan that can use its index (a generic
/// `$1 IS NULL OR ...` plan could not): at most 2^7 statement texts, each prepared once
/// per connection.
pub(super) fn list_query<DB: Dialect>(query: &AuditQuery) -> QueryBuilder<DB>
where
    i64: for<'q> Encode<'q, DB> + Type<DB>,
{
    let mut sql = QueryBuilder::<DB>::new(concat!(
        "SELECT ",
        record_columns!(),
        " FROM action_audit_logs WHERE TRUE"
    ));
    if let Some(requested_by) = &query.requested_by {
        sql.push(r#" AND "requestedBy" = "#);
        DB::push_text(&mut sql, requested_by);
    }
    if let Some(action_type) = &query.action_type {
        sql.push(r#" AND "actionType" = "#);
        DB::push_text(&mut sql, action_type);
    }
    if let Some(namespace) = &query.namespace {
        sql.push(r#" AND "namespace" = "#);
        DB::push_text(&mut sql, namespace);
    }
    if let Some(status) = query.status {
        sql.push(r#" AND "status" = "#);
        DB::push_text(&mut sql, status.as_str());
    }
    if let Some(since) = query.since {
        sql.push(r#" AND "createdAt" >= "#);
        DB::push_time(&mut sql, since);
    }
    if let Some(until) = query.until {
        sql.push(r#" AND "createdAt" < "#);
        DB::push_time(&mut sql, until);
    }
    if let Some(after) = query.after {
        // A row comparison, which the index ("createdAt" DESC, "id" DESC) serves. On
        // SQLite, fixed-width times and lowercase hyphenated UUIDv7 text both compare as
        // their values do, so it means the same there.
        sql.push(r#" AND ("createdAt", "id") < ("#);
        DB::push_time(&mut sql, after.created_at);
        sql.push(", ");
        DB::push_uuid(&mut sql, after.id);
        sql.push(")");
    }
    sql.push(r#" ORDER BY "createdAt" DESC, "id" DESC LIMIT "#)
        .push_bind(i64::from(query.limit));
    sql
}

/// The `SELECT` of [`AuditStore::get`](super::AuditStore::get); its row is read with
/// [`record`].
pub(super) fn get_query<DB: Dialect>(id: Uuid) -> QueryBuilder<DB> {
    let mut sql = QueryBuilder::<DB>::new(concat!(
        "SELECT ",
        record_columns!(),
        r#" FROM action_audit_logs WHERE "id" = "#
    ));
    DB::push_uuid(&mut sql, id);
    sql
}

/// The `GROUP BY` of [`AuditStore::stats_buckets`](super::AuditStore::stats_buckets); its
/// rows are read with [`bucket`].
pub(super) fn stats_query<DB: Dialect>(
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> QueryBuilder<DB> {
    let mut sql = QueryBuilder::<DB>::new(
        r#"SELECT "namespace", "actionType", "status", "dryRun",
                  count(*) AS rows,
                  CAST(COALESCE(sum("durationMs"), 0) AS BIGINT) AS duration_ms_sum,
                  count("durationMs") AS duration_count
           FROM action_audit_logs
           WHERE "createdAt" >= "#,
    );
    DB::push_time(&mut sql, since);
    sql.push(r#" AND "createdAt" < "#);
    DB::push_time(&mut sql, until);
    sql.push(r#" GROUP BY "namespace", "actionType", "status", "dryRun""#);
    sql
}

/// A row selected with `record_columns!()`.
pub(super) fn record<DB: Dialect>(row: &DB::Row) -> Result<AuditRecord, sqlx::Error>
where
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> bool: Decode<'r, DB> + Type<DB>,
    for<'c> &'c str: ColumnIndex<DB::Row>,
{
    Ok(AuditRecord {
        id: DB::uuid(row, "id")?,
        action_type: row.try_get("actionType")?,
        action_params: DB::json(row, "actionParams")?,
        requested_by: row.try_get("requestedBy")?,
        decision_id: row.try_get("decisionId")?,
        policy_version: row.try_get("policyVersion")?,
        policy_decision: DB::json(row, "policyDecision")?,
        status: status(row)?,
        reason_code: row.try_get("reasonCode")?,
        error: row.try_get("error")?,
        result: DB::json(row, "result")?,
        dry_run: row.try_get("dryRun")?,
        client_ip: row.try_get("clientIp")?,
        request_id: row.try_get("requestId")?,
        signature_form: row.try_get("signatureForm")?,
        namespace: row.try_get("namespace")?,
        target_kind: row.try_get("targetKind")?,
        target_name: row.try_get("targetName")?,
        budget_key: row.try_get("budgetKey")?,
        duration_ms: row.try_get("durationMs")?,
        created_at: DB::time(row, "createdAt")?,
        updated_at: DB::time(row, "updatedAt")?,
        approval_id: DB::uuid_opt(row, "approvalId")?,
        grant_id: DB::uuid_opt(row, "grantId")?,
        approved_by: DB::json(row, "approvedBy")?
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| decode_error("approvedBy", e))?,
    })
}

/// A row of [`stats_query`].
pub(super) fn bucket<DB: Dialect>(row: &DB::Row) -> Result<StatsBucket, sqlx::Error>
where
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> bool: Decode<'r, DB> + Type<DB>,
    for<'c> &'c str: ColumnIndex<DB::Row>,
{
    Ok(StatsBucket {
        namespace: row.try_get("namespace")?,
        action_type: row.try_get("actionType")?,
        status: status(row)?,
        dry_run: row.try_get("dryRun")?,
        count: count(row, "rows")?,
        duration_ms_sum: row.try_get("duration_ms_sum")?,
        duration_count: count(row, "duration_count")?,
    })
}

/// The `status` column (its CHECK constraint admits only the five spellings).
fn status<R: Row>(row: &R) -> Result<AuditStatus, sqlx::Error>
where
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'c> &'c str: ColumnIndex<R>,
{
    let spelling: String = row.try_get("status")?;
    spelling.parse().map_err(|e| decode_error("status", e))
}

/// A `count(*)` column (a bigint, never negative).
fn count<R: Row>(row: &R, column: &str) -> Result<u64, sqlx::Error>
where
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'c> &'c str: ColumnIndex<R>,
{
    let n: i64 = row.try_get(column)?;
    u64::try_from(n).map_err(|e| decode_error(column, e))
}

/// A column whose value does not decode.
pub(super) fn decode_error(
    column: &str,
    e: impl std::error::Error + Send + Sync + 'static,
) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.into(),
        source: Box::new(e),
    }
}

/// Runs one sqlx call within [`OPERATION_TIMEOUT`], mapping every failure to
/// [`StoreError::Unavailable`] with `what` as context.
pub(super) async fn bounded<DB: Dialect, T>(
    what: &'static str,
    call: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, StoreError> {
    bounded_store::<DB, T>(async { call.await.context(what).map_err(StoreError::Unavailable) })
        .await
}

/// [`OPERATION_TIMEOUT`] around a whole store operation.
pub(super) async fn bounded_store<DB: Dialect, T>(
    operation: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(OPERATION_TIMEOUT, operation).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::Unavailable(anyhow!(
            "no answer from {} within {}s",
            DB::STORE_NAME,
            OPERATION_TIMEOUT.as_secs()
        ))),
    }
}

/// The error text of a budget refusal.
pub(super) fn budget_message(budget: &Budget) -> String {
    format!(
        "rate budget '{}' exhausted: at most {} per {}s",
        budget.key,
        budget.max,
        budget.ttl.as_secs()
    )
}

/// A duration in whole milliseconds for a bigint column.
pub(super) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
