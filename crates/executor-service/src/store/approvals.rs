//! The approval part of the store contract: approval requests, their votes and session
//! grants, behind [`ApprovalStore`] (a supertrait of [`super::AuditStore`], so every audit
//! store keeps approvals in the same database as the audit rows they belong to).
//!
//! # Exactly once
//!
//! Every decision on a request runs in one write transaction that first locks the request
//! (`SELECT ... FOR UPDATE` on Postgres, the write lock of `BEGIN IMMEDIATE` on SQLite):
//! votes of several people on several executors queue there, and each sees the votes
//! before it. The vote that completes the approval takes the budget slot and commits the
//! execution's `pending` row in that same transaction, under the single-use key
//! `approval:<id>`; so at most one execution can ever start, and a request with no budget
//! left stays pending (its vote rolled back) instead of being approved without running.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;
use warden_protocol::{GrantScope, SessionRule};

use super::{Attempt, Budget, StoreError};

/// The state of an approval request.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    /// Waiting for people.
    Pending,
    /// Approved; the execution started (see `executionId`).
    Approved,
    /// Denied: nothing ran.
    Denied,
    /// Nobody decided in time: nothing ran.
    Expired,
}

impl ApprovalStatus {
    /// Spelling in the `status` column and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Denied => "denied",
            ApprovalStatus::Expired => "expired",
        }
    }

    /// Every status.
    pub const ALL: [ApprovalStatus; 4] = [
        ApprovalStatus::Pending,
        ApprovalStatus::Approved,
        ApprovalStatus::Denied,
        ApprovalStatus::Expired,
    ];
}

impl std::str::FromStr for ApprovalStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ApprovalStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| "expected one of pending, approved, denied, expired".to_owned())
    }
}

/// A person's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VoteKind {
    /// Yes.
    Approve,
    /// No: one denial denies the request.
    Deny,
}

impl VoteKind {
    /// Spelling in the `vote` column.
    pub fn as_str(self) -> &'static str {
        match self {
            VoteKind::Approve => "approve",
            VoteKind::Deny => "deny",
        }
    }
}

/// One decision of one person on a request, kept for good.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Vote {
    /// Who decided.
    pub approver: String,
    /// What they decided.
    pub vote: VoteKind,
    /// Why, in their words.
    pub comment: Option<String>,
    /// How they authenticated (`token`, `oidc`, `admin`).
    pub method: String,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
}

/// An approval request as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRecord {
    /// The request's id (`approvalId`).
    #[schema(value_type = String, format = "uuid")]
    pub id: Uuid,
    /// Its state.
    pub status: ApprovalStatus,
    /// The `awaiting_approval` audit row of the request.
    #[schema(value_type = String, format = "uuid")]
    pub audit_id: Uuid,
    /// The action to run.
    pub action_type: String,
    /// Its parameters, exactly as they will be run.
    #[schema(value_type = Object)]
    pub action_params: Value,
    /// The client that asked.
    pub requested_by: String,
    /// Target namespace.
    pub namespace: String,
    /// Target kind.
    pub target_kind: String,
    /// Target name.
    pub target_name: String,
    /// `sha256:` digest of the exact action (type, parameters, requester, target): what
    /// is approved.
    pub action_digest: String,
    /// The decision the request consumed.
    pub decision_id: String,
    /// The policy version that decided.
    pub policy_version: String,
    /// The rule that asked for approval.
    pub rule: String,
    /// The policy's reason, as the client relayed it.
    pub reason: Option<String>,
    /// Distinct approvals needed.
    pub approvers_needed: u32,
    /// Roles an approver must hold (any one).
    pub roles: Vec<String>,
    /// Whether an approver may grant a session, and how widely.
    pub session: Option<SessionRule>,
    /// Whether the action runs as a dry run.
    pub dry_run: bool,
    /// When the request was made.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// When it expires unless decided.
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: DateTime<Utc>,
    /// When it was approved, denied or expired.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub decided_at: Option<DateTime<Utc>>,
    /// The execution's audit row, once approved.
    #[schema(value_type = Option<String>, format = "uuid")]
    pub execution_id: Option<Uuid>,
    /// The session grant made with the approval.
    #[schema(value_type = Option<String>, format = "uuid")]
    pub grant_id: Option<Uuid>,
    /// Every vote, oldest first.
    pub votes: Vec<Vote>,
}

