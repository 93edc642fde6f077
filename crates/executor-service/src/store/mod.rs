//! The audit store: one row per execute attempt in `action_audit_logs`, the single-use
//! ledger of decision ids, and the rate budgets — all behind [`AuditStore`], implemented
//! by [`postgres::PgStore`] and by the embedded [`sqlite::SqliteStore`].
//!
//! The write-ahead rule lives here: [`AuditStore::begin`] commits the `pending` row, the
//! decision's consumption and the budget slot in ONE transaction before the cluster is
//! called; [`AuditStore::finish`] records the outcome afterwards.
//!
//! The audit API reads through the same trait: [`AuditStore::list`] (filtered, keyset
//! paged), [`AuditStore::get`] and [`AuditStore::stats_buckets`] (one `GROUP BY`; the
//! figures are computed in shared code, [`crate::audit_api::Stats`]).
//!
//! Approval requests, their votes and session grants are the other half of the contract,
//! [`approvals::ApprovalStore`] (a supertrait), in the same database.
//!
//! # Layout
//!
//! - `mod.rs`: the contract ([`AuditStore`]) and the values it takes and gives;
//! - [`approvals`]: the approval half of the contract and its values;
//! - `approval_sql.rs`: that half, written once for both stores over their `Dialect`;
//!   `approval_rows.rs` builds its inserts, `approval_impl.rs` implements the trait with
//!   it for each store;
//! - `shared.rs`: what both stores run alike (the audit API's SQL, the outcome and
//!   reconcile updates, row decoding, the bound on every operation);
//! - `reads.rs`: the operations that are the same SQL on both stores (list, get, stats,
//!   finish, reconcile, ping), generic over the store;
//! - [`diagnose`]: why a Postgres store cannot be opened at start-up, in one sentence;
//! - [`postgres`]: the Postgres store (budget slots, the one-statement `begin`);
//! - [`sqlite`]: the embedded SQLite store.

mod approval_impl;
mod approval_rows;
mod approval_sql;
pub mod approvals;
pub mod diagnose;
pub mod postgres;
mod reads;
mod shared;
pub mod sqlite;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// Final and intermediate states of an audit row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditStatus {
    /// Committed before the cluster call; replaced by a final state afterwards.
    Pending,
    /// The cluster call succeeded (or the dry run validated).
    Succeeded,
    /// The cluster call failed with a known outcome: nothing (more) changed.
    Failed,
    /// Refused before any side effect.
    Rejected,
    /// The call was sent but its outcome is not known (timeout); never retried blindly.
    Unknown,
    /// A `require_approval` decision became an approval request; the row consumed the
    /// decision and waits for people.
    AwaitingApproval,
    /// The request was approved; its execution is a row of its own (`approvalId`).
    Approved,
    /// The request was denied: nothing ran.
    Denied,
    /// Nobody decided in time: nothing ran, and nothing of it will.
    Expired,
}

impl AuditStatus {
    /// Spelling in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditStatus::Pending => "pending",
            AuditStatus::Succeeded => "succeeded",
            AuditStatus::Failed => "failed",
            AuditStatus::Rejected => "rejected",
            AuditStatus::Unknown => "unknown",
            AuditStatus::AwaitingApproval => "awaiting_approval",
            AuditStatus::Approved => "approved",
            AuditStatus::Denied => "denied",
            AuditStatus::Expired => "expired",
        }
    }

    /// Every status, in the order of their life cycle (attempts, then approval requests).
    pub const ALL: [AuditStatus; 9] = [
        AuditStatus::Pending,
        AuditStatus::Succeeded,
        AuditStatus::Failed,
        AuditStatus::Rejected,
        AuditStatus::Unknown,
        AuditStatus::AwaitingApproval,
        AuditStatus::Approved,
        AuditStatus::Denied,
        AuditStatus::Expired,
    ];
}

/// A spelling that is not one of those of the `status` column.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "expected one of pending, succeeded, failed, rejected, unknown, awaiting_approval, approved, denied, expired"
)]
pub struct UnknownStatus;

impl std::str::FromStr for AuditStatus {
    type Err = UnknownStatus;

    /// Parses the column spelling ([`AuditStatus::as_str`]), exactly.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuditStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or(UnknownStatus)
    }
}

/// What is known about an attempt when its row is written. Every field is optional that a
/// malformed request may lack.
#[derive(Clone, Debug, Default)]
pub struct Attempt {
    /// Row id, chosen by the executor (UUIDv7, so rows sort by time).
    pub id: Uuid,
    /// `actionType` as sent.
    pub action_type: Option<String>,
    /// `actionParams` as sent.
    pub action_params: Option<Value>,
    /// `requestedBy` as sent.
    pub requested_by: Option<String>,
    /// The decision id (token `jti`) once the token has been read.
    pub decision_id: Option<String>,
    /// The policy version the token names.
    pub policy_version: Option<String>,
    /// `policyDecision` as sent, with `token` removed (a bearer credential does not belong
    /// in a log table).
    pub policy_decision: Option<Value>,
    /// Target namespace, once the params validated.
    pub namespace: Option<String>,
    /// Target kind (normalised), once the params validated.
    pub target_kind: Option<String>,
    /// Target name, once the params validated.
    pub target_name: Option<String>,
    /// Which client serialisation the signature matched.
    pub signature_form: Option<String>,
    /// Whether the attempt was a dry run.
    pub dry_run: bool,
    /// The peer address.
    pub client_ip: Option<String>,
    /// The `x-request-id` of the HTTP request.
    pub request_id: Option<String>,
    /// The approval request this attempt belongs to (its request row, or its execution).
    pub approval_id: Option<Uuid>,
    /// The session grant that let this attempt run without a new approval.
    pub grant_id: Option<Uuid>,
    /// The people whose approval started this attempt (empty: none).
    pub approved_by: Vec<String>,
}

