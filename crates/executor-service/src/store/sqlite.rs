//! [`AuditStore`] in an embedded SQLite file: the store of `cargo run` and of single-node
//! trials, with the table, columns and rules of the Postgres store (`migrations-sqlite/`).
//!
//! # Same semantics, simpler means
//!
//! SQLite has one writer at a time. [`AuditStore::begin`] therefore opens its transaction
//! with `BEGIN IMMEDIATE` (it takes the write lock first, so two attempts cannot both read
//! "unused" and both write), then, in that one transaction: finds the attempt that already
//! consumed the decision, counts the budget's uses in the last `ttl`, records its own use
//! and inserts the row. The single-use partial unique index is the same as on Postgres, as
//! a second line of defence. Budgets are exact for every process sharing the file; the
//! price is that all writes queue on one lock, which is fine for what this store is for.
//!
//! Durability: WAL journal with `synchronous = FULL`, so a committed pending row survives
//! a power cut before the cluster is called, as on Postgres.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row as _, Sqlite, SqliteConnection};
use uuid::Uuid;

use super::approval_sql;
use super::reads;
use super::shared::{
    self, Dialect, OPERATION_TIMEOUT, approved_by, budget_message, decode_error, millis,
};
use super::{
    Attempt, AuditQuery, AuditRecord, AuditStatus, AuditStore, Begin, Budget, Completion,
    StatsBucket, StoreError,
};

/// The embedded migrations of the SQLite schema (`migrations-sqlite/`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations-sqlite");

/// How long a statement waits for another writer (another process on the same file).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections: readers run in parallel under WAL; writers queue on SQLite's lock anyway.
const MAX_CONNECTIONS: u32 = 4;

/// The SQLite audit store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating it and its directory if needed) the database named by `url`
    /// (`sqlite://data/warden.db`, `sqlite:/var/lib/warden/audit.db`) and applies the
    /// migrations.
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .context("DATABASE_URL is not a valid sqlite: URL")
            .map_err(StoreError::Unavailable)?;
        let dir = options
            .get_filename()
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(Path::to_path_buf);
        if let Some(dir) = dir {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create the directory {}", dir.display()))
                .map_err(StoreError::Unavailable)?;
        }
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(OPERATION_TIMEOUT)
            .connect_with(options)
            .await
            .context("cannot open the SQLite audit store")
            .map_err(StoreError::Unavailable)?;
        let store = SqliteStore { pool };
        MIGRATOR
            .run(&store.pool)
            .await
            .context("SQLite migrations failed")
            .map_err(StoreError::Unavailable)?;
        Ok(store)
    }

    /// The underlying pool (for tests and the audit API).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The body of `begin`, inside its write transaction.
    async fn begin_in(
        conn: &mut SqliteConnection,
        attempt: &Attempt,
        budget: &Budget,
    ) -> Result<Begin, sqlx::Error> {
        let now = Utc::now();
        let at = timestamp(now);
        let window_start = timestamp(before(now, budget.ttl));

        let consumer: Option<String> = match attempt.decision_id.as_deref() {
            None => None,
            Some(decision) => {
                sqlx::query_scalar(
                    r#"SELECT "id" FROM action_audit_logs
                       WHERE "decisionId" = ? AND "status" <> 'rejected' AND NOT "dryRun"
                       LIMIT 1"#,
                )
                .bind(decision)
                .fetch_optional(&mut *conn)
                .await?
            }
        };

        // Uses older than the window can never matter again.
        sqlx::query(r#"DELETE FROM budget_uses WHERE "budgetKey" = ? AND "usedAt" <= ?"#)
            .bind(&budget.key)
            .bind(&window_start)
            .execute(&mut *conn)
            .await?;

        let verdict = if let Some(consumer) = consumer {
            let consumed_by =
                Uuid::parse_str(&consumer).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            Verdict::Replay(consumed_by)
        } else {
            let used: i64 = sqlx::query_scalar(
                r#"SELECT count(*) FROM budget_uses WHERE "budgetKey" = ? AND "usedAt" > ?"#,
            )
            .bind(&budget.key)
            .bind(&window_start)
            .fetch_one(&mut *conn)
            .await?;
            if used < i64::from(budget.max) {
                if !attempt.dry_run {
                    sqlx::query(
                        r#"INSERT INTO budget_uses ("budgetKey", "usedAt", "auditId")
                           VALUES (?, ?, ?)"#,
                    )
                    .bind(&budget.key)
                    .bind(&at)
                    .bind(attempt.id.to_string())
                    .execute(&mut *conn)
                    .await?;
                }
                Verdict::Started
            } else {
                // The use whose expiry brings the count under max frees the next slot.
                let freeing: Option<String> = sqlx::query_scalar(
                    r#"SELECT "usedAt" FROM budget_uses
                       WHERE "budgetKey" = ? AND "usedAt" > ?
                       ORDER BY "usedAt" LIMIT 1 OFFSET ?"#,
                )
                .bind(&budget.key)
                .bind(&window_start)
                .bind(used - i64::from(budget.max))
                .fetch_optional(&mut *conn)
                .await?;
                let wait = freeing
                    .and_then(|t| parse_timestamp(&t))
                    .and_then(|t| t.checked_add_signed(chrono_duration(budget.ttl)))
                    .map(|free_at| (free_at - now).to_std().unwrap_or_default());
                Verdict::OverBudget(wait.unwrap_or(budget.ttl).max(Duration::from_secs(1)))
            }
        };

        let (status, reason, error) = match &verdict {
            Verdict::Started => (AuditStatus::Pending, None, None),
            Verdict::Replay(by) => (
                AuditStatus::Rejected,
                Some("replay"),
                Some(format!(
                    "the policy decision was already used by attempt {by}"
                )),
            ),
            Verdict::OverBudget(_) => (
                AuditStatus::Rejected,
                Some("budget_exhausted"),
                Some(budget_message(budget)),
            ),
        };
        insert_row(
            conn,
            attempt,
            Some(&budget.key),
            status,
            reason,
            error.as_deref(),
            None,
            &at,
        )
        .await?;
        Ok(match verdict {
            Verdict::Started => Begin::Started,
            Verdict::Replay(consumed_by) => Begin::Replay { consumed_by },
            Verdict::OverBudget(retry_after) => Begin::OverBudget { retry_after },
        })
    }
}

