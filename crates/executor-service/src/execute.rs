//! `POST /executor/execute`: the checks, in order, then the write-ahead audited action.
//!
//! 1. body limit and content type (413 / 415);
//! 2. JSON shape, known `actionType`, parameters validated by the action (400);
//! 3. HMAC signature over the client's serialisation, per-client secret (401);
//! 4. decision token: EdDSA signature against the policy service's JWKS, expiry, and
//!    binding to this action, target, requester and, when the decision was made on
//!    them, these exact parameters (403);
//! 5. guardrails that hold whatever the policy says: protected namespaces (403);
//! 6. in one transaction: single use of the decision (409), rate budget (429) and the
//!    `pending` audit row (503 if the store is down — nothing runs);
//! 7. the cluster call, then the final audit row.
//!
//! A `require_approval` decision takes steps 1–5 the same way, then goes to
//! [`crate::approvals::on_decision`]: a session grant runs it through 6–7, otherwise it
//! becomes an approval request (202).
//!
//! Every refusal from step 1 on is audited as `rejected` with its reason code when a row
//! can be written. Steps 6–7 run in their own task: a client that disconnects or times out
//! cannot leave a started action without its final audit row.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use uuid::Uuid;
use warden_protocol::{ExecuteRequest, ExecuteResponse, Resource, params_digest};

use crate::AppState;
use crate::actions::Prepared;
use crate::error::{AuditedBy, ExecError};
use crate::signature::SignedPayload;
use crate::store::{Attempt, Begin, Completion, Outcome, StoreError};
use crate::token::TokenError;

/// Largest request body accepted, in bytes.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Deepest JSON nesting accepted.
const MAX_DEPTH: usize = 64;

/// How often, and how long apart, a final audit update that failed is retried.
const FINISH_RETRIES: u32 = 20;
const FINISH_RETRY_DELAY: Duration = Duration::from_millis(500);

/// Run one remediation action, audited before and after, if every check passes.
///
/// The request carries the policy service's whole answer (`policyDecision`, from
/// `POST /api/v1/policy/evaluate`) and the client's HMAC `signature` over
/// `{actionType, actionParams, requestedBy}`. Every refusal is audited too.
#[utoipa::path(
    post,
    path = "/executor/execute",
    tag = "executor",
    request_body(content = ExecuteRequest, description = "A signed request carrying the policy service's decision"),
    responses(
        (status = 200, description = "The action ran (or, with dryRun, would run); `result` says what changed, or for a read (get_pod_logs, list_events, get_workload_status) what was read, which the audit row keeps only as its size and SHA-256. A require_approval decision covered by a session grant runs too, and `grantId` names the grant", body = ExecuteResponse),
        (status = 202, description = "The decision is require_approval: an approval request was made (`approvalId`, `status: awaiting_approval`, `expiresAt`, `code: approval_required`) and nothing ran; people decide it at /executor/approvals", body = ExecuteResponse),
        (status = 400, description = "Malformed JSON (`invalid_json`), required members missing (`invalid_request`, all of them named), unknown action (`unknown_action`, the known ones listed) or invalid parameters (`invalid_params`); `field` names the culprit", body = ExecuteResponse),
        (status = 401, description = "The HMAC signature does not verify", body = ExecuteResponse),
        (status = 403, description = "The decision token is invalid, expired, not allowed, bound to something else, or the namespace is protected", body = ExecuteResponse),
        (status = 404, description = "The Kubernetes object does not exist", body = ExecuteResponse),
        (status = 408, description = "The request took longer than EXECUTOR_REQUEST_TIMEOUT_SECONDS (a body that stalls is cut shortly before, and audited)", body = ExecuteResponse),
        (status = 409, description = "The decision was already used (`auditId` names the attempt that used it), or a Kubernetes conflict or failed precondition", body = ExecuteResponse),
        (status = 413, description = "Body over 64 KiB", body = ExecuteResponse),
        (status = 415, description = "Content type is not JSON", body = ExecuteResponse),
        (status = 422, description = "The Kubernetes API found the change invalid", body = ExecuteResponse),
        (status = 429, description = "Over the action's rate budget or the per-client request rate (see Retry-After), or an eviction blocked by a PodDisruptionBudget", body = ExecuteResponse),
        (status = 502, description = "The Kubernetes API refused or failed the call", body = ExecuteResponse),
        (status = 503, description = "The audit store is unavailable: nothing was run", body = ExecuteResponse),
        (status = 504, description = "The Kubernetes call timed out; the outcome is unknown and audited as such", body = ExecuteResponse),
    ),
)]
pub async fn execute(State(state): State<AppState>, request: Request) -> Response {
    let started = Instant::now();
    let mut attempt = Attempt {
        id: Uuid::now_v7(),
        dry_run: state.config().dry_run,
        client_ip: request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string()),
        request_id: request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ..Attempt::default()
    };
    let outcome = match read_body(&state, request).await {
        Ok(body) => check_and_run(&state, &body, &mut attempt, started).await,
        Err(err) => Err(err),
    };
    match outcome {
        Ok(response) => response,
        Err(err) => refuse(&state, &attempt, err, started).await,
    }
}

