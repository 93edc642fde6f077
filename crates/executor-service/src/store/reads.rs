//! The audit API's reads, written once for both stores: each builds its query with
//! [`shared`], runs it within the operation deadline and decodes the rows the same way.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Pool, Type};
use uuid::Uuid;

use super::shared::{self, Dialect, bounded};
use super::{AuditQuery, AuditRecord, StatsBucket, StoreError};

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
