//! The `INSERT`s of the approval half of the store, built with the store's [`Dialect`]: the
//! awaiting row of a request, the request itself and a grant.

use chrono::Utc;
use serde_json::Value;
use sqlx::{Encode, QueryBuilder, Type};
use uuid::Uuid;

use super::approvals::{GrantRecord, NewApproval};
use super::shared::{Dialect, approved_by};
use super::{Attempt, AuditStatus};

/// The audit row of `attempt` in `status`, as an `INSERT`.
pub(super) fn insert_attempt<DB: Dialect>(
    attempt: &Attempt,
    status: AuditStatus,
) -> QueryBuilder<DB>
where
    bool: for<'q> Encode<'q, DB> + Type<DB>,
{
    let mut sql = QueryBuilder::<DB>::new(
        r#"INSERT INTO action_audit_logs (
               "id", "actionType", "actionParams", "requestedBy", "decisionId",
               "policyVersion", "policyDecision", "namespace", "targetKind", "targetName",
               "signatureForm", "dryRun", "clientIp", "requestId", "approvalId", "grantId",
               "approvedBy", "status", "createdAt", "updatedAt"
           ) VALUES ("#,
    );
    DB::push_uuid(&mut sql, attempt.id);
    sql.push(", ");
    push_opt_text::<DB>(&mut sql, attempt.action_type.as_deref());
    sql.push(", ");
    push_opt_json::<DB>(&mut sql, attempt.action_params.as_ref());
    for text in [
        &attempt.requested_by,
        &attempt.decision_id,
        &attempt.policy_version,
    ] {
        sql.push(", ");
        push_opt_text::<DB>(&mut sql, text.as_deref());
    }
    sql.push(", ");
    push_opt_json::<DB>(&mut sql, attempt.policy_decision.as_ref());
    for text in [
        &attempt.namespace,
        &attempt.target_kind,
        &attempt.target_name,
        &attempt.signature_form,
    ] {
        sql.push(", ");
        push_opt_text::<DB>(&mut sql, text.as_deref());
    }
    sql.push(", ").push_bind(attempt.dry_run);
    for text in [&attempt.client_ip, &attempt.request_id] {
        sql.push(", ");
        push_opt_text::<DB>(&mut sql, text.as_deref());
    }
    for id in [attempt.approval_id, attempt.grant_id] {
        sql.push(", ");
        match id {
            Some(id) => DB::push_uuid(&mut sql, id),
            None => {
                sql.push("NULL");
            }
        }
    }
    sql.push(", ");
    push_opt_json::<DB>(&mut sql, approved_by(attempt).as_ref());
    sql.push(", ");
    DB::push_text(&mut sql, status.as_str());
    let now = Utc::now();
    sql.push(", ");
    DB::push_time(&mut sql, now);
    sql.push(", ");
    DB::push_time(&mut sql, now);
    sql.push(")");
    sql
}

/// The `approval_requests` row of `approval`, for the verified `attempt`.
pub(super) fn insert_approval<DB: Dialect>(
    attempt: &Attempt,
    approval: &NewApproval,
) -> QueryBuilder<DB>
where
    i64: for<'q> Encode<'q, DB> + Type<DB>,
    bool: for<'q> Encode<'q, DB> + Type<DB>,
{
    let mut sql = QueryBuilder::<DB>::new(
        r#"INSERT INTO approval_requests (
               "id", "status", "auditId", "actionType", "actionParams", "requestedBy",
               "namespace", "targetKind", "targetName", "actionDigest", "decisionId",
               "policyVersion", "rule", "reason", "approversNeeded", "roles", "session",
               "dryRun", "createdAt", "expiresAt"
           ) VALUES ("#,
    );
    DB::push_uuid(&mut sql, approval.id);
    sql.push(", 'pending', ");
    DB::push_uuid(&mut sql, attempt.id);
    sql.push(", ");
    DB::push_text(&mut sql, attempt.action_type.as_deref().unwrap_or_default());
    sql.push(", ");
    DB::push_json(
        &mut sql,
        attempt.action_params.as_ref().unwrap_or(&Value::Null),
    );
    for text in [
        attempt.requested_by.as_deref(),
        attempt.namespace.as_deref(),
        attempt.target_kind.as_deref(),
        attempt.target_name.as_deref(),
        Some(approval.action_digest.as_str()),
        attempt.decision_id.as_deref(),
        attempt.policy_version.as_deref(),
        Some(approval.rule.as_str()),
    ] {
        sql.push(", ");
        DB::push_text(&mut sql, text.unwrap_or_default());
    }
    sql.push(", ");
    push_opt_text::<DB>(&mut sql, approval.reason.as_deref());
    sql.push(", ")
        .push_bind(i64::from(approval.approvers_needed));
    sql.push(", ");
    DB::push_json(&mut sql, &Value::from(approval.roles.clone()));
    sql.push(", ");
    let session = approval
        .session
        .as_ref()
        .and_then(|s| serde_json::to_value(s).ok());
    push_opt_json::<DB>(&mut sql, session.as_ref());
    sql.push(", ").push_bind(attempt.dry_run);
    sql.push(", ");
    DB::push_time(&mut sql, approval.created_at);
    sql.push(", ");
    DB::push_time(&mut sql, approval.expires_at);
    sql.push(")");
    sql
}

/// The `approval_grants` row of `grant`.
pub(super) fn insert_grant<DB: Dialect>(grant: &GrantRecord) -> QueryBuilder<DB> {
    let mut sql = QueryBuilder::<DB>::new(
        r#"INSERT INTO approval_grants (
               "id", "approvalId", "requestedBy", "actionType", "scope", "namespace",
               "targetKind", "targetName", "grantedBy", "description", "createdAt", "expiresAt"
           ) VALUES ("#,
    );
    DB::push_uuid(&mut sql, grant.id);
    sql.push(", ");
    DB::push_uuid(&mut sql, grant.approval_id);
    for text in [
        grant.requested_by.as_str(),
        grant.action_type.as_str(),
        grant.scope.as_str(),
        grant.namespace.as_str(),
    ] {
        sql.push(", ");
        DB::push_text(&mut sql, text);
    }
    for text in [grant.target_kind.as_deref(), grant.target_name.as_deref()] {
        sql.push(", ");
        push_opt_text::<DB>(&mut sql, text);
    }
    for text in [grant.granted_by.as_str(), grant.description.as_str()] {
        sql.push(", ");
        DB::push_text(&mut sql, text);
    }
    sql.push(", ");
    DB::push_time(&mut sql, grant.created_at);
    sql.push(", ");
    DB::push_time(&mut sql, grant.expires_at);
    sql.push(")");
    sql
}

pub(super) fn push_opt_text<DB: Dialect>(sql: &mut QueryBuilder<DB>, value: Option<&str>) {
    match value {
        Some(v) => DB::push_text(sql, v),
        None => {
            sql.push("NULL");
        }
    }
}

pub(super) fn push_opt_json<DB: Dialect>(sql: &mut QueryBuilder<DB>, value: Option<&Value>) {
    match value {
        Some(v) => DB::push_json(sql, v),
        None => {
            sql.push("NULL");
        }
    }
}

pub(super) fn push_uuids<DB: Dialect>(sql: &mut QueryBuilder<DB>, ids: &[Uuid]) {
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        DB::push_uuid(sql, *id);
    }
}
