//! [`AuditStore`] on Postgres: the table `action_audit_logs`, the single-use index on
//! `"decisionId"` and the `budget_slots` table (schema and reasoning in `migrations/`).
//!
//! # Why `begin` is one statement
//!
//! [`AuditStore::begin`] runs ONE SQL statement in autocommit mode, so it is one transaction
//! and one round trip (plus the commit's WAL flush, which stays synchronous: the pending
//! row must survive a crash before the cluster is touched). Its CTEs, in order:
//!
//! 1. `consumer`: the non-rejected, non-dry-run row that already holds the decision id;
//! 2. `free_slot` / `taken`: unless that exists or this is a dry run, lock the least
//!    recently used free slot (`FOR UPDATE SKIP LOCKED`, so concurrent takers spread over
//!    slots instead of queueing) and stamp it;
//! 3. `verdict`: `replay`, `started` or `budget_exhausted` (a dry run is `started` if a
//!    free slot exists, and takes nothing);
//! 4. `inserted`: the row itself, `pending` if started, else `rejected` with the verdict as
//!    reason code. A row that took a slot gets the slot's time as `"createdAt"`, so the
//!    audit table itself shows that no `ttl` window holds more than `max` of a budget's
//!    uses.
//!
//! Two attempts racing with one decision may both find no `consumer` (neither has
//! committed yet); the second insert then waits on the first in the unique index
//! `action_audit_logs_decision_once` and fails once the first commits. The whole statement
//! is rolled back (its budget slot too), and [`PgStore::begin`] runs it again: with a
//! fresh snapshot `consumer` now finds the winner, and the retry records the `replay`.
//!
//! A slot locked by a concurrent attempt that then rolls back (such a losing replay) is
//! skipped, so under such a race an attempt may see `budget_exhausted` although a slot
//! frees a moment later: the error is always on the side of fewer actions, never more.

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{Executor as _, PgPool, Postgres, QueryBuilder, Row as _};
use uuid::Uuid;

use super::approval_sql;
use super::reads;
use super::shared::{self, Dialect, approved_by, budget_message, millis};
use super::{
    Attempt, AuditQuery, AuditRecord, AuditStore, Begin, Budget, Completion, StatsBucket,
    StoreError,
};

/// The embedded migrations (`migrations/` at the repository root). Running them takes a
/// Postgres advisory lock, so several executors may start at once.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// How long a request waits for a pooled connection: a dead database must turn into a
/// quick 503, not a hung request.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Server-side limit on any statement of the store (a lock wait included), so a stuck
/// database cannot hold an executor connection forever. Set with `SET` once per connection
/// rather than as a startup option, which poolers such as PgBouncer refuse.
const SET_STATEMENT_TIMEOUT: &str = "SET statement_timeout = '10s'";

/// How many times `begin` runs its statement: a lost race on the decision id costs one more
/// run (which then sees the winner); needing more means something is wrong.
const BEGIN_RUNS: usize = 3;

/// The unique index that makes a decision single use (see the first migration).
const DECISION_INDEX: &str = "action_audit_logs_decision_once";

/// The Postgres audit store. Cheap to clone (the pool and the slot cache are shared).
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    /// Budget keys whose slot rows this process has created, with the `max` they were
    /// created for: creating them is an INSERT of `max` rows, not something to repeat on
    /// every `begin`.
    ensured: Arc<Mutex<HashMap<String, u32>>>,
}

