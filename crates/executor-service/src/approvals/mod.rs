//! Human approvals: what a `require_approval` decision becomes, and how people decide it.
//!
//! A valid `require_approval` token passes every check an allow does (signature, token,
//! binding, guardrails). Then, in [`on_decision`]:
//!
//! 1. if an active session grant covers it (same requester and action, inside the grant's
//!    scope, which the decision's rule must admit too), it runs at once through the
//!    ordinary write-ahead path, its audit row naming the grant;
//! 2. otherwise an approval request is made, bound to the digest of the exact action
//!    ([`action_digest`]), and its `awaiting_approval` audit row consumes the decision in
//!    the same transaction: the client gets 202 with `approvalId`.
//!
//! People then approve or deny through [`api`]; the approval that completes a request runs
//! the action exactly once (see [`crate::store::approvals`]), and [`sweeper`] expires the
//! requests nobody answered.
//!
//! # Layout
//!
//! - `mod.rs`: the execute side ([`on_decision`]), the digest and the grant's words;
//! - [`api`]: `/executor/approvals` and `/executor/grants`; [`views`]: their wire types;
//! - [`auth`]: who is asking: an operator's bearer token, or the requester's HMAC;
//! - [`sweeper`]: expiry and the gauges.

pub mod api;
pub mod auth;
pub mod sweeper;
pub mod views;

use std::time::Instant;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;
use warden_protocol::{ApprovalClaims, ExecuteResponse, GrantScope, canonical_json};

use crate::AppState;
use crate::actions::{Prepared, Target};
use crate::error::ExecError;
pub(crate) use crate::execute::store_down;
use crate::notify::{ApprovalEvent, EventKind};
use crate::store::approvals::{ApprovalRecord, GrantLookup, NewApproval, Requested};
use crate::store::{Attempt, Budget};

/// What the verified token says about the approval it needs.
#[derive(Clone, Debug)]
pub struct Decided {
    /// The rule that asked for approval.
    pub rule: String,
    /// The policy's reason as the client relayed it.
    pub reason: Option<String>,
    /// The requirements (claim `apr`).
    pub approval: ApprovalClaims,
}

/// `sha256:<hex>` of the canonical JSON of the exact action: type, parameters, requester
/// and target. What people approve; checked again before the execution.
pub fn action_digest(
    action_type: &str,
    params: &Value,
    requested_by: &str,
    target: &Target,
) -> String {
    let value = json!({
        "actionType": action_type,
        "actionParams": params,
        "requestedBy": requested_by,
        "target": {"namespace": target.namespace, "kind": target.kind, "name": target.name},
    });
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(canonical_json(&value).as_bytes()))
    )
}