/// What `begin` decided.
enum Verdict {
    Started,
    Replay(Uuid),
    OverBudget(Duration),
}

/// Inserts one audit row.
#[allow(clippy::too_many_arguments)]
async fn insert_row(
    conn: &mut SqliteConnection,
    attempt: &Attempt,
    budget_key: Option<&str>,
    status: AuditStatus,
    reason: Option<&str>,
    error: Option<&str>,
    duration: Option<Duration>,
    at: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"INSERT INTO action_audit_logs (
               "id", "actionType", "actionParams", "requestedBy", "decisionId",
               "policyVersion", "policyDecision", "namespace", "targetKind", "targetName",
               "signatureForm", "dryRun", "clientIp", "requestId", "budgetKey",
               "status", "reasonCode", "error", "durationMs", "createdAt", "updatedAt",
               "approvalId", "grantId", "approvedBy"
           )
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"#,
    )
    .bind(attempt.id.to_string())
    .bind(attempt.action_type.as_deref())
    .bind(attempt.action_params.as_ref().map(ToString::to_string))
    .bind(attempt.requested_by.as_deref())
    .bind(attempt.decision_id.as_deref())
    .bind(attempt.policy_version.as_deref())
    .bind(attempt.policy_decision.as_ref().map(ToString::to_string))
    .bind(attempt.namespace.as_deref())
    .bind(attempt.target_kind.as_deref())
    .bind(attempt.target_name.as_deref())
    .bind(attempt.signature_form.as_deref())
    .bind(attempt.dry_run)
    .bind(attempt.client_ip.as_deref())
    .bind(attempt.request_id.as_deref())
    .bind(budget_key)
    .bind(status.as_str())
    .bind(reason)
    .bind(error)
    .bind(duration.map(millis))
    .bind(at)
    .bind(at)
    .bind(attempt.approval_id.map(|id| id.to_string()))
    .bind(attempt.grant_id.map(|id| id.to_string()))
    .bind(approved_by(attempt).map(|v| v.to_string()))
    .execute(conn)
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl AuditStore for SqliteStore {
    async fn reject(
        &self,
        attempt: &Attempt,
        reason: &str,
        error: &str,
        duration: Duration,
    ) -> Result<(), StoreError> {
        bounded("reject: writing the rejected row", async {
            let mut conn = self.pool.acquire().await?;
            insert_row(
                &mut conn,
                attempt,
                None,
                AuditStatus::Rejected,
                Some(reason),
                Some(error),
                Some(duration),
                &timestamp(Utc::now()),
            )
            .await
        })
        .await
    }

    async fn begin(&self, attempt: &Attempt, budget: &Budget) -> Result<Begin, StoreError> {
        bounded("begin: writing the pending row", async {
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
            let begin = SqliteStore::begin_in(&mut tx, attempt, budget).await?;
            tx.commit().await?;
            Ok(begin)
        })
        .await
    }

    async fn finish(&self, id: Uuid, completion: &Completion) -> Result<(), StoreError> {
        reads::finish(&self.pool, id, completion).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        reads::ping(&self.pool).await
    }

    async fn list(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        reads::list(&self.pool, query).await
    }

    async fn get(&self, id: Uuid) -> Result<Option<AuditRecord>, StoreError> {
        reads::get(&self.pool, id).await
    }

    async fn stats_buckets(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<StatsBucket>, StoreError> {
        reads::stats_buckets(&self.pool, since, until).await
    }

    async fn reconcile_pending(&self, older_than: Duration) -> Result<u64, StoreError> {
        reads::reconcile_pending(&self.pool, older_than).await
    }
}

/// Uuids, times and JSON are text (see `migrations-sqlite/`).
/// Takes the budget slot inside a vote's transaction (see [`super::approvals`]).
impl approval_sql::TakeSlot<Sqlite> for SqliteStore {
    fn take<'c>(
        &'c self,
        conn: &'c mut SqliteConnection,
        attempt: &'c Attempt,
        budget: &'c Budget,
    ) -> approval_sql::BoxFuture<'c, Result<Begin, sqlx::Error>> {
        Box::pin(async move { SqliteStore::begin_in(conn, attempt, budget).await })
    }
}