impl PgStore {
    /// A store on `url` with at most `max_connections` connections. Nothing is opened yet:
    /// the executor starts (and reports not ready) while the database is down, each call
    /// fails within 3 s while it stays down, and the pool reconnects by itself when it
    /// comes back (each connection that went stale fails one call first). Statements are
    /// limited to 10 s on the server.
    ///
    /// Errors only if `url` is not a Postgres URL. Error messages never contain the URL (it
    /// may hold a password).
    pub async fn connect(url: &str, max_connections: u32) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .context("DATABASE_URL is not a valid Postgres URL")
            .map_err(StoreError::Unavailable)?;
        Ok(PgStore::connect_with(options, max_connections))
    }

    /// Like [`connect`](Self::connect), from parsed options.
    pub fn connect_with(options: PgConnectOptions, max_connections: u32) -> PgStore {
        // Shows up in pg_stat_activity, unless the operator named the connection already.
        let options = if options.get_application_name().is_none() {
            options.application_name("warden-executor")
        } else {
            options
        };
        // Generic plans: the audit statements are planned once per connection instead of on
        // every call (Postgres keeps re-planning a many-parameter CTE with custom plans;
        // planning was the largest share of the database's CPU under load, measured).
        let options = options.options([("plan_cache_mode", "force_generic_plan")]);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .min_connections(0)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // No ping before each use: it is a third round trip on a one-statement call
            // (about 30% of refusal throughput, measured). The price: after a database
            // restart each stale pooled connection fails one call (a 503, nothing run)
            // and is then discarded, since sqlx pings every connection on release.
            .test_before_acquire(false)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(SET_STATEMENT_TIMEOUT).await?;
                    Ok(())
                })
            })
            .connect_lazy_with(options);
        PgStore::from_pool(pool)
    }

    /// A store on an existing pool (tests, or an application sharing its pool).
    pub fn from_pool(pool: PgPool) -> PgStore {
        PgStore {
            pool,
            ensured: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Applies the embedded migrations. Safe when several executors start at once: sqlx
    /// serialises them with an advisory lock, and the later ones find nothing to do.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .context("migrations: no connection")
            .map_err(StoreError::Unavailable)?;
        // A migration (an index on a big table) and the wait for another executor's
        // migration may both outlast the statement timeout of ordinary calls.
        let timeout: String = sqlx::query_scalar("SELECT current_setting('statement_timeout')")
            .fetch_one(&mut *conn)
            .await
            .context("migrations: reading the statement timeout")
            .map_err(StoreError::Unavailable)?;
        sqlx::query("SET statement_timeout = 0")
            .execute(&mut *conn)
            .await
            .context("migrations: lifting the statement timeout")
            .map_err(StoreError::Unavailable)?;
        let migrated = MIGRATOR
            .run(&mut *conn)
            .await
            .context("migrations failed")
            .map_err(StoreError::Unavailable);
        // The connection goes back to the pool: with its timeout, or not at all.
        let restored = sqlx::query("SELECT set_config('statement_timeout', $1, false)")
            .bind(&timeout)
            .execute(&mut *conn)
            .await;
        if restored.is_err() {
            drop(conn.detach());
        }
        migrated
    }

    /// The underlying pool (for the audit API's queries and for tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates the slot rows of `budget` unless this process already did.
    async fn ensure_slots(&self, budget: &Budget, max: i32) -> Result<(), StoreError> {
        if self.ensured_max(&budget.key) >= Some(budget.max) {
            return Ok(());
        }
        sqlx::query(
            r#"INSERT INTO budget_slots ("budgetKey", "slot")
               SELECT $1, s FROM generate_series(0, $2::int - 1) AS s
               ON CONFLICT DO NOTHING"#,
        )
        .bind(&budget.key)
        .bind(max)
        .execute(&self.pool)
        .await
        .context("begin: creating budget slots")
        .map_err(StoreError::Unavailable)?;
        let mut ensured = self.ensured.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = ensured.entry(budget.key.clone()).or_insert(0);
        *entry = (*entry).max(budget.max);
        Ok(())
    }

    fn ensured_max(&self, key: &str) -> Option<u32> {
        let ensured = self.ensured.lock().unwrap_or_else(PoisonError::into_inner);
        ensured.get(key).copied()
    }

    /// Forgets that `key`'s slots exist (someone deleted rows), so they are created again.
    fn forget_slots(&self, key: &str) {
        let mut ensured = self.ensured.lock().unwrap_or_else(PoisonError::into_inner);
        ensured.remove(key);
    }

    /// The statement of `begin` (see the module documentation), on `executor` (the pool,
    /// or the transaction of an approval).
    pub(super) async fn begin_once<'e>(
        &self,
        executor: impl sqlx::PgExecutor<'e>,
        attempt: &Attempt,
        budget: &Budget,
        max: i32,
    ) -> Result<Run, sqlx::Error> {
        let row = sqlx::query(BEGIN_SQL)
            .bind(attempt.id)
            .bind(attempt.action_type.as_deref())
            .bind(attempt.action_params.as_ref())
            .bind(attempt.requested_by.as_deref())
            .bind(attempt.decision_id.as_deref())
            .bind(attempt.policy_version.as_deref())
            .bind(attempt.policy_decision.as_ref())
            .bind(attempt.namespace.as_deref())
            .bind(attempt.target_kind.as_deref())
            .bind(attempt.target_name.as_deref())
            .bind(attempt.signature_form.as_deref())
            .bind(attempt.dry_run)
            .bind(attempt.client_ip.as_deref())
            .bind(attempt.request_id.as_deref())
            .bind(&budget.key)
            .bind(max)
            .bind(budget.ttl)
            .bind(budget_message(budget))
            .bind(attempt.approval_id)
            .bind(attempt.grant_id)
            .bind(approved_by(attempt))
            .fetch_one(executor)
            .await;
        let row = match row {
            Ok(row) => row,
            Err(sqlx::Error::Database(db))
                if db.is_unique_violation() && db.constraint() == Some(DECISION_INDEX) =>
            {
                return Ok(Run::LostRace);
            }
            Err(e) => return Err(e),
        };
        let outcome: String = row.try_get("outcome")?;
        match outcome.as_str() {
            "started" => Ok(Run::Done(Begin::Started)),
            "replay" => {
                let consumed_by: Option<Uuid> = row.try_get("consumed_by")?;
                let consumed_by = consumed_by.ok_or_else(|| {
                    sqlx::Error::Protocol("begin: replay verdict without the consuming row".into())
                })?;
                Ok(Run::Done(Begin::Replay { consumed_by }))
            }
            _ => {
                let slots: Option<i64> = row.try_get("slots")?;
                if slots.unwrap_or(0) < i64::from(max) {
                    // Slot rows were deleted behind this process's back: this attempt is
                    // refused (on the safe side), the next one recreates them.
                    tracing::warn!(budget = %budget.key, "budget slot rows missing; recreating them");
                    self.forget_slots(&budget.key);
                }
                let retry_ms: Option<i64> = row.try_get("retry_after_ms")?;
                Ok(Run::Done(Begin::OverBudget {
                    retry_after: retry_after(retry_ms, budget.ttl),
                }))
            }
        }
    }
}

