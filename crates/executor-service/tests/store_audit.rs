//! The audit rows of both stores: what `begin`, `finish`, `reject` and
//! `reconcile_pending` leave in `action_audit_logs` (each body runs on Postgres and on
//! SQLite, see `common_store::contract`), and, on Postgres only, the operators' runbook
//! query and concurrent migrations.
//!
//! The Postgres tests need a Postgres whose user may create databases, named by
//! `DATABASE_URL` (e.g. `postgres://postgres@127.0.0.1:5432/postgres`): `#[sqlx::test]`
//! creates a fresh database per test, migrated from `migrations/`, and drops it afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common_store;

use std::time::Duration;

use chrono::Utc;
use common_store::contract::Fixture;
use common_store::{
    AuditRow, all_rows, attempt, close, decision, executor_store, failed, roomy, succeeded,
};
use executor_service::store::postgres::PgStore;
use executor_service::store::{Attempt, AuditStore, Begin};
use serde_json::json;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

contract!(
    begin_commits_a_pending_row_that_another_connection_sees_before_finish,
    finish_records_the_outcome,
    finish_twice_does_not_overwrite_the_final_row,
    reject_writes_a_rejected_row_with_reason_error_and_duration,
    reject_of_a_malformed_request_stores_nulls,
    reconcile_pending_marks_only_old_pending_rows,
);

async fn begin_commits_a_pending_row_that_another_connection_sees_before_finish(f: &impl Fixture) {
    // Arrange
    let store = f.executor(2).await;
    let a = attempt("decision-1");
    let budget = roomy();

    // Act
    let answer = store.begin(&a, &budget).await.unwrap();

    // Assert: durable and visible to anyone, with everything known about the attempt.
    assert_eq!(answer, Begin::Started);
    let seen = f.row(a.id).await;
    assert_eq!(seen.status, "pending");
    assert_eq!(seen.reason_code, None);
    assert_eq!(seen.action_type.as_deref(), Some("restart_pod"));
    assert_eq!(seen.action_params, a.action_params);
    assert_eq!(seen.requested_by.as_deref(), Some("ai-engine"));
    assert_eq!(seen.decision_id.as_deref(), Some("decision-1"));
    assert_eq!(seen.policy_version.as_deref(), Some("v1"));
    assert_eq!(seen.policy_decision, a.policy_decision);
    assert_eq!(seen.namespace.as_deref(), Some("default"));
    assert_eq!(seen.target_kind.as_deref(), Some("pod"));
    assert_eq!(seen.target_name.as_deref(), Some("api-pod-12345"));
    assert_eq!(seen.signature_form.as_deref(), Some("python_default"));
    assert!(!seen.dry_run);
    assert_eq!(seen.client_ip.as_deref(), Some("10.0.0.7"));
    assert_eq!(seen.request_id.as_deref(), Some("req-decision-1"));
    assert_eq!(seen.budget_key.as_deref(), Some(budget.key.as_str()));
    assert_eq!(seen.duration_ms, None);
    assert_eq!(seen.result, None);
    f.close_store(store).await;
}

async fn finish_records_the_outcome(f: &impl Fixture) {
    // Arrange
    let store = f.store();
    let a = attempt(&decision());
    store.begin(&a, &roomy()).await.unwrap();
    let before = f.row(a.id).await;

    // Act
    store.finish(a.id, &succeeded()).await.unwrap();

    // Assert
    let after = f.row(a.id).await;
    assert_eq!(after.status, "succeeded");
    assert_eq!(after.result, Some(json!({"restarted": "api-pod-12345"})));
    assert_eq!(after.duration_ms, Some(42));
    assert_eq!(after.reason_code, None);
    assert_eq!(after.created_at, before.created_at);
    assert!(after.updated_at > before.updated_at);
}

async fn finish_twice_does_not_overwrite_the_final_row(f: &impl Fixture) {
    // Arrange
    let store = f.store();
    let a = attempt(&decision());
    store.begin(&a, &roomy()).await.unwrap();
    let not_found = failed(
        "kube_not_found",
        "pods \"api-pod-12345\" not found",
        Duration::from_millis(7),
    );
    store.finish(a.id, &not_found).await.unwrap();
    let first = f.row(a.id).await;

    // Act
    store.finish(a.id, &succeeded()).await.unwrap();

    // Assert
    let second = f.row(a.id).await;
    assert_eq!(second.status, "failed");
    assert_eq!(second.reason_code.as_deref(), Some("kube_not_found"));
    assert_eq!(second.error, first.error);
    assert_eq!(second.duration_ms, Some(7));
    assert_eq!(second.updated_at, first.updated_at);
}

async fn reject_writes_a_rejected_row_with_reason_error_and_duration(f: &impl Fixture) {
    // Arrange
    let store = f.store();
    let a = attempt("decision-1");

    // Act
    store
        .reject(
            &a,
            "token_expired",
            "the decision token expired",
            Duration::from_millis(3),
        )
        .await
        .unwrap();

    // Assert
    let r = f.row(a.id).await;
    assert_eq!(r.status, "rejected");
    assert_eq!(r.reason_code.as_deref(), Some("token_expired"));
    assert_eq!(r.error.as_deref(), Some("the decision token expired"));
    assert_eq!(r.duration_ms, Some(3));
    assert_eq!(r.decision_id.as_deref(), Some("decision-1"));
    assert_eq!(r.budget_key, None);
    assert_eq!(r.policy_decision, a.policy_decision);
}