/// Audits a refusal (when a row can be written) and answers it.
async fn refuse(state: &AppState, attempt: &Attempt, err: ExecError, started: Instant) -> Response {
    let audit_id = match err.audited_by() {
        AuditedBy::Handler => {
            let written = state
                .store()
                .reject(attempt, err.code(), &err.to_string(), started.elapsed())
                .await;
            match written {
                Ok(()) => Some(attempt.id),
                Err(store_err) => {
                    state.metrics().store_error("reject");
                    tracing::error!(error = %store_err, code = err.code(), "could not audit a refusal");
                    None
                }
            }
        }
        AuditedBy::Store => Some(attempt.id),
        AuditedBy::Nobody => None,
    };
    // Label values only from our own vocabulary: a registered action name, and the
    // namespace only once the decision token has vouched for it.
    let action = attempt
        .action_type
        .as_deref()
        .filter(|name| state.action(name).is_some())
        .unwrap_or("other");
    let namespace = if err.target_vouched() {
        attempt.namespace.as_deref().unwrap_or("")
    } else {
        ""
    };
    state
        .metrics()
        .refused(&err, action, namespace, attempt.dry_run);
    tracing::info!(
        code = err.code(),
        action = attempt.action_type.as_deref().unwrap_or("-"),
        requested_by = attempt.requested_by.as_deref().unwrap_or("-"),
        audit_id = ?audit_id,
        "execute refused"
    );
    err.into_response_with(audit_id, attempt.dry_run)
}

/// How long the body may take to arrive: the request deadline less a margin in which the
/// refusal can still be audited. Past the deadline itself the request layer drops the
/// handler, and with it any chance of a row; so a stalled body is cut here first.
fn body_deadline(request_timeout: Duration) -> Duration {
    request_timeout.saturating_sub((request_timeout / 4).min(Duration::from_secs(2)))
}

async fn read_body(state: &AppState, request: Request) -> Result<Bytes, ExecError> {
    if !is_json(request.headers().get(header::CONTENT_TYPE)) {
        return Err(ExecError::UnsupportedMediaType);
    }
    let deadline = body_deadline(state.config().request_timeout);
    let read = tokio::time::timeout(deadline, Bytes::from_request(request, state));
    read.await
        .map_err(|_elapsed| ExecError::Timeout)?
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ExecError::PayloadTooLarge { limit: BODY_LIMIT }
            } else {
                ExecError::InvalidJson {
                    message: "could not read the request body".into(),
                    field: None,
                }
            }
        })
}