/// What one run of the begin statement found.
pub(super) enum Run {
    /// A final answer (the row is committed).
    Done(Begin),
    /// Another attempt committed the same decision first; nothing was written.
    LostRace,
}

/// Parameters: $1 id, $2 actionType, $3 actionParams, $4 requestedBy, $5 decisionId,
/// $6 policyVersion, $7 policyDecision, $8 namespace, $9 targetKind, $10 targetName,
/// $11 signatureForm, $12 dryRun, $13 clientIp, $14 requestId, $15 budget key, $16 budget
/// max, $17 budget ttl, $18 the error text of a budget refusal, $19 approvalId, $20 grantId,
/// $21 approvedBy.
const BEGIN_SQL: &str = r#"
WITH
consumer AS (
    SELECT "id" FROM action_audit_logs
    WHERE "decisionId" = $5 AND "status" <> 'rejected' AND NOT "dryRun"
    LIMIT 1
),
free_slot AS (
    SELECT "budgetKey", "slot" FROM budget_slots
    WHERE "budgetKey" = $15 AND "slot" < $16
      AND "usedAt" <= clock_timestamp() - $17::interval
      AND NOT $12::boolean
      AND NOT EXISTS (SELECT FROM consumer)
    ORDER BY "usedAt"
    LIMIT 1
    FOR UPDATE SKIP LOCKED
),
taken AS (
    UPDATE budget_slots AS s SET "usedAt" = clock_timestamp(), "auditId" = $1
    FROM free_slot AS f
    WHERE s."budgetKey" = f."budgetKey" AND s."slot" = f."slot"
    RETURNING s."usedAt"
),
verdict AS (
    SELECT
        CASE
            WHEN EXISTS (SELECT FROM consumer) THEN 'replay'
            WHEN EXISTS (SELECT FROM taken) THEN 'started'
            WHEN $12 AND EXISTS (
                SELECT FROM budget_slots
                WHERE "budgetKey" = $15 AND "slot" < $16
                  AND "usedAt" <= clock_timestamp() - $17::interval
            ) THEN 'started'
            ELSE 'budget_exhausted'
        END AS outcome,
        (SELECT "id" FROM consumer) AS consumed_by,
        COALESCE((SELECT "usedAt" FROM taken), clock_timestamp()) AS at
),
inserted AS (
    INSERT INTO action_audit_logs (
        "id", "actionType", "actionParams", "requestedBy", "decisionId", "policyVersion",
        "policyDecision", "namespace", "targetKind", "targetName", "signatureForm",
        "dryRun", "clientIp", "requestId", "budgetKey",
        "approvalId", "grantId", "approvedBy",
        "status", "reasonCode", "error", "createdAt", "updatedAt"
    )
    SELECT
        $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $19, $20, $21,
        CASE v.outcome WHEN 'started' THEN 'pending' ELSE 'rejected' END,
        NULLIF(v.outcome, 'started'),
        CASE v.outcome
            WHEN 'replay' THEN 'the policy decision was already used by attempt ' || v.consumed_by
            WHEN 'budget_exhausted' THEN $18
        END,
        v.at, v.at
    FROM verdict AS v
)
SELECT
    v.outcome,
    v.consumed_by,
    -- Only for a refusal: when the oldest busy slot of the window frees up.
    CASE WHEN v.outcome = 'budget_exhausted' THEN (
        SELECT ceil(extract(epoch FROM min("usedAt") + $17::interval - clock_timestamp()) * 1000)::bigint
        FROM budget_slots
        WHERE "budgetKey" = $15 AND "slot" < $16
          AND "usedAt" > clock_timestamp() - $17::interval
    ) END AS retry_after_ms,
    CASE WHEN v.outcome = 'budget_exhausted' THEN (
        SELECT count(*) FROM budget_slots WHERE "budgetKey" = $15 AND "slot" < $16
    ) END AS slots
