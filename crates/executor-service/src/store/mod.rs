//! The audit store: one row per execute attempt in `action_audit_logs`, the single-use
//! ledger of decision ids, and the rate budgets — all behind [`AuditStore`] so that the
//! embedded SQLite store of a later release can sit beside [`postgres::PgStore`].
//!
//! The write-ahead rule lives here: [`AuditStore::begin`] commits the `pending` row, the
//! decision's consumption and the budget slot in ONE transaction before the cluster is
//! called; [`AuditStore::finish`] records the outcome afterwards.

pub mod postgres;

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// Final and intermediate states of an audit row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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
        }
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
    /// `Succeeded`, `Failed` or `Unknown`.
    pub status: AuditStatus,
    /// Machine reason code for failures (`kube_not_found`, ...).
    pub reason: Option<String>,
    /// Human error message for failures.
    pub error: Option<String>,
    /// What changed (e.g. previous and new replicas).
    pub result: Option<Value>,
    /// Time from receiving the request to the outcome.
    pub duration: Duration,
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
pub trait AuditStore: Send + Sync + 'static {
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
}
