//! The audit-store contract suite's plumbing: a [`Fixture`] per backend (the store under
//! test, more stores on the same database as more executor processes, and the rows read
//! back with plain SQL), and [`contract!`](crate::contract), which runs every generic test
//! body once on Postgres (`#[sqlx::test]`, a fresh database per test) and once on SQLite
//! (a fresh file per test).

use std::str::FromStr as _;
use std::time::Duration;

use chrono::{DateTime, Utc};
use executor_service::store::postgres::PgStore;
use executor_service::store::sqlite::{SqliteStore, timestamp};
use executor_service::store::{Attempt, AuditStore, Begin, Budget};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::{PgPool, Row as _};
use tempfile::TempDir;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::AuditRow;

/// Runs each named generic body `async fn body(f: &impl Fixture)` as two tests,
/// `postgres::body` and `sqlite::body`.
#[macro_export]
macro_rules! contract {
    ($($body:ident),* $(,)?) => {
        mod postgres {
            $(
                #[sqlx::test(migrations = "../../migrations")]
                async fn $body(
                    options: sqlx::postgres::PgPoolOptions,
                    connect: sqlx::postgres::PgConnectOptions,
                ) {
                    let fixture = $crate::common_store::contract::PgFixture::new(options, connect).await;
                    super::$body(&fixture).await;
                    fixture.close().await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test]
                async fn $body() {
                    let fixture = $crate::common_store::contract::SqliteFixture::new().await;
                    super::$body(&fixture).await;
                    fixture.close().await;
                }
            )*
        }
    };
}

/// One backend's database for one test.
#[allow(async_fn_in_trait)]
pub trait Fixture {
    /// The store type of the backend.
    type Store: AuditStore + Clone;

    /// The store under test, on the test's own connections.
    fn store(&self) -> Self::Store;

    /// Another store on the same database, built as an executor process builds it (its own
    /// pool of at most `max_connections`, where the backend has that setting).
    async fn executor(&self, max_connections: u32) -> Self::Store;

    /// Opens `n` connections of `store` at once and returns them to its pool, so a race
    /// that follows is between statements, not between connection handshakes.
    async fn warm(&self, store: &Self::Store, n: usize);

    /// Closes the pool of a store from [`executor`](Self::executor).
    async fn close_store(&self, store: Self::Store);

    /// Every row, oldest first (`"createdAt"`, then `id`).
    async fn all_rows(&self) -> Vec<AuditRow>;

    /// The audit ids holding a use of budget `key` (sorted).
    async fn budget_holders(&self, key: &str) -> Vec<Uuid>;

    /// Moves every use of `key` back by `by`, as if that much time had passed.
    async fn age_uses(&self, key: &str, by: Duration);

    /// Puts the budget use of attempt `audit_id` at `ago` before now.
    async fn set_use_ago(&self, audit_id: Uuid, ago: Duration);

    /// Sets `"createdAt"` of row `id`.
    async fn set_created_at(&self, id: Uuid, at: DateTime<Utc>);

    /// How the backend keeps a string a client sent.
    fn stored_text(&self, sent: &str) -> String;

    /// Row `id`.
    async fn row(&self, id: Uuid) -> AuditRow {
        let rows = self.all_rows().await;
        rows.into_iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("no row {id}"))
    }

    /// How many rows have `status` (and `reasonCode`, when given).
    async fn count(&self, status: &str, reason: Option<&str>) -> usize {
        let rows = self.all_rows().await;
        rows.iter()
            .filter(|r| {
                r.status == status && (reason.is_none() || r.reason_code.as_deref() == reason)
            })
            .count()
    }
}

/// Runs `begin` for every attempt at once, the attempts dealt round-robin over `stores`.
/// Answers come back in the order of `attempts`.
pub async fn begin_all<S: AuditStore + Clone>(
    stores: &[S],
    attempts: Vec<Attempt>,
    budget: &Budget,
) -> Vec<(Attempt, Begin)> {
    let mut set = JoinSet::new();
    for (i, attempt) in attempts.into_iter().enumerate() {
        let store = stores[i % stores.len()].clone();
        let budget = budget.clone();
        set.spawn(async move {
            let answer = store.begin(&attempt, &budget).await.unwrap();
            (i, attempt, answer)
        });
    }
    let mut answers = set.join_all().await;
    answers.sort_by_key(|(i, _, _)| *i);
    answers.into_iter().map(|(_, a, b)| (a, b)).collect()
}