FROM verdict AS v
"#;

#[async_trait::async_trait]
impl AuditStore for PgStore {
    async fn reject(
        &self,
        attempt: &Attempt,
        reason: &str,
        error: &str,
        duration: Duration,
    ) -> Result<(), StoreError> {
        let attempt = &storable(attempt);
        let insert = sqlx::query(
            r#"INSERT INTO action_audit_logs (
                   "id", "actionType", "actionParams", "requestedBy", "decisionId",
                   "policyVersion", "policyDecision", "namespace", "targetKind", "targetName",
                   "signatureForm", "dryRun", "clientIp", "requestId",
                   "status", "reasonCode", "error", "durationMs",
                   "approvalId", "grantId", "approvedBy"
               )
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                       'rejected', $15, $16, $17, $18, $19, $20)"#,
        )
        .bind(attempt.id)
        .bind(attempt.action_type.as_deref())
        .bind(attempt.action_params.as_ref())
        .bind(attempt.requested_by.as_deref())
        .bind(attempt.decision_id.as_deref())
        .bind(attempt.policy_version.as_deref())
        .bind(attempt.policy_decision.as_ref())
        .bind(attempt.namespace.as_deref())
        .bind(attempt.target_kind.as_deref())
        .bind(attempt.target_name.as_deref())
        .bind(attempt.signature_form.as_deref())
        .bind(attempt.dry_run)
        .bind(attempt.client_ip.as_deref())
        .bind(attempt.request_id.as_deref())
        .bind(reason)
        .bind(text(error))
        .bind(millis(duration))
        .bind(attempt.approval_id)
        .bind(attempt.grant_id)
        .bind(approved_by(attempt))
        .execute(&self.pool);
        bounded("reject: writing the rejected row", insert).await?;
        Ok(())
    }

    async fn begin(&self, attempt: &Attempt, budget: &Budget) -> Result<Begin, StoreError> {
        let max = slot_count(budget.max)?;
        let attempt = &storable(attempt);
        shared::bounded_store::<Postgres, _>(async {
            for _ in 0..BEGIN_RUNS {
                self.ensure_slots(budget, max).await?;
                match self.begin_once(&self.pool, attempt, budget, max).await {
                    Ok(Run::Done(begin)) => return Ok(begin),
                    // The winner is committed: the next run sees it and records the replay.
                    Ok(Run::LostRace) => {}
                    Err(e) => {
                        return Err(StoreError::Unavailable(
                            anyhow::Error::new(e).context("begin: writing the pending row"),
                        ));
                    }
                }
            }
            Err(StoreError::Unavailable(anyhow!(
                "begin: decision id still conflicting after {BEGIN_RUNS} runs"
            )))
        })
        .await
    }

    async fn finish(&self, id: Uuid, completion: &Completion) -> Result<(), StoreError> {
        reads::finish(&self.pool, id, completion).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        reads::ping(&self.pool).await
    }

    async fn reconcile_pending(&self, older_than: Duration) -> Result<u64, StoreError> {
        reads::reconcile_pending(&self.pool, older_than).await
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
}

