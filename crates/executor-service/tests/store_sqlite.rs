//! The embedded SQLite store keeps the Postgres store's promises: write-ahead rows, single
//! use of a decision, exact budgets under concurrency (also with two stores on one file,
//! as two processes), dry runs that take nothing, reconciliation of interrupted rows — and
//! the whole execute path runs on it, as does the executor without a cluster.
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
use common_store::{attempt, budget, decision, dry_attempt, succeeded};
use executor_service::store::sqlite::SqliteStore;
use executor_service::store::{AuditStatus, AuditStore, Begin, Completion};
use serde_json::json;
use sqlx::PgPool;
use sqlx::Row as _;
use tempfile::TempDir;
use uuid::Uuid;

const FIVE_MINUTES: Duration = Duration::from_secs(300);

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

#[tokio::test]
async fn begin_commits_a_pending_row_and_finish_completes_it() {
    // Arrange
    let (store, _dir) = store().await;
    let a = attempt(&decision());

    // Act
    let begun = store
        .begin(&a, &budget("restart", 5, FIVE_MINUTES))
        .await
        .unwrap();
    let pending = rows(&store).await;
    store.finish(a.id, &succeeded()).await.unwrap();

    // Assert
    assert_eq!(begun, Begin::Started);
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].0, a.id.to_string());
    assert_eq!(pending[0].1, "pending");
    let done = sqlx::query(
        r#"SELECT "status", "result", "durationMs", "actionParams" FROM action_audit_logs"#,
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(done.get::<String, _>("status"), "succeeded");
    let result: String = done.get("result");
    assert!(serde_json::from_str::<serde_json::Value>(&result).is_ok());
    assert!(done.get::<Option<i64>, _>("durationMs").is_some());
    let params: String = done.get("actionParams");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&params).unwrap(),
        json!({"namespace": "default", "podName": "api-pod-12345"})
    );
}

#[tokio::test]
async fn a_decision_is_used_once_and_dry_runs_do_not_use_it() {
    // Arrange
    let (store, _dir) = store().await;
    let d = decision();
    let roomy = budget("restart", 100, FIVE_MINUTES);
    let dry = dry_attempt(&d);
    let first = attempt(&d);
    let second = attempt(&d);
    let dry_after = dry_attempt(&d);

    // Act
    let dry_answer = store.begin(&dry, &roomy).await.unwrap();
    let first_answer = store.begin(&first, &roomy).await.unwrap();
    let second_answer = store.begin(&second, &roomy).await.unwrap();
    let dry_after_answer = store.begin(&dry_after, &roomy).await.unwrap();

    // Assert
    assert_eq!(dry_answer, Begin::Started);
    assert_eq!(first_answer, Begin::Started);
    let replay = Begin::Replay {
        consumed_by: first.id,
    };
    assert_eq!(second_answer, replay);
    assert_eq!(dry_after_answer, replay);
    let all = rows(&store).await;
    assert_eq!(count(&all, "rejected"), 2);
    assert!(
        all.iter()
            .filter(|r| r.1 == "rejected")
            .all(|r| r.2.as_deref() == Some("replay"))
    );
}

#[tokio::test]
async fn fifty_concurrent_attempts_get_exactly_the_budget() {
    // Arrange
    let (store, _dir) = store().await;
    let limit = budget("restart", 5, FIVE_MINUTES);

    // Act
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (store, limit) = (store.clone(), limit.clone());
        tasks.spawn(async move { store.begin(&attempt(&decision()), &limit).await.unwrap() });
    }
    let answers = tasks.join_all().await;

    // Assert
    let started = answers.iter().filter(|a| **a == Begin::Started).count();
    assert_eq!(started, 5);
    for answer in answers.iter().filter(|a| **a != Begin::Started) {
        match answer {
            Begin::OverBudget { retry_after } => {
                assert!(*retry_after > Duration::ZERO && *retry_after <= FIVE_MINUTES);
            }
            other => panic!("unexpected answer {other:?}"),
        }
    }
    let all = rows(&store).await;
    assert_eq!(count(&all, "pending"), 5);
    assert_eq!(count(&all, "rejected"), 45);
}