fn is_json(value: Option<&axum::http::HeaderValue>) -> bool {
    let Some(value) = value.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

async fn check_and_run(
    state: &AppState,
    body: &[u8],
    attempt: &mut Attempt,
    started: Instant,
) -> Result<Response, ExecError> {
    // 2. Shape. Parse loosely first so that a refusal can still record what was sent.
    let value = parse_value(body)?;
    record_claims(attempt, &value);
    let missing = missing_members(&value);
    if !missing.is_empty() {
        return Err(ExecError::InvalidRequest { missing });
    }
    let request: ExecuteRequest = serde_path_to_error::deserialize(&value).map_err(|err| {
        let path = err.path().to_string();
        let field = (path != ".").then_some(path);
        ExecError::InvalidJson {
            message: match &field {
                Some(f) => format!("{f}: {}", err.inner()),
                None => format!("invalid request: {}", err.inner()),
            },
            field,
        }
    })?;
    attempt.dry_run |= request.dry_run;
    let armed = state
        .action(&request.action_type)
        .ok_or_else(|| ExecError::UnknownAction {
            name: truncate(&request.action_type),
            known: state
                .registry()
                .names()
                .into_iter()
                .map(|(name, _)| name)
                .collect(),
        })?;
    let action = armed.action.clone();
    let budget = armed.budget.clone();
    let prepared = action
        .prepare(&request.action_params, state.limits())
        .map_err(|e| ExecError::InvalidParams {
            message: e.message,
            field: e.field,
        })?;
    let target = prepared.target().clone();
    attempt.namespace = Some(target.namespace.clone());
    attempt.target_kind = Some(target.kind.to_owned());
    attempt.target_name = Some(target.name.clone());

    // 3. Signature.
    let payload = SignedPayload::from_body(body).map_err(ExecError::Signature)?;
    let form = payload
        .verify(
            &request.signature,
            state.config().secrets.for_client(&request.requested_by),
        )
        .map_err(ExecError::Signature)?;
    attempt.signature_form = serde_json::to_value(form)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned));

    // 4. Decision token and its binding.
    let token = request
        .policy_decision
        .get("token")
        .and_then(Value::as_str)
        .ok_or(ExecError::Token(TokenError::Missing))?;
    let claims = state
        .verifier()
        .verify(token)
        .await
        .map_err(ExecError::Token)?;
    attempt.decision_id = Some(claims.jti.clone());
    attempt.policy_version = Some(claims.pv.clone());
    // An approval decision is signed as one (its own audience and `apr`); any other token
    // must come with the allow it was issued for.
    if claims.apr.is_none() && request.policy_decision.get("allowed") != Some(&Value::Bool(true)) {
        return Err(ExecError::NotAllowed);
    }
    if claims.act != request.action_type {
        return Err(ExecError::Binding("it was issued for another action"));
    }
    let scope: Resource = claims
        .res
        .parse()
        .map_err(|_| ExecError::Token(TokenError::Claims("res is not a resource".into())))?;
    let covered = if target.kind == crate::actions::http::URL_KIND {
        // An HTTP action's decision names its exact URL (canonical, without the query; the
        // target's name is that form already).
        scope
            .as_url()
            .is_some_and(|url| url.without_query() == target.name)
    } else {
        scope.covers_object(&target.namespace, target.kind, &target.name)
    };
    if !covered {
        return Err(ExecError::Binding("it was issued for another resource"));
    }
    if claims.sub != request.requested_by {
        return Err(ExecError::Binding("it was issued to another requester"));
    }
    // A decision made without params covers any; one made on params covers only those.
    if let Some(digest) = &claims.prm
        && *digest != params_digest(&request.action_params)
    {
        return Err(ExecError::Binding("it was issued for other parameters"));
    }
    if let Some(id) = request.policy_decision.get("decisionId")
        && id.as_str() != Some(claims.jti.as_str())
    {
        return Err(ExecError::Binding(
            "policyDecision.decisionId differs from the token's",
        ));
    }

    // 5. Guardrails.
    if state
        .config()
        .protected_namespaces
        .contains(&target.namespace)
    {
        return Err(ExecError::ProtectedNamespace(target.namespace));
    }

    // 6–7. From here on the work must finish even if the client goes away.
    let task_state = state.clone();
    let task_attempt = attempt.clone();
    let handle = match claims.apr {
        None => tokio::spawn(async move {
            run_audited(task_state, task_attempt, budget, prepared, started).await
        }),
        Some(approval) => {
            let reason = request
                .policy_decision
                .get("reason")
                .and_then(Value::as_str)
                .map(truncate);
            let decision = crate::approvals::Decided {
                rule: claims.rule,
                reason,
                approval,
            };
            tokio::spawn(async move {
                crate::approvals::on_decision(
                    task_state,
                    task_attempt,
                    decision,
                    budget,
                    prepared,
                    started,
                )
                .await
            })
        }
    };
    match handle.await {
        Ok(result) => result,
        Err(join) => Err(ExecError::Internal(anyhow::anyhow!(
            "execution task failed: {join}"
        ))),
    }
}

