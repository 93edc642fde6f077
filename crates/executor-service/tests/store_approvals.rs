//! The approval half of the store contract on both stores: requests consume their
//! decision, votes queue on the request, the completing approval starts exactly one
//! execution (budget included) across executors, expiry happens once, and grants cover
//! only their scope. Each body runs on Postgres and on SQLite (see
//! `common_store::contract`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common_store;

use chrono::{Duration as Span, Utc};
use common_store::contract::Fixture;
use common_store::{attempt, budget, decision, roomy};
use executor_service::store::approvals::{
    ApprovalStatus, ApprovalStore, Ballot, GrantLookup, GrantRecord, NewApproval, Requested,
    Revoked, Vote, VoteConflict, VoteKind, Voted,
};
use executor_service::store::{Attempt, AuditStore, Begin};
use tokio::task::JoinSet;
use uuid::Uuid;
use warden_protocol::GrantScope;

contract!(
    a_request_consumes_its_decision_and_its_approval_starts_the_execution,
    a_request_on_a_consumed_decision_is_a_replay,
    votes_need_distinct_people_up_to_the_number_required,
    racing_approvals_on_three_executors_start_one_execution,
    a_denial_closes_the_request_for_good,
    two_sweepers_expire_a_request_once_and_votes_respect_expiry,
    an_approval_without_budget_records_nothing,
    grants_cover_their_scope_until_revoked,
);

/// The awaiting row of a new request `id` on a fresh decision.
fn request_row(id: Uuid) -> Attempt {
    Attempt {
        approval_id: Some(id),
        ..attempt(&decision())
    }
}

fn new_approval(id: Uuid, approvers: u32, expires_in: Span) -> NewApproval {
    let now = Utc::now();
    NewApproval {
        id,
        action_digest: "sha256:test".into(),
        rule: "approve-test".into(),
        reason: Some("a person must agree".into()),
        approvers_needed: approvers,
        roles: vec!["operator".into()],
        session: None,
        created_at: now,
        expires_at: now + expires_in,
    }
}

/// A request for one approval, expiring in an hour.
async fn requested(store: &impl ApprovalStore, approvers: u32) -> Uuid {
    let id = Uuid::now_v7();
    let answer = store
        .request_approval(
            &request_row(id),
            &new_approval(id, approvers, Span::hours(1)),
        )
        .await
        .unwrap();
    assert_eq!(answer, Requested::Created);
    id
}

fn ballot(id: Uuid, who: &str, kind: VoteKind) -> Ballot {
    Ballot {
        approval_id: id,
        vote: Vote {
            approver: who.into(),
            vote: kind,
            comment: Some(format!("{who} says {}", kind.as_str())),
            method: "token".into(),
            at: Utc::now(),
        },
        grant: None,
    }
}

/// The execution attempt of request `id`.
fn execution(id: Uuid) -> Attempt {
    Attempt {
        approval_id: Some(id),
        ..attempt(&format!("approval:{id}"))
    }
}

async fn a_request_consumes_its_decision_and_its_approval_starts_the_execution(f: &impl Fixture) {
    // Arrange
    let store = f.store();
    let id = requested(&store, 1).await;
    let run = execution(id);

    // Act
    let voted = store
        .vote(
            &ballot(id, "alice", VoteKind::Approve),
            &run,
            &roomy(),
            Utc::now(),
        )
        .await
        .unwrap();

    // Assert
    assert_eq!(
        voted,
        Voted::Approved {
            approved_by: vec!["alice".into()]
        }
    );
    let record = store.get_approval(id).await.unwrap().unwrap();
    assert_eq!(record.status, ApprovalStatus::Approved);
    assert_eq!(record.execution_id, Some(run.id));
    assert_eq!(record.votes.len(), 1);
    assert_eq!(
        record.votes[0].comment.as_deref(),
        Some("alice says approve")
    );
    assert!(record.decided_at.is_some());
    let awaiting = f.row(record.audit_id).await;
    assert_eq!(awaiting.status, "approved");
    assert_eq!(awaiting.approval_id, Some(id));
    let started = f.row(run.id).await;
    assert_eq!(started.status, "pending");
    assert_eq!(started.approved_by, Some(serde_json::json!(["alice"])));
    assert_eq!(started.budget_key.as_deref(), Some("roomy"));
}

async fn a_request_on_a_consumed_decision_is_a_replay(f: &impl Fixture) {
    // Arrange
    let store = f.store();
    let used = attempt(&decision());
    assert_eq!(store.begin(&used, &roomy()).await.unwrap(), Begin::Started);
    let id = Uuid::now_v7();
    let again = Attempt {
        approval_id: Some(id),
        ..attempt(used.decision_id.as_deref().unwrap())
    };

    // Act
    let answer = store
        .request_approval(&again, &new_approval(id, 1, Span::hours(1)))
        .await
        .unwrap();

    // Assert
    assert_eq!(
        answer,
        Requested::Replay {
            consumed_by: used.id
        }
    );
    assert!(store.get_approval(id).await.unwrap().is_none());
    assert_eq!(f.count("rejected", Some("replay")).await, 1);
}