#[tokio::test]
async fn two_stores_on_one_file_share_the_budget_exactly() {
    // Arrange: two stores on one file, as two executor processes.
    let dir = tempfile::tempdir().unwrap();
    let one = SqliteStore::open(&url(&dir)).await.unwrap();
    let two = SqliteStore::open(&url(&dir)).await.unwrap();
    let limit = budget("restart", 5, FIVE_MINUTES);

    // Act
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let store = if i % 2 == 0 { one.clone() } else { two.clone() };
        let limit = limit.clone();
        tasks.spawn(async move { store.begin(&attempt(&decision()), &limit).await.unwrap() });
    }
    let answers = tasks.join_all().await;

    // Assert
    assert_eq!(answers.iter().filter(|a| **a == Begin::Started).count(), 5);
    assert_eq!(count(&rows(&one).await, "pending"), 5);
}

#[tokio::test]
async fn the_window_slides_and_dry_runs_take_no_budget() {
    // Arrange
    let (store, _dir) = store().await;
    let limit = budget("scale", 2, Duration::from_secs(1));

    // Act
    let dry = store
        .begin(&dry_attempt(&decision()), &limit)
        .await
        .unwrap();
    let a = store.begin(&attempt(&decision()), &limit).await.unwrap();
    let b = store.begin(&attempt(&decision()), &limit).await.unwrap();
    let refused = store.begin(&attempt(&decision()), &limit).await.unwrap();
    let dry_refused = store
        .begin(&dry_attempt(&decision()), &limit)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = store.begin(&attempt(&decision()), &limit).await.unwrap();

    // Assert
    assert_eq!(dry, Begin::Started);
    assert_eq!((a, b), (Begin::Started, Begin::Started));
    assert!(
        matches!(refused, Begin::OverBudget { retry_after } if retry_after <= Duration::from_secs(1))
    );
    assert!(matches!(dry_refused, Begin::OverBudget { .. }));
    assert_eq!(later, Begin::Started);
}

#[tokio::test]
async fn interrupted_rows_are_reconciled_and_finish_takes_only_outcomes() {
    // Arrange
    let (store, _dir) = store().await;
    let a = attempt(&decision());
    store
        .begin(&a, &budget("restart", 5, FIVE_MINUTES))
        .await
        .unwrap();

    // Act
    let young = store.reconcile_pending(FIVE_MINUTES).await.unwrap();
    let bad_finish = store
        .finish(
            a.id,
            &Completion {
                status: AuditStatus::Rejected,
                ..succeeded()
            },
        )
        .await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let old = store.reconcile_pending(Duration::ZERO).await.unwrap();
    let late_finish = store.finish(a.id, &succeeded()).await;

    // Assert
    assert_eq!(young, 0);
    assert!(bad_finish.is_err());
    assert_eq!(old, 1);
    assert!(late_finish.is_ok());
    let all = rows(&store).await;
    assert_eq!(all[0].1, "unknown");
    assert_eq!(all[0].2.as_deref(), Some("interrupted"));
}

#[tokio::test]
async fn refusals_are_rows_too() {
    // Arrange
    let (store, _dir) = store().await;
    let a = attempt(&decision());

    // Act
    store
        .reject(
            &a,
            "bad_signature",
            "signature does not match",
            Duration::from_millis(3),
        )
        .await
        .unwrap();

    // Assert
    let all = rows(&store).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].1, "rejected");
    assert_eq!(all[0].2.as_deref(), Some("bad_signature"));
    assert!(Uuid::parse_str(&all[0].0).is_ok());
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
                        let done = Completion {
                            status,
                            duration: Duration::from_millis(10 * n),
                            ..succeeded()
                        };
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
