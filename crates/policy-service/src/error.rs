//! The one error type of the policy service and its JSON answer.
//!
//! Every error answer has the shape of [`warden_protocol::ErrorBody`]:
//! `{"error": "<message>", "code": "<stable code>", "field": "<path>"?}`. Internal errors
//! are logged once, with their cause chain, and shown to clients as a generic message.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use warden_protocol::ErrorBody;

/// What can go wrong while answering a request. Each variant documents its status code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not JSON, or not the JSON we expect.
    #[error("{message}")]
    InvalidJson {
        /// What is wrong.
        message: String,
        /// The field at fault, when known.
        field: Option<String>,
    },
    /// 400: a field parsed but its value is not acceptable.
    #[error("{message}")]
    InvalidField {
        /// The field at fault.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// 400: a query parameter is not acceptable.
    #[error("{0}")]
    InvalidQuery(String),
    /// 401: API keys are configured and the request has no valid bearer key.
    #[error("a valid API key is required (Authorization: Bearer <key>)")]
    Unauthorized,
    /// 403: the body claims an identity or role the API key does not grant.
    #[error("{message}")]
    IdentityMismatch {
        /// `context.userId` or `context.role`.
        field: &'static str,
        /// What does not match.
        message: String,
    },
    /// 404: no such route.
    #[error("no such endpoint")]
    NotFound,
    /// 405: the route exists with another method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 408: the request took longer than `POLICY_REQUEST_TIMEOUT_SECONDS`.
    #[error("request timed out")]
    Timeout,
    /// 413: the body is larger than the limit.
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 415: the body is not `application/json`.
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    /// 500: a bug or a failure of ours; details go to the log only.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidJson { .. }
            | ApiError::InvalidField { .. }
            | ApiError::InvalidQuery(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::IdentityMismatch { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Timeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine code clients can match on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidJson { .. } => "invalid_json",
            ApiError::InvalidField { .. } => "invalid_field",
            ApiError::InvalidQuery(_) => "invalid_query",
            ApiError::Unauthorized => "unauthorized",
            ApiError::IdentityMismatch { .. } => "identity_mismatch",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Timeout => "timeout",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Internal(_) => "internal",
        }
    }

    fn field(&self) -> Option<String> {
        match self {
            ApiError::InvalidJson { field, .. } => field.clone(),
            ApiError::InvalidField { field, .. } | ApiError::IdentityMismatch { field, .. } => {
                Some((*field).to_owned())
            }
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            // `{:#}` prints the whole cause chain on one line.
            tracing::error!(error = format!("{cause:#}"), "internal error");
        }
        let status = self.status();
        let body = ErrorBody {
            error: self.to_string(),
            code: self.code().to_owned(),
            field: self.field(),
        };
        let mut response = (status, axum::Json(body)).into_response();
        response
            .extensions_mut()
            .insert(warden_service_kit::ErrorCode(self.code()));
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"warden-policy\""),
            );
        }
        response
    }
}