async fn votes_need_distinct_people_up_to_the_number_required(f: &impl Fixture) {
    // Arrange
    let store = f.store();
    let id = requested(&store, 2).await;
    let run = execution(id);
    let approve = |who: &str| ballot(id, who, VoteKind::Approve);

    // Act
    let first = store
        .vote(&approve("alice"), &run, &roomy(), Utc::now())
        .await
        .unwrap();
    let twice = store
        .vote(&approve("alice"), &run, &roomy(), Utc::now())
        .await
        .unwrap();
    let second = store
        .vote(&approve("bob"), &run, &roomy(), Utc::now())
        .await
        .unwrap();
    let third = store
        .vote(&approve("carol"), &run, &roomy(), Utc::now())
        .await
        .unwrap();

    // Assert
    assert_eq!(first, Voted::Recorded { approvals: 1 });
    assert_eq!(twice, Voted::Conflict(VoteConflict::AlreadyVoted));
    assert_eq!(
        second,
        Voted::Approved {
            approved_by: vec!["alice".into(), "bob".into()]
        }
    );
    assert_eq!(
        third,
        Voted::Conflict(VoteConflict::Decided(ApprovalStatus::Approved))
    );
}

async fn racing_approvals_on_three_executors_start_one_execution(f: &impl Fixture) {
    // Arrange
    let stores = [
        f.executor(8).await,
        f.executor(8).await,
        f.executor(8).await,
    ];
    for store in &stores {
        f.warm(store, 7).await;
    }
    let id = requested(&stores[0], 1).await;

    // Act: twenty people approve at once, each through its own execution attempt.
    let mut set = JoinSet::new();
    for i in 0..20 {
        let store = stores[i % 3].clone();
        set.spawn(async move {
            store
                .vote(
                    &ballot(id, &format!("op{i}"), VoteKind::Approve),
                    &execution(id),
                    &roomy(),
                    Utc::now(),
                )
                .await
                .unwrap()
        });
    }
    let answers = set.join_all().await;

    // Assert
    let approved = answers
        .iter()
        .filter(|a| matches!(a, Voted::Approved { .. }))
        .count();
    assert_eq!(approved, 1, "{answers:?}");
    assert!(
        answers.iter().all(|a| matches!(
            a,
            Voted::Approved { .. }
                | Voted::Conflict(VoteConflict::Decided(ApprovalStatus::Approved))
        )),
        "{answers:?}"
    );
    let executions = f
        .all_rows()
        .await
        .into_iter()
        .filter(|r| r.decision_id.as_deref() == Some(format!("approval:{id}").as_str()))
        .count();
    assert_eq!(executions, 1);
    let record = stores[1].get_approval(id).await.unwrap().unwrap();
    assert_eq!(record.votes.len(), 1, "the losing votes were not kept");
    for store in stores {
        f.close_store(store).await;
    }
}

async fn a_denial_closes_the_request_for_good(f: &impl Fixture) {
    // Arrange
    let store = f.store();
    let id = requested(&store, 2).await;
    let run = execution(id);
    store
        .vote(
            &ballot(id, "alice", VoteKind::Approve),
            &run,
            &roomy(),
            Utc::now(),
        )
        .await
        .unwrap();

    // Act
    let denied = store
        .vote(
            &ballot(id, "bob", VoteKind::Deny),
            &run,
            &roomy(),
            Utc::now(),
        )
        .await
        .unwrap();
    let late = store
        .vote(
            &ballot(id, "carol", VoteKind::Approve),
            &run,
            &roomy(),
            Utc::now(),
        )
        .await
        .unwrap();

    // Assert
    assert_eq!(denied, Voted::Denied);
    assert_eq!(
        late,
        Voted::Conflict(VoteConflict::Decided(ApprovalStatus::Denied))
    );
    let record = store.get_approval(id).await.unwrap().unwrap();
    assert_eq!(record.status, ApprovalStatus::Denied);
    assert_eq!(record.votes.len(), 2, "history is kept");
    assert_eq!(f.row(record.audit_id).await.status, "denied");
    assert_eq!(f.count("pending", None).await, 0, "nothing started");
}