impl ApprovalRecord {
    /// How many approvals it has.
    pub fn approvals(&self) -> u32 {
        let n = self
            .votes
            .iter()
            .filter(|v| v.vote == VoteKind::Approve)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

/// What [`ApprovalStore::request_approval`] stores besides the audit row.
#[derive(Clone, Debug, PartialEq)]
pub struct NewApproval {
    /// The request's id (also the attempt's `approval_id`).
    pub id: Uuid,
    /// See [`ApprovalRecord::action_digest`].
    pub action_digest: String,
    /// The rule that asked.
    pub rule: String,
    /// The policy's reason, as relayed.
    pub reason: Option<String>,
    /// Distinct approvals needed.
    pub approvers_needed: u32,
    /// Roles an approver must hold.
    pub roles: Vec<String>,
    /// The rule's session limits.
    pub session: Option<SessionRule>,
    /// Now.
    pub created_at: DateTime<Utc>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
}

/// The answer of [`ApprovalStore::request_approval`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requested {
    /// The request and its `awaiting_approval` row are committed.
    Created,
    /// The decision was already consumed; a `rejected` row (reason `replay`) was written.
    Replay {
        /// The attempt that consumed it.
        consumed_by: Uuid,
    },
}

/// A session grant.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrantRecord {
    /// The grant's id.
    #[schema(value_type = String, format = "uuid")]
    pub id: Uuid,
    /// The approval it was made with.
    #[schema(value_type = String, format = "uuid")]
    pub approval_id: Uuid,
    /// The requester it covers.
    pub requested_by: String,
    /// The action it covers.
    pub action_type: String,
    /// How widely.
    pub scope: GrantScope,
    /// The namespace it covers.
    pub namespace: String,
    /// The kind it covers (`null` for a namespace grant).
    pub target_kind: Option<String>,
    /// The object it covers (`null` unless an object grant).
    pub target_name: Option<String>,
    /// Who granted it.
    pub granted_by: String,
    /// In words: "restart_pod by ai-engine in namespace production until 14:05 UTC".
    pub description: String,
    /// When it was made.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// When it ends.
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: DateTime<Utc>,
    /// When it was revoked.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<DateTime<Utc>>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
}

impl GrantRecord {
    /// Whether it covers requests at `now`.
    pub fn active_at(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// A person's vote, as [`ApprovalStore::vote`] records it.
#[derive(Clone, Debug, PartialEq)]
pub struct Ballot {
    /// The request.
    pub approval_id: Uuid,
    /// The vote.
    pub vote: Vote,
    /// With an approval: the grant to create if this vote completes it.
    pub grant: Option<GrantRecord>,
}

/// The answer of [`ApprovalStore::vote`].
#[derive(Clone, Debug, PartialEq)]
pub enum Voted {
    /// The vote is recorded; more approvals are needed.
    Recorded {
        /// Approvals so far.
        approvals: u32,
    },
    /// The vote completed the approval: the execution's `pending` row is committed (and
    /// the grant, if any): the caller runs the action and finishes that row.
    Approved {
        /// Everyone who approved, in order.
        approved_by: Vec<String>,
    },
    /// The request is denied.
    Denied,
    /// The completing approval found no budget left: nothing was recorded (the vote
    /// included), the request stays pending.
    OverBudget {
        /// When a slot frees up.
        retry_after: Duration,
    },
    /// No such request.
    NotFound,
    /// The request cannot take this vote.
    Conflict(VoteConflict),
}

/// Why a vote is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoteConflict {
    /// Already approved, denied or expired.
    Decided(ApprovalStatus),
    /// Past its expiry (the sweeper has not marked it yet).
    Expired,
    /// This person already voted on it.
    AlreadyVoted,
}

/// Filters of `GET /executor/approvals`, newest first.
#[derive(Clone, Debug, Default)]
pub struct ApprovalQuery {
    /// Only requests in this state.
    pub status: Option<ApprovalStatus>,
    /// Only requests of this requester.
    pub requested_by: Option<String>,
    /// Only requests in this namespace.
    pub namespace: Option<String>,
    /// At most this many.
    pub limit: u32,
}

/// What a later `require_approval` decision looks for in [`ApprovalStore::find_grant`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantLookup {
    /// The requester.
    pub requested_by: String,
    /// The action.
    pub action_type: String,
    /// The target.
    pub namespace: String,
    /// The target's kind.
    pub target_kind: String,
    /// The target's name.
    pub target_name: String,
    /// The widest grant scope the decision's rule admits.
    pub widest: GrantScope,
}

