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

use std::future::Future;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row as _, Sqlite, SqliteConnection};
use uuid::Uuid;

use super::{
    Attempt, AuditQuery, AuditRecord, AuditStatus, AuditStore, Begin, Budget, Completion,
    StatsBucket, StoreError,
};

/// The embedded migrations of the SQLite schema (`migrations-sqlite/`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations-sqlite");

/// How long a statement waits for another writer (another process on the same file).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Bound on one store operation, as on Postgres: a wedged file system must become a 503.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(15);

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
                Some(format!(
                    "rate budget '{}' exhausted: at most {} per {}s",
                    budget.key,
                    budget.max,
                    budget.ttl.as_secs()
                )),
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
               "status", "reasonCode", "error", "durationMs", "createdAt", "updatedAt"
           )
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"#,
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
        // As on Postgres: only the outcomes of a cluster call may replace `pending`.
        if !matches!(
            completion.status,
            AuditStatus::Succeeded | AuditStatus::Failed | AuditStatus::Unknown
        ) {
            return Err(StoreError::Unavailable(anyhow!(
                "finish: {} is not an outcome of a cluster call (bug in the caller)",
                completion.status.as_str()
            )));
        }
        let update = sqlx::query(
            r#"UPDATE action_audit_logs
               SET "status" = ?, "reasonCode" = ?, "error" = ?, "result" = ?,
                   "durationMs" = ?, "updatedAt" = ?
               WHERE "id" = ? AND "status" = 'pending'"#,
        )
        .bind(completion.status.as_str())
        .bind(completion.reason.as_deref())
        .bind(completion.error.as_deref())
        .bind(completion.result.as_ref().map(ToString::to_string))
        .bind(millis(completion.duration))
        .bind(timestamp(Utc::now()))
        .bind(id.to_string())
        .execute(&self.pool);
        let done = bounded("finish: writing the outcome", update).await?;
        if done.rows_affected() == 0 {
            tracing::info!(
                audit_id = %id,
                status = completion.status.as_str(),
                "audit row is not pending (already final); outcome not written"
            );
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        bounded("ping", sqlx::query("SELECT 1").execute(&self.pool)).await?;
        Ok(())
    }

    async fn list(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let mut sql = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {RECORD_COLUMNS} FROM action_audit_logs WHERE 1"
        ));
        if let Some(requested_by) = &query.requested_by {
            sql.push(r#" AND "requestedBy" = "#).push_bind(requested_by);
        }
        if let Some(action_type) = &query.action_type {
            sql.push(r#" AND "actionType" = "#).push_bind(action_type);
        }
        if let Some(namespace) = &query.namespace {
            sql.push(r#" AND "namespace" = "#).push_bind(namespace);
        }
        if let Some(status) = query.status {
            sql.push(r#" AND "status" = "#).push_bind(status.as_str());
        }
        if let Some(since) = query.since {
            sql.push(r#" AND "createdAt" >= "#)
                .push_bind(timestamp(since));
        }
        if let Some(until) = query.until {
            sql.push(r#" AND "createdAt" < "#)
                .push_bind(timestamp(until));
        }
        if let Some(after) = query.after {
            // Fixed-width times and lowercase hyphenated UUIDv7 text both compare as their
            // values do, so this is the Postgres row comparison.
            sql.push(r#" AND ("createdAt", "id") < ("#)
                .push_bind(timestamp(after.created_at))
                .push(", ")
                .push_bind(after.id.to_string())
                .push(")");
        }
        sql.push(r#" ORDER BY "createdAt" DESC, "id" DESC LIMIT "#)
            .push_bind(i64::from(query.limit));
        let rows = bounded(
            "list: reading audit rows",
            sql.build().fetch_all(&self.pool),
        )
        .await?;
        rows.iter()
            .map(record)
            .collect::<Result<_, _>>()
            .context("list: decoding audit rows")
            .map_err(StoreError::Unavailable)
    }

    async fn get(&self, id: Uuid) -> Result<Option<AuditRecord>, StoreError> {
        let sql = format!(r#"SELECT {RECORD_COLUMNS} FROM action_audit_logs WHERE "id" = ?"#);
        let select = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool);
        let row = bounded("get: reading an audit row", select).await?;
        row.as_ref()
            .map(record)
            .transpose()
            .context("get: decoding an audit row")
            .map_err(StoreError::Unavailable)
    }

    async fn stats_buckets(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<StatsBucket>, StoreError> {
        let select = sqlx::query(
            r#"SELECT "namespace", "actionType", "status", "dryRun",
                      count(*) AS rows,
                      COALESCE(sum("durationMs"), 0) AS duration_ms_sum,
                      count("durationMs") AS duration_count
               FROM action_audit_logs
               WHERE "createdAt" >= ? AND "createdAt" < ?
               GROUP BY "namespace", "actionType", "status", "dryRun""#,
        )
        .bind(timestamp(since))
        .bind(timestamp(until))
        .fetch_all(&self.pool);
        let rows = bounded("stats: counting audit rows", select).await?;
        rows.iter()
            .map(|row| {
                Ok(StatsBucket {
                    namespace: row.try_get("namespace")?,
                    action_type: row.try_get("actionType")?,
                    status: status(row)?,
                    dry_run: row.try_get("dryRun")?,
                    count: count(row, "rows")?,
                    duration_ms_sum: row.try_get("duration_ms_sum")?,
                    duration_count: count(row, "duration_count")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .context("stats: decoding counts")
            .map_err(StoreError::Unavailable)
    }

    async fn reconcile_pending(&self, older_than: Duration) -> Result<u64, StoreError> {
        let now = Utc::now();
        let update = sqlx::query(
            r#"UPDATE action_audit_logs
               SET "status" = 'unknown', "reasonCode" = 'interrupted',
                   "error" = 'the executor stopped before recording the outcome; check the cluster',
                   "updatedAt" = ?
               WHERE "status" = 'pending' AND "createdAt" < ?"#,
        )
        .bind(timestamp(now))
        .bind(timestamp(before(now, older_than)))
        .execute(&self.pool);
        let done = bounded("reconcile: marking interrupted rows", update).await?;
        Ok(done.rows_affected())
    }
}

/// Every column, in the order [`record`] reads them.
const RECORD_COLUMNS: &str = r#""id", "actionType", "actionParams", "requestedBy", "decisionId",
    "policyVersion", "policyDecision", "status", "reasonCode", "error", "result", "dryRun",
    "clientIp", "requestId", "signatureForm", "namespace", "targetKind", "targetName",
    "budgetKey", "durationMs", "createdAt", "updatedAt""#;

/// A row selected with [`RECORD_COLUMNS`].
fn record(row: &SqliteRow) -> Result<AuditRecord, sqlx::Error> {
    let id: String = row.try_get("id")?;
    Ok(AuditRecord {
        id: Uuid::parse_str(&id).map_err(|e| decode("id", e))?,
        action_type: row.try_get("actionType")?,
        action_params: json_column(row, "actionParams")?,
        requested_by: row.try_get("requestedBy")?,
        decision_id: row.try_get("decisionId")?,
        policy_version: row.try_get("policyVersion")?,
        policy_decision: json_column(row, "policyDecision")?,
        status: status(row)?,
        reason_code: row.try_get("reasonCode")?,
        error: row.try_get("error")?,
        result: json_column(row, "result")?,
        dry_run: row.try_get("dryRun")?,
        client_ip: row.try_get("clientIp")?,
        request_id: row.try_get("requestId")?,
        signature_form: row.try_get("signatureForm")?,
        namespace: row.try_get("namespace")?,
        target_kind: row.try_get("targetKind")?,
        target_name: row.try_get("targetName")?,
        budget_key: row.try_get("budgetKey")?,
        duration_ms: row.try_get("durationMs")?,
        created_at: time_column(row, "createdAt")?,
        updated_at: time_column(row, "updatedAt")?,
    })
}

fn decode(column: &str, e: impl std::error::Error + Send + Sync + 'static) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.into(),
        source: Box::new(e),
    }
}

fn json_column(row: &SqliteRow, column: &str) -> Result<Option<serde_json::Value>, sqlx::Error> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| serde_json::from_str(&t).map_err(|e| decode(column, e)))
        .transpose()
}

fn time_column(row: &SqliteRow, column: &str) -> Result<DateTime<Utc>, sqlx::Error> {
    let text: String = row.try_get(column)?;
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| decode(column, e))
}

fn status(row: &SqliteRow) -> Result<AuditStatus, sqlx::Error> {
    let spelling: String = row.try_get("status")?;
    spelling.parse().map_err(|e| decode("status", e))
}

fn count(row: &SqliteRow, column: &str) -> Result<u64, sqlx::Error> {
    let n: i64 = row.try_get(column)?;
    u64::try_from(n).map_err(|e| decode(column, e))
}

/// Runs one store operation within [`OPERATION_TIMEOUT`], every failure an
/// [`StoreError::Unavailable`] with `what` as context.
async fn bounded<T>(
    what: &'static str,
    call: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(OPERATION_TIMEOUT, call).await {
        Ok(result) => result.context(what).map_err(StoreError::Unavailable),
        Err(_) => Err(StoreError::Unavailable(anyhow!(
            "{what}: no answer from the SQLite store within {}s",
            OPERATION_TIMEOUT.as_secs()
        ))),
    }
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

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
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