/// Takes the budget slot inside a vote's transaction (see [`super::approvals`]).
impl approval_sql::TakeSlot<Postgres> for PgStore {
    fn take<'c>(
        &'c self,
        conn: &'c mut sqlx::PgConnection,
        attempt: &'c Attempt,
        budget: &'c Budget,
    ) -> approval_sql::BoxFuture<'c, Result<Begin, sqlx::Error>> {
        Box::pin(async move {
            let max = slot_count(budget.max).map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
            match self.begin_once(&mut *conn, attempt, budget, max).await? {
                Run::Done(begin) => Ok(begin),
                Run::LostRace => Err(sqlx::Error::Protocol(
                    "an approval's execution conflicted on its single-use key".into(),
                )),
            }
        })
    }

    fn storable(&self, attempt: &Attempt) -> Attempt {
        storable(attempt)
    }

    fn prepare_vote<'a>(
        &'a self,
        budget: &'a Budget,
    ) -> approval_sql::BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.ensure_slots(budget, slot_count(budget.max)?).await })
    }
}

super::approval_impl::approval_store!(PgStore, Postgres);

impl Dialect for Postgres {
    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }

    const STORE_NAME: &'static str = "the database";

    fn push_text(sql: &mut QueryBuilder<Self>, value: &str) {
        sql.push_bind(text(value));
    }

    fn push_time(sql: &mut QueryBuilder<Self>, value: DateTime<Utc>) {
        sql.push_bind(value);
    }

    fn push_uuid(sql: &mut QueryBuilder<Self>, value: Uuid) {
        sql.push_bind(value);
    }

    fn push_json(sql: &mut QueryBuilder<Self>, value: &Value) {
        sql.push_bind(json(value).into_owned());
    }

    fn push_now(sql: &mut QueryBuilder<Self>) {
        sql.push("clock_timestamp()");
    }

    fn push_ago(sql: &mut QueryBuilder<Self>, ago: Duration) {
        sql.push("clock_timestamp() - ")
            .push_bind(ago)
            .push("::interval");
    }

    fn uuid(row: &PgRow, column: &str) -> Result<Uuid, sqlx::Error> {
        row.try_get(column)
    }

    fn json(row: &PgRow, column: &str) -> Result<Option<Value>, sqlx::Error> {
        row.try_get(column)
    }

    fn time(row: &PgRow, column: &str) -> Result<DateTime<Utc>, sqlx::Error> {
        row.try_get(column)
    }

    fn uuid_opt(row: &PgRow, column: &str) -> Result<Option<Uuid>, sqlx::Error> {
        row.try_get(column)
    }

    fn time_opt(row: &PgRow, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        row.try_get(column)
    }

    const FOR_UPDATE: &'static str = " FOR UPDATE";

    async fn begin_write(
        pool: &sqlx::Pool<Self>,
    ) -> Result<sqlx::Transaction<'_, Self>, sqlx::Error> {
        pool.begin().await
    }
}

