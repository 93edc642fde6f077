//! The policy service's request and response, and the claims of a decision token.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `iss` of every decision token.
pub const TOKEN_ISSUER: &str = "warden-policy";
/// `aud` of every allowing decision token: only the executor may accept one.
pub const TOKEN_AUDIENCE: &str = "warden-executor";
/// `aud` of every `require_approval` decision token. A different audience on purpose: a
/// verifier that knows only [`TOKEN_AUDIENCE`] refuses such a token outright, so an approval
/// decision can never be run as an allow by an executor that predates approvals.
pub const APPROVAL_AUDIENCE: &str = "warden-executor-approval";

/// Most approvers a rule may require.
pub const MAX_APPROVERS: u32 = 10;
/// Default time an approval request waits for its approvers, in seconds (15 minutes).
pub const DEFAULT_APPROVAL_EXPIRY_SECONDS: u64 = 15 * 60;
/// Longest time an approval request may wait, and longest session grant, in seconds (24 h).
pub const MAX_APPROVAL_SECONDS: u64 = 24 * 60 * 60;

/// `POST /api/v1/policy/evaluate` body. Only `action` and `resource` are required, as
/// the clients in the field send them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(json!({
    "action": "restart_pod", "resource": "pod:api-pod-12345", "type": "self_healing",
    "context": {"userId": "ai-engine", "role": "service",
                "metadata": {"severity": "high", "confidence": 0.93, "automated": true}}
})))]
pub struct PolicyRequest {
    /// The remediation the caller wants to run, e.g. `restart_pod`.
    pub action: String,
    /// The target: a Kubernetes object or scope in one of its three forms
    /// (`namespace/kind/name`, `kind:name`, `namespace:label`), or for an HTTP action
    /// `url:` followed by the absolute URL it calls (see [`crate::Resource`]).
    pub resource: String,
    /// Free-form request class, e.g. `self_healing`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub request_type: Option<String>,
    /// Who asks and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<RequestContext>,
    /// The action's parameters, the same object the client will send as `actionParams`
    /// to the executor. Rules read them as `params.<path>`; when given, the decision's
    /// token (an allow's or an approval's) binds their digest (claim `prm`) and the executor refuses other
    /// parameters. Without them a decision covers any parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub params: Option<Map<String, Value>>,
}

/// The `context` object of a policy request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestContext {
    /// The requester. With API keys it must equal the key's identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The role the requester claims. With API keys it must be one of the principal's roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Facts about the incident (`severity`, `confidence`, ...), matched by rule conditions.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    /// Caller's address as the caller reports it (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// Caller's user agent as the caller reports it (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Any other context fields; conditions can read them as `context.<name>`.
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Map<String, Value>,
}

/// The three outcomes of an evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// The action may run.
    Allow,
    /// The action must not run.
    Deny,
    /// A person must approve first; the executor treats it as not allowed.
    RequireApproval,
}

impl DecisionKind {
    /// The wire spelling (`allow`, `deny`, `require_approval`).
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Allow => "allow",
            DecisionKind::Deny => "deny",
            DecisionKind::RequireApproval => "require_approval",
        }
    }
}

impl std::fmt::Display for DecisionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The policy service's answer. Clients pass it whole to the executor as `policyDecision`;
/// only `token` is trusted there, every other field is informational.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyDecision {
    /// `true` only for [`DecisionKind::Allow`].
    pub allowed: bool,
    /// The outcome.
    pub decision: DecisionKind,
    /// Human explanation: the matched rule's reason, or why nothing matched.
    pub reason: String,
    /// Id of the rule that decided, `null` for the default deny.
    pub matched_rule: Option<String>,
    /// Unique id of this decision (the token's `jti`); the executor consumes it once.
    pub decision_id: String,
    /// Content hash of the policy that decided.
    pub policy_version: String,
    /// When the token stops being accepted (RFC 3339).
    pub expires_at: String,
    /// The action evaluated.
    pub action: String,
    /// The resource evaluated, in canonical form: `namespace/kind/name`, or `url:` and the
    /// canonical URL without its query.
    pub resource: String,
    /// The requester the decision is bound to (the token's `sub`).
    pub subject: String,
    /// Signed decision token (EdDSA JWT), present for `allow` and `require_approval`
    /// (the executor turns the latter into an approval request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// For `require_approval`: how it is approved (the same requirements the token carries
    /// in its `apr` claim, shown here for people and clients; only the token is trusted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalClaims>,
    /// With `?explain=true`: every rule considered and why it matched or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Vec<RuleTrace>>,
}