/// Steps 6–7 for an attempt that needs nobody's approval (an allow, or an approval
/// decision covered by a session grant).
pub(crate) async fn run_audited(
    state: AppState,
    attempt: Attempt,
    budget: crate::store::Budget,
    prepared: Box<dyn Prepared>,
    started: Instant,
) -> Result<Response, ExecError> {
    match state.store().begin(&attempt, &budget).await {
        Ok(Begin::Started) => {}
        Ok(Begin::Replay { consumed_by }) => return Err(ExecError::Replay { consumed_by }),
        Ok(Begin::OverBudget { retry_after }) => {
            return Err(ExecError::OverBudget {
                key: budget.key,
                retry_after,
            });
        }
        Err(err) => return Err(store_down(&state, "begin", err)),
    }
    let result = run_started(&state, &attempt, prepared.as_ref(), started)
        .await
        .map_err(ExecError::Cluster)?;
    Ok((StatusCode::OK, axum::Json(succeeded(&attempt, result))).into_response())
}

/// Logs a store failure once (with its cause chain) and turns it into the 503 that
/// refuses the request: nothing ran.
pub(crate) fn store_down(state: &AppState, operation: &'static str, err: StoreError) -> ExecError {
    state.metrics().store_error(operation);
    let StoreError::Unavailable(cause) = err;
    tracing::error!(
        error = format!("{cause:#}"),
        operation,
        "audit store unavailable: refusing"
    );
    ExecError::StoreUnavailable
}

/// The answer of an attempt that ran.
pub(crate) fn succeeded(attempt: &Attempt, result: Value) -> ExecuteResponse {
    ExecuteResponse {
        success: true,
        audit_id: Some(attempt.id.to_string()),
        result: Some(result),
        dry_run: attempt.dry_run,
        approval_id: attempt.approval_id.map(|id| id.to_string()),
        grant_id: attempt.grant_id.map(|id| id.to_string()),
        ..ExecuteResponse::default()
    }
}

/// Step 7 for an attempt whose `pending` row is committed: the cluster call (or the
/// offline plan), the metrics, the final row.
pub(crate) async fn run_started(
    state: &AppState,
    attempt: &Attempt,
    prepared: &dyn Prepared,
    started: Instant,
) -> Result<Value, crate::actions::ActionFailure> {
    let outcome = match state.cluster() {
        Some(cluster) => prepared.run(cluster, attempt.dry_run).await,
        None => Ok(offline_plan(
            attempt.action_type.as_deref().unwrap_or_default(),
            prepared.target(),
        )),
    };
    let completion = Completion {
        outcome: match &outcome {
            // A read answers with what it read and audits only its size and hash.
            Ok(result) => Outcome::Succeeded {
                result: prepared.audit(result),
            },
            Err(failure) if failure.outcome_unknown => Outcome::Unknown {
                reason: failure.code.to_owned(),
                error: failure.message.clone(),
            },
            Err(failure) => Outcome::Failed {
                reason: failure.code.to_owned(),
                error: failure.message.clone(),
            },
        },
        duration: started.elapsed(),
    };
    state.metrics().ran(
        attempt.action_type.as_deref().unwrap_or("other"),
        attempt.namespace.as_deref().unwrap_or(""),
        completion.outcome.status().as_str(),
        attempt.dry_run,
        started.elapsed(),
    );
    finish(state, attempt.id, completion).await;
    tracing::info!(
        audit_id = %attempt.id,
        action = attempt.action_type.as_deref().unwrap_or("-"),
        namespace = attempt.namespace.as_deref().unwrap_or("-"),
        name = attempt.target_name.as_deref().unwrap_or("-"),
        dry_run = attempt.dry_run,
        ok = outcome.is_ok(),
        "action executed"
    );
    outcome
}