/// A database of its own from `#[sqlx::test]`, migrated from `migrations/`.
pub struct PgFixture {
    pool: PgPool,
    connect: PgConnectOptions,
}

impl PgFixture {
    /// The fixture on the test database `connect` names.
    pub async fn new(options: PgPoolOptions, connect: PgConnectOptions) -> PgFixture {
        let pool = options.connect_with(connect.clone()).await.unwrap();
        PgFixture { pool, connect }
    }

    /// Closes the fixture's connections, so the test database can be dropped.
    pub async fn close(self) {
        self.pool.close().await;
    }
}

impl Fixture for PgFixture {
    type Store = PgStore;

    fn store(&self) -> PgStore {
        PgStore::from_pool(self.pool.clone())
    }

    async fn executor(&self, max_connections: u32) -> PgStore {
        PgStore::connect_with(self.connect.clone(), max_connections)
    }

    async fn warm(&self, store: &PgStore, n: usize) {
        super::warm(store, n).await;
    }

    async fn close_store(&self, store: PgStore) {
        store.pool().close().await;
    }

    async fn all_rows(&self) -> Vec<AuditRow> {
        super::all_rows(&self.pool).await
    }

    async fn budget_holders(&self, key: &str) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT \"auditId\" FROM budget_slots \
             WHERE \"budgetKey\" = $1 AND \"auditId\" IS NOT NULL",
        )
        .bind(key)
        .fetch_all(&self.pool)
        .await
        .unwrap();
        ids.sort();
        ids
    }

    async fn age_uses(&self, key: &str, by: Duration) {
        sqlx::query(
            "UPDATE budget_slots SET \"usedAt\" = \"usedAt\" - $2::interval \
             WHERE \"budgetKey\" = $1",
        )
        .bind(key)
        .bind(by)
        .execute(&self.pool)
        .await
        .unwrap();
    }

    async fn set_use_ago(&self, audit_id: Uuid, ago: Duration) {
        let done = sqlx::query(
            "UPDATE budget_slots SET \"usedAt\" = clock_timestamp() - $2::interval \
             WHERE \"auditId\" = $1",
        )
        .bind(audit_id)
        .bind(ago)
        .execute(&self.pool)
        .await
        .unwrap();
        assert_eq!(done.rows_affected(), 1, "{audit_id} holds a slot");
    }

    async fn set_created_at(&self, id: Uuid, at: DateTime<Utc>) {
        sqlx::query(r#"UPDATE action_audit_logs SET "createdAt" = $2 WHERE "id" = $1"#)
            .bind(id)
            .bind(at)
            .execute(&self.pool)
            .await
            .unwrap();
    }

    fn stored_text(&self, sent: &str) -> String {
        // Postgres text cannot hold U+0000 (see the store).
        sent.replace('\0', "\u{FFFD}")
    }
}

/// A SQLite file of its own in a temporary directory (a directory below it, so that
/// `open` creates it), and a pool of its own to read rows back, as another process would.
pub struct SqliteFixture {
    _dir: TempDir,
    url: String,
    store: SqliteStore,
    reader: SqlitePool,
}

impl SqliteFixture {
    /// A fresh, migrated file.
    pub async fn new() -> SqliteFixture {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/nested/audit.db", dir.path().display());
        let store = SqliteStore::open(&url).await.unwrap();
        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .busy_timeout(Duration::from_secs(5));
        let reader = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .unwrap();
        SqliteFixture {
            _dir: dir,
            url,
            store,
            reader,
        }
    }

    /// Closes the fixture's connections.
    pub async fn close(self) {
        self.reader.close().await;
        self.store.pool().close().await;
    }
}

impl Fixture for SqliteFixture {
    type Store = SqliteStore;

    fn store(&self) -> SqliteStore {
        self.store.clone()
    }

    async fn executor(&self, _max_connections: u32) -> SqliteStore {
        SqliteStore::open(&self.url).await.unwrap()
    }

    async fn warm(&self, store: &SqliteStore, n: usize) {
        // The store has a fixed, smaller pool: holding more than it has would never end.
        let max = store.pool().options().get_max_connections();
        let mut set = JoinSet::new();
        for _ in 0..n.min(usize::try_from(max).unwrap()) {
            let pool = store.pool().clone();
            set.spawn(async move { pool.acquire().await.unwrap() });
        }
        drop(set.join_all().await);
    }

