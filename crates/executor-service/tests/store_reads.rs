//! What the audit API reads from both stores: `list` (each filter, keyset paging through
//! ties), `get` and `stats_buckets`, and values a client may send that a database keeps
//! with difficulty (U+0000, extreme numbers). Each body runs on Postgres and on SQLite (see
//! `common_store::contract`).
//!
//! The Postgres tests need a Postgres whose user may create databases, named by
//! `DATABASE_URL` (e.g. `postgres://postgres@127.0.0.1:5432/postgres`): `#[sqlx::test]`
//! creates a fresh database per test, migrated from `migrations/`, and drops it afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common_store;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use common_store::contract::Fixture;
use common_store::{attempt, decision, failed, roomy, succeeded};
use executor_service::store::{
    Attempt, AuditCursor, AuditQuery, AuditRecord, AuditStatus, AuditStore, Begin, Completion,
    Outcome, StatsBucket,
};
use serde_json::json;
use uuid::Uuid;

contract!(
    each_list_filter_selects_exactly_its_rows,
    pages_walk_every_row_once_newest_first,
    get_returns_the_row_as_list_shows_it,
    stats_buckets_count_each_group_of_the_window,
    nul_characters_are_stored_and_found_by_filter,
    extreme_numbers_read_back,
);

/// A whole second, so both stores hold every derived time exactly.
fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap()
}

/// One written row: who, what, where, how it ended, and when.
struct Seeded {
    id: Uuid,
    requested_by: &'static str,
    action_type: &'static str,
    namespace: &'static str,
    status: AuditStatus,
    created_at: DateTime<Utc>,
}

/// Six rows through the store's own methods, dated around `t0`; two share an instant.
async fn seed(f: &impl Fixture, t0: DateTime<Utc>) -> Vec<Seeded> {
    use AuditStatus::{Failed, Pending, Rejected, Succeeded, Unknown};
    let store = f.store();
    let mut seeded = Vec::new();
    for (requested_by, action_type, namespace, status, dry_run, minutes_before) in [
        ("ai-engine", "restart_pod", "default", Rejected, false, 50),
        (
            "ai-engine",
            "restart_pod",
            "production",
            Succeeded,
            false,
            40,
        ),
        (
            "ops-bot",
            "scale_deployment",
            "production",
            Failed,
            false,
            30,
        ),
        (
            "ai-engine",
            "scale_deployment",
            "default",
            Pending,
            false,
            20,
        ),
        ("ai-engine", "restart_pod", "default", Unknown, false, 20),
        ("ops-bot", "restart_pod", "staging", Succeeded, true, 10),
    ] {
        let a = Attempt {
            requested_by: Some(requested_by.into()),
            action_type: Some(action_type.into()),
            namespace: Some(namespace.into()),
            dry_run,
            ..attempt(&decision())
        };
        if status == Rejected {
            store
                .reject(
                    &a,
                    "bad_signature",
                    "signature mismatch",
                    Duration::from_millis(3),
                )
                .await
                .unwrap();
        } else {
            assert_eq!(store.begin(&a, &roomy()).await.unwrap(), Begin::Started);
            let completion = match status {
                Succeeded => Some(succeeded()),
                Failed => Some(failed(
                    "kube_forbidden",
                    "forbidden",
                    Duration::from_millis(7),
                )),
                Unknown => Some(Completion {
                    outcome: Outcome::Unknown {
                        reason: "kube_timeout".into(),
                        error: "no answer".into(),
                    },
                    duration: Duration::from_millis(100),
                }),
                _ => None,
            };
            if let Some(completion) = completion {
                store.finish(a.id, &completion).await.unwrap();
            }
        }
        let created_at = t0 - TimeDelta::minutes(minutes_before);
        f.set_created_at(a.id, created_at).await;
        seeded.push(Seeded {
            id: a.id,
            requested_by,
            action_type,
            namespace,
            status,
            created_at,
        });
    }
    seeded
}

/// The ids of `seeded` that `keep` selects, in the audit order.
fn expected(seeded: &[Seeded], keep: impl Fn(&Seeded) -> bool) -> Vec<Uuid> {
    let mut rows: Vec<&Seeded> = seeded.iter().filter(|s| keep(s)).collect();
    rows.sort_by_key(|s| std::cmp::Reverse((s.created_at, s.id)));
    rows.iter().map(|s| s.id).collect()
}

