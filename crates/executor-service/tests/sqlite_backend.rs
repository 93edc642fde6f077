//! The executor on the embedded SQLite store: the whole execute path runs on it, as does
//! the executor without a cluster, and the audit API reads the same log from it as from
//! Postgres for the same history. (What each store promises on its own is the contract
//! suite of the `store_*` tests, run on both.)
//!
//! The router tests reuse the Postgres harness for its fake cluster and keys, so they need
//! `DATABASE_URL` like the other tests; the audit rows they check are in SQLite.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod common_store;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use common::{Harness, execute_on};
use common_store::{attempt, succeeded};
use executor_service::store::sqlite::SqliteStore;
use executor_service::store::{AuditStatus, AuditStore, Begin, Completion, Outcome};
use serde_json::json;
use sqlx::PgPool;
use sqlx::Row as _;
use tempfile::TempDir;
use uuid::Uuid;

/// A fresh SQLite store in its own directory (kept alive by the returned guard).
async fn store() -> (SqliteStore, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&url(&dir)).await.unwrap();
    (store, dir)
}

fn url(dir: &TempDir) -> String {
    format!("sqlite://{}/nested/audit.db", dir.path().display())
}

/// (id, status, reasonCode, dryRun) of every row, oldest first.
async fn rows(store: &SqliteStore) -> Vec<(String, String, Option<String>, bool)> {
    sqlx::query(
        r#"SELECT "id", "status", "reasonCode", "dryRun" FROM action_audit_logs
           ORDER BY "createdAt", "id""#,
    )
    .fetch_all(store.pool())
    .await
    .unwrap()
    .into_iter()
    .map(|r| {
        (
            r.get("id"),
            r.get("status"),
            r.get("reasonCode"),
            r.get("dryRun"),
        )
    })
    .collect()
}

fn count(rows: &[(String, String, Option<String>, bool)], status: &str) -> usize {
    rows.iter().filter(|r| r.1 == status).count()
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_execute_path_runs_on_sqlite(pool: PgPool) {
    // Arrange
    let harness = Harness::new(pool, &[]).await;
    let (store, _dir) = store().await;
    let state = harness.state_with_store(Arc::new(store.clone()));
    let body = harness.request(
        "restart_pod",
        json!({"namespace": "default", "podName": "api-pod-12345"}),
        "default/pod/api-pod-12345",
    );

    // Act
    let first = execute_on(&state, &body).await;
    let again = execute_on(&state, &body).await;

    // Assert
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["code"], "replay");
    assert_eq!(harness.kube.mutations().len(), 1);
    // The final update runs after the answer: wait (bounded) for it.
    let mut all = rows(&store).await;
    for _ in 0..100 {
        if count(&all, "pending") == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        all = rows(&store).await;
    }
    assert_eq!(count(&all, "succeeded"), 1);
    assert_eq!(count(&all, "rejected"), 1);
    assert_eq!(first.body["auditId"], json!(all[0].0));
}

#[sqlx::test(migrations = "../../migrations")]
async fn without_a_cluster_every_attempt_is_an_audited_dry_run(pool: PgPool) {
    // Arrange
    let harness = Harness::new(pool, &[]).await;
    let (store, _dir) = store().await;
    let state = harness.state_without_cluster(Arc::new(store.clone()));
    let body = harness.request(
        "scale_deployment",
        json!({"namespace": "production", "deploymentName": "api-deployment", "replicas": 5}),
        "production/deployment/api-deployment",
    );

    // Act
    let answer = execute_on(&state, &body).await;

    // Assert
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    assert_eq!(answer.body["dryRun"], true);
    assert_eq!(answer.body["result"]["cluster"], "none");
    assert_eq!(
        answer.body["result"]["target"],
        json!({"namespace": "production", "kind": "deployment", "name": "api-deployment"})
    );
    assert!(harness.kube.mutations().is_empty());
    assert!(harness.kube.requests().is_empty(), "no API call at all");
    let mut all = rows(&store).await;
    for _ in 0..100 {
        if count(&all, "pending") == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        all = rows(&store).await;
    }
    assert_eq!(all.len(), 1);
    assert_eq!((all[0].1.as_str(), all[0].3), ("succeeded", true));
}

