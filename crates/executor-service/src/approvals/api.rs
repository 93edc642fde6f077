//! The approval API: people list, read, approve and deny approval requests, and list and
//! revoke session grants. Every route needs an operator ([`super::auth`]); reading one
//! request also admits its requester, signed with its HMAC secret.
//!
//! Decisions follow the rules platform teams expect of an approval system: no
//! self-approval (the approver is not the requester), the approver holds one of the rule's
//! roles, one vote per person, a decided or expired request answers 409, one denial denies,
//! and a grant never goes beyond the rule's `session` (scope and TTL).

use std::time::Instant;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde_json::json;
use uuid::Uuid;
use warden_protocol::{ExecuteResponse, GrantScope, MAX_APPROVAL_SECONDS};

use super::auth::{self, Reader};
pub use super::views::{
    ApprovalFilter, ApprovalList, ApprovalView, ApproveBody, DecisionAnswer, DenyBody, GrantFilter,
    GrantList, GrantRequest, GrantView,
};
use super::{action_digest, describe_grant, event_of, rfc3339, store_down};
use crate::AppState;
use crate::error::ExecError;
use crate::notify::EventKind;
use crate::operators::Operator;
use crate::store::Attempt;
use crate::store::approvals::{
    ApprovalQuery, ApprovalRecord, ApprovalStatus, Ballot, GrantRecord, Revoked, Vote,
    VoteConflict, VoteKind, Voted,
};

/// Longest comment kept, in characters.
pub const MAX_COMMENT_CHARS: usize = 2000;
/// Page size when `limit` is not given, and the largest.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest `limit`.
pub const MAX_LIMIT: u32 = 500;

/// The routes. [`crate::app`] adds them only when some operator can authenticate.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/executor/approvals", get(list_approvals))
        .route("/executor/approvals/{id}", get(show_approval))
        .route("/executor/approvals/{id}/approve", post(approve))
        .route("/executor/approvals/{id}/deny", post(deny))
        .route("/executor/grants", get(list_grants))
        .route("/executor/grants/{id}", delete(revoke_grant))
}

fn bad_query(rejection: QueryRejection) -> ExecError {
    ExecError::InvalidQuery {
        message: rejection.body_text(),
        field: "query".into(),
    }
}

fn bad_path(_: PathRejection) -> ExecError {
    ExecError::InvalidQuery {
        message: "the id in the path must be a UUID".into(),
        field: "id".into(),
    }
}

fn bad_body(rejection: JsonRejection) -> ExecError {
    ExecError::InvalidJson {
        message: rejection.body_text(),
        field: None,
    }
}

fn limit(value: Option<u32>) -> Result<u32, ExecError> {
    match value.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => Ok(n),
        _ => Err(ExecError::InvalidQuery {
            message: format!("limit must be between 1 and {MAX_LIMIT}"),
            field: "limit".into(),
        }),
    }
}

/// `GET /executor/approvals`: requests newest first, filtered by `status`, `requestedBy`
/// and `namespace`.
#[utoipa::path(
    get, path = "/executor/approvals", tag = "approvals",
    params(ApprovalFilter),
    responses(
        (status = 200, description = "Requests, newest first, each with its votes and execution", body = ApprovalList),
        (status = 400, description = "An unknown or invalid query parameter", body = ExecuteResponse),
        (status = 401, description = "No operator token, or not a valid one", body = ExecuteResponse),
    ),
    security(("operator" = [])),
)]
pub async fn list_approvals(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ApprovalFilter>, QueryRejection>,
) -> Result<Json<ApprovalList>, ExecError> {
    auth::operator(&state, &headers).await?;
    let Query(filter) = query.map_err(bad_query)?;
    let status = filter
        .status
        .as_deref()
        .map(str::parse::<ApprovalStatus>)
        .transpose()
        .map_err(|message| ExecError::InvalidQuery {
            message,
            field: "status".into(),
        })?;
    let query = ApprovalQuery {
        status,
        requested_by: filter.requested_by,
        namespace: filter.namespace,
        limit: limit(filter.limit)?,
    };
    let records = state
        .store()
        .list_approvals(&query)
        .await
        .map_err(|e| store_down(&state, "list_approvals", e))?;
    let mut approvals = Vec::with_capacity(records.len());
    for record in records {
        approvals.push(view(&state, record).await?);
    }
    Ok(Json(ApprovalList { approvals }))
}

/// The record with its execution row.
async fn view(state: &AppState, record: ApprovalRecord) -> Result<ApprovalView, ExecError> {
    let execution = match record.execution_id {
        Some(id) => state
            .store()
            .get(id)
            .await
            .map_err(|e| store_down(state, "get", e))?,
        None => None,
    };
    Ok(ApprovalView {
        approvals: record.approvals(),
        record,
        execution,
    })
}