/// Records the outcome. The pending row is already durable, so if the store is down now
/// the update is retried in the background; a row that still cannot be completed is
/// reconciled to `unknown` at the next start-up.
async fn finish(state: &AppState, id: Uuid, completion: Completion) {
    if state.store().finish(id, &completion).await.is_ok() {
        return;
    }
    state.metrics().store_error("finish");
    let store = state.store().clone();
    tokio::spawn(async move {
        for attempt in 1..=FINISH_RETRIES {
            tokio::time::sleep(FINISH_RETRY_DELAY * attempt).await;
            match store.finish(id, &completion).await {
                Ok(()) => {
                    tracing::info!(audit_id = %id, "final audit state recorded after retry");
                    return;
                }
                Err(err) => {
                    tracing::warn!(audit_id = %id, error = %err, attempt, "final audit update failed")
                }
            }
        }
        tracing::error!(audit_id = %id, "giving up on the final audit update; the row stays pending until reconciled");
    });
}

fn parse_value(body: &[u8]) -> Result<Value, ExecError> {
    if warden_protocol::json_nesting_depth(body) > MAX_DEPTH {
        return Err(ExecError::InvalidJson {
            message: format!("JSON is nested deeper than {MAX_DEPTH} levels"),
            field: None,
        });
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| ExecError::InvalidJson {
        message: format!("malformed JSON: {e}"),
        field: None,
    })?;
    if !value.is_object() {
        return Err(ExecError::InvalidJson {
            message: "the body must be a JSON object".into(),
            field: None,
        });
    }
    Ok(value)
}

/// Copies what the body claims into the audit record, before anything is verified, so
/// that a refusal shows what was attempted. The token is dropped: it is a bearer
/// credential until it expires. Public for the stage benchmark.
pub fn record_claims(attempt: &mut Attempt, value: &Value) {
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(truncate);
    attempt.action_type = text("actionType");
    attempt.requested_by = text("requestedBy");
    attempt.action_params = value.get("actionParams").cloned();
    attempt.policy_decision = value.get("policyDecision").cloned().map(|mut d| {
        if let Some(map) = d.as_object_mut() {
            map.remove("token");
        }
        d
    });
    if value.get("dryRun") == Some(&Value::Bool(true)) {
        attempt.dry_run = true;
    }
}

/// The members every execute request needs, in the order of its schema.
const REQUIRED_MEMBERS: [&str; 5] = [
    "actionType",
    "actionParams",
    "requestedBy",
    "policyDecision",
    "signature",
];

/// The required members an object lacks (or sends as `null`), all of them at once: a client
/// that sent none of the decision parts learns what to add in one answer, not five.
fn missing_members(value: &Value) -> Vec<&'static str> {
    let Value::Object(map) = value else {
        return Vec::new();
    };
    REQUIRED_MEMBERS
        .into_iter()
        .filter(|name| map.get(*name).is_none_or(Value::is_null))
        .collect()
}

fn truncate(s: &str) -> String {
    s.chars().take(256).collect()
}

/// The result of an attempt when no cluster is configured (always a dry run): what would
/// have been sent, and a plain statement that nothing was.
fn offline_plan(action: &str, target: &crate::actions::Target) -> serde_json::Value {
    serde_json::json!({
        "dryRun": true,
        "cluster": "none",
        "action": action,
        "target": {"namespace": target.namespace, "kind": target.kind, "name": target.name},
        "message": "no Kubernetes cluster is configured: every check passed and the attempt is audited, but nothing was sent",
    })
}
