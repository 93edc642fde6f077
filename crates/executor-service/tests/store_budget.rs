//! Rate budgets of `PgStore`: exact across concurrent attempts and executor processes,
//! over a sliding window, and untouched by dry runs.
//!
//! These tests need a Postgres whose user may create databases, named by `DATABASE_URL`
//! (e.g. `postgres://postgres@127.0.0.1:5432/postgres`): `#[sqlx::test]` creates a fresh
//! database per test, migrated from `migrations/`, and drops it afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common_store;

use std::time::{Duration, Instant};

use common_store::{
    age_slots, all_rows, attempt, begin_all, budget, close, count, decision, dry_attempt,
    executor_store, set_slot_used, taken_slots, warm,
};
use executor_service::store::postgres::PgStore;
use executor_service::store::{Attempt, AuditStore, Begin};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

const FIVE_MINUTES: Duration = Duration::from_secs(300);

/// The ids that started, and asserts every other answer is a refusal within the window.
fn started_and_refused(answers: &[(Attempt, Begin)], ttl: Duration) -> (Vec<Uuid>, usize) {
    let mut started = Vec::new();
    let mut refused = 0;
    for (a, answer) in answers {
        match answer {
            Begin::Started => started.push(a.id),
            Begin::OverBudget { retry_after } => {
                assert!(
                    *retry_after > Duration::ZERO && *retry_after <= ttl,
                    "retry_after {retry_after:?} within (0, {ttl:?}]"
                );
                refused += 1;
            }
            Begin::Replay { .. } => panic!("distinct decisions cannot replay"),
        }
    }
    started.sort();
    (started, refused)
}

fn distinct_attempts(n: usize) -> Vec<Attempt> {
    (0..n).map(|_| attempt(&decision())).collect()
}

