//! HTTP handlers: evaluate, JWKS, health and readiness.

use axum::Json;
use axum::extract::{FromRequestParts, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::IntoResponse;
use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};
use warden_policy::Input;
use warden_protocol::{
    APPROVAL_AUDIENCE, ApprovalClaims, DecisionClaims, DecisionKind, ErrorBody, PolicyDecision,
    PolicyRequest, Resource, TOKEN_AUDIENCE, TOKEN_ISSUER, params_digest,
};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::store::PolicyStore;

/// Longest action name accepted; real ones are a few words.
const MAX_ACTION_LEN: usize = 128;

/// Who is calling, established before the body is read so that an unauthenticated caller
/// gets 401 whatever it sends.
#[derive(Debug)]
pub enum Caller {
    /// API keys are configured and the bearer key belongs to this identity.
    Authenticated(String),
    /// No API keys configured: identity comes from the body (development mode).
    Development,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(keys) = state.api_keys() else {
            return Ok(Caller::Development);
        };
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, key) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
            })
            .ok_or(ApiError::Unauthorized)?;
        keys.identify(presented)
            .map(|id| Caller::Authenticated(id.to_owned()))
            .ok_or(ApiError::Unauthorized)
    }
}

/// `POST /api/v1/policy/evaluate[?explain=true]`.
#[utoipa::path(
    post,
    path = "/api/v1/policy/evaluate",
    tag = "policy",
    params(("explain" = Option<bool>, Query, description = "Add a per-rule trace of the evaluation")),
    request_body = PolicyRequest,
    responses(
        (status = 200, description = "The decision; `token` for allow and require_approval (the latter with audience `warden-executor-approval` and the requirements in claim `apr`, also shown as `approval`), none for deny", body = PolicyDecision),
        (status = 400, description = "Malformed or mistyped JSON, or a bad field (named in `field`); a refused `url:` resource names the refusal's code in `error`", body = ErrorBody),
        (status = 401, description = "API keys are configured and the bearer key is missing or unknown", body = ErrorBody),
        (status = 403, description = "The body claims another user or a role the caller lacks", body = ErrorBody),
        (status = 408, description = "The request took longer than POLICY_REQUEST_TIMEOUT_SECONDS", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Content type is not JSON", body = ErrorBody),
    ),
    security((), ("api_key" = [])),
)]
pub async fn evaluate(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    caller: Caller,
    JsonBody(request): JsonBody<PolicyRequest>,
) -> Result<Json<PolicyDecision>, ApiError> {
    let explain = explain_flag(query.as_deref())?;
    validate_action(&request.action)?;
    // A `url:` resource is parsed strictly; its refusal names the code and never the URL.
    let resource: Resource = request
        .resource
        .parse()
        .map_err(|e| ApiError::InvalidField {
            field: "resource",
            message: format!("{e}"),
        })?;
    // The floor and the clock before the policy: see `PolicyStore::issued_at`.
    let min_iat = state.policy().min_iat();
    let now = Utc::now();
    let policy = state.policy().current();
    let context = request.context.as_ref();
    let (subject, roles) = match caller {
        Caller::Development => policy.dev_identity(context),
        Caller::Authenticated(id) => {
            let roles = policy
                .principal_roles(&id)
                .map(<[String]>::to_vec)
                .unwrap_or_default();
            check_claims(&id, &roles, context)?;
            (id, roles)
        }
    };
    let input = Input {
        action: &request.action,
        resource: &resource,
        request_type: request.request_type.as_deref(),
        subject: &subject,
        roles: &roles,
        context,
        params: request.params.as_ref(),
    };
    let (decision, explanation) = if explain {
        let (decision, trace) = policy.explain(&input);
        (decision, Some(trace))
    } else {
        (policy.evaluate(&input), None)
    };

    let expires = now + state.decision_ttl();
    let decision_id = uuid::Uuid::now_v7().to_string();
    let canonical = resource.to_string();
    let token = match signed_as(decision.kind, decision.rule, decision.approval)? {
        Some(signing) => {
            let claims = DecisionClaims {
                iss: TOKEN_ISSUER.to_owned(),
                aud: signing.audience.to_owned(),
                sub: subject.clone(),
                jti: decision_id.clone(),
                iat: PolicyStore::issued_at(now.timestamp(), min_iat),
                nbf: now.timestamp(),
                exp: expires.timestamp(),
                act: request.action.clone(),
                res: canonical.clone(),
                pv: policy.version().to_owned(),
                rule: signing.rule.to_owned(),
                // Bound only when given, so the clients that send none keep working and
                // their decisions cover any parameters, as they always did.
                prm: request
                    .params
                    .as_ref()
                    .map(|params| params_digest(&Value::Object(params.clone()))),
                apr: signing.approval,
            };
            Some(
                state
                    .signer()
                    .sign(&claims)
                    .map_err(|e| ApiError::Internal(e.into()))?,
            )
        }
        None => None,
    };
    state
        .metrics()
        .decision(decision.kind.as_str(), decision.rule);
    tracing::info!(
        decision = decision.kind.as_str(),
        rule = decision.rule.unwrap_or("-"),
        action = %request.action,
        resource = %canonical,
        subject = %subject,
        decision_id = %decision_id,
        "policy decision"
    );
    Ok(Json(PolicyDecision {
        allowed: decision.kind == DecisionKind::Allow,
        decision: decision.kind,
        reason: decision.reason.to_owned(),
        matched_rule: decision.rule.map(str::to_owned),
        decision_id,
        policy_version: policy.version().to_owned(),
        expires_at: expires.to_rfc3339_opts(SecondsFormat::Secs, true),
        action: request.action,
        resource: canonical,
        subject,
        token,
        approval: decision.approval.cloned(),
        explanation,
    }))
}