/// [`shared::bounded`] for this store.
async fn bounded<T>(
    what: &'static str,
    call: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, StoreError> {
    shared::bounded::<Postgres, T>(what, call).await
}

/// `max` as the int of the `slot` column. A budget of billions of slots is a
/// misconfiguration, refused rather than created.
fn slot_count(max: u32) -> Result<i32, StoreError> {
    i32::try_from(max)
        .map_err(|_| StoreError::Unavailable(anyhow!("budget max {max} is too large")))
}

/// When to retry: the first busy slot's release, at least a second (a client hammering
/// in a loop gains nothing), and a whole window if the database could not tell (all free
/// slots were being taken by concurrent attempts).
fn retry_after(retry_ms: Option<i64>, ttl: Duration) -> Duration {
    let wait = match retry_ms {
        Some(ms) => Duration::from_millis(u64::try_from(ms).unwrap_or(0)),
        None => ttl,
    };
    wait.max(Duration::from_secs(1))
}

/// Postgres `text` and `jsonb` cannot hold U+0000, which JSON allows (`"\u0000"`): in what a
/// client sent, it is stored (and searched for) as U+FFFD, so that the row is still written.
fn text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// [`text`] for every string and key of a JSON value.
fn json(value: &Value) -> Cow<'_, Value> {
    fn has_nul(value: &Value) -> bool {
        match value {
            Value::String(s) => s.contains('\0'),
            Value::Array(items) => items.iter().any(has_nul),
            Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
            _ => false,
        }
    }
    fn scrub(value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(text(s).into_owned()),
            Value::Array(items) => items.iter().map(scrub).collect(),
            Value::Object(map) => map
                .iter()
                .map(|(k, v)| (text(k).into_owned(), scrub(v)))
                .collect(),
            other => other.clone(),
        }
    }
    if has_nul(value) {
        Cow::Owned(scrub(value))
    } else {
        Cow::Borrowed(value)
    }
}

/// The attempt with [`text`] and [`json`] applied to every field.
fn storable(attempt: &Attempt) -> Attempt {
    let mut owned = attempt.clone();
    for field in [
        &mut owned.action_type,
        &mut owned.requested_by,
        &mut owned.decision_id,
        &mut owned.policy_version,
        &mut owned.namespace,
        &mut owned.target_kind,
        &mut owned.target_name,
        &mut owned.signature_form,
        &mut owned.client_ip,
        &mut owned.request_id,
    ] {
        if let Some(s) = field
            && let Cow::Owned(clean) = text(s)
        {
            *s = clean;
        }
    }
    for field in [&mut owned.action_params, &mut owned.policy_decision] {
        if let Some(value) = field
            && let Cow::Owned(clean) = json(value)
        {
            *value = clean;
        }
    }
    owned
}
