//! The wire types of the approval API: what it answers and what it accepts.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use warden_protocol::{ExecuteResponse, GrantScope};

use crate::store::AuditRecord;
use crate::store::approvals::{ApprovalRecord, ApprovalStatus, GrantRecord};

// The documented bounds below are literals (attributes cannot name constants): keep them
// the ones the handlers enforce.
const _: () = assert!(
    warden_protocol::MAX_APPROVAL_SECONDS == 86_400
        && super::api::MAX_COMMENT_CHARS == 2000
        && super::api::MAX_LIMIT == 500
);

/// An approval request with its execution, as every answer shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalView {
    /// The request, its votes included.
    #[serde(flatten)]
    pub record: ApprovalRecord,
    /// Approvals so far.
    pub approvals: u32,
    /// The execution's audit row, once approved.
    pub execution: Option<AuditRecord>,
}

/// `GET /executor/approvals` answer.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ApprovalList {
    /// Newest first.
    pub approvals: Vec<ApprovalView>,
}

/// `POST /executor/approvals/{id}/approve` body.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApproveBody {
    /// Why (kept with the vote), at most 2000 characters.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
    /// A session grant to create with the approval (within the rule's `session`).
    #[serde(default)]
    pub grant: Option<GrantRequest>,
}

/// The grant an approver asks for.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrantRequest {
    /// `object`, `kind` or `namespace`.
    pub scope: GrantScope,
    /// How long, in seconds (at most the rule's `maxTtl`, itself at most 24 hours).
    #[schema(minimum = 1, maximum = 86400)]
    pub ttl_seconds: u64,
}

/// `POST /executor/approvals/{id}/deny` body.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DenyBody {
    /// Why (required: some text that is not only spaces; at most 2000 characters).
    #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
    pub comment: String,
}

/// The answer of approve and deny.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DecisionAnswer {
    /// The request after the vote.
    pub approval: ApprovalView,
    /// The execution's answer when this vote completed the approval.
    pub execution: Option<ExecuteResponse>,
    /// The grant created with it.
    pub grant: Option<GrantRecord>,
}

/// `GET /executor/grants` answer.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct GrantList {
    /// Newest first.
    pub grants: Vec<GrantView>,
}

/// A grant with whether it is in force now.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrantView {
    /// The grant.
    #[serde(flatten)]
    pub grant: GrantRecord,
    /// Not revoked and not expired.
    pub active: bool,
}

impl GrantView {
    /// The grant as of now.
    pub fn now(grant: GrantRecord) -> GrantView {
        let active = grant.active_at(Utc::now());
        GrantView { grant, active }
    }
}

/// Query of `GET /executor/approvals`.
#[derive(Clone, Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ApprovalFilter {
    /// `pending`, `approved`, `denied` or `expired`.
    #[param(value_type = Option<ApprovalStatus>)]
    pub status: Option<String>,
    /// Only this requester's.
    pub requested_by: Option<String>,
    /// Only this namespace's.
    pub namespace: Option<String>,
    /// Page size, 1..=500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// Query of `GET /executor/grants`.
#[derive(Clone, Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GrantFilter {
    /// `true`: only grants in force now.
    pub active: Option<bool>,
    /// Page size, 1..=500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}