/// Steps 6–7 for a `require_approval` decision: run it under a grant, or make the request.
pub async fn on_decision(
    state: AppState,
    mut attempt: Attempt,
    decision: Decided,
    budget: Budget,
    prepared: Box<dyn Prepared>,
    started: Instant,
) -> Result<Response, ExecError> {
    let target = prepared.target().clone();
    let action_type = attempt.action_type.clone().unwrap_or_default();
    let requested_by = attempt.requested_by.clone().unwrap_or_default();
    let now = Utc::now();
    if let Some(session) = &decision.approval.session {
        let lookup = GrantLookup {
            requested_by: requested_by.clone(),
            action_type: action_type.clone(),
            namespace: target.namespace.clone(),
            target_kind: target.kind.to_owned(),
            target_name: target.name.clone(),
            widest: session.scope,
        };
        match state.store().find_grant(&lookup, now).await {
            Ok(Some(grant)) => {
                attempt.grant_id = Some(grant.id);
                state.metrics().grant_used(&action_type);
                tracing::info!(grant_id = %grant.id, audit_id = %attempt.id, "covered by a session grant");
                return crate::execute::run_audited(state, attempt, budget, prepared, started)
                    .await;
            }
            Ok(None) => {}
            Err(err) => return Err(store_down(&state, "find_grant", err)),
        }
    }
    if !state.operators().any() {
        // A request nobody could ever answer would only expire: say so now instead.
        return Err(ExecError::Forbidden {
            code: "no_approvers",
            message: "this decision needs a person's approval, and this executor has no \
                      operator who could give it (EXECUTOR_OPERATORS, EXECUTOR_OIDC_ISSUER or \
                      EXECUTOR_ADMIN_TOKEN)"
                .into(),
        });
    }
    let params = attempt.action_params.clone().unwrap_or(Value::Null);
    let id = Uuid::now_v7();
    attempt.approval_id = Some(id);
    let expires_at = now + chrono::Duration::seconds(seconds_i64(decision.approval.expires_in));
    let approval = NewApproval {
        id,
        action_digest: action_digest(&action_type, &params, &requested_by, &target),
        rule: decision.rule.clone(),
        reason: decision.reason.clone(),
        approvers_needed: decision.approval.approvers,
        roles: decision.approval.roles.clone(),
        session: decision.approval.session.clone(),
        created_at: now,
        expires_at,
    };
    match state.store().request_approval(&attempt, &approval).await {
        Ok(Requested::Created) => {}
        Ok(Requested::Replay { consumed_by }) => return Err(ExecError::Replay { consumed_by }),
        Err(err) => return Err(store_down(&state, "request_approval", err)),
    }
    state.metrics().approval_requested(&action_type);
    state.notifier().send(ApprovalEvent {
        kind: EventKind::Created,
        approval_id: id,
        action_type: action_type.clone(),
        requested_by: requested_by.clone(),
        namespace: target.namespace.clone(),
        target_kind: target.kind.to_owned(),
        target_name: target.name.clone(),
        rule: Some(decision.rule),
        approvers_needed: decision.approval.approvers,
        approvals: 0,
        decided_by: Vec::new(),
        comment: None,
        expires_at,
        dry_run: attempt.dry_run,
        execution_status: None,
    });
    tracing::info!(approval_id = %id, audit_id = %attempt.id, action = %action_type, "approval requested");
    let body = ExecuteResponse {
        success: false,
        audit_id: Some(attempt.id.to_string()),
        error: Some(format!(
            "this action needs approval by {} {} with role {}; approval request {id} expires at {}",
            decision.approval.approvers,
            if decision.approval.approvers == 1 {
                "person"
            } else {
                "people"
            },
            decision.approval.roles.join(" or "),
            rfc3339(expires_at),
        )),
        code: Some("approval_required".into()),
        dry_run: attempt.dry_run,
        status: Some("awaiting_approval".into()),
        approval_id: Some(id.to_string()),
        expires_at: Some(rfc3339(expires_at)),
        ..ExecuteResponse::default()
    };
    Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
}

/// A time as the API writes it.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Seconds as a chrono offset (the protocol caps them far below `i64::MAX`).
pub(crate) fn seconds_i64(seconds: u64) -> i64 {
    i64::try_from(seconds).unwrap_or(i64::MAX / 1000)
}

/// A grant's description in words: "restart_pod by ai-engine in namespace production
/// until 14:05 UTC".
pub fn describe_grant(
    action_type: &str,
    requested_by: &str,
    scope: GrantScope,
    target: (&str, &str, &str),
    until: DateTime<Utc>,
) -> String {
    let (namespace, kind, name) = target;
    let place = match scope {
        GrantScope::Namespace => format!("in namespace {namespace}"),
        GrantScope::Kind => format!("on every {kind} in namespace {namespace}"),
        GrantScope::Object => format!("on {kind} {name} in namespace {namespace}"),
    };
    let today = Utc::now().date_naive() == until.date_naive();
    let when = if today {
        until.format("%H:%M UTC").to_string()
    } else {
        until.format("%Y-%m-%d %H:%M UTC").to_string()
    };
    format!("{action_type} by {requested_by} {place} until {when}")
}

/// The event of a request that was just decided or expired.
pub(crate) fn event_of(
    record: &ApprovalRecord,
    kind: EventKind,
    execution_status: Option<String>,
) -> ApprovalEvent {
    let last = record.votes.last();
    ApprovalEvent {
        kind,
        approval_id: record.id,
        action_type: record.action_type.clone(),
        requested_by: record.requested_by.clone(),
        namespace: record.namespace.clone(),
        target_kind: record.target_kind.clone(),
        target_name: record.target_name.clone(),
        rule: Some(record.rule.clone()),
        approvers_needed: record.approvers_needed,
        approvals: record.approvals(),
        decided_by: record.votes.iter().map(|v| v.approver.clone()).collect(),
        comment: last.and_then(|v| v.comment.clone()),
        expires_at: record.expires_at,
        dry_run: record.dry_run,
        execution_status,
    }
}