async fn reject_of_a_malformed_request_stores_nulls(f: &impl Fixture) {
    // Arrange: nothing could be read from the body.
    let store = f.store();
    let a = Attempt {
        id: Uuid::now_v7(),
        ..Attempt::default()
    };

    // Act
    store
        .reject(&a, "invalid_json", "malformed JSON", Duration::ZERO)
        .await
        .unwrap();

    // Assert
    let r = f.row(a.id).await;
    assert_eq!(r.status, "rejected");
    assert_eq!(r.action_type, None);
    assert_eq!(r.action_params, None);
    assert_eq!(r.requested_by, None);
    assert_eq!(r.decision_id, None);
    assert_eq!(r.namespace, None);
    assert!(!r.dry_run);
}

async fn reconcile_pending_marks_only_old_pending_rows(f: &impl Fixture) {
    // Arrange: an old pending row, a fresh pending row, an old finished row.
    let store = f.store();
    let old_pending = attempt(&decision());
    let fresh_pending = attempt(&decision());
    let old_done = attempt(&decision());
    for a in [&old_pending, &fresh_pending, &old_done] {
        assert_eq!(store.begin(a, &roomy()).await.unwrap(), Begin::Started);
    }
    store.finish(old_done.id, &succeeded()).await.unwrap();
    let ten_minutes_ago = Utc::now() - chrono::Duration::minutes(10);
    for id in [old_pending.id, old_done.id] {
        f.set_created_at(id, ten_minutes_ago).await;
    }

    // Act
    let changed = store
        .reconcile_pending(Duration::from_secs(5 * 60))
        .await
        .unwrap();

    // Assert
    assert_eq!(changed, 1);
    let interrupted = f.row(old_pending.id).await;
    assert_eq!(interrupted.status, "unknown");
    assert_eq!(interrupted.reason_code.as_deref(), Some("interrupted"));
    assert_eq!(
        interrupted.error.as_deref(),
        Some("the executor stopped before recording the outcome; check the cluster")
    );
    assert_eq!(f.row(fresh_pending.id).await.status, "pending");
    assert_eq!(f.row(old_done.id).await.status, "succeeded");
    // A late finish does not overwrite the reconciled state.
    store.finish(old_pending.id, &succeeded()).await.unwrap();
    assert_eq!(f.row(old_pending.id).await.status, "unknown");
}

/// Verbatim from the operators' runbook (design README): it must keep working.
const RUNBOOK_QUERY: &str = r#"SELECT * FROM action_audit_logs
WHERE "requestedBy" = 'ai-engine' AND "createdAt" > NOW() - INTERVAL '1 hour'
ORDER BY "createdAt" DESC;"#;

#[sqlx::test(migrations = "../../migrations")]
async fn runbook_query_returns_the_last_hour_of_one_requester_newest_first(pool: PgPool) {
    // Arrange: three recent rows of ai-engine, one of another requester, one too old.
    let store = PgStore::from_pool(pool.clone());
    let mut recent = Vec::new();
    for _ in 0..3 {
        let a = attempt(&decision());
        store
            .reject(
                &a,
                "bad_signature",
                "signature mismatch",
                Duration::from_millis(1),
            )
            .await
            .unwrap();
        recent.push(a.id);
    }
    let other = Attempt {
        requested_by: Some("someone-else".into()),
        ..attempt(&decision())
    };
    store
        .reject(
            &other,
            "bad_signature",
            "signature mismatch",
            Duration::ZERO,
        )
        .await
        .unwrap();
    let old = attempt(&decision());
    assert_eq!(store.begin(&old, &roomy()).await.unwrap(), Begin::Started);
    sqlx::query(
        r#"UPDATE action_audit_logs SET "createdAt" = NOW() - INTERVAL '2 hours' WHERE "id" = $1"#,
    )
    .bind(old.id)
    .execute(&pool)
    .await
    .unwrap();

    // Act
    let rows: Vec<AuditRow> = sqlx::query_as(RUNBOOK_QUERY)
        .fetch_all(&pool)
        .await
        .unwrap();

    // Assert
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let newest_first: Vec<Uuid> = recent.iter().rev().copied().collect();
    assert_eq!(ids, newest_first);
    assert!(rows.windows(2).all(|w| w[0].created_at >= w[1].created_at));
}

#[sqlx::test(migrations = false)]
async fn migrations_run_once_when_executors_start_together(
    _options: PgPoolOptions,
    connect: PgConnectOptions,
) {
    // Arrange: two executors on an empty database (one connection for the first, so the
    // connection that ran the migrations is the one checked afterwards).
    let first = executor_store(&connect, 1);
    let second = executor_store(&connect, 2);

    // Act
    let (a, b) = tokio::join!(first.migrate(), second.migrate());
    let again = first.migrate().await;

    // Assert
    a.unwrap();
    b.unwrap();
    again.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(first.pool())
        .await
        .unwrap();
    assert_eq!(
        applied,
        i64::try_from(executor_service::store::postgres::MIGRATOR.iter().count()).unwrap()
    );
    let timeout: String = sqlx::query_scalar("SHOW statement_timeout")
        .fetch_one(first.pool())
        .await
        .unwrap();
    assert_eq!(
        timeout, "10s",
        "the migration connection got its timeout back"
    );
    assert!(all_rows(first.pool()).await.is_empty());
    close(&[&first, &second]).await;
}
