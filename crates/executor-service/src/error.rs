//! The one error type of the executor and its JSON answer.
//!
//! Every refusal answers `{"success": false, "auditId": ..., "error": ..., "code": ...}`
//! ([`warden_protocol::ExecuteResponse`]). Internal errors are logged once with their
//! cause chain and shown to clients as a generic message.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use uuid::Uuid;
use warden_protocol::ExecuteResponse;

use crate::actions::ActionFailure;
use crate::signature::SignatureError;
use crate::token::TokenError;

/// Why an execute request did not run (or ran and failed). Each variant documents its
/// status code.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// 413: the body is larger than the limit.
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 415: the body is not `application/json`.
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    /// 400: not JSON, or not the JSON of an execute request.
    #[error("{message}")]
    InvalidJson {
        /// What is wrong.
        message: String,
        /// The field at fault.
        field: Option<String>,
    },
    /// 400: valid JSON, but required members of an execute request are absent.
    #[error(
        "missing {}: {}. An execute request is {{actionType, actionParams, requestedBy, policyDecision, signature}}: policyDecision is the whole answer of POST /api/v1/policy/evaluate, and signature the hex HMAC-SHA256 of {{actionType, actionParams, requestedBy}} with the client's secret",
        if .missing.len() == 1 { "field" } else { "fields" },
        .missing.join(", ")
    )]
    InvalidRequest {
        /// The absent members, in the order of the request schema.
        missing: Vec<&'static str>,
    },
    /// 400: no action of that name is registered.
    #[error("unknown actionType `{name}`; known actions: {}", .known.join(", "))]
    UnknownAction {
        /// The name sent (truncated).
        name: String,
        /// The registered actions.
        known: Vec<&'static str>,
    },
    /// 400: `actionParams` do not fit the action.
    #[error("{message}")]
    InvalidParams {
        /// What is wrong.
        message: String,
        /// The field at fault.
        field: Option<String>,
    },
    /// 401: the HMAC signature is malformed or does not verify.
    #[error("{0}")]
    Signature(SignatureError),
    /// 403 (503 when the keys cannot be fetched): the decision token is refused.
    #[error("{0}")]
    Token(TokenError),
    /// 403: the decision passed along is not an allow.
    #[error("the policy decision does not allow this action")]
    NotAllowed,
    /// 403: the token was issued for another action, resource, requester or decision.
    #[error("the decision token does not cover this request: {0}")]
    Binding(&'static str),
    /// 403: the target namespace is protected whatever the policy says.
    #[error("namespace `{0}` is protected: the executor never acts there")]
    ProtectedNamespace(String),
    /// 409: the decision was already used by the attempt `consumed_by`.
    #[error("this decision has already been used")]
    Replay {
        /// The attempt that consumed it.
        consumed_by: Uuid,
    },
    /// 429: the action's rate budget is spent.
    #[error("rate budget exhausted for `{key}`")]
    OverBudget {
        /// The budget key.
        key: String,
        /// When to retry.
        retry_after: Duration,
    },
    /// 429: this client sends requests too fast.
    #[error("too many requests from this client")]
    Throttled {
        /// When to retry.
        retry_after: Duration,
    },
    /// 503: the audit store is unreachable, so nothing may run.
    #[error("the audit store is unavailable; nothing was done")]
    StoreUnavailable,
    /// The cluster call failed; status and code come from the failure.
    #[error("{}", .0.message)]
    Cluster(ActionFailure),
    /// 404: no such route (the audit API too, while `EXECUTOR_ADMIN_TOKEN` is unset).
    #[error("no such endpoint")]
    NotFound,
    /// 401 (with `WWW-Authenticate: Bearer`): the audit API was called without
    /// `Authorization: Bearer <EXECUTOR_ADMIN_TOKEN>`.
    #[error("this endpoint needs Authorization: Bearer <EXECUTOR_ADMIN_TOKEN>")]
    AdminTokenMissing,
    /// 401 (RFC 6750 `invalid_token`): the bearer token is not the admin token.
    #[error("the bearer token is not the admin token")]
    AdminTokenInvalid,
    /// 400: a query or path parameter of the audit API is invalid.
    #[error("{message}")]
    InvalidQuery {
        /// What is wrong.
        message: String,
        /// The parameter at fault.
        field: String,
    },
    /// 404: no audit row has this id.
    #[error("no audit record with id {0}")]
    AuditRecordNotFound(Uuid),
    /// 405: the route exists with another method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 408: the answer took longer than `EXECUTOR_REQUEST_TIMEOUT_SECONDS` (an action that
    /// started still completes and is audited).
    #[error("request timed out; an action that started is still completed and audited")]
    Timeout,
    /// 401 (with `WWW-Authenticate: Bearer`): the approval API was called without an
    /// operator's bearer token.
    #[error("this endpoint needs Authorization: Bearer <operator token>")]
    OperatorMissing,
    /// 401: the bearer token identifies no operator (unknown, expired or not verifying).
    #[error("the bearer token identifies no operator")]
    OperatorInvalid,
    /// 503: the OIDC issuer's keys cannot be fetched, so no OIDC token can be checked.
    #[error("the OIDC issuer's keys are unavailable; try again or use a static operator token")]
    OperatorKeysUnavailable,
    /// 401: a requester's signed read of its approval request does not verify.
    #[error("{0}")]
    RequesterSignature(String),
    /// 403: the operator may not do this (`self_approval`, `missing_role`, `not_requester`).
    #[error("{message}")]
    Forbidden {
        /// The machine code.
        code: &'static str,
        /// Why.
        message: String,
    },
    /// 409: the approval request or grant is not in a state that takes this
    /// (`approval_decided`, `approval_expired`, `already_voted`, `grant_inactive`).
    #[error("{message}")]
    Conflict {
        /// The machine code.
        code: &'static str,
        /// Why.
        message: String,
    },
    /// 404: no approval request or grant has this id (`approval_not_found`,
    /// `grant_not_found`).
    #[error("{message}")]
    Missing {
        /// The machine code.
        code: &'static str,
        /// What was looked for.
        message: String,
    },
    /// 500: a bug of ours; details go to the log only.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// Who writes the audit row of a refused attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditedBy {
    /// Nobody yet: the handler writes a `rejected` row with the error's code.
    Handler,
    /// The store already wrote this attempt's row: `begin` records a replay or a spent
    /// budget as `rejected` in the same transaction that refuses it, and a cluster failure
    /// was finished on the attempt's `pending` row.
    Store,
    /// No row can be written: the store is what failed.
    Nobody,
}