/// One rule considered during an evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleTrace {
    /// Rule id.
    pub rule: String,
    /// The rule's effect.
    pub effect: DecisionKind,
    /// Whether the rule matched the request.
    pub matched: bool,
    /// For a rule that did not match: the first target or condition that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// Claims of a decision token. The executor accepts a token only if every one of them
/// binds the request it is asked to run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionClaims {
    /// Issuer, always [`TOKEN_ISSUER`].
    pub iss: String,
    /// Audience: [`TOKEN_AUDIENCE`] for an allow, [`APPROVAL_AUDIENCE`] for a
    /// `require_approval` decision (which then carries `apr`).
    pub aud: String,
    /// The requester (`context.userId`, or the API key's identity).
    pub sub: String,
    /// The decision id; single use at the executor.
    pub jti: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Not valid before (seconds since the epoch).
    pub nbf: i64,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// The action allowed.
    pub act: String,
    /// The resource allowed, canonical: `namespace/kind/name` (parts may be `*`), or `url:`
    /// and the canonical URL without its query, which binds scheme, host, port and path
    /// exactly (see [`crate::Resource`]).
    pub res: String,
    /// Content hash of the policy that allowed it.
    pub pv: String,
    /// The rule that allowed it.
    pub rule: String,
    /// [`crate::params_digest`] of the parameters evaluated, when the request carried
    /// `params`: the executor then runs the action only with exactly those. Absent, the
    /// decision binds no parameters (tokens issued before the claim existed included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prm: Option<String>,
    /// Present exactly on `require_approval` tokens (audience [`APPROVAL_AUDIENCE`]): what
    /// the executor must collect before it runs the action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apr: Option<ApprovalClaims>,
}

/// How a `require_approval` decision is approved: the rule's `approval:` block, carried in
/// the token (claim `apr`) so that the executor enforces exactly what the policy said.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApprovalClaims {
    /// Distinct people who must approve (1..=[`MAX_APPROVERS`]).
    pub approvers: u32,
    /// Roles an approver must hold (any one of them); never empty.
    pub roles: Vec<String>,
    /// Seconds an unanswered request waits before it expires.
    pub expires_in: u64,
    /// Whether, and how widely, an approver may grant a session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionRule>,
}

/// The `session:` of an approval rule: an approver may grant a session up to this scope
/// and this long.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionRule {
    /// The widest scope a grant may cover.
    pub scope: GrantScope,
    /// The longest grant, in seconds.
    pub max_ttl: u64,
}

/// What a session grant covers, narrowest first: later requests of the same requester and
/// action on this object, on this kind in the namespace, or on the whole namespace.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum GrantScope {
    /// This object only.
    Object,
    /// Every object of this kind in the namespace.
    Kind,
    /// Every object in the namespace.
    Namespace,
}

impl GrantScope {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantScope::Object => "object",
            GrantScope::Kind => "kind",
            GrantScope::Namespace => "namespace",
        }
    }
}

impl std::str::FromStr for GrantScope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "object" => Ok(GrantScope::Object),
            "kind" => Ok(GrantScope::Kind),
            "namespace" => Ok(GrantScope::Namespace),
            other => Err(format!(
                "unknown grant scope `{other}`; expected object, kind or namespace"
            )),
        }
    }
}

/// The JSON body of every error answer of the policy service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Human-readable message; never contains a secret.
    pub error: String,
    /// Stable machine-readable code, e.g. `invalid_json`, `payload_too_large`.
    pub code: String,
    /// The request field at fault, as a dotted path, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}