/// The budget an attempt must fit in: at most `max` non-dry-run attempts with this key in
/// any `ttl` window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Budget key (`restart`, `scale`, ...), shared by actions that draw on one budget.
    pub key: String,
    /// Attempts allowed per window.
    pub max: u32,
    /// Window length.
    pub ttl: Duration,
}

/// The answer of [`AuditStore::begin`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Begin {
    /// The `pending` row is committed (decision consumed, budget slot taken unless dry run):
    /// the action may run.
    Started,
    /// The decision was already consumed by the attempt `consumed_by`; a `rejected` row
    /// (reason `replay`) was written for this one.
    Replay {
        /// Audit id of the attempt that consumed the decision.
        consumed_by: Uuid,
    },
    /// No budget left; a `rejected` row (reason `budget_exhausted`) was written.
    OverBudget {
        /// When a slot frees up.
        retry_after: Duration,
    },
}

/// How an attempt that reached the cluster ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// The final state, with what belongs to it.
    pub outcome: Outcome,
    /// Time from receiving the request to the outcome.
    pub duration: Duration,
}

/// The three ways a cluster call ends. Only these may replace a `pending` row: a final
/// `rejected` would take the row out of the single-use index and free the decision for
/// another run, so it has no variant here.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The call succeeded (or the dry run validated).
    Succeeded {
        /// What changed (e.g. previous and new replicas).
        result: Value,
    },
    /// The call failed with a known outcome: nothing (more) changed.
    Failed {
        /// Machine reason code (`kube_not_found`, ...).
        reason: String,
        /// Human error message.
        error: String,
    },
    /// The call was sent but its outcome is not known (timeout).
    Unknown {
        /// Machine reason code.
        reason: String,
        /// Human error message.
        error: String,
    },
}

impl Outcome {
    /// The row's final `status`.
    pub fn status(&self) -> AuditStatus {
        match self {
            Outcome::Succeeded { .. } => AuditStatus::Succeeded,
            Outcome::Failed { .. } => AuditStatus::Failed,
            Outcome::Unknown { .. } => AuditStatus::Unknown,
        }
    }

    /// The row's `reasonCode`.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Succeeded { .. } => None,
            Outcome::Failed { reason, .. } | Outcome::Unknown { reason, .. } => Some(reason),
        }
    }

    /// The row's `error`.
    pub fn error(&self) -> Option<&str> {
        match self {
            Outcome::Succeeded { .. } => None,
            Outcome::Failed { error, .. } | Outcome::Unknown { error, .. } => Some(error),
        }
    }

    /// The row's `result`.
    pub fn result(&self) -> Option<&Value> {
        match self {
            Outcome::Succeeded { result } => Some(result),
            Outcome::Failed { .. } | Outcome::Unknown { .. } => None,
        }
    }
}

/// Filters of `GET /executor/audit`. Rows come newest first: `"createdAt"` descending, then
/// `id` descending (ids break ties between rows of the same instant).
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    /// Only rows whose `requestedBy` is exactly this.
    pub requested_by: Option<String>,
    /// Only rows whose `actionType` is exactly this.
    pub action_type: Option<String>,
    /// Only rows whose `namespace` is exactly this.
    pub namespace: Option<String>,
    /// Only rows in this state.
    pub status: Option<AuditStatus>,
    /// Only rows with `"createdAt" >= since`.
    pub since: Option<DateTime<Utc>>,
    /// Only rows with `"createdAt" < until`.
    pub until: Option<DateTime<Utc>>,
    /// At most this many rows. The API validates its page size (1..=500) and asks for one
    /// row more, to know whether another page follows, so stores see up to 501; a store
    /// takes the number as given.
    pub limit: u32,
    /// Keyset paging: only rows strictly after this position in the order above (older,
    /// or as old with a smaller id).
    pub after: Option<AuditCursor>,
}

/// A position in the audit order: `("createdAt", id)` of the last row of the previous page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditCursor {
    /// The row's `"createdAt"`.
    pub created_at: DateTime<Utc>,
    /// The row's id.
    pub id: Uuid,
}

impl AuditCursor {
    /// The position of `record`.
    pub fn of(record: &AuditRecord) -> AuditCursor {
        AuditCursor {
            created_at: record.created_at,
            id: record.id,
        }
    }
}