impl ExecError {
    /// Who writes (or wrote) the audit row of the attempt this error refused.
    pub fn audited_by(&self) -> AuditedBy {
        match self {
            ExecError::Replay { .. } | ExecError::OverBudget { .. } | ExecError::Cluster(_) => {
                AuditedBy::Store
            }
            ExecError::StoreUnavailable => AuditedBy::Nobody,
            _ => AuditedBy::Handler,
        }
    }

    /// Whether the error arose after the decision token vouched for the attempt's target,
    /// so that its namespace is ours to use as a metric label (before that it is whatever
    /// the client wrote, and would let anyone mint label values).
    pub fn target_vouched(&self) -> bool {
        matches!(
            self,
            ExecError::ProtectedNamespace(_)
                | ExecError::Replay { .. }
                | ExecError::OverBudget { .. }
                | ExecError::StoreUnavailable
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ExecError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ExecError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ExecError::InvalidJson { .. }
            | ExecError::InvalidRequest { .. }
            | ExecError::UnknownAction { .. }
            | ExecError::InvalidParams { .. }
            | ExecError::InvalidQuery { .. } => StatusCode::BAD_REQUEST,
            ExecError::Signature(_)
            | ExecError::AdminTokenMissing
            | ExecError::AdminTokenInvalid
            | ExecError::OperatorMissing
            | ExecError::OperatorInvalid
            | ExecError::RequesterSignature(_) => StatusCode::UNAUTHORIZED,
            ExecError::OperatorKeysUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ExecError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ExecError::Conflict { .. } => StatusCode::CONFLICT,
            ExecError::Missing { .. } => StatusCode::NOT_FOUND,
            ExecError::Token(TokenError::KeysUnavailable) => StatusCode::SERVICE_UNAVAILABLE,
            ExecError::Token(_)
            | ExecError::NotAllowed
            | ExecError::Binding(_)
            | ExecError::ProtectedNamespace(_) => StatusCode::FORBIDDEN,
            ExecError::Replay { .. } => StatusCode::CONFLICT,
            ExecError::OverBudget { .. } | ExecError::Throttled { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ExecError::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ExecError::Cluster(f) => {
                StatusCode::from_u16(f.http_status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            ExecError::NotFound | ExecError::AuditRecordNotFound(_) => StatusCode::NOT_FOUND,
            ExecError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ExecError::Timeout => StatusCode::REQUEST_TIMEOUT,
            ExecError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine code (also the audit row's `reasonCode`).
    pub fn code(&self) -> &'static str {
        match self {
            ExecError::PayloadTooLarge { .. } => "payload_too_large",
            ExecError::UnsupportedMediaType => "unsupported_media_type",
            ExecError::InvalidJson { .. } => "invalid_json",
            ExecError::InvalidRequest { .. } => "invalid_request",
            ExecError::UnknownAction { .. } => "unknown_action",
            ExecError::InvalidParams { .. } => "invalid_params",
            ExecError::Signature(SignatureError::Malformed) => "signature_malformed",
            ExecError::Signature(_) => "bad_signature",
            ExecError::Token(e) => e.code(),
            ExecError::NotAllowed => "decision_not_allowed",
            ExecError::Binding(_) => "token_binding",
            ExecError::ProtectedNamespace(_) => "protected_namespace",
            ExecError::Replay { .. } => "replay",
            ExecError::OverBudget { .. } => "budget_exhausted",
            ExecError::Throttled { .. } => "throttled",
            ExecError::StoreUnavailable => "store_unavailable",
            ExecError::Cluster(f) => f.code,
            ExecError::NotFound => "not_found",
            ExecError::AdminTokenMissing => "admin_token_missing",
            ExecError::AdminTokenInvalid => "admin_token_invalid",
            ExecError::InvalidQuery { .. } => "invalid_query",
            ExecError::AuditRecordNotFound(_) => "audit_record_not_found",
            ExecError::MethodNotAllowed => "method_not_allowed",
            ExecError::Timeout => "timeout",
            ExecError::OperatorMissing => "unauthenticated",
            ExecError::RequesterSignature(_) => "bad_signature",
            ExecError::OperatorInvalid => "invalid_credentials",
            ExecError::OperatorKeysUnavailable => "operator_keys_unavailable",
            ExecError::Forbidden { code, .. }
            | ExecError::Conflict { code, .. }
            | ExecError::Missing { code, .. } => code,
            ExecError::Internal(_) => "internal",
        }
    }

    fn field(&self) -> Option<String> {
        match self {
            ExecError::InvalidJson { field, .. } | ExecError::InvalidParams { field, .. } => {
                field.clone()
            }
            ExecError::InvalidQuery { field, .. } => Some(field.clone()),
            ExecError::InvalidRequest { missing } => missing.first().map(|f| (*f).to_owned()),
            ExecError::UnknownAction { .. } => Some("actionType".into()),
            ExecError::Signature(_) => Some("signature".into()),
            ExecError::Token(_) | ExecError::NotAllowed | ExecError::Binding(_) => {
                Some("policyDecision".into())
            }
            _ => None,
        }
    }

    /// The answer, naming `audit_id` (the row of this attempt, or for a replay the row of
    /// the attempt that consumed the decision).
    pub fn into_response_with(self, audit_id: Option<Uuid>, dry_run: bool) -> Response {
        if let ExecError::Internal(cause) = &self {
            tracing::error!(error = format!("{cause:#}"), "internal error");
        }
        let status = self.status();
        let audit_id = match &self {
            ExecError::Replay { consumed_by } => Some(*consumed_by),
            _ => audit_id,
        };
        let retry_after = match &self {
            ExecError::OverBudget { retry_after, .. } | ExecError::Throttled { retry_after } => {
                Some(*retry_after)
            }
            _ => None,
        };
        let body = ExecuteResponse {
            success: false,
            audit_id: audit_id.map(|id| id.to_string()),
            result: None,
            error: Some(self.to_string()),
            code: Some(self.code().to_owned()),
            field: self.field(),
            dry_run,
            ..ExecuteResponse::default()
        };
        let mut response = (status, axum::Json(body)).into_response();
        response
            .extensions_mut()
            .insert(warden_service_kit::ErrorCode(self.code()));
        // RFC 6750 §3: a bearer challenge with every 401 of the audit API.
        let challenge = match &self {
            ExecError::AdminTokenMissing | ExecError::OperatorMissing => {
                Some(r#"Bearer realm="warden-executor""#)
            }
            ExecError::AdminTokenInvalid | ExecError::OperatorInvalid => {
                Some(r#"Bearer realm="warden-executor", error="invalid_token""#)
            }
            _ => None,
        };
        if let Some(challenge) = challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if let Some(after) = retry_after {
            // Round up: retrying a fraction of a second early would be refused again.
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            if let Ok(value) = HeaderValue::from_str(&secs.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

impl IntoResponse for ExecError {
    fn into_response(self) -> Response {
        self.into_response_with(None, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_audits_what_begin_and_finish_refuse_and_nothing_when_it_is_down() {
        let store_rows = [
            ExecError::Replay {
                consumed_by: Uuid::nil(),
            },
            ExecError::OverBudget {
                key: "restart".into(),
                retry_after: Duration::from_secs(1),
            },
        ];
        for err in store_rows {
            assert_eq!(err.audited_by(), AuditedBy::Store, "{err:?}");
        }
        assert_eq!(ExecError::StoreUnavailable.audited_by(), AuditedBy::Nobody);
        let handler_rows = [
            ExecError::UnsupportedMediaType,
            ExecError::NotAllowed,
            ExecError::Binding("another action"),
            ExecError::ProtectedNamespace("kube-system".into()),
            ExecError::Timeout,
            ExecError::Internal(anyhow::anyhow!("bug")),
        ];
        for err in handler_rows {
            assert_eq!(err.audited_by(), AuditedBy::Handler, "{err:?}");
        }
    }
}