async fn find(state: &AppState, id: Uuid) -> Result<ApprovalRecord, ExecError> {
    state
        .store()
        .get_approval(id)
        .await
        .map_err(|e| store_down(state, "get_approval", e))?
        .ok_or_else(|| not_found(id))
}

fn not_found(id: Uuid) -> ExecError {
    ExecError::Missing {
        code: "approval_not_found",
        message: format!("no approval request with id {id}"),
    }
}

/// `GET /executor/approvals/{id}`: one request with every vote, for an operator or for
/// its requester (signed with its HMAC secret, see [`super::auth`]).
#[utoipa::path(
    get, path = "/executor/approvals/{id}", tag = "approvals",
    params(("id" = String, Path, format = "uuid", description = "The approvalId")),
    responses(
        (status = 200, description = "The request, its votes and its execution", body = ApprovalView),
        (status = 400, description = "The id is not a UUID", body = ExecuteResponse),
        (status = 401, description = "Neither an operator token nor a valid requester signature", body = ExecuteResponse),
        (status = 404, description = "No such request (or not the requester's)", body = ExecuteResponse),
    ),
    security(("operator" = []), ("requester_hmac" = [])),
)]
pub async fn show_approval(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<ApprovalView>, ExecError> {
    let Path(id) = path.map_err(bad_path)?;
    let reader = auth::reader(&state, &headers, &format!("/executor/approvals/{id}")).await?;
    let record = find(&state, id).await?;
    if let Reader::Requester(client) = &reader
        && *client != record.requested_by
    {
        // Another client's request does not exist, as far as this one can tell.
        return Err(not_found(id));
    }
    Ok(Json(view(&state, record).await?))
}

/// Checks that `operator` may vote on `record`.
fn may_vote(operator: &Operator, record: &ApprovalRecord) -> Result<(), ExecError> {
    if record.status != ApprovalStatus::Pending {
        return Err(decided(record.status));
    }
    if record.expires_at <= Utc::now() {
        return Err(expired());
    }
    if operator.name == record.requested_by {
        return Err(ExecError::Forbidden {
            code: "self_approval",
            message: "the requester cannot decide its own request".into(),
        });
    }
    if !operator.has_any_role(&record.roles) {
        return Err(ExecError::Forbidden {
            code: "missing_role",
            message: format!(
                "deciding this request needs one of the roles [{}]",
                record.roles.join(", ")
            ),
        });
    }
    if record.votes.iter().any(|v| v.approver == operator.name) {
        return Err(already_voted());
    }
    Ok(())
}

fn decided(status: ApprovalStatus) -> ExecError {
    ExecError::Conflict {
        code: "approval_decided",
        message: format!("the request is already {}", status.as_str()),
    }
}

fn expired() -> ExecError {
    ExecError::Conflict {
        code: "approval_expired",
        message: "the request has expired; nothing of it will run".into(),
    }
}

fn already_voted() -> ExecError {
    ExecError::Conflict {
        code: "already_voted",
        message: "you have already decided this request; one vote per person".into(),
    }
}

fn conflict(c: VoteConflict) -> ExecError {
    match c {
        VoteConflict::Decided(status) => decided(status),
        VoteConflict::Expired => expired(),
        VoteConflict::AlreadyVoted => already_voted(),
    }
}

fn comment(raw: Option<String>) -> Result<Option<String>, ExecError> {
    let Some(text) = raw.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > MAX_COMMENT_CHARS {
        return Err(ExecError::InvalidJson {
            message: format!("comment is longer than {MAX_COMMENT_CHARS} characters"),
            field: Some("comment".into()),
        });
    }
    Ok(Some(text))
}

fn vote_of(operator: &Operator, kind: VoteKind, comment: Option<String>) -> Vote {
    Vote {
        approver: operator.name.clone(),
        vote: kind,
        comment,
        method: serde_json::to_value(operator.method)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        at: Utc::now(),
    }
}

/// The grant an approver asked for, checked against the rule's `session`.
fn grant_for(
    record: &ApprovalRecord,
    operator: &Operator,
    asked: &GrantRequest,
) -> Result<GrantRecord, ExecError> {
    let Some(session) = &record.session else {
        return Err(ExecError::Forbidden {
            code: "grant_not_allowed",
            message: format!("rule `{}` does not allow session grants", record.rule),
        });
    };
    if asked.scope > session.scope {
        return Err(ExecError::Forbidden {
            code: "grant_too_wide",
            message: format!(
                "rule `{}` allows grants up to scope `{}`",
                record.rule,
                session.scope.as_str()
            ),
        });
    }
    let max = session.max_ttl.min(MAX_APPROVAL_SECONDS);
    if asked.ttl_seconds == 0 || asked.ttl_seconds > max {
        return Err(ExecError::InvalidJson {
            message: format!("grant.ttlSeconds must be between 1 and {max} (the rule's maxTtl)"),
            field: Some("grant.ttlSeconds".into()),
        });
    }
    let now = Utc::now();
    let expires_at = now + chrono::Duration::seconds(super::seconds_i64(asked.ttl_seconds));
    let (kind, name) = match asked.scope {
        GrantScope::Namespace => (None, None),
        GrantScope::Kind => (Some(record.target_kind.clone()), None),
        GrantScope::Object => (
            Some(record.target_kind.clone()),
            Some(record.target_name.clone()),
        ),
    };
    Ok(GrantRecord {
        id: Uuid::now_v7(),
        approval_id: record.id,
        requested_by: record.requested_by.clone(),
        action_type: record.action_type.clone(),
        scope: asked.scope,
        namespace: record.namespace.clone(),
        target_kind: kind,
        target_name: name,
        granted_by: operator.name.clone(),
        description: describe_grant(
            &record.action_type,
            &record.requested_by,
            asked.scope,
            (&record.namespace, &record.target_kind, &record.target_name),
            expires_at,
        ),
        created_at: now,
        expires_at,
        revoked_at: None,
        revoked_by: None,
    })
}

/// `POST /executor/approvals/{id}/approve`: one person's approval. The one that
/// completes the request runs the action, exactly once, and the answer carries its
/// outcome.
#[utoipa::path(
    post, path = "/executor/approvals/{id}/approve", tag = "approvals",
    params(("id" = String, Path, format = "uuid", description = "The approvalId")),
    request_body = ApproveBody,
    responses(
        (status = 200, description = "The vote is recorded; if it completed the approval, `execution` is the action's answer", body = DecisionAnswer),
        (status = 400, description = "Invalid body (unknown member, comment too long, bad grant TTL)", body = ExecuteResponse),
        (status = 401, description = "No operator token, or not a valid one", body = ExecuteResponse),
        (status = 403, description = "Self-approval, a missing role, or a grant the rule does not allow", body = ExecuteResponse),
        (status = 404, description = "No such request", body = ExecuteResponse),
        (status = 409, description = "Already decided or expired, or this person already voted", body = ExecuteResponse),
        (status = 429, description = "The action's budget is spent: nothing was recorded, try again after Retry-After", body = ExecuteResponse),
        (status = 503, description = "The audit store is unavailable: nothing was recorded", body = ExecuteResponse),
    ),
    security(("operator" = [])),
)]
pub async fn approve(
    State(state): State<AppState>,
    connect: Option<axum::Extension<ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    path: Result<Path<Uuid>, PathRejection>,
    body: Result<Json<ApproveBody>, JsonRejection>,
) -> Result<Response, ExecError> {
    let started = Instant::now();
    let operator = auth::operator(&state, &headers).await?;
    let Path(id) = path.map_err(bad_path)?;
    let Json(body) = body.map_err(bad_body)?;
    let comment = comment(body.comment)?;
    let record = find(&state, id).await?;
    may_vote(&operator, &record)?;
    let grant = body
        .grant
        .as_ref()
        .map(|asked| grant_for(&record, &operator, asked))
        .transpose()?;

    // Re-arm the action from what was approved, not from anything a client sends now.
    let armed = state
        .action(&record.action_type)
        .ok_or_else(|| ExecError::Conflict {
            code: "action_unavailable",
            message: format!("action `{}` is no longer registered", record.action_type),
        })?
        .clone();
    let prepared = armed
        .action
        .prepare(&record.action_params, state.limits())
        .map_err(|e| ExecError::Conflict {
            code: "approval_invalid",
            message: format!("the approved parameters no longer validate: {}", e.message),
        })?;
    let target = prepared.target().clone();
    let digest = action_digest(
        &record.action_type,
        &record.action_params,
        &record.requested_by,
        &target,
    );
    if digest != record.action_digest {
        return Err(ExecError::Conflict {
            code: "approval_invalid",
            message: "the stored action does not match the digest that was approved".into(),
        });
    }
    if state
        .config()
        .protected_namespaces
        .contains(&target.namespace)
    {
        return Err(ExecError::ProtectedNamespace(target.namespace));
    }
    let execution = Attempt {
        id: Uuid::now_v7(),
        action_type: Some(record.action_type.clone()),
        action_params: Some(record.action_params.clone()),
        requested_by: Some(record.requested_by.clone()),
        decision_id: Some(format!("approval:{id}")),
        policy_version: Some(record.policy_version.clone()),
        policy_decision: Some(json!({
            "decision": "require_approval",
            "matchedRule": record.rule,
            "decisionId": record.decision_id,
            "approvalId": id,
        })),
        namespace: Some(target.namespace.clone()),
        target_kind: Some(target.kind.to_owned()),
        target_name: Some(target.name.clone()),
        signature_form: None,
        dry_run: record.dry_run || state.config().dry_run,
        client_ip: connect.map(|axum::Extension(ConnectInfo(addr))| addr.ip().to_string()),
        request_id: headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        approval_id: Some(id),
        grant_id: None,
        approved_by: Vec::new(),
    };
    let ballot = Ballot {
        approval_id: id,
        vote: vote_of(&operator, VoteKind::Approve, comment),
        grant,
    };
    // From here on the vote and any execution finish even if the approver goes away.
    let task = tokio::spawn(async move {
        let budget = armed.budget.clone();
        let voted = state
            .store()
            .vote(&ballot, &execution, &budget, Utc::now())
            .await
            .map_err(|e| store_down(&state, "vote", e))?;
        let answer = match voted {
            Voted::Recorded { approvals } => {
                tracing::info!(approval_id = %id, approver = %operator.name, approvals, "approval recorded");
                None
            }
            Voted::Approved { approved_by } => {
                let mut execution = execution;
                execution.approved_by = approved_by;
                let outcome =
                    crate::execute::run_started(&state, &execution, prepared.as_ref(), started)
                        .await;
                Some(match outcome {
                    Ok(result) => crate::execute::succeeded(&execution, result),
                    Err(failure) => {
                        let err = ExecError::Cluster(failure);
                        ExecuteResponse {
                            success: false,
                            audit_id: Some(execution.id.to_string()),
                            error: Some(err.to_string()),
                            code: Some(err.code().to_owned()),
                            dry_run: execution.dry_run,
                            approval_id: Some(id.to_string()),
                            ..ExecuteResponse::default()
                        }
                    }
                })
            }
            Voted::OverBudget { retry_after } => {
                let err = ExecError::OverBudget {
                    key: budget.key.clone(),
                    retry_after,
                };
                let _ = state
                    .store()
                    .reject(&execution, err.code(), &err.to_string(), started.elapsed())
                    .await;
                return Err(err);
            }
            Voted::Denied => None,
            Voted::NotFound => return Err(not_found(id)),
            Voted::Conflict(c) => return Err(conflict(c)),
        };
        let record = find(&state, id).await?;
        if let Some(execution) = &answer {
            let status = if execution.success {
                "succeeded"
            } else {
                "failed"
            };
            state.metrics().approval_decided("approved", &record);
            state.notifier().send(event_of(
                &record,
                EventKind::Approved,
                Some(status.to_owned()),
            ));
        }
        let grant = match (&answer, ballot.grant) {
            (Some(_), Some(grant)) => Some(grant),
            _ => None,
        };
        Ok::<_, ExecError>(DecisionAnswer {
            approval: view(&state, record).await?,
            execution: answer,
            grant,
        })
    });
    match task.await {
        Ok(answer) => Ok((StatusCode::OK, Json(answer?)).into_response()),
        Err(join) => Err(ExecError::Internal(anyhow::anyhow!(
            "approval task failed: {join}"
        ))),
    }
}

