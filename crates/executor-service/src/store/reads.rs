//! The store operations that are the same SQL on both stores, written once: the audit
//! API's reads, the final update, reconciliation and the ping. Each builds its statement
//! with [`shared`], runs it within the operation deadline and decodes the rows the same way.
//! (`begin` differs per store and stays in each.)

use anyhow::Context as _;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Pool, Type};
use uuid::Uuid;

use super::shared::{self, Dialect, bounded};
use super::{AuditQuery, AuditRecord, Completion, StatsBucket, StoreError};

/// [`AuditStore::list`](super::AuditStore::list) on `pool`.
pub(super) async fn list<DB: Dialect>(
    pool: &Pool<DB>,
    query: &AuditQuery,
) -> Result<Vec<AuditRecord>, StoreError>
where
    i64: for<'q> Encode<'q, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> bool: Decode<'r, DB> + Type<DB>,
    for<'c> &'c str: ColumnIndex<DB::Row>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
{
    let mut select = shared::list_query::<DB>(query);
    let rows = bounded::<DB, _>("list: reading audit rows", select.build().fetch_all(pool)).await?;
    rows.iter()
        .map(shared::record::<DB>)
        .collect::<Result<_, _>>()
        .context("list: decoding audit rows")
        .map_err(StoreError::Unavailable)
}

/// [`AuditStore::get`](super::AuditStore::get) on `pool`.
pub(super) async fn get<DB: Dialect>(
    pool: &Pool<DB>,
    id: Uuid,
) -> Result<Option<AuditRecord>, StoreError>
where
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> bool: Decode<'r, DB> + Type<DB>,
    for<'c> &'c str: ColumnIndex<DB::Row>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
{
    let mut select = shared::get_query::<DB>(id);
    let row = bounded::<DB, _>(
        "get: reading an audit row",
        select.build().fetch_optional(pool),
    )
    .await?;
    row.as_ref()
        .map(shared::record::<DB>)
        .transpose()
        .context("get: decoding an audit row")
        .map_err(StoreError::Unavailable)
}

/// [`AuditStore::stats_buckets`](super::AuditStore::stats_buckets) on `pool`.
pub(super) async fn stats_buckets<DB: Dialect>(
    pool: &Pool<DB>,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<StatsBucket>, StoreError>
where
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> bool: Decode<'r, DB> + Type<DB>,
    for<'c> &'c str: ColumnIndex<DB::Row>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
{
    let mut select = shared::stats_query::<DB>(since, until);
    let rows =
        bounded::<DB, _>("stats: counting audit rows", select.build().fetch_all(pool)).await?;
    rows.iter()
        .map(shared::bucket::<DB>)
        .collect::<Result<_, _>>()
        .context("stats: decoding counts")
        .map_err(StoreError::Unavailable)
}

/// [`AuditStore::finish`](super::AuditStore::finish) on `pool`.
pub(super) async fn finish<DB: Dialect>(
    pool: &Pool<DB>,
    id: Uuid,
    completion: &Completion,
) -> Result<(), StoreError>
where
    i64: for<'q> Encode<'q, DB> + Type<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
{
    let mut update = shared::finish_query::<DB>(id, completion);
    let done =
        bounded::<DB, _>("finish: writing the outcome", update.build().execute(pool)).await?;
    shared::finished(id, completion, DB::rows_affected(&done));
    Ok(())
}

/// [`AuditStore::ping`](super::AuditStore::ping) on `pool`.
pub(super) async fn ping<DB: Dialect>(pool: &Pool<DB>) -> Result<(), StoreError>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
{
    bounded::<DB, _>("ping", sqlx::query::<DB>("SELECT 1").execute(pool)).await?;
    Ok(())
}

/// [`AuditStore::reconcile_pending`](super::AuditStore::reconcile_pending) on `pool`.
pub(super) async fn reconcile_pending<DB: Dialect>(
    pool: &Pool<DB>,
    older_than: Duration,
) -> Result<u64, StoreError>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
{
    let mut update = shared::reconcile_query::<DB>(older_than);
    let done = bounded::<DB, _>(
        "reconcile: marking interrupted rows",
        update.build().execute(pool),
    )
    .await?;
    Ok(DB::rows_affected(&done))
}