#[sqlx::test(migrations = "../../migrations")]
async fn fifty_concurrent_begins_get_exactly_the_budget(
    _options: PgPoolOptions,
    connect: PgConnectOptions,
) {
    // Arrange
    let stores = [executor_store(&connect, 10)];
    warm(&stores[0], 10).await;
    let restart = budget("restart", 5, FIVE_MINUTES);

    // Act
    let answers = begin_all(&stores, distinct_attempts(50), &restart).await;

    // Assert
    let (started, refused) = started_and_refused(&answers, FIVE_MINUTES);
    assert_eq!((started.len(), refused), (5, 45));
    let pool = stores[0].pool();
    assert_eq!(count(pool, "pending", None).await, 5);
    assert_eq!(count(pool, "rejected", Some("budget_exhausted")).await, 45);
    let mut holders = taken_slots(pool, "restart").await;
    holders.sort();
    assert_eq!(holders, started);
    close(&[&stores[0]]).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn two_executors_racing_still_get_exactly_the_budget(
    _options: PgPoolOptions,
    connect: PgConnectOptions,
) {
    // Arrange: two processes, each with its own pool and slot cache.
    let stores = [executor_store(&connect, 8), executor_store(&connect, 8)];
    for store in &stores {
        warm(store, 8).await;
    }
    let restart = budget("restart", 5, FIVE_MINUTES);

    // Act
    let answers = begin_all(&stores, distinct_attempts(50), &restart).await;

    // Assert
    let (started, refused) = started_and_refused(&answers, FIVE_MINUTES);
    assert_eq!((started.len(), refused), (5, 45));
    let pool = stores[0].pool();
    assert_eq!(count(pool, "pending", None).await, 5);
    assert_eq!(count(pool, "rejected", Some("budget_exhausted")).await, 45);
    close(&[&stores[0], &stores[1]]).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn slots_free_up_once_the_window_has_passed(
    _options: PgPoolOptions,
    connect: PgConnectOptions,
) {
    // Arrange: the budget is spent.
    let stores = [executor_store(&connect, 8), executor_store(&connect, 8)];
    let restart = budget("restart", 5, FIVE_MINUTES);
    let first = begin_all(&stores, distinct_attempts(20), &restart).await;
    assert_eq!(started_and_refused(&first, FIVE_MINUTES).0.len(), 5);

    // Act: five minutes (and a second) later.
    age_slots(
        stores[0].pool(),
        "restart",
        FIVE_MINUTES + Duration::from_secs(1),
    )
    .await;
    let second = begin_all(&stores, distinct_attempts(20), &restart).await;

    // Assert
    let (started, refused) = started_and_refused(&second, FIVE_MINUTES);
    assert_eq!((started.len(), refused), (5, 15));
    let mut holders = taken_slots(stores[0].pool(), "restart").await;
    holders.sort();
    assert_eq!(holders, started);
    assert_eq!(count(stores[0].pool(), "pending", None).await, 10);
    close(&[&stores[0], &stores[1]]).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_window_slides_with_each_use(pool: PgPool) {
    // Arrange: max 3 per 100 s, used 150 s, 90 s and 20 s ago: two uses in the window.
    let store = PgStore::from_pool(pool.clone());
    let scale = budget("scale", 3, Duration::from_secs(100));
    for _ in 0..3 {
        assert_eq!(
            store.begin(&attempt(&decision()), &scale).await.unwrap(),
            Begin::Started
        );
    }
    set_slot_used(&pool, "scale", 0, Duration::from_secs(150)).await;
    set_slot_used(&pool, "scale", 1, Duration::from_secs(90)).await;
    set_slot_used(&pool, "scale", 2, Duration::from_secs(20)).await;

    // Act
    let third_in_window = store.begin(&attempt(&decision()), &scale).await.unwrap();
    let fourth_in_window = store.begin(&attempt(&decision()), &scale).await.unwrap();

    // Assert: exactly one more fits, and the next slot frees when the use of 90 s ago
    // leaves the window, 10 s from now.
    assert_eq!(third_in_window, Begin::Started);
    let Begin::OverBudget { retry_after } = fourth_in_window else {
        panic!("expected OverBudget, got {fourth_in_window:?}");
    };
    assert!(
        retry_after > Duration::from_secs(8) && retry_after <= Duration::from_secs(10),
        "retry_after {retry_after:?}"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn no_window_ever_holds_more_than_max_uses(
    _options: PgPoolOptions,
    connect: PgConnectOptions,
) {
    // Arrange: max 3 per second, four workers over two executors trying for 2.5 s.
    let stores = [executor_store(&connect, 4), executor_store(&connect, 4)];
    let ttl = Duration::from_secs(1);
    let fast = budget("fast", 3, ttl);
    let until = Instant::now() + Duration::from_millis(2500);

    // Act
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..4 {
        let store = stores[w % 2].clone();
        let fast = fast.clone();
        workers.spawn(async move {
            while Instant::now() < until {
                store.begin(&attempt(&decision()), &fast).await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
    }
    workers.join_all().await;

    // Assert: a use's "createdAt" is its slot time, so the audit table shows the budget.
    let uses: Vec<_> = all_rows(stores[0].pool())
        .await
        .into_iter()
        .filter(|r| r.status == "pending")
        .map(|r| r.created_at)
        .collect();
    for (i, later) in uses.iter().enumerate().skip(3) {
        let span = *later - uses[i - 3];
        assert!(
            span.to_std().unwrap() >= ttl,
            "uses {} and {i} are {span} apart: 4 uses in one window",
            i - 3
        );
    }
    // Sliding, not fixed: slots were reused as soon as they freed (3 at once, then 3 more
    // after each second).
    assert!(uses.len() >= 6, "only {} uses in 2.5 s", uses.len());
    assert!(count(stores[0].pool(), "rejected", Some("budget_exhausted")).await > 0);
    close(&[&stores[0], &stores[1]]).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn real_time_passing_frees_slots(pool: PgPool) {
    // Arrange
    let store = PgStore::from_pool(pool.clone());
    let short = budget("short", 2, Duration::from_secs(1));
    for _ in 0..2 {
        assert_eq!(
            store.begin(&attempt(&decision()), &short).await.unwrap(),
            Begin::Started
        );
    }
    let refused = store.begin(&attempt(&decision()), &short).await.unwrap();
    assert_eq!(
        refused,
        Begin::OverBudget {
            retry_after: Duration::from_secs(1)
        }
    );

    // Act
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let after = store.begin(&attempt(&decision()), &short).await.unwrap();

    // Assert
    assert_eq!(after, Begin::Started);
    assert_eq!(count(&pool, "pending", None).await, 3);
}

#[sqlx::test(migrations = "../../migrations")]
async fn dry_runs_take_no_slot(pool: PgPool) {
    // Arrange
    let store = PgStore::from_pool(pool.clone());
    let restart = budget("restart", 2, FIVE_MINUTES);

    // Act: many dry runs, then the real budget.
    for _ in 0..5 {
        assert_eq!(
            store
                .begin(&dry_attempt(&decision()), &restart)
                .await
                .unwrap(),
            Begin::Started
        );
    }
    let real: Vec<Begin> = {
        let mut answers = Vec::new();
        for _ in 0..3 {
            answers.push(store.begin(&attempt(&decision()), &restart).await.unwrap());
        }
        answers
    };

    // Assert
    assert_eq!(real[..2], [Begin::Started, Begin::Started]);
    assert!(matches!(real[2], Begin::OverBudget { .. }));
    assert_eq!(taken_slots(&pool, "restart").await.len(), 2);
    let dry_rows = all_rows(&pool)
        .await
        .into_iter()
        .filter(|r| r.dry_run)
        .count();
    assert_eq!(dry_rows, 5);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_dry_run_is_refused_when_no_slot_is_free(pool: PgPool) {
    // Arrange
    let store = PgStore::from_pool(pool.clone());
    let restart = budget("restart", 1, FIVE_MINUTES);
    assert_eq!(
        store.begin(&attempt(&decision()), &restart).await.unwrap(),
        Begin::Started
    );
    let dry = dry_attempt(&decision());

    // Act
    let answer = store.begin(&dry, &restart).await.unwrap();

    // Assert
    assert!(matches!(answer, Begin::OverBudget { .. }));
    let r = common_store::row(&pool, dry.id).await;
    assert_eq!(r.status, "rejected");
    assert_eq!(r.reason_code.as_deref(), Some("budget_exhausted"));
    assert!(r.error.unwrap().contains("'restart'"));
}

#[sqlx::test(migrations = "../../migrations")]
async fn budgets_with_different_keys_are_independent(pool: PgPool) {
    // Arrange
    let store = PgStore::from_pool(pool.clone());
    let restart = budget("restart", 1, FIVE_MINUTES);
    let scale = budget("scale", 1, FIVE_MINUTES);
    assert_eq!(
        store.begin(&attempt(&decision()), &restart).await.unwrap(),
        Begin::Started
    );

    // Act
    let answer = store.begin(&attempt(&decision()), &scale).await.unwrap();

    // Assert
    assert_eq!(answer, Begin::Started);
    assert_eq!(taken_slots(&pool, "restart").await.len(), 1);
    assert_eq!(taken_slots(&pool, "scale").await.len(), 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn raising_max_adds_slots_and_lowering_it_ignores_the_rest(pool: PgPool) {
    // Arrange: two uses under max 2.
    let store = PgStore::from_pool(pool.clone());
    for _ in 0..2 {
        let answer = store
            .begin(&attempt(&decision()), &budget("restart", 2, FIVE_MINUTES))
            .await
            .unwrap();
        assert_eq!(answer, Begin::Started);
    }

    // Act
    let raised = store
        .begin(&attempt(&decision()), &budget("restart", 3, FIVE_MINUTES))
        .await
        .unwrap();
    let lowered = store
        .begin(&attempt(&decision()), &budget("restart", 1, FIVE_MINUTES))
        .await
        .unwrap();

    // Assert
    assert_eq!(raised, Begin::Started);
    assert!(matches!(lowered, Begin::OverBudget { .. }));
    assert_eq!(taken_slots(&pool, "restart").await.len(), 3);
}

#[sqlx::test(migrations = "../../migrations")]
async fn deleted_slot_rows_are_recreated(pool: PgPool) {
    // Arrange: an operator wiped the slots after this process created them.
    let store = PgStore::from_pool(pool.clone());
    let restart = budget("restart", 2, FIVE_MINUTES);
    assert_eq!(
        store.begin(&attempt(&decision()), &restart).await.unwrap(),
        Begin::Started
    );
    sqlx::query("DELETE FROM budget_slots")
        .execute(&pool)
        .await
        .unwrap();

    // Act: the first attempt is refused (safe side), the next finds the slots again.
    let first = store.begin(&attempt(&decision()), &restart).await.unwrap();
    let second = store.begin(&attempt(&decision()), &restart).await.unwrap();

    // Assert
    assert!(matches!(first, Begin::OverBudget { .. }));
    assert_eq!(second, Begin::Started);
}
