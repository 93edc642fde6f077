//! The audit rows of `PgStore`: what `begin`, `finish`, `reject` and `reconcile_pending`
//! leave in `action_audit_logs`, the operators' runbook query, and migrations.
//!
//! These tests need a Postgres whose user may create databases, named by `DATABASE_URL`
//! (e.g. `postgres://postgres@127.0.0.1:5432/postgres`): `#[sqlx::test]` creates a fresh
//! database per test, migrated from `migrations/`, and drops it afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common_store;

use std::time::Duration;

use common_store::{
    AuditRow, all_rows, attempt, close, decision, executor_store, roomy, row, succeeded,
};
use executor_service::store::postgres::PgStore;
use executor_service::store::{Attempt, AuditStatus, AuditStore, Begin, Completion};
use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use uuid::Uuid;

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

#[sqlx::test(migrations = "../../migrations")]
async fn begin_commits_a_pending_row_that_another_connection_sees_before_finish(
    _options: PgPoolOptions,
    connect: PgConnectOptions,
) {
    // Arrange
    let store = executor_store(&connect, 2);
    let mut other = PgConnection::connect_with(&connect).await.unwrap();
    let a = attempt("decision-1");
    let budget = roomy();

    // Act
    let answer = store.begin(&a, &budget).await.unwrap();

    // Assert: durable and visible to anyone, with everything known about the attempt.
    assert_eq!(answer, Begin::Started);
    let seen: AuditRow = sqlx::query_as(r#"SELECT * FROM action_audit_logs WHERE "id" = $1"#)
        .bind(a.id)
        .fetch_one(&mut other)
        .await
        .unwrap();
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
    other.close().await.unwrap();
    close(&[&store]).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn finish_records_the_outcome(pool: PgPool) {
    // Arrange
    let store = PgStore::from_pool(pool.clone());
    let a = attempt(&decision());
    store.begin(&a, &roomy()).await.unwrap();
    let before = row(&pool, a.id).await;

    // Act
    store.finish(a.id, &succeeded()).await.unwrap();

    // Assert
    let after = row(&pool, a.id).await;
    assert_eq!(after.status, "succeeded");
    assert_eq!(after.result, Some(json!({"restarted": "api-pod-12345"})));
    assert_eq!(after.duration_ms, Some(42));
    assert_eq!(after.reason_code, None);
    assert_eq!(after.created_at, before.created_at);
    assert!(after.updated_at > before.updated_at);
}

#[sqlx::test(migrations = "../../migrations")]
async fn finish_twice_does_not_overwrite_the_final_row(pool: PgPool) {
    // Arrange
    let store = PgStore::from_pool(pool.clone());
    let a = attempt(&decision());
    store.begin(&a, &roomy()).await.unwrap();
    let failed = Completion {
        status: AuditStatus::Failed,
        reason: Some("kube_not_found".into()),
        error: Some("pods \"api-pod-12345\" not found".into()),
        result: None,
        duration: Duration::from_millis(7),
    };
    store.finish(a.id, &failed).await.unwrap();
    let first = row(&pool, a.id).await;

    // Act
    store.finish(a.id, &succeeded()).await.unwrap();

    // Assert
    let second = row(&pool, a.id).await;
    assert_eq!(second.status, "failed");
    assert_eq!(second.reason_code.as_deref(), Some("kube_not_found"));
    assert_eq!(second.error, first.error);
    assert_eq!(second.duration_ms, Some(7));
    assert_eq!(second.updated_at, first.updated_at);
}

#[sqlx::test(migrations = "../../migrations")]
async fn finish_refuses_a_status_that_would_free_the_decision(pool: PgPool) {
    // Arrange: a `rejected` final state would drop the row out of the single-use index.
    let store = PgStore::from_pool(pool.clone());
    let a = attempt("decision-1");
    store.begin(&a, &roomy()).await.unwrap();
    let rejected = Completion {
        status: AuditStatus::Rejected,
        ..succeeded()
    };

    // Act
    let result = store.finish(a.id, &rejected).await;

    // Assert
    assert!(result.is_err());
    assert_eq!(row(&pool, a.id).await.status, "pending");
    let again = store.begin(&attempt("decision-1"), &roomy()).await.unwrap();
    assert_eq!(again, Begin::Replay { consumed_by: a.id });
}

#[sqlx::test(migrations = "../../migrations")]
async fn reject_writes_a_rejected_row_with_reason_error_and_duration(pool: PgPool) {
    // Arrange
    let store = PgStore::from_pool(pool.clone());
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
    let r = row(&pool, a.id).await;
    assert_eq!(r.status, "rejected");
    assert_eq!(r.reason_code.as_deref(), Some("token_expired"));
    assert_eq!(r.error.as_deref(), Some("the decision token expired"));
    assert_eq!(r.duration_ms, Some(3));
    assert_eq!(r.decision_id.as_deref(), Some("decision-1"));
    assert_eq!(r.budget_key, None);
    assert_eq!(r.policy_decision, a.policy_decision);
}

#[sqlx::test(migrations = "../../migrations")]
async fn reject_of_a_malformed_request_stores_nulls(pool: PgPool) {
    // Arrange: nothing could be read from the body.
    let store = PgStore::from_pool(pool.clone());
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
    let r = row(&pool, a.id).await;
    assert_eq!(r.status, "rejected");
    assert_eq!(r.action_type, None);
    assert_eq!(r.action_params, None);
    assert_eq!(r.requested_by, None);
    assert_eq!(r.decision_id, None);
    assert_eq!(r.namespace, None);
    assert!(!r.dry_run);
}

#[sqlx::test(migrations = "../../migrations")]
async fn reconcile_pending_marks_only_old_pending_rows(pool: PgPool) {
    // Arrange: an old pending row, a fresh pending row, an old finished row.
    let store = PgStore::from_pool(pool.clone());
    let old_pending = attempt(&decision());
    let fresh_pending = attempt(&decision());
    let old_done = attempt(&decision());
    for a in [&old_pending, &fresh_pending, &old_done] {
        assert_eq!(store.begin(a, &roomy()).await.unwrap(), Begin::Started);
    }
    store.finish(old_done.id, &succeeded()).await.unwrap();
    sqlx::query(
        r#"UPDATE action_audit_logs SET "createdAt" = NOW() - INTERVAL '10 minutes'
           WHERE "id" = ANY($1)"#,
    )
    .bind(vec![old_pending.id, old_done.id])
    .execute(&pool)
    .await
    .unwrap();

    // Act
    let changed = store
        .reconcile_pending(Duration::from_secs(5 * 60))
        .await
        .unwrap();

    // Assert
    assert_eq!(changed, 1);
    let interrupted = row(&pool, old_pending.id).await;
    assert_eq!(interrupted.status, "unknown");
    assert_eq!(interrupted.reason_code.as_deref(), Some("interrupted"));
    assert_eq!(
        interrupted.error.as_deref(),
        Some("the executor stopped before recording the outcome; check the cluster")
    );
    assert_eq!(row(&pool, fresh_pending.id).await.status, "pending");
    assert_eq!(row(&pool, old_done.id).await.status, "succeeded");
    // A late finish does not overwrite the reconciled state.
    store.finish(old_pending.id, &succeeded()).await.unwrap();
    assert_eq!(row(&pool, old_pending.id).await.status, "unknown");
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