super::approval_impl::approval_store!(SqliteStore, Sqlite);

impl Dialect for Sqlite {
    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }

    const STORE_NAME: &'static str = "the SQLite store";

    fn push_text(sql: &mut QueryBuilder<Self>, value: &str) {
        sql.push_bind(value.to_owned());
    }

    fn push_time(sql: &mut QueryBuilder<Self>, value: DateTime<Utc>) {
        sql.push_bind(timestamp(value));
    }

    fn push_uuid(sql: &mut QueryBuilder<Self>, value: Uuid) {
        sql.push_bind(value.to_string());
    }

    fn push_json(sql: &mut QueryBuilder<Self>, value: &Value) {
        sql.push_bind(value.to_string());
    }

    fn push_now(sql: &mut QueryBuilder<Self>) {
        Self::push_time(sql, Utc::now());
    }

    fn push_ago(sql: &mut QueryBuilder<Self>, ago: Duration) {
        Self::push_time(sql, before(Utc::now(), ago));
    }

    fn uuid(row: &SqliteRow, column: &str) -> Result<Uuid, sqlx::Error> {
        let text: String = row.try_get(column)?;
        Uuid::parse_str(&text).map_err(|e| decode_error(column, e))
    }

    fn json(row: &SqliteRow, column: &str) -> Result<Option<Value>, sqlx::Error> {
        let text: Option<String> = row.try_get(column)?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| decode_error(column, e)))
            .transpose()
    }

    fn time(row: &SqliteRow, column: &str) -> Result<DateTime<Utc>, sqlx::Error> {
        let text: String = row.try_get(column)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| decode_error(column, e))
    }

    fn uuid_opt(row: &SqliteRow, column: &str) -> Result<Option<Uuid>, sqlx::Error> {
        let text: Option<String> = row.try_get(column)?;
        text.map(|t| Uuid::parse_str(&t).map_err(|e| decode_error(column, e)))
            .transpose()
    }

    fn time_opt(row: &SqliteRow, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        let text: Option<String> = row.try_get(column)?;
        text.map(|t| {
            DateTime::parse_from_rfc3339(&t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| decode_error(column, e))
        })
        .transpose()
    }

    const FOR_UPDATE: &'static str = "";

    async fn begin_write(
        pool: &sqlx::Pool<Self>,
    ) -> Result<sqlx::Transaction<'_, Self>, sqlx::Error> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }
}

/// [`shared::bounded`] for this store.
async fn bounded<T>(
    what: &'static str,
    call: impl std::future::Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, StoreError> {
    shared::bounded::<Sqlite, T>(what, call).await
}

/// The fixed-width UTC text every time column holds, so that text order is time order.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Reads a time column back.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// `now - d`, saturating (a huge duration means "since the beginning of time").
fn before(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    now.checked_sub_signed(chrono_duration(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Whether `url` names a SQLite database rather than Postgres.
pub fn is_sqlite_url(url: &str) -> bool {
    url.starts_with("sqlite:")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn timestamps_are_fixed_width_and_ordered() {
        let a = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        let b = a + chrono::Duration::microseconds(1);
        let (ta, tb) = (timestamp(a), timestamp(b));
        assert_eq!(ta, "2026-01-02T03:04:05.000000Z");
        assert_eq!(ta.len(), tb.len());
        assert!(ta < tb);
        assert_eq!(parse_timestamp(&tb), Some(b));
    }

    #[test]
    fn sqlite_urls_are_told_apart_from_postgres() {
        assert!(is_sqlite_url("sqlite://data/warden.db"));
        assert!(is_sqlite_url("sqlite:audit.db"));
        assert!(!is_sqlite_url("postgres://postgres@127.0.0.1/warden"));
    }
}