/// One row of `action_audit_logs` as the audit API shows it: every column, under the
/// column's own (camelCase) name, `null` when empty.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    /// Row id (UUIDv7); the `auditId` of the execute answer.
    #[schema(value_type = String, format = "uuid")]
    pub id: Uuid,
    /// `actionType` as sent.
    pub action_type: Option<String>,
    /// `actionParams` as sent: any JSON value (a refused request may send anything).
    pub action_params: Option<Value>,
    /// `requestedBy` as sent.
    pub requested_by: Option<String>,
    /// The decision id (token `jti`).
    pub decision_id: Option<String>,
    /// The policy version the decision token names.
    pub policy_version: Option<String>,
    /// `policyDecision` as sent, without its token: any JSON value.
    pub policy_decision: Option<Value>,
    /// State of the attempt.
    pub status: AuditStatus,
    /// Machine reason of a refusal or failure (`bad_signature`, `replay`, `interrupted`, ...).
    pub reason_code: Option<String>,
    /// Human message of a refusal or failure.
    pub error: Option<String>,
    /// What changed, for attempts that ran.
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    /// Whether the attempt was a dry run.
    pub dry_run: bool,
    /// The client's address.
    pub client_ip: Option<String>,
    /// The `x-request-id` of the request.
    pub request_id: Option<String>,
    /// Which client serialisation the signature matched.
    pub signature_form: Option<String>,
    /// Target namespace, once the parameters validated.
    pub namespace: Option<String>,
    /// Target kind.
    pub target_kind: Option<String>,
    /// Target name.
    pub target_name: Option<String>,
    /// The rate budget the attempt drew on.
    pub budget_key: Option<String>,
    /// From receiving the request to the outcome, in milliseconds.
    pub duration_ms: Option<i64>,
    /// The approval request of the row (the request itself, or its execution).
    #[schema(value_type = Option<String>, format = "uuid")]
    pub approval_id: Option<Uuid>,
    /// The session grant that covered the attempt.
    #[schema(value_type = Option<String>, format = "uuid")]
    pub grant_id: Option<Uuid>,
    /// The people whose approval started the attempt.
    pub approved_by: Option<Vec<String>>,
    /// When the attempt was recorded (for an attempt that took a budget slot, the slot's
    /// time).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// When the row last changed.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

/// The rows of one `(namespace, actionType, status, dryRun)` group in a time window, with
/// their summed durations: what `GET /executor/stats` is computed from. Each store runs one
/// `GROUP BY`; the arithmetic is shared ([`crate::audit_api::Stats::from_buckets`]), so
/// every store gives the same figures.
#[derive(Clone, Debug, PartialEq)]
pub struct StatsBucket {
    /// `namespace` of the rows (`None`: refused before the target was known).
    pub namespace: Option<String>,
    /// `actionType` of the rows (`None`: the request had none).
    pub action_type: Option<String>,
    /// `status` of the rows.
    pub status: AuditStatus,
    /// `dryRun` of the rows.
    pub dry_run: bool,
    /// How many rows.
    pub count: u64,
    /// Sum of `durationMs` over the rows that have one.
    pub duration_ms_sum: i64,
    /// How many rows have a `durationMs`.
    pub duration_count: u64,
}

/// A failure of the store itself.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or answered with an error.
    #[error("audit store unavailable: {0}")]
    Unavailable(#[source] anyhow::Error),
}

/// Where attempts are recorded. Implementations must make [`begin`](Self::begin) atomic and
/// durable: when it returns `Started`, the pending row survives a crash.
#[async_trait::async_trait]
pub trait AuditStore: approvals::ApprovalStore + Send + Sync + 'static {
    /// Records a refusal as a `rejected` row with `reason` and `error`.
    async fn reject(
        &self,
        attempt: &Attempt,
        reason: &str,
        error: &str,
        duration: Duration,
    ) -> Result<(), StoreError>;

    /// In one transaction: checks the decision has not been consumed, takes a budget slot
    /// (dry runs only check that one is free), and commits the `pending` row.
    async fn begin(&self, attempt: &Attempt, budget: &Budget) -> Result<Begin, StoreError>;

    /// Replaces the `pending` row `id` with its final state.
    async fn finish(&self, id: Uuid, completion: &Completion) -> Result<(), StoreError>;

    /// Whether the store answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Marks rows still `pending` after `older_than` as `unknown` (reason
    /// `interrupted`): their executor died between the cluster call and `finish`. Returns how
    /// many rows changed.
    async fn reconcile_pending(&self, older_than: Duration) -> Result<u64, StoreError>;

    /// The rows matching `query`, at most `query.limit`, ordered by `"createdAt"` descending
    /// then `id` descending.
    async fn list(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError>;

    /// The row `id`, if there is one.
    async fn get(&self, id: Uuid) -> Result<Option<AuditRecord>, StoreError>;

    /// The rows with `since <= "createdAt" < until`, counted per `(namespace, actionType,
    /// status, dryRun)`, in no particular order.
    async fn stats_buckets(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<StatsBucket>, StoreError>;
}
