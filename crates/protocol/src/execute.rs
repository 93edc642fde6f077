//! The executor's request and response.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /executor/execute` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(json!({
    "actionType": "restart_pod",
    "actionParams": {"namespace": "default", "podName": "api-pod-12345"},
    "requestedBy": "ai-engine",
    "policyDecision": {"allowed": true, "decision": "allow", "token": "eyJhbGciOiJFZERTQSJ9.e30.c2ln"},
    "signature": "3f8a9c0e5b7d2a4f6e1c8b9d0a7f5e3c2b1d4a6f8e9c0b7a5d3f1e2c4b6a8d9f"
}), json!({
    "actionType": "get_pod_logs",
    "actionParams": {"namespace": "default", "podName": "api-pod-12345", "tailLines": 100},
    "requestedBy": "ai-engine",
    "policyDecision": {"allowed": true, "decision": "allow", "token": "eyJhbGciOiJFZERTQSJ9.e30.c2ln"},
    "signature": "3f8a9c0e5b7d2a4f6e1c8b9d0a7f5e3c2b1d4a6f8e9c0b7a5d3f1e2c4b6a8d9f"
}), json!({
    "actionType": "list_events",
    "actionParams": {"namespace": "default", "kind": "Pod", "name": "api-pod-12345"},
    "requestedBy": "ai-engine",
    "policyDecision": {"allowed": true, "decision": "allow", "token": "eyJhbGciOiJFZERTQSJ9.e30.c2ln"},
    "signature": "3f8a9c0e5b7d2a4f6e1c8b9d0a7f5e3c2b1d4a6f8e9c0b7a5d3f1e2c4b6a8d9f"
}), json!({
    "actionType": "get_workload_status",
    "actionParams": {"namespace": "production", "kind": "deployment", "name": "api"},
    "requestedBy": "ai-engine",
    "policyDecision": {"allowed": true, "decision": "allow", "token": "eyJhbGciOiJFZERTQSJ9.e30.c2ln"},
    "signature": "3f8a9c0e5b7d2a4f6e1c8b9d0a7f5e3c2b1d4a6f8e9c0b7a5d3f1e2c4b6a8d9f"
}), json!({
    "actionType": "call_api",
    "actionParams": {"url": "https://api.internal.example.com/v1/tickets", "method": "POST",
                     "ticket": {"title": "disk full on db-0"}},
    "requestedBy": "ai-engine",
    "policyDecision": {"allowed": true, "decision": "allow", "token": "eyJhbGciOiJFZERTQSJ9.e30.c2ln"},
    "signature": "3f8a9c0e5b7d2a4f6e1c8b9d0a7f5e3c2b1d4a6f8e9c0b7a5d3f1e2c4b6a8d9f"
})))]
pub struct ExecuteRequest {
    /// Which action to run, e.g. `restart_pod`, the read `get_pod_logs`, or a declarative
    /// HTTP action of `EXECUTOR_ACTIONS_FILE` such as `call_api`.
    pub action_type: String,
    /// The action's parameters; each action defines their shape.
    #[schema(value_type = Object)]
    pub action_params: Value,
    /// The requester; must equal the decision token's `sub`.
    pub requested_by: String,
    /// The policy service's answer, passed through whole; its `token` is what counts.
    #[schema(value_type = Object)]
    pub policy_decision: Value,
    /// Hex HMAC-SHA256 over `{actionType, actionParams, requestedBy}` as the client
    /// serialised it.
    pub signature: String,
    /// Run every check and a server-side dry run, change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// `POST /executor/execute` answer, for success and failure alike.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecuteResponse {
    /// Whether the action ran (or the dry run validated).
    pub success: bool,
    /// The audit row of this attempt — for a replay, the row of the attempt that consumed
    /// the decision. `null` only when no row could be written.
    pub audit_id: Option<String>,
    /// What changed, on success; for a read (`get_pod_logs`, `list_events`,
    /// `get_workload_status`), what was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    /// Human message, on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Stable machine code, on failure (`bad_signature`, `replay`, `budget_exhausted`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The request field at fault, for validation errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Whether this was a dry run.
    #[serde(default)]
    pub dry_run: bool,
    /// `awaiting_approval` on a 202: the decision needs people, and an approval request
    /// was made (`approvalId`) that expires at `expiresAt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The approval request made (202), or the approval whose execution this is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<String>,
    /// When the approval request expires unless decided (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// The session grant that let a `require_approval` decision run at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
}

/// The actions every executor implements, sorted: what `policy-service check` checks rule
/// actions against unless it is given another executor's list (`executor-service actions`).
/// The executor's registry is tested to hold exactly these.
pub const BUILTIN_ACTIONS: [&str; 7] = [
    "get_pod_logs",
    "get_workload_status",
    "list_events",
    "restart_pod",
    "rollout_restart_deployment",
    "scale_deployment",
    "scale_statefulset",
];