async fn two_sweepers_expire_a_request_once_and_votes_respect_expiry(f: &impl Fixture) {
    // Arrange: one request already past its expiry, one not.
    let store = f.store();
    let other = f.executor(4).await;
    let due = Uuid::now_v7();
    store
        .request_approval(&request_row(due), &new_approval(due, 1, Span::seconds(-1)))
        .await
        .unwrap();
    let live = requested(&store, 1).await;
    let late_vote = store
        .vote(
            &ballot(due, "alice", VoteKind::Approve),
            &execution(due),
            &roomy(),
            Utc::now(),
        )
        .await
        .unwrap();

    // Act
    let now = Utc::now();
    let (a, b) = tokio::join!(store.expire_due(now), other.expire_due(now));

    // Assert
    assert_eq!(late_vote, Voted::Conflict(VoteConflict::Expired));
    let expired: Vec<Uuid> = a
        .unwrap()
        .into_iter()
        .chain(b.unwrap())
        .map(|r| r.id)
        .collect();
    assert_eq!(expired, vec![due]);
    let record = store.get_approval(due).await.unwrap().unwrap();
    assert_eq!(record.status, ApprovalStatus::Expired);
    assert_eq!(f.row(record.audit_id).await.status, "expired");
    assert_eq!(
        store.get_approval(live).await.unwrap().unwrap().status,
        ApprovalStatus::Pending
    );
    let counts = store.approval_counts(Utc::now()).await.unwrap();
    assert_eq!(counts.pending, 1);
    f.close_store(other).await;
}

async fn an_approval_without_budget_records_nothing(f: &impl Fixture) {
    // Arrange
    let store = f.store();
    let id = requested(&store, 1).await;
    let spent = budget("spent", 1, std::time::Duration::from_secs(300));
    assert_eq!(
        store.begin(&attempt(&decision()), &spent).await.unwrap(),
        Begin::Started
    );

    // Act
    let voted = store
        .vote(
            &ballot(id, "alice", VoteKind::Approve),
            &execution(id),
            &spent,
            Utc::now(),
        )
        .await
        .unwrap();

    // Assert
    assert!(matches!(voted, Voted::OverBudget { .. }), "{voted:?}");
    let record = store.get_approval(id).await.unwrap().unwrap();
    assert_eq!(record.status, ApprovalStatus::Pending);
    assert!(record.votes.is_empty(), "the vote was rolled back");
}

async fn grants_cover_their_scope_until_revoked(f: &impl Fixture) {
    // Arrange: a request approved with a kind grant on production pods.
    let store = f.store();
    let id = requested(&store, 1).await;
    let now = Utc::now();
    let grant = GrantRecord {
        id: Uuid::now_v7(),
        approval_id: id,
        requested_by: "ai-engine".into(),
        action_type: "restart_pod".into(),
        scope: GrantScope::Kind,
        namespace: "production".into(),
        target_kind: Some("pod".into()),
        target_name: None,
        granted_by: "alice".into(),
        description: "restart_pod by ai-engine on every pod in namespace production".into(),
        created_at: now,
        expires_at: now + Span::hours(1),
        revoked_at: None,
        revoked_by: None,
    };
    let with_grant = Ballot {
        grant: Some(grant.clone()),
        ..ballot(id, "alice", VoteKind::Approve)
    };
    store
        .vote(&with_grant, &execution(id), &roomy(), now)
        .await
        .unwrap();
    let lookup = |namespace: &str, kind: &str, widest: GrantScope| GrantLookup {
        requested_by: "ai-engine".into(),
        action_type: "restart_pod".into(),
        namespace: namespace.into(),
        target_kind: kind.into(),
        target_name: "web-9".into(),
        widest,
    };
    let find = |l: GrantLookup| {
        let store = store.clone();
        async move {
            store
                .find_grant(&l, Utc::now())
                .await
                .unwrap()
                .map(|g| g.id)
        }
    };

    // Act
    let covered = find(lookup("production", "pod", GrantScope::Namespace)).await;
    let other_namespace = find(lookup("staging", "pod", GrantScope::Namespace)).await;
    let other_kind = find(lookup("production", "deployment", GrantScope::Namespace)).await;
    let rule_admits_objects_only = find(lookup("production", "pod", GrantScope::Object)).await;
    let counts = store.approval_counts(Utc::now()).await.unwrap();
    let revoked = store
        .revoke_grant(grant.id, "bob", Utc::now())
        .await
        .unwrap();
    let after = find(lookup("production", "pod", GrantScope::Namespace)).await;
    let again = store
        .revoke_grant(grant.id, "bob", Utc::now())
        .await
        .unwrap();
    let missing = store
        .revoke_grant(Uuid::now_v7(), "bob", Utc::now())
        .await
        .unwrap();

    // Assert
    assert_eq!(covered, Some(grant.id));
    assert_eq!(other_namespace, None);
    assert_eq!(other_kind, None);
    assert_eq!(rule_admits_objects_only, None);
    assert_eq!(counts.active_grants, 1);
    assert!(matches!(revoked, Revoked::Revoked(ref g) if g.revoked_by.as_deref() == Some("bob")));
    assert_eq!(after, None);
    assert!(matches!(again, Revoked::Inactive(_)));
    assert_eq!(missing, Revoked::NotFound);
    let listed = store.list_grants(Some(Utc::now()), 10).await.unwrap();
    assert!(listed.is_empty());
    assert_eq!(store.list_grants(None, 10).await.unwrap().len(), 1);
    assert_eq!(
        store.get_approval(id).await.unwrap().unwrap().grant_id,
        Some(grant.id)
    );
}
