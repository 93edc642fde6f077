//! Rate budgets of both stores: exact across concurrent attempts and executor processes,
//! over a sliding window, and untouched by dry runs (each body runs on Postgres and on
//! SQLite, see `common_store::contract`); and, on Postgres only, the slot rows recreated
//! after someone deleted them.
//!
//! The Postgres tests need a Postgres whose user may create databases, named by
//! `DATABASE_URL` (e.g. `postgres://postgres@127.0.0.1:5432/postgres`): `#[sqlx::test]`
//! creates a fresh database per test, migrated from `migrations/`, and drops it afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common_store;

use std::time::{Duration, Instant};

use common_store::contract::{Fixture, begin_all};
use common_store::{attempt, budget, decision, dry_attempt};
use executor_service::store::postgres::PgStore;
use executor_service::store::{Attempt, AuditStore, Begin};
use sqlx::PgPool;
use uuid::Uuid;

contract!(
    fifty_concurrent_begins_get_exactly_the_budget,
    two_executors_racing_still_get_exactly_the_budget,
    slots_free_up_once_the_window_has_passed,
    the_window_slides_with_each_use,
    no_window_ever_holds_more_than_max_uses,
    real_time_passing_frees_slots,
    dry_runs_take_no_slot,
    a_dry_run_is_refused_when_no_slot_is_free,
    budgets_with_different_keys_are_independent,
    raising_max_adds_slots_and_lowering_it_ignores_the_rest,
    the_window_slides_and_dry_runs_take_no_budget,
);

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

async fn fifty_concurrent_begins_get_exactly_the_budget(f: &impl Fixture) {
    // Arrange
    let stores = [f.executor(10).await];
    f.warm(&stores[0], 10).await;
    let restart = budget("restart", 5, FIVE_MINUTES);

    // Act
    let answers = begin_all(&stores, distinct_attempts(50), &restart).await;

    // Assert
    let (started, refused) = started_and_refused(&answers, FIVE_MINUTES);
    assert_eq!((started.len(), refused), (5, 45));
    assert_eq!(f.count("pending", None).await, 5);
    assert_eq!(f.count("rejected", Some("budget_exhausted")).await, 45);
    assert_eq!(f.budget_holders("restart").await, started);
    let [store] = stores;
    f.close_store(store).await;
}

async fn two_executors_racing_still_get_exactly_the_budget(f: &impl Fixture) {
    // Arrange: two processes, each with its own pool (and, on Postgres, slot cache).
    let stores = [f.executor(8).await, f.executor(8).await];
    for store in &stores {
        f.warm(store, 8).await;
    }
    let restart = budget("restart", 5, FIVE_MINUTES);

    // Act
    let answers = begin_all(&stores, distinct_attempts(50), &restart).await;

    // Assert
    let (started, refused) = started_and_refused(&answers, FIVE_MINUTES);
    assert_eq!((started.len(), refused), (5, 45));
    assert_eq!(f.count("pending", None).await, 5);
    assert_eq!(f.count("rejected", Some("budget_exhausted")).await, 45);
    for store in stores {
        f.close_store(store).await;
    }
}

async fn slots_free_up_once_the_window_has_passed(f: &impl Fixture) {
    // Arrange: the budget is spent.
    let stores = [f.executor(8).await, f.executor(8).await];
    let restart = budget("restart", 5, FIVE_MINUTES);
    let first = begin_all(&stores, distinct_attempts(20), &restart).await;
    assert_eq!(started_and_refused(&first, FIVE_MINUTES).0.len(), 5);

    // Act: five minutes (and a second) later.
    f.age_uses("restart", FIVE_MINUTES + Duration::from_secs(1))
        .await;
    let second = begin_all(&stores, distinct_attempts(20), &restart).await;

    // Assert
    let (started, refused) = started_and_refused(&second, FIVE_MINUTES);
    assert_eq!((started.len(), refused), (5, 15));
    assert_eq!(f.budget_holders("restart").await, started);
    assert_eq!(f.count("pending", None).await, 10);
    for store in stores {
        f.close_store(store).await;
    }
}

async fn the_window_slides_with_each_use(f: &impl Fixture) {
    // Arrange: max 3 per 100 s, used 150 s, 90 s and 20 s ago: two uses in the window.
    let store = f.store();
    let scale = budget("scale", 3, Duration::from_secs(100));
    let mut uses = Vec::new();
    for _ in 0..3 {
        let a = attempt(&decision());
        assert_eq!(store.begin(&a, &scale).await.unwrap(), Begin::Started);
        uses.push(a.id);
    }
    f.set_use_ago(uses[0], Duration::from_secs(150)).await;
    f.set_use_ago(uses[1], Duration::from_secs(90)).await;
    f.set_use_ago(uses[2], Duration::from_secs(20)).await;

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

async fn no_window_ever_holds_more_than_max_uses(f: &impl Fixture) {
    // Arrange: max 3 per second, four workers over two executors trying for 2.5 s.
    let stores = [f.executor(4).await, f.executor(4).await];
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
    let uses: Vec<_> = f
        .all_rows()
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
    assert!(f.count("rejected", Some("budget_exhausted")).await > 0);
    for store in stores {
        f.close_store(store).await;
    }
}

async fn real_time_passing_frees_slots(f: &impl Fixture) {
    // Arrange
    let store = f.store();
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
    assert_eq!(f.count("pending", None).await, 3);
}

async fn dry_runs_take_no_slot(f: &impl Fixture) {
    // Arrange
    let store = f.store();
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
    let mut real = Vec::new();
    for _ in 0..3 {
        real.push(store.begin(&attempt(&decision()), &restart).await.unwrap());
    }

    // Assert
    assert_eq!(real[..2], [Begin::Started, Begin::Started]);
    assert!(matches!(real[2], Begin::OverBudget { .. }));
    assert_eq!(f.budget_holders("restart").await.len(), 2);
    let dry_rows = f.all_rows().await.into_iter().filter(|r| r.dry_run).count();
    assert_eq!(dry_rows, 5);
}

async fn a_dry_run_is_refused_when_no_slot_is_free(f: &impl Fixture) {
    // Arrange
    let store = f.store();
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
    let r = f.row(dry.id).await;
    assert_eq!(r.status, "rejected");
    assert_eq!(r.reason_code.as_deref(), Some("budget_exhausted"));
    assert!(r.error.unwrap().contains("'restart'"));
}

async fn budgets_with_different_keys_are_independent(f: &impl Fixture) {
    // Arrange
    let store = f.store();
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
    assert_eq!(f.budget_holders("restart").await.len(), 1);
    assert_eq!(f.budget_holders("scale").await.len(), 1);
}

async fn raising_max_adds_slots_and_lowering_it_ignores_the_rest(f: &impl Fixture) {
    // Arrange: two uses under max 2.
    let store = f.store();
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
    assert_eq!(f.budget_holders("restart").await.len(), 3);
}

async fn the_window_slides_and_dry_runs_take_no_budget(f: &impl Fixture) {
    // Arrange
    let store = f.store();
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
