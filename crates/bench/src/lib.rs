//! Inputs for the policy benchmarks (`cargo bench -p warden-bench`).
//!
//! The benchmarks compare Warden's engine with `cedar-policy` on the same rule, and measure
//! Warden on the default policy and on generated policies of up to 10,000 rules
//! ([`warden_policy::synthetic`]). This crate's library only prepares inputs, so that the
//! requests are parsed once, outside the measured loop, for both engines alike.

use warden_policy::Input;
use warden_protocol::{PolicyRequest, RequestContext, Resource};

/// The rule both engines evaluate in the head-to-head benchmark: the AI engine (role
/// `service`) may restart pods when the incident's severity is high or critical.
pub const ONE_RULE_YAML: &str = r#"
version: 1
principals:
  ai-engine: {roles: [service]}
rules:
  - id: allow-ai-restart
    effect: allow
    reason: the AI engine may restart pods in high or critical incidents
    match:
      actions: [restart_pod]
      subjects: {roles: [service]}
    when: metadata.severity in [high, critical]
"#;

/// The same rule in Cedar.
pub const ONE_RULE_CEDAR: &str = r#"
permit(principal in Role::"service", action == Action::"restart_pod", resource)
when { ["high", "critical"].contains(context.severity) };
"#;

/// Cedar entities for [`ONE_RULE_CEDAR`]: the AI engine is a member of the service role.
pub const CEDAR_ENTITIES: &str = r#"[
  {"uid": {"type": "User", "id": "ai-engine"}, "attrs": {}, "parents": [{"type": "Role", "id": "service"}]},
  {"uid": {"type": "Role", "id": "service"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Pod", "id": "production/api-pod-12345"}, "attrs": {}, "parents": []}
]"#;

/// A request parsed into what [`warden_policy::Policy::evaluate`] takes, owning its parts.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The request as sent.
    pub request: PolicyRequest,
    /// Its parsed resource.
    pub resource: Resource,
    /// Subject id.
    pub subject: String,
    /// Subject roles.
    pub roles: Vec<String>,
}

impl Prepared {
    /// Parses `request`, taking the identity as the service does in development mode.
    /// Requests whose resource does not parse are skipped by the caller.
    pub fn new(policy: &warden_policy::Policy, request: PolicyRequest) -> Option<Self> {
        let resource = request.resource.parse().ok()?;
        let (subject, roles) = policy.dev_identity(request.context.as_ref());
        Some(Prepared {
            request,
            resource,
            subject,
            roles,
        })
    }

    /// The evaluation input borrowing from `self`.
    pub fn input(&self) -> Input<'_> {
        Input {
            action: &self.request.action,
            resource: &self.resource,
            request_type: self.request.request_type.as_deref(),
            subject: &self.subject,
            roles: &self.roles,
            context: self.request.context.as_ref(),
            params: self.request.params.as_ref(),
        }
    }
}

/// The seed request of the design notes (`restart_pod` on `pod:api-pod-12345`, severity high).
pub fn seed_request() -> PolicyRequest {
    let mut metadata = serde_json::Map::new();
    metadata.insert("severity".into(), "high".into());
    metadata.insert("confidence".into(), 0.93.into());
    metadata.insert("automated".into(), true.into());
    PolicyRequest {
        action: "restart_pod".into(),
        resource: "pod:api-pod-12345".into(),
        request_type: Some("self_healing".into()),
        context: Some(RequestContext {
            user_id: Some("ai-engine".into()),
            role: Some("service".into()),
            metadata,
            ..RequestContext::default()
        }),
        params: None,
    }
}
