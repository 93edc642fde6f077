//! Single use of policy decisions in `PgStore`: the pending row's insert consumes the
//! decision, once, across executors; refusals and dry runs never consume.
//!
//! These tests need a Postgres whose user may create databases, named by `DATABASE_URL`
//! (e.g. `postgres://postgres@127.0.0.1:5432/postgres`): `#[sqlx::test]` creates a fresh
//! database per test, migrated from `migrations/`, and drops it afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common_store;

use std::time::Duration;

use common_store::{
    all_rows, attempt, begin_all, close, count, dry_attempt, executor_store, roomy, row, succeeded,
    taken_slots, warm,
};
use executor_service::store::postgres::PgStore;
use executor_service::store::{AuditStatus, AuditStore, Begin, Completion};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

#[sqlx::test(migrations = "../../migrations")]
async fn second_begin_with_the_same_decision_is_a_replay(pool: PgPool) {
    // Arrange
    let store = PgStore::from_pool(pool.clone());
    let first = attempt("decision-1");
    store.begin(&first, &roomy()).await.unwrap();
    let second = attempt("decision-1");

    // Act
    let answer = store.begin(&second, &roomy()).await.unwrap();

    // Assert
    assert_eq!(
        answer,
        Begin::Replay {
            consumed_by: first.id
        }
    );
    let replay = row(&pool, second.id).await;
    assert_eq!(replay.status, "rejected");
    assert_eq!(replay.reason_code.as_deref(), Some("replay"));
    assert!(replay.error.unwrap().contains(&first.id.to_string()));
    assert_eq!(row(&pool, first.id).await.status, "pending");
    // The replay took no budget.
    assert_eq!(taken_slots(&pool, "roomy").await, vec![first.id]);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_finished_decision_stays_consumed_whatever_the_outcome(pool: PgPool) {
    // Arrange: the first use failed on the cluster; the decision is still spent.
    let store = PgStore::from_pool(pool.clone());
    let first = attempt("decision-1");
    store.begin(&first, &roomy()).await.unwrap();
    let failed = Completion {
        status: AuditStatus::Failed,
        reason: Some("kube_forbidden".into()),
        error: Some("forbidden".into()),
        result: None,
        duration: Duration::from_millis(5),
    };
    store.finish(first.id, &failed).await.unwrap();

    // Act
    let answer = store.begin(&attempt("decision-1"), &roomy()).await.unwrap();

    // Assert
    assert_eq!(
        answer,
        Begin::Replay {
            consumed_by: first.id
        }
    );
    assert_eq!(count(&pool, "rejected", Some("replay")).await, 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_dry_run_does_not_consume_the_decision(pool: PgPool) {
    // Arrange
    let store = PgStore::from_pool(pool.clone());
    let dry = dry_attempt("decision-1");
    assert_eq!(store.begin(&dry, &roomy()).await.unwrap(), Begin::Started);
    store.finish(dry.id, &succeeded()).await.unwrap();
    let real = attempt("decision-1");

    // Act
    let answer = store.begin(&real, &roomy()).await.unwrap();

    // Assert
    assert_eq!(answer, Begin::Started);
    let dry_row = row(&pool, dry.id).await;
    assert!(dry_row.dry_run);
    assert_eq!(dry_row.status, "succeeded");
    assert_eq!(row(&pool, real.id).await.status, "pending");
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_dry_run_of_a_consumed_decision_is_a_replay(pool: PgPool) {
    // Arrange
    let store = PgStore::from_pool(pool.clone());
    let real = attempt("decision-1");
    store.begin(&real, &roomy()).await.unwrap();
    let dry = dry_attempt("decision-1");

    // Act
    let answer = store.begin(&dry, &roomy()).await.unwrap();

    // Assert
    assert_eq!(
        answer,
        Begin::Replay {
            consumed_by: real.id
        }
    );
    let r = row(&pool, dry.id).await;
    assert_eq!(r.status, "rejected");
    assert_eq!(r.reason_code.as_deref(), Some("replay"));
    assert!(r.dry_run);
}

#[sqlx::test(migrations = "../../migrations")]
async fn rejected_rows_never_consume_the_decision(pool: PgPool) {
    // Arrange: a refusal (before begin) and a budget refusal (in begin) with the decision.
    let store = PgStore::from_pool(pool.clone());
    store
        .reject(
            &attempt("decision-1"),
            "guardrail",
            "kube-system is protected",
            Duration::ZERO,
        )
        .await
        .unwrap();
    let none_left = common_store::budget("none", 0, Duration::from_secs(60));
    let refused = store
        .begin(&attempt("decision-1"), &none_left)
        .await
        .unwrap();
    assert!(matches!(refused, Begin::OverBudget { .. }));
    let real = attempt("decision-1");

    // Act
    let answer = store.begin(&real, &roomy()).await.unwrap();

    // Assert
    assert_eq!(answer, Begin::Started);
    let statuses: Vec<(String, Option<String>)> = all_rows(&pool)
        .await
        .into_iter()
        .map(|r| (r.status, r.reason_code))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("rejected".to_owned(), Some("guardrail".to_owned())),
            ("rejected".to_owned(), Some("budget_exhausted".to_owned())),
            ("pending".to_owned(), None),
        ]
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn racing_one_decision_over_two_executors_starts_it_exactly_once(
    _options: PgPoolOptions,
    connect: PgConnectOptions,
) {
    // Arrange: two executor processes, 100 attempts with one decision.
    let stores = [executor_store(&connect, 8), executor_store(&connect, 8)];
    for store in &stores {
        warm(store, 8).await;
    }
    let attempts = (0..100).map(|_| attempt("decision-1")).collect();

    // Act
    let answers = begin_all(&stores, attempts, &roomy()).await;

    // Assert
    let started: Vec<_> = answers
        .iter()
        .filter(|(_, b)| *b == Begin::Started)
        .map(|(a, _)| a.id)
        .collect();
    assert_eq!(started.len(), 1, "exactly one attempt may use the decision");
    let winner = started[0];
    for (a, answer) in &answers {
        if a.id != winner {
            assert_eq!(
                *answer,
                Begin::Replay {
                    consumed_by: winner
                }
            );
        }
    }
    let pool = stores[0].pool();
    assert_eq!(count(pool, "pending", None).await, 1);
    assert_eq!(count(pool, "rejected", Some("replay")).await, 99);
    assert_eq!(all_rows(pool).await.len(), 100);
    // The losers' budget slots were rolled back with their statements.
    assert_eq!(taken_slots(pool, "roomy").await, vec![winner]);
    close(&[&stores[0], &stores[1]]).await;
}