    async fn close_store(&self, store: SqliteStore) {
        store.pool().close().await;
    }

    async fn all_rows(&self) -> Vec<AuditRow> {
        sqlx::query(r#"SELECT * FROM action_audit_logs ORDER BY "createdAt", "id""#)
            .fetch_all(&self.reader)
            .await
            .unwrap()
            .iter()
            .map(sqlite_row)
            .collect()
    }

    async fn budget_holders(&self, key: &str) -> Vec<Uuid> {
        let ids: Vec<String> =
            sqlx::query_scalar(r#"SELECT "auditId" FROM budget_uses WHERE "budgetKey" = ?"#)
                .bind(key)
                .fetch_all(&self.reader)
                .await
                .unwrap();
        let mut ids: Vec<Uuid> = ids.iter().map(|id| Uuid::parse_str(id).unwrap()).collect();
        ids.sort();
        ids
    }

    async fn age_uses(&self, key: &str, by: Duration) {
        let uses: Vec<(String, String)> =
            sqlx::query_as(r#"SELECT "auditId", "usedAt" FROM budget_uses WHERE "budgetKey" = ?"#)
                .bind(key)
                .fetch_all(&self.reader)
                .await
                .unwrap();
        for (id, used_at) in uses {
            let earlier = time(&used_at) - chrono::Duration::from_std(by).unwrap();
            sqlx::query(r#"UPDATE budget_uses SET "usedAt" = ? WHERE "auditId" = ?"#)
                .bind(timestamp(earlier))
                .bind(id)
                .execute(&self.reader)
                .await
                .unwrap();
        }
    }

    async fn set_use_ago(&self, audit_id: Uuid, ago: Duration) {
        let at = Utc::now() - chrono::Duration::from_std(ago).unwrap();
        let done = sqlx::query(r#"UPDATE budget_uses SET "usedAt" = ? WHERE "auditId" = ?"#)
            .bind(timestamp(at))
            .bind(audit_id.to_string())
            .execute(&self.reader)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 1, "{audit_id} holds a use");
    }

    async fn set_created_at(&self, id: Uuid, at: DateTime<Utc>) {
        sqlx::query(r#"UPDATE action_audit_logs SET "createdAt" = ? WHERE "id" = ?"#)
            .bind(timestamp(at))
            .bind(id.to_string())
            .execute(&self.reader)
            .await
            .unwrap();
    }

    fn stored_text(&self, sent: &str) -> String {
        sent.to_owned()
    }
}

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn json(row: &SqliteRow, column: &str) -> Option<serde_json::Value> {
    let text: Option<String> = row.get(column);
    text.map(|t| serde_json::from_str(&t).unwrap())
}

/// A `SELECT *` row of the SQLite schema (uuids, JSON and times as text).
fn sqlite_row(row: &SqliteRow) -> AuditRow {
    AuditRow {
        id: Uuid::parse_str(row.get("id")).unwrap(),
        action_type: row.get("actionType"),
        action_params: json(row, "actionParams"),
        requested_by: row.get("requestedBy"),
        decision_id: row.get("decisionId"),
        policy_version: row.get("policyVersion"),
        policy_decision: json(row, "policyDecision"),
        status: row.get("status"),
        reason_code: row.get("reasonCode"),
        error: row.get("error"),
        result: json(row, "result"),
        dry_run: row.get("dryRun"),
        client_ip: row.get("clientIp"),
        request_id: row.get("requestId"),
        signature_form: row.get("signatureForm"),
        namespace: row.get("namespace"),
        target_kind: row.get("targetKind"),
        target_name: row.get("targetName"),
        budget_key: row.get("budgetKey"),
        duration_ms: row.get("durationMs"),
        created_at: time(row.get("createdAt")),
        updated_at: time(row.get("updatedAt")),
        approval_id: row
            .get::<Option<String>, _>("approvalId")
            .map(|t| Uuid::parse_str(&t).unwrap()),
        grant_id: row
            .get::<Option<String>, _>("grantId")
            .map(|t| Uuid::parse_str(&t).unwrap()),
        approved_by: json(row, "approvedBy"),
    }
}
