//! Shared helpers for the integration tests: building policies and requests, and a
//! `decide` that also checks `explain` against `evaluate` on every call.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::PathBuf;

use serde_json::Value;
use warden_policy::{Input, Policy, PolicyError};
use warden_protocol::{DecisionKind, PolicyRequest, RequestContext, Resource};

#[allow(unused_imports)]
pub use DecisionKind::{Allow, Deny, RequireApproval};

/// Parses a complete policy, failing the test with every error if it does not load.
pub fn policy(source: &str) -> Policy {
    Policy::parse(source, "test.yaml").unwrap_or_else(|e| panic!("policy should load:\n{e}"))
}

/// A policy with `version: 1`, no principals, and `rules` given as a YAML list (written
/// at any indentation; the common indentation is removed).
pub fn with_rules(rules: &str) -> Policy {
    policy(&format!("version: 1\nrules:\n{}", dedent(rules)))
}

/// The load errors of a complete policy file named `t.yaml`.
pub fn errors(source: &str) -> Vec<PolicyError> {
    match Policy::parse(source, "t.yaml") {
        Ok(_) => panic!("policy should not load:\n{source}"),
        Err(e) => e.0,
    }
}

/// Joins lines with `\n`, so a test can count lines by index (line = index + 1).
pub fn lines(lines: &[&str]) -> String {
    lines.join("\n") + "\n"
}

/// Asserts that `errors` contains one at `line:column` in rule `rule` whose message
/// contains `needle`.
#[track_caller]
pub fn assert_error(
    errors: &[PolicyError],
    line: u64,
    column: u64,
    rule: Option<&str>,
    needle: &str,
) {
    let found = errors.iter().any(|e| {
        e.line == Some(line)
            && e.column == Some(column)
            && e.rule.as_deref() == rule
            && e.message.contains(needle)
    });
    assert!(
        found,
        "expected an error at {line}:{column} in rule {rule:?} containing {needle:?}; got:\n{}",
        errors
            .iter()
            .map(|e| format!("  {e}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Removes the common indentation. The first line may start right after the opening
/// quote (`"- {id: a, ..}` followed by indented lines); it then counts as indented like
/// the rest.
fn dedent(text: &str) -> String {
    let mut all = text.lines();
    let first = all.next().unwrap_or("");
    let rest: Vec<&str> = all.collect();
    let indent = rest
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out: Vec<&str> = Vec::new();
    if !first.trim().is_empty() {
        out.push(first.trim());
    }
    out.extend(
        rest.iter()
            .map(|l| l.get(indent..).unwrap_or("").trim_end()),
    );
    out.join("\n") + "\n"
}

/// A request under construction. Defaults: subject `ai-engine` with role `service`,
/// no type, no context.
#[derive(Debug, Clone)]
pub struct Req {
    pub action: String,
    pub resource: Resource,
    pub request_type: Option<String>,
    pub subject: String,
    pub roles: Vec<String>,
    pub context: Option<RequestContext>,
    pub params: Option<serde_json::Map<String, Value>>,
}

impl Req {
    /// `resource` in any of the request forms, `url:` included.
    pub fn new(action: &str, resource: &str) -> Req {
        Req {
            action: action.to_owned(),
            resource: resource
                .parse()
                .unwrap_or_else(|e| panic!("bad test resource {resource}: {e}")),
            request_type: None,
            subject: "ai-engine".to_owned(),
            roles: vec!["service".to_owned()],
            context: None,
            params: None,
        }
    }

    /// Sets the action's parameters (`params`) from a JSON object.
    pub fn params(mut self, params: Value) -> Req {
        let Value::Object(map) = params else {
            panic!("params must be a JSON object");
        };
        self.params = Some(map);
        self
    }

    pub fn typ(mut self, t: &str) -> Req {
        self.request_type = Some(t.to_owned());
        self
    }

    pub fn subject(mut self, id: &str, roles: &[&str]) -> Req {
        self.subject = id.to_owned();
        self.roles = roles.iter().map(|r| (*r).to_owned()).collect();
        self
    }

    /// Sets `context.metadata` from a JSON object.
    pub fn metadata(mut self, metadata: Value) -> Req {
        let Value::Object(map) = metadata else {
            panic!("metadata must be a JSON object");
        };
        self.context
            .get_or_insert_with(RequestContext::default)
            .metadata = map;
        self
    }

    /// Sets the whole context from its wire JSON (camelCase keys).
    pub fn context(mut self, context: Value) -> Req {
        self.context = Some(serde_json::from_value(context).unwrap());
        self
    }

    pub fn input(&self) -> Input<'_> {
        Input {
            action: &self.action,
            resource: &self.resource,
            request_type: self.request_type.as_deref(),
            subject: &self.subject,
            roles: &self.roles,
            context: self.context.as_ref(),
            params: self.params.as_ref(),
        }
    }
}

/// Evaluates `req`, asserts `explain` gives the same decision, and returns the kind and
/// the matched rule id.
#[track_caller]
pub fn decide(policy: &Policy, req: &Req) -> (DecisionKind, Option<String>) {
    let input = req.input();
    let decision = policy.evaluate(&input);
    let (explained, trace) = policy.explain(&input);
    assert_eq!(
        decision, explained,
        "evaluate and explain disagree for {req:?}"
    );
    assert_eq!(trace.len(), policy.rule_count());
    (decision.kind, decision.rule.map(str::to_owned))
}

/// The `failed` text of rule `id` in the explain trace of `req`.
#[track_caller]
pub fn failed(policy: &Policy, req: &Req, id: &str) -> Option<String> {
    let (_, trace) = policy.explain(&req.input());
    trace
        .into_iter()
        .find(|t| t.rule == id)
        .unwrap_or_else(|| panic!("no rule {id} in trace"))
        .failed
}

/// `policies/` at the workspace root.
pub fn policies_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

/// A fresh empty directory for files a test writes.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("warden-policy-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `f` on the input the service builds for a wire `request` in development mode (the
/// identity from its context).
pub fn with_wire_input<T>(
    p: &Policy,
    request: &PolicyRequest,
    f: impl FnOnce(&Input<'_>) -> T,
) -> T {
    let resource: Resource = request.resource.parse().unwrap();
    let (subject, roles) = p.dev_identity(request.context.as_ref());
    let input = Input {
        action: &request.action,
        resource: &resource,
        request_type: request.request_type.as_deref(),
        subject: &subject,
        roles: &roles,
        context: request.context.as_ref(),
        params: request.params.as_ref(),
    };
    f(&input)
}