/// `POST /executor/approvals/{id}/deny`: one denial denies the request; nothing runs.
#[utoipa::path(
    post, path = "/executor/approvals/{id}/deny", tag = "approvals",
    params(("id" = String, Path, format = "uuid", description = "The approvalId")),
    request_body = DenyBody,
    responses(
        (status = 200, description = "Denied", body = DecisionAnswer),
        (status = 400, description = "Invalid body; `comment` is required", body = ExecuteResponse),
        (status = 401, description = "No operator token, or not a valid one", body = ExecuteResponse),
        (status = 403, description = "The requester itself, or a missing role", body = ExecuteResponse),
        (status = 404, description = "No such request", body = ExecuteResponse),
        (status = 409, description = "Already decided or expired, or this person already voted", body = ExecuteResponse),
        (status = 503, description = "The audit store is unavailable", body = ExecuteResponse),
    ),
    security(("operator" = [])),
)]
pub async fn deny(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<Uuid>, PathRejection>,
    body: Result<Json<DenyBody>, JsonRejection>,
) -> Result<Json<DecisionAnswer>, ExecError> {
    let operator = auth::operator(&state, &headers).await?;
    let Path(id) = path.map_err(bad_path)?;
    let Json(body) = body.map_err(bad_body)?;
    let comment = comment(Some(body.comment))?.ok_or_else(|| ExecError::InvalidJson {
        message: "a denial needs a comment saying why".into(),
        field: Some("comment".into()),
    })?;
    let record = find(&state, id).await?;
    may_vote(&operator, &record)?;
    let ballot = Ballot {
        approval_id: id,
        vote: vote_of(&operator, VoteKind::Deny, Some(comment)),
        grant: None,
    };
    // The record is only read here; the store decides again under its lock.
    let placeholder = Attempt::default();
    let voted = state
        .store()
        .vote(&ballot, &placeholder, &placeholder_budget(), Utc::now())
        .await
        .map_err(|e| store_down(&state, "vote", e))?;
    match voted {
        Voted::Denied => {}
        Voted::NotFound => return Err(not_found(id)),
        Voted::Conflict(c) => return Err(conflict(c)),
        other => {
            return Err(ExecError::Internal(anyhow::anyhow!(
                "a denial was answered with {other:?}"
            )));
        }
    }
    let record = find(&state, id).await?;
    state.metrics().approval_decided("denied", &record);
    state
        .notifier()
        .send(event_of(&record, EventKind::Denied, None));
    tracing::info!(approval_id = %id, approver = %operator.name, "approval denied");
    Ok(Json(DecisionAnswer {
        approval: view(&state, record).await?,
        execution: None,
        grant: None,
    }))
}

