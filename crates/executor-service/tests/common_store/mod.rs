//! Helpers of the `store_*` tests: attempts, budgets and outcomes, the audit-store
//! contract suite run on both backends ([`contract`]), reading Postgres rows back, and a
//! TCP proxy that plays a database going away and coming back.
//!
//! Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

pub mod contract;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use executor_service::store::postgres::PgStore;
use executor_service::store::{Attempt, Budget, Completion, Outcome};
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinSet;
use uuid::Uuid;

/// One row of `action_audit_logs`, every column (so `SELECT *` maps onto it).
#[derive(Clone, Debug, sqlx::FromRow)]
#[sqlx(rename_all = "camelCase")]
pub struct AuditRow {
    pub id: Uuid,
    pub action_type: Option<String>,
    pub action_params: Option<Value>,
    pub requested_by: Option<String>,
    pub decision_id: Option<String>,
    pub policy_version: Option<String>,
    pub policy_decision: Option<Value>,
    pub status: String,
    pub reason_code: Option<String>,
    pub error: Option<String>,
    pub result: Option<Value>,
    pub dry_run: bool,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
    pub signature_form: Option<String>,
    pub namespace: Option<String>,
    pub target_kind: Option<String>,
    pub target_name: Option<String>,
    pub budget_key: Option<String>,
    pub duration_ms: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub approval_id: Option<Uuid>,
    pub grant_id: Option<Uuid>,
    pub approved_by: Option<Value>,
}

/// A fully described, valid attempt using `decision`.
pub fn attempt(decision: &str) -> Attempt {
    Attempt {
        id: Uuid::now_v7(),
        action_type: Some("restart_pod".into()),
        action_params: Some(json!({"namespace": "default", "podName": "api-pod-12345"})),
        requested_by: Some("ai-engine".into()),
        decision_id: Some(decision.into()),
        policy_version: Some("v1".into()),
        policy_decision: Some(json!({"allowed": true, "decisionId": decision})),
        namespace: Some("default".into()),
        target_kind: Some("pod".into()),
        target_name: Some("api-pod-12345".into()),
        signature_form: Some("python_default".into()),
        dry_run: false,
        client_ip: Some("10.0.0.7".into()),
        request_id: Some(format!("req-{decision}")),
        ..Attempt::default()
    }
}

/// The same as a dry run.
pub fn dry_attempt(decision: &str) -> Attempt {
    Attempt {
        dry_run: true,
        ..attempt(decision)
    }
}

/// A fresh decision id.
pub fn decision() -> String {
    Uuid::new_v4().to_string()
}

/// `max` uses per `ttl` under the key `key`.
pub fn budget(key: &str, max: u32, ttl: Duration) -> Budget {
    Budget {
        key: key.into(),
        max,
        ttl,
    }
}

/// A budget nothing in a test comes near.
pub fn roomy() -> Budget {
    budget("roomy", 10_000, Duration::from_secs(300))
}

/// A successful outcome.
pub fn succeeded() -> Completion {
    Completion {
        outcome: Outcome::Succeeded {
            result: json!({"restarted": "api-pod-12345"}),
        },
        duration: Duration::from_millis(42),
    }
}

/// A failure with a known outcome.
pub fn failed(reason: &str, error: &str, duration: Duration) -> Completion {
    Completion {
        outcome: Outcome::Failed {
            reason: reason.into(),
            error: error.into(),
        },
        duration,
    }
}

/// Reads row `id`.
pub async fn row(pool: &PgPool, id: Uuid) -> AuditRow {
    sqlx::query_as("SELECT * FROM action_audit_logs WHERE \"id\" = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Every row, oldest first.
pub async fn all_rows(pool: &PgPool) -> Vec<AuditRow> {
    sqlx::query_as("SELECT * FROM action_audit_logs ORDER BY \"createdAt\", \"id\"")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// A store as an executor process builds it (its own pool, production settings) on the
/// test's database.
pub fn executor_store(connect: &PgConnectOptions, max_connections: u32) -> PgStore {
    PgStore::connect_with(connect.clone(), max_connections)
}

/// Opens `n` connections of `store` at once and returns them to its pool, so a race
/// that follows is between statements, not between connection handshakes.
pub async fn warm(store: &PgStore, n: usize) {
    let mut set = JoinSet::new();
    for _ in 0..n {
        let pool = store.pool().clone();
        set.spawn(async move { pool.acquire().await.unwrap() });
    }
    let held = set.join_all().await;
    drop(held);
}

/// Closes the stores' pools, so the test database can be dropped afterwards.
pub async fn close(stores: &[&PgStore]) {
    for store in stores {
        store.pool().close().await;
    }
}

/// A port on which nothing listens (it was free a moment ago).
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// A TCP proxy on `127.0.0.1:port` to `upstream`: the database as the executor sees it.
/// Stopping it closes the listener and every proxied connection, as a database crash does.
pub struct Proxy {
    tasks: Arc<Mutex<JoinSet<()>>>,
}

impl Proxy {
    pub async fn start(port: u16, upstream: SocketAddr) -> Proxy {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket
            .bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .unwrap();
        let listener = socket.listen(64).unwrap();
        let tasks = Arc::new(Mutex::new(JoinSet::new()));
        let accepting = Arc::clone(&tasks);
        tasks.lock().unwrap().spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                accepting.lock().unwrap().spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Proxy { tasks }
    }

    /// Closes the listener and every connection, and waits until they are gone.
    pub async fn stop(self) {
        let mut tasks = std::mem::take(&mut *self.tasks.lock().unwrap());
        tasks.shutdown().await;
    }
}