/// The same attempts written to a Postgres store and a SQLite store.
async fn same_history(stores: [&dyn AuditStore; 2]) {
    let roomy = common_store::roomy();
    let mut n = 0;
    for (who, action, namespace) in [
        ("ai-engine", "restart_pod", "default"),
        ("ai-engine", "scale_deployment", "production"),
        ("ops-bot", "restart_pod", "production"),
        ("ai-engine", "restart_pod", "staging"),
    ] {
        for outcome in [
            Some(AuditStatus::Succeeded),
            Some(AuditStatus::Failed),
            Some(AuditStatus::Unknown),
            None, // refused
        ] {
            n += 1;
            let mut a = attempt(&format!("decision-{n}"));
            a.id = Uuid::now_v7();
            a.requested_by = Some(who.into());
            a.action_type = Some(action.into());
            a.namespace = Some(namespace.into());
            a.dry_run = n % 5 == 0;
            for store in stores {
                match outcome {
                    None => store
                        .reject(&a, "bad_signature", "no", Duration::from_millis(n))
                        .await
                        .unwrap(),
                    Some(status) => {
                        assert_eq!(store.begin(&a, &roomy).await.unwrap(), Begin::Started);
                        let duration = Duration::from_millis(10 * n);
                        let (reason, error) = ("kube_error".to_owned(), "no".to_owned());
                        let outcome = match status {
                            AuditStatus::Succeeded => succeeded().outcome,
                            AuditStatus::Failed => Outcome::Failed { reason, error },
                            _ => Outcome::Unknown { reason, error },
                        };
                        let done = Completion { outcome, duration };
                        store.finish(a.id, &done).await.unwrap();
                    }
                }
            }
        }
    }
}

/// What two stores must agree on: everything but the times they stamped.
fn comparable(records: Vec<executor_service::store::AuditRecord>) -> Vec<serde_json::Value> {
    records
        .into_iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("createdAt");
            o.remove("updatedAt");
            v
        })
        .collect()
}

#[sqlx::test(migrations = "../../migrations")]
async fn both_stores_read_back_the_same_audit_log(pool: PgPool) {
    use executor_service::store::postgres::PgStore;
    use executor_service::store::{AuditCursor, AuditQuery};
    // Arrange
    let postgres = PgStore::from_pool(pool);
    let (sqlite, _dir) = store().await;
    same_history([&postgres, &sqlite]).await;
    let queries = [
        AuditQuery {
            limit: 100,
            ..AuditQuery::default()
        },
        AuditQuery {
            requested_by: Some("ai-engine".into()),
            status: Some(AuditStatus::Succeeded),
            limit: 100,
            ..AuditQuery::default()
        },
        AuditQuery {
            action_type: Some("restart_pod".into()),
            namespace: Some("production".into()),
            limit: 100,
            ..AuditQuery::default()
        },
    ];

    // Act + Assert: every filter, and paging three rows at a time.
    for query in &queries {
        let (a, b) = (
            postgres.list(query).await.unwrap(),
            sqlite.list(query).await.unwrap(),
        );
        assert!(!a.is_empty());
        assert_eq!(comparable(a), comparable(b), "{query:?}");
    }
    let mut pages: [Vec<Uuid>; 2] = [Vec::new(), Vec::new()];
    for (i, s) in [&postgres as &dyn AuditStore, &sqlite]
        .into_iter()
        .enumerate()
    {
        let mut after: Option<AuditCursor> = None;
        loop {
            let page = s
                .list(&AuditQuery {
                    limit: 3,
                    after,
                    ..AuditQuery::default()
                })
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = Some(AuditCursor::of(last));
            pages[i].extend(page.iter().map(|r| r.id));
        }
    }
    assert_eq!(pages[0].len(), 16);
    assert_eq!(pages[0], pages[1]);
    let one = pages[0][4];
    assert_eq!(
        comparable(vec![postgres.get(one).await.unwrap().unwrap()]),
        comparable(vec![sqlite.get(one).await.unwrap().unwrap()])
    );
    assert!(sqlite.get(Uuid::now_v7()).await.unwrap().is_none());
    let (since, until) = (
        chrono::Utc::now() - chrono::Duration::hours(1),
        chrono::Utc::now() + chrono::Duration::seconds(1),
    );
    let key = |b: &executor_service::store::StatsBucket| {
        (
            b.namespace.clone(),
            b.action_type.clone(),
            b.status.as_str(),
            b.dry_run,
        )
    };
    let mut a = postgres.stats_buckets(since, until).await.unwrap();
    let mut b = sqlite.stats_buckets(since, until).await.unwrap();
    a.sort_by_key(key);
    b.sort_by_key(key);
    assert_eq!(a, b);
}