fn ids(records: &[AuditRecord]) -> Vec<Uuid> {
    records.iter().map(|r| r.id).collect()
}

fn all() -> AuditQuery {
    AuditQuery {
        limit: 100,
        ..AuditQuery::default()
    }
}

async fn each_list_filter_selects_exactly_its_rows(f: &impl Fixture) {
    // Arrange
    let t0 = t0();
    let seeded = seed(f, t0).await;
    let store = f.store();
    type Keep = Box<dyn Fn(&Seeded) -> bool>;
    let cases: Vec<(AuditQuery, Keep)> = vec![
        (all(), Box::new(|_| true)),
        (
            AuditQuery {
                requested_by: Some("ai-engine".into()),
                ..all()
            },
            Box::new(|s| s.requested_by == "ai-engine"),
        ),
        (
            AuditQuery {
                action_type: Some("scale_deployment".into()),
                ..all()
            },
            Box::new(|s| s.action_type == "scale_deployment"),
        ),
        (
            AuditQuery {
                namespace: Some("production".into()),
                ..all()
            },
            Box::new(|s| s.namespace == "production"),
        ),
        (
            AuditQuery {
                status: Some(AuditStatus::Succeeded),
                ..all()
            },
            Box::new(|s| s.status == AuditStatus::Succeeded),
        ),
        (
            AuditQuery {
                since: Some(t0 - TimeDelta::minutes(30)),
                until: Some(t0 - TimeDelta::minutes(10)),
                ..all()
            },
            Box::new(move |s| {
                s.created_at >= t0 - TimeDelta::minutes(30)
                    && s.created_at < t0 - TimeDelta::minutes(10)
            }),
        ),
        (
            AuditQuery {
                requested_by: Some("ai-engine".into()),
                action_type: Some("restart_pod".into()),
                namespace: Some("default".into()),
                ..all()
            },
            Box::new(|s| {
                s.requested_by == "ai-engine"
                    && s.action_type == "restart_pod"
                    && s.namespace == "default"
            }),
        ),
        (
            AuditQuery {
                requested_by: Some("nobody".into()),
                ..all()
            },
            Box::new(|_| false),
        ),
        (AuditQuery { limit: 2, ..all() }, Box::new(|_| true)),
    ];

    for (query, keep) in cases {
        // Act
        let listed = store.list(&query).await.unwrap();

        // Assert
        let mut want = expected(&seeded, keep);
        want.truncate(query.limit as usize);
        assert_eq!(ids(&listed), want, "{query:?}");
    }
}