/// What a decision's token says beyond the request.
struct Signing<'d> {
    rule: &'d str,
    audience: &'static str,
    approval: Option<ApprovalClaims>,
}

/// The rule, audience and approval requirements of a decision's token; `None` for a deny,
/// which gets no token.
///
/// An approval token has its own audience, so that no verifier can take it for an allow.
/// A `require_approval` decision without requirements cannot come out of a loaded policy;
/// if one did, it is refused rather than signed with requirements made up here.
fn signed_as<'d>(
    kind: DecisionKind,
    rule: Option<&'d str>,
    approval: Option<&ApprovalClaims>,
) -> Result<Option<Signing<'d>>, ApiError> {
    match (kind, rule, approval) {
        (DecisionKind::Allow, Some(rule), _) => Ok(Some(Signing {
            rule,
            audience: TOKEN_AUDIENCE,
            approval: None,
        })),
        (DecisionKind::RequireApproval, Some(rule), Some(approval)) => Ok(Some(Signing {
            rule,
            audience: APPROVAL_AUDIENCE,
            approval: Some(approval.clone()),
        })),
        (DecisionKind::RequireApproval, _, _) => Err(ApiError::Internal(anyhow::anyhow!(
            "a require_approval decision without a rule or approval requirements"
        ))),
        _ => Ok(None),
    }
}

/// With an API key, the body may repeat the caller's identity and name one of its roles,
/// but never claim anything else.
fn check_claims(
    id: &str,
    roles: &[String],
    context: Option<&warden_protocol::RequestContext>,
) -> Result<(), ApiError> {
    let Some(context) = context else {
        return Ok(());
    };
    if let Some(claimed) = &context.user_id
        && claimed != id
    {
        return Err(ApiError::IdentityMismatch {
            field: "context.userId",
            message: "context.userId does not match the identity of the API key".into(),
        });
    }
    if let Some(role) = &context.role
        && !roles.iter().any(|r| r == role)
    {
        return Err(ApiError::IdentityMismatch {
            field: "context.role",
            message: format!("the identity `{id}` does not have the role claimed in context.role"),
        });
    }
    Ok(())
}

fn validate_action(action: &str) -> Result<(), ApiError> {
    let valid = !action.is_empty()
        && action.len() <= MAX_ACTION_LEN
        && action
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'));
    if valid {
        Ok(())
    } else {
        Err(ApiError::InvalidField {
            field: "action",
            message: format!(
                "action must be 1 to {MAX_ACTION_LEN} characters of letters, digits, `_`, `-`, `.` or `:`"
            ),
        })
    }
}

fn explain_flag(query: Option<&str>) -> Result<bool, ApiError> {
    let mut explain = false;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, "true"));
        if key == "explain" {
            explain = match value {
                "true" | "1" | "" => true,
                "false" | "0" => false,
                _ => {
                    return Err(ApiError::InvalidQuery(
                        "explain must be true or false".into(),
                    ));
                }
            };
        }
    }
    Ok(explain)
}

/// `GET /.well-known/jwks.json`: the keys that verify decision tokens, and the revocation
/// floor `minIat` beside them.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "keys",
    responses((status = 200, description = "JWKS (RFC 7517) of the Ed25519 keys that verify decision tokens, with `minIat` beside `keys`: the earliest `iat` (seconds since the epoch) of a token still honoured, raised by revoking reloads (`POLICY_RELOAD_REVOKES`); 0 when nothing is revoked", body = Object)),
)]
pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    let mut headers = HeaderMap::new();
    // The document carries the revocation floor, which must reach verifiers within
    // seconds: a cache may keep it but must ask again every time.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    (
        headers,
        Json(state.signer().jwks_document(state.policy().min_iat())),
    )
}

/// `GET /healthz`: the process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "The process is up", body = Object)),
)]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: a policy is loaded and keys are ready; reports the mode and any warnings
/// (development mode, ephemeral key, a failed reload).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses((status = 200, description = "Ready, with the mode and any warnings", body = Object)),
)]
pub async fn readyz(State(state): State<AppState>) -> Json<serde_json::Value> {
    let policy = state.policy().current();
    let mut warnings = Vec::new();
    if state.api_keys().is_none() {
        warnings.push(
            "development mode: POLICY_API_KEYS is not set, so callers are not authenticated"
                .to_owned(),
        );
    }
    if state.signer().is_ephemeral() {
        warnings.push(
            "ephemeral signing key: DECISION_SIGNING_KEY_FILE is not set, tokens stop verifying on restart"
                .to_owned(),
        );
    }
    if let Some(failure) = state.policy().last_failure() {
        warnings.push(format!(
            "last policy reload failed, previous policy in force: {failure}"
        ));
    }
    Json(json!({
        "status": "ready",
        "mode": if state.api_keys().is_some() { "api_keys" } else { "development" },
        "policyVersion": policy.version(),
        "rules": policy.rule_count(),
        "signingKeyId": state.signer().kid(),
        "warnings": warnings,
    }))
}

/// Fallback for unknown paths.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// Fallback for a known path with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn explain_flag_accepts_booleans_only() {
        assert!(!explain_flag(None).unwrap());
        assert!(explain_flag(Some("explain=true")).unwrap());
        assert!(explain_flag(Some("a=b&explain")).unwrap());
        assert!(!explain_flag(Some("explain=0")).unwrap());
        assert!(explain_flag(Some("explain=maybe")).is_err());
    }

    #[test]
    fn action_names_are_bounded() {
        assert!(validate_action("restart_pod").is_ok());
        assert!(validate_action("").is_err());
        assert!(validate_action("restart pod").is_err());
        assert!(validate_action(&"a".repeat(129)).is_err());
    }
}