/// A denial takes no budget; the store never reads this one.
fn placeholder_budget() -> crate::store::Budget {
    crate::store::Budget {
        key: String::new(),
        max: 0,
        ttl: std::time::Duration::from_secs(1),
    }
}

/// `GET /executor/grants`: session grants, newest first.
#[utoipa::path(
    get, path = "/executor/grants", tag = "approvals",
    params(GrantFilter),
    responses(
        (status = 200, description = "Grants, newest first", body = GrantList),
        (status = 400, description = "An unknown or invalid query parameter", body = ExecuteResponse),
        (status = 401, description = "No operator token, or not a valid one", body = ExecuteResponse),
    ),
    security(("operator" = [])),
)]
pub async fn list_grants(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<GrantFilter>, QueryRejection>,
) -> Result<Json<GrantList>, ExecError> {
    auth::operator(&state, &headers).await?;
    let Query(filter) = query.map_err(bad_query)?;
    let active_at = filter.active.unwrap_or(false).then(Utc::now);
    let grants = state
        .store()
        .list_grants(active_at, limit(filter.limit)?)
        .await
        .map_err(|e| store_down(&state, "list_grants", e))?;
    Ok(Json(GrantList {
        grants: grants.into_iter().map(GrantView::now).collect(),
    }))
}

