//! Single use of policy decisions in both stores: the pending row's insert consumes the
//! decision, once, across executors; refusals and dry runs never consume. Each body runs
//! on Postgres and on SQLite (see `common_store::contract`).
//!
//! The Postgres tests need a Postgres whose user may create databases, named by
//! `DATABASE_URL` (e.g. `postgres://postgres@127.0.0.1:5432/postgres`): `#[sqlx::test]`
//! creates a fresh database per test, migrated from `migrations/`, and drops it afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common_store;

use std::time::Duration;

use common_store::contract::{Fixture, begin_all};
use common_store::{attempt, budget, decision, dry_attempt, failed, roomy, succeeded};
use executor_service::store::{AuditStore, Begin};

contract!(
    second_begin_with_the_same_decision_is_a_replay,
    a_finished_decision_stays_consumed_whatever_the_outcome,
    a_dry_run_does_not_consume_the_decision,
    a_dry_run_of_a_consumed_decision_is_a_replay,
    rejected_rows_never_consume_the_decision,
    racing_one_decision_over_two_executors_starts_it_exactly_once,
    a_decision_is_used_once_and_dry_runs_do_not_use_it,
);

async fn second_begin_with_the_same_decision_is_a_replay(f: &impl Fixture) {
    // Arrange
    let store = f.store();
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
    let replay = f.row(second.id).await;
    assert_eq!(replay.status, "rejected");
    assert_eq!(replay.reason_code.as_deref(), Some("replay"));
    assert!(replay.error.unwrap().contains(&first.id.to_string()));
    assert_eq!(f.row(first.id).await.status, "pending");
    // The replay took no budget.
    assert_eq!(f.budget_holders("roomy").await, vec![first.id]);
}

async fn a_finished_decision_stays_consumed_whatever_the_outcome(f: &impl Fixture) {
    // Arrange: the first use failed on the cluster; the decision is still spent.
    let store = f.store();
    let first = attempt("decision-1");
    store.begin(&first, &roomy()).await.unwrap();
    let forbidden = failed("kube_forbidden", "forbidden", Duration::from_millis(5));
    store.finish(first.id, &forbidden).await.unwrap();

    // Act
    let answer = store.begin(&attempt("decision-1"), &roomy()).await.unwrap();

    // Assert
    assert_eq!(
        answer,
        Begin::Replay {
            consumed_by: first.id
        }
    );
    assert_eq!(f.count("rejected", Some("replay")).await, 1);
}

async fn a_dry_run_does_not_consume_the_decision(f: &impl Fixture) {
    // Arrange
    let store = f.store();
    let dry = dry_attempt("decision-1");
    assert_eq!(store.begin(&dry, &roomy()).await.unwrap(), Begin::Started);
    store.finish(dry.id, &succeeded()).await.unwrap();
    let real = attempt("decision-1");

    // Act
    let answer = store.begin(&real, &roomy()).await.unwrap();

    // Assert
    assert_eq!(answer, Begin::Started);
    let dry_row = f.row(dry.id).await;
    assert!(dry_row.dry_run);
    assert_eq!(dry_row.status, "succeeded");
    assert_eq!(f.row(real.id).await.status, "pending");
}

async fn a_dry_run_of_a_consumed_decision_is_a_replay(f: &impl Fixture) {
    // Arrange
    let store = f.store();
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
    let r = f.row(dry.id).await;
    assert_eq!(r.status, "rejected");
    assert_eq!(r.reason_code.as_deref(), Some("replay"));
    assert!(r.dry_run);
}

async fn rejected_rows_never_consume_the_decision(f: &impl Fixture) {
    // Arrange: a refusal (before begin) and a budget refusal (in begin) with the decision.
    let store = f.store();
    store
        .reject(
            &attempt("decision-1"),
            "guardrail",
            "kube-system is protected",
            Duration::ZERO,
        )
        .await
        .unwrap();
    let none_left = budget("none", 0, Duration::from_secs(60));
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
    let statuses: Vec<(String, Option<String>)> = f
        .all_rows()
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

async fn racing_one_decision_over_two_executors_starts_it_exactly_once(f: &impl Fixture) {
    // Arrange: two executor processes, 100 attempts with one decision.
    let stores = [f.executor(8).await, f.executor(8).await];
    for store in stores.iter() {
        f.warm(store, 8).await;
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
    assert_eq!(f.count("pending", None).await, 1);
    assert_eq!(f.count("rejected", Some("replay")).await, 99);
    assert_eq!(f.all_rows().await.len(), 100);
    // The losers' budget slots were rolled back with their statements.
    assert_eq!(f.budget_holders("roomy").await, vec![winner]);
    for store in stores {
        f.close_store(store).await;
    }
}

async fn a_decision_is_used_once_and_dry_runs_do_not_use_it(f: &impl Fixture) {
    // Arrange: a dry run before the first use and one after it.
    let store = f.store();
    let d = decision();
    let dry = dry_attempt(&d);
    let first = attempt(&d);
    let second = attempt(&d);
    let dry_after = dry_attempt(&d);

    // Act
    let dry_answer = store.begin(&dry, &roomy()).await.unwrap();
    let first_answer = store.begin(&first, &roomy()).await.unwrap();
    let second_answer = store.begin(&second, &roomy()).await.unwrap();
    let dry_after_answer = store.begin(&dry_after, &roomy()).await.unwrap();

    // Assert
    assert_eq!(dry_answer, Begin::Started);
    assert_eq!(first_answer, Begin::Started);
    let replay = Begin::Replay {
        consumed_by: first.id,
    };
    assert_eq!(second_answer, replay);
    assert_eq!(dry_after_answer, replay);
    assert_eq!(f.count("rejected", None).await, 2);
    assert_eq!(f.count("rejected", Some("replay")).await, 2);
}
