//! Who is calling the approval API.
//!
//! - **Operators** (people) send `Authorization: Bearer <token>`: a static operator token, an
//!   OIDC token or `EXECUTOR_ADMIN_TOKEN` ([`crate::operators`]). Only they decide.
//! - **The requester** (an AI engine) may read its own request, to poll its status, with
//!   its HMAC secret instead: `X-Warden-Client: <requestedBy>`, `X-Warden-Timestamp:
//!   <unix seconds>` and `X-Warden-Signature: <hex HMAC-SHA256>` of the text
//!   `GET\n<path>\n<timestamp>` (e.g. `GET\n/executor/approvals/0190…\n1767225600`). The
//!   timestamp must be within five minutes of the executor's clock, so a captured
//!   signature is soon useless. A client secret never authenticates an operator.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::AppState;
use crate::error::ExecError;
use crate::operators::{AuthError, Operator};

/// How far a requester's timestamp may be from the executor's clock, in seconds.
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 300;

/// The operator of the request, or the 401/503 that refuses it.
pub async fn operator(state: &AppState, headers: &HeaderMap) -> Result<Operator, ExecError> {
    state
        .operators()
        .authenticate(headers)
        .await
        .map_err(|err| match err {
            AuthError::Missing => ExecError::OperatorMissing,
            AuthError::Invalid => ExecError::OperatorInvalid,
            AuthError::KeysUnavailable => ExecError::OperatorKeysUnavailable,
        })
}

/// Who may read an approval request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reader {
    /// An operator: every request.
    Operator(Operator),
    /// The client `requestedBy`: its own requests only.
    Requester(String),
}

/// An operator's bearer token, or else the requester's signed headers for `path`.
pub async fn reader(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
) -> Result<Reader, ExecError> {
    if headers.get("x-warden-client").is_none() {
        return operator(state, headers).await.map(Reader::Operator);
    }
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(client), Some(timestamp), Some(signature)) = (
        text("x-warden-client"),
        text("x-warden-timestamp"),
        text("x-warden-signature"),
    ) else {
        return Err(ExecError::RequesterSignature(
            "a requester signs with X-Warden-Client, X-Warden-Timestamp and X-Warden-Signature"
                .into(),
        ));
    };
    let ts: i64 = timestamp.parse().map_err(|_| {
        ExecError::RequesterSignature("X-Warden-Timestamp must be unix seconds".into())
    })?;
    if (chrono::Utc::now().timestamp() - ts).abs() > MAX_CLOCK_SKEW_SECONDS {
        return Err(ExecError::RequesterSignature(format!(
            "X-Warden-Timestamp is more than {MAX_CLOCK_SKEW_SECONDS} seconds from the executor's clock"
        )));
    }
    let expected = hex::decode(signature.trim())
        .map_err(|_| ExecError::RequesterSignature("X-Warden-Signature must be hex".into()))?;
    let secret = state.config().secrets.for_client(client);
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return Err(ExecError::Internal(anyhow::anyhow!("HMAC key rejected")));
    };
    mac.update(signing_text(path, ts).as_bytes());
    // `verify_slice` compares in constant time.
    mac.verify_slice(&expected).map_err(|_| {
        ExecError::RequesterSignature("the request signature does not verify".into())
    })?;
    Ok(Reader::Requester(client.to_owned()))
}

/// The text a requester signs to read `path` at `timestamp`.
pub fn signing_text(path: &str, timestamp: i64) -> String {
    format!("GET\n{path}\n{timestamp}")
}