/// `DELETE /executor/grants/{id}`: revokes a grant at once, for every executor.
#[utoipa::path(
    delete, path = "/executor/grants/{id}", tag = "approvals",
    params(("id" = String, Path, format = "uuid", description = "The grant's id")),
    responses(
        (status = 200, description = "Revoked", body = GrantView),
        (status = 400, description = "The id is not a UUID", body = ExecuteResponse),
        (status = 401, description = "No operator token, or not a valid one", body = ExecuteResponse),
        (status = 404, description = "No such grant", body = ExecuteResponse),
        (status = 409, description = "Already revoked or expired", body = ExecuteResponse),
    ),
    security(("operator" = [])),
)]
pub async fn revoke_grant(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<GrantView>, ExecError> {
    let operator = auth::operator(&state, &headers).await?;
    let Path(id) = path.map_err(bad_path)?;
    let revoked = state
        .store()
        .revoke_grant(id, &operator.name, Utc::now())
        .await
        .map_err(|e| store_down(&state, "revoke_grant", e))?;
    match revoked {
        Revoked::Revoked(grant) => {
            tracing::info!(grant_id = %id, by = %operator.name, "grant revoked");
            Ok(Json(GrantView::now(grant)))
        }
        Revoked::Inactive(grant) => Err(ExecError::Conflict {
            code: "grant_inactive",
            message: match grant.revoked_at {
                Some(at) => format!("the grant was already revoked at {}", rfc3339(at)),
                None => format!("the grant expired at {}", rfc3339(grant.expires_at)),
            },
        }),
        Revoked::NotFound => Err(ExecError::Missing {
            code: "grant_not_found",
            message: format!("no grant with id {id}"),
        }),
    }
}