/// The answer of [`ApprovalStore::revoke_grant`].
#[derive(Clone, Debug, PartialEq)]
pub enum Revoked {
    /// Revoked now.
    Revoked(GrantRecord),
    /// Already revoked or expired.
    Inactive(GrantRecord),
    /// No such grant.
    NotFound,
}

/// Figures for the gauges, read from the database so that every replica reports the
/// same.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApprovalCounts {
    /// Requests waiting for people.
    pub pending: u64,
    /// Grants in force.
    pub active_grants: u64,
}

/// Approval requests, votes and grants. See the module documentation for the rules.
#[async_trait::async_trait]
pub trait ApprovalStore: Send + Sync + 'static {
    /// In one transaction: unless the decision was consumed, the `awaiting_approval` row
    /// of `attempt` (which consumes it) and the request `approval`.
    async fn request_approval(
        &self,
        attempt: &Attempt,
        approval: &NewApproval,
    ) -> Result<Requested, StoreError>;

    /// Records `ballot` on its request; the approval that completes it also commits the
    /// `execution`'s pending row on `budget` (see the module documentation). `now` is the
    /// time expiry is judged at.
    async fn vote(
        &self,
        ballot: &Ballot,
        execution: &Attempt,
        budget: &Budget,
        now: DateTime<Utc>,
    ) -> Result<Voted, StoreError>;

    /// Marks every pending request past its expiry at `now` as `expired` (and its row),
    /// each exactly once whatever the number of sweepers; returns those it marked.
    async fn expire_due(&self, now: DateTime<Utc>) -> Result<Vec<ApprovalRecord>, StoreError>;

    /// The request `id` with its votes.
    async fn get_approval(&self, id: Uuid) -> Result<Option<ApprovalRecord>, StoreError>;

    /// Requests matching `query`, newest first, with their votes.
    async fn list_approvals(
        &self,
        query: &ApprovalQuery,
    ) -> Result<Vec<ApprovalRecord>, StoreError>;

    /// An active grant covering `lookup` at `now`, if any.
    async fn find_grant(
        &self,
        lookup: &GrantLookup,
        now: DateTime<Utc>,
    ) -> Result<Option<GrantRecord>, StoreError>;

    /// The grant `id`.
    async fn get_grant(&self, id: Uuid) -> Result<Option<GrantRecord>, StoreError>;

    /// Grants, newest first; only those active at `now` when `active_at` is given.
    async fn list_grants(
        &self,
        active_at: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<GrantRecord>, StoreError>;

    /// Revokes the grant `id` at `now` in the name of `by`.
    async fn revoke_grant(
        &self,
        id: Uuid,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Revoked, StoreError>;

    /// Pending requests and active grants at `now`.
    async fn approval_counts(&self, now: DateTime<Utc>) -> Result<ApprovalCounts, StoreError>;
}