async fn pages_walk_every_row_once_newest_first(f: &impl Fixture) {
    // Arrange
    let seeded = seed(f, t0()).await;
    let store = f.store();

    // Act: two rows a page, from the position of the last row of the previous page.
    let mut walked = Vec::new();
    let mut after: Option<AuditCursor> = None;
    loop {
        let page = store
            .list(&AuditQuery {
                limit: 2,
                after,
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(AuditCursor::of(last));
        walked.extend(ids(&page));
    }

    // Assert: the tie of two rows at one instant is broken by id, across a page border.
    assert_eq!(walked, expected(&seeded, |_| true));
}

async fn get_returns_the_row_as_list_shows_it(f: &impl Fixture) {
    // Arrange
    let seeded = seed(f, t0()).await;
    let store = f.store();
    let listed = store.list(&all()).await.unwrap();

    // Act
    let mut got = Vec::new();
    for s in &seeded {
        got.push(store.get(s.id).await.unwrap().unwrap());
    }
    let missing = store.get(Uuid::now_v7()).await.unwrap();

    // Assert
    for record in &got {
        let in_list = listed.iter().find(|r| r.id == record.id).unwrap();
        assert_eq!(record, in_list);
        assert_eq!(record.action_params, attempt("x").action_params);
    }
    let failed = got
        .iter()
        .find(|r| r.status == AuditStatus::Failed)
        .unwrap();
    assert_eq!(failed.reason_code.as_deref(), Some("kube_forbidden"));
    assert_eq!(failed.error.as_deref(), Some("forbidden"));
    assert_eq!((failed.result.clone(), failed.duration_ms), (None, Some(7)));
    let rejected = got
        .iter()
        .find(|r| r.status == AuditStatus::Rejected)
        .unwrap();
    assert_eq!(rejected.budget_key, None);
    assert_eq!(rejected.duration_ms, Some(3));
    assert_eq!(missing, None);
}

async fn stats_buckets_count_each_group_of_the_window(f: &impl Fixture) {
    // Arrange: the window holds the rows of 40, 30 and (twice) 20 minutes before t0.
    let t0 = t0();
    seed(f, t0).await;
    let store = f.store();

    // Act
    let mut buckets = store
        .stats_buckets(t0 - TimeDelta::minutes(45), t0 - TimeDelta::minutes(15))
        .await
        .unwrap();
    let empty = store
        .stats_buckets(t0, t0 + TimeDelta::minutes(1))
        .await
        .unwrap();

    // Assert
    buckets.sort_by_key(|b| {
        (
            b.namespace.clone(),
            b.action_type.clone(),
            b.status.as_str(),
        )
    });
    let bucket = |namespace: &str, action: &str, status, sum, with_duration| StatsBucket {
        namespace: Some(namespace.into()),
        action_type: Some(action.into()),
        status,
        dry_run: false,
        count: 1,
        duration_ms_sum: sum,
        duration_count: with_duration,
    };
    assert_eq!(
        buckets,
        [
            bucket("default", "restart_pod", AuditStatus::Unknown, 100, 1),
            bucket("default", "scale_deployment", AuditStatus::Pending, 0, 0),
            bucket("production", "restart_pod", AuditStatus::Succeeded, 42, 1),
            bucket("production", "scale_deployment", AuditStatus::Failed, 7, 1),
        ]
    );
    assert!(empty.is_empty());
}

async fn nul_characters_are_stored_and_found_by_filter(f: &impl Fixture) {
    // Arrange: JSON allows "\u0000" in any string a client sends.
    let store = f.store();
    let a = Attempt {
        action_type: Some("restart\0pod".into()),
        action_params: Some(json!({"pod\0": "\0"})),
        requested_by: Some("ai\0engine".into()),
        policy_decision: Some(json!({"note": "\0"})),
        ..attempt(&decision())
    };

    // Act
    store
        .reject(&a, "unknown_action", "unknown actionType", Duration::ZERO)
        .await
        .unwrap();
    let found = store
        .list(&AuditQuery {
            requested_by: Some("ai\0engine".into()),
            ..all()
        })
        .await
        .unwrap();

    // Assert: the row is written, found with what the client sent, and reads back as the
    // store keeps it.
    assert_eq!(ids(&found), [a.id]);
    let record = &found[0];
    let nul = f.stored_text("\0");
    assert_eq!(record.action_type, Some(f.stored_text("restart\0pod")));
    assert_eq!(record.requested_by, Some(f.stored_text("ai\0engine")));
    assert_eq!(
        record.action_params,
        Some(json!({ f.stored_text("pod\0"): nul }))
    );
    assert_eq!(record.policy_decision, Some(json!({"note": nul})));
    assert_eq!(store.get(a.id).await.unwrap().as_ref(), Some(record));
}

async fn extreme_numbers_read_back(f: &impl Fixture) {
    // Arrange: numbers at the ends of the f64 range, which a database may print in full.
    let store = f.store();
    let a = Attempt {
        action_params: Some(json!({"n": -f64::MAX})),
        policy_decision: Some(json!({"tiny": 5e-324, "big": 1e308})),
        ..attempt(&decision())
    };
    store
        .reject(&a, "unknown_action", "unknown actionType", Duration::ZERO)
        .await
        .unwrap();

    // Act
    let listed = store.list(&all()).await.unwrap();
    let got = store.get(a.id).await.unwrap().unwrap();

    // Assert
    assert_eq!(ids(&listed), [a.id]);
    assert_eq!(got, listed[0]);
    assert_eq!(got.action_params, Some(json!({"n": -f64::MAX})));
    assert_eq!(
        got.policy_decision,
        Some(json!({"tiny": 5e-324, "big": 1e308}))
    );
}
