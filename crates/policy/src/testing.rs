//! Policy test files: requests with their expected decisions, kept next to the policy
//! and run by `cargo test`, CI and the service's `test` command (like `opa test` or
//! `cerbos compile`).
//!
//! ```yaml
//! policy: default.yaml          # relative to this file
//! cases:
//!   - name: ai-engine restarts a pod on high severity
//!     request: {action: restart_pod, resource: "pod:api-pod-12345", type: self_healing,
//!               context: {userId: ai-engine, role: service, metadata: {severity: high}}}
//!     expect: {decision: allow, rule: allow-ai-remediation}
//! ```
//!
//! `request` has the shape of the service's evaluate body. The requester is derived as
//! in development mode ([`crate::Policy::dev_identity`]): `context.userId` (or
//! `anonymous`), with `[context.role]` as roles or else the principal's declared roles.
//! `expect.rule` is optional: leave it out to check only the decision, or write
//! `rule: null` to assert the default deny (no rule matched).
//!
//! A `require_approval` expectation may also assert how the action is approved:
//!
//! ```yaml
//!     expect: {decision: require_approval, rule: approve-medium-severity,
//!              approvers: 1, roles: [operator], session: namespace}
//! ```
//!
//! `approvers` is the number of people, `roles` the approver roles (in any order), and
//! `session` the widest grant scope (`object`, `kind`, `namespace`) or `none` for a rule
//! that allows no session. Each is optional and checked only when given.

use std::path::{Path, PathBuf};

use warden_protocol::{ApprovalClaims, DecisionKind, GrantScope, PolicyRequest, Resource};

use crate::compile::check_keys;
use crate::error::{Diagnostics, PolicyErrors};
use crate::yaml::{self, Node, Pos, Value};
use crate::{Input, Policy};

/// The outcome of one test file.
#[derive(Debug, Clone)]
pub struct TestReport {
    /// The policy the cases ran against, resolved relative to the test file.
    pub policy_file: PathBuf,
    /// One result per case, in file order.
    pub cases: Vec<CaseResult>,
}

impl TestReport {
    /// Cases whose decision (and rule, if given) matched the expectation.
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.passed).count()
    }

    /// Cases that did not.
    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }
}

/// The outcome of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    /// The case's `name`.
    pub name: String,
    /// Whether the actual decision met the expectation.
    pub passed: bool,
    /// The expectation, e.g. `allow by allow-ai-remediation` or `deny by default`.
    pub expected: String,
    /// What the policy decided, in the same words.
    pub actual: String,
}

/// What a case expects.
struct Expect {
    decision: DecisionKind,
    /// `None`: not checked; `Some(None)`: the default deny; `Some(Some(id))`: that rule.
    rule: Option<Option<String>>,
    /// Where `rule` was written, to report an id the policy does not have.
    rule_pos: Pos,
    /// The approval requirements asserted, for `require_approval` expectations.
    approval: ExpectApproval,
}

/// The parts of a decision's approval requirements a case asserts; `None` is not checked.
#[derive(Default)]
struct ExpectApproval {
    approvers: Option<u32>,
    /// Sorted, so that the order a test writes them in does not matter.
    roles: Option<Vec<String>>,
    /// `Some(None)`: the rule must allow no session.
    session: Option<Option<GrantScope>>,
}

impl ExpectApproval {
    fn is_empty(&self) -> bool {
        self.approvers.is_none() && self.roles.is_none() && self.session.is_none()
    }

    /// Whether `actual` meets every asserted part (nothing asserted: always).
    fn met_by(&self, actual: Option<&ApprovalClaims>) -> bool {
        if self.is_empty() {
            return true;
        }
        let Some(actual) = actual else {
            return false;
        };
        self.approvers.is_none_or(|n| n == actual.approvers)
            && self
                .roles
                .as_ref()
                .is_none_or(|roles| *roles == sorted(&actual.roles))
            && self
                .session
                .is_none_or(|scope| scope == actual.session.as_ref().map(|s| s.scope))
    }

    /// `approvers 2, roles [a, b], session none`: the asserted parts of `approval`, which
    /// is the expectation itself or the actual requirements.
    fn describe(&self, approval: &ExpectApproval) -> Option<String> {
        let mut parts = Vec::new();
        if self.approvers.is_some()
            && let Some(n) = approval.approvers
        {
            parts.push(format!("approvers {n}"));
        }
        if self.roles.is_some()
            && let Some(roles) = &approval.roles
        {
            parts.push(format!("roles [{}]", roles.join(", ")));
        }
        if self.session.is_some()
            && let Some(scope) = approval.session
        {
            parts.push(format!(
                "session {}",
                scope.map_or("none", GrantScope::as_str)
            ));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

fn sorted(roles: &[String]) -> Vec<String> {
    let mut roles = roles.to_vec();
    roles.sort();
    roles
}

struct Case {
    name: String,
    request: PolicyRequest,
    resource: Resource,
    expect: Expect,
}

/// Loads `tests_path`, then the policy it names, and runs every case.
///
/// Problems with either file (unreadable, invalid YAML, a malformed case, a resource
/// string in none of the resource forms, an expected rule the policy does not have) are
/// returned as errors with their positions; failing cases are not errors but results.
pub fn run_file(tests_path: &Path) -> Result<TestReport, PolicyErrors> {
    let origin = tests_path.display().to_string();
    let source = std::fs::read_to_string(tests_path)
        .map_err(|e| PolicyErrors::single(&origin, format!("cannot read test file: {e}")))?;
    let mut d = Diagnostics::new(&origin);
    let root = match yaml::parse(&source) {
        Ok(root) => root,
        Err((pos, message)) => {
            d.error(pos, format!("invalid YAML: {message}"));
            return Err(d.into_errors());
        }
    };
    let Some(entries) = root.as_map() else {
        d.error(
            root.pos,
            "a test file is a mapping with `policy` and `cases`",
        );
        return Err(d.into_errors());
    };
    check_keys(
        entries,
        &["policy", "description", "cases"],
        "the test file",
        &mut d,
    );

    let policy_file = match yaml::get(entries, "policy").map(|n| (n, n.as_str())) {
        Some((_, Some(name))) => Some(
            tests_path
                .parent()
                .map_or_else(|| PathBuf::from(name), |dir| dir.join(name)),
        ),
        Some((node, None)) => {
            d.error(
                node.pos,
                "`policy` must be the policy file name, relative to this file",
            );
            None
        }
        None => {
            d.error(
                root.pos,
                "missing `policy`: the policy file, relative to this file",
            );
            None
        }
    };
    let cases = match yaml::get(entries, "cases") {
        Some(Node {
            value: Value::Seq(items),
            ..
        }) => items
            .iter()
            .filter_map(|item| read_case(item, &mut d))
            .collect(),
        Some(node) => {
            d.error(node.pos, "`cases` must be a list of test cases");
            Vec::new()
        }
        None => {
            d.error(root.pos, "missing `cases`");
            Vec::new()
        }
    };

    let policy = match &policy_file {
        Some(path) => match Policy::load(path) {
            Ok(policy) => Some(policy),
            Err(errors) => {
                d.extend(errors);
                None
            }
        },
        None => None,
    };
    if let Some(policy) = &policy {
        for case in &cases {
            if let Some(Some(id)) = &case.expect.rule
                && !policy.has_rule(id)
            {
                d.error(
                    case.expect.rule_pos,
                    format!(
                        "case `{}` expects rule `{id}`, which the policy does not have",
                        case.name
                    ),
                );
            }
        }
    }
    let (Some(policy), Some(policy_file), true) = (policy, policy_file, d.is_empty()) else {
        return Err(d.into_errors());
    };
    Ok(TestReport {
        policy_file,
        cases: cases.iter().map(|case| run_case(&policy, case)).collect(),
    })
}

fn read_case(node: &Node, d: &mut Diagnostics) -> Option<Case> {
    let Some(entries) = node.as_map() else {
        d.error(
            node.pos,
            "each case is a mapping with `name`, `request` and `expect`",
        );
        return None;
    };
    check_keys(
        entries,
        &["name", "description", "request", "expect"],
        "a case",
        d,
    );
    let before = d.len();
    let name = match yaml::get(entries, "name").map(|n| (n, n.as_str())) {
        Some((_, Some(name))) => name.to_owned(),
        Some((n, None)) => {
            d.error(n.pos, "`name` must be a string");
            String::new()
        }
        None => {
            d.error(node.pos, "case is missing `name`");
            String::new()
        }
    };
    let request = match yaml::get(entries, "request") {
        Some(r) => read_request(r, d),
        None => {
            d.error(node.pos, format!("case `{name}` is missing `request`"));
            None
        }
    };
    let expect = match yaml::get(entries, "expect") {
        Some(e) => read_expect(e, d),
        None => {
            d.error(node.pos, format!("case `{name}` is missing `expect`"));
            None
        }
    };
    let ((request, resource), expect) = (request?, expect?);
    (d.len() == before).then_some(Case {
        name,
        request,
        resource,
        expect,
    })
}

fn read_request(node: &Node, d: &mut Diagnostics) -> Option<(PolicyRequest, Resource)> {
    let Some(entries) = node.as_map() else {
        d.error(
            node.pos,
            "`request` must be a mapping like the evaluate request body",
        );
        return None;
    };
    // serde would silently ignore a misspelt `contxt`; a test that checks nothing is worse
    // than no test.
    check_keys(
        entries,
        &["action", "resource", "type", "context", "params"],
        "`request`",
        d,
    );
    let request: PolicyRequest = match serde_json::from_value(node.to_json()) {
        Ok(r) => r,
        Err(e) => {
            d.error(node.pos, format!("invalid request: {e}"));
            return None;
        }
    };
    let resource_pos = yaml::get(entries, "resource").map_or(node.pos, |n| n.pos);
    match request.resource.parse::<Resource>() {
        Ok(resource) => Some((request, resource)),
        Err(e) => {
            d.error(resource_pos, e.to_string());
            None
        }
    }
}

fn read_expect(node: &Node, d: &mut Diagnostics) -> Option<Expect> {
    let Some(entries) = node.as_map() else {
        d.error(
            node.pos,
            "`expect` must be a mapping like `{decision: allow, rule: my-rule}`",
        );
        return None;
    };
    check_keys(
        entries,
        &["decision", "rule", "approvers", "roles", "session"],
        "`expect`",
        d,
    );
    let decision = match yaml::get(entries, "decision") {
        Some(n) => match n.as_str() {
            Some("allow") => Some(DecisionKind::Allow),
            Some("deny") => Some(DecisionKind::Deny),
            Some("require_approval") => Some(DecisionKind::RequireApproval),
            _ => {
                d.error(n.pos, "`decision` must be allow, deny or require_approval");
                None
            }
        },
        None => {
            d.error(node.pos, "`expect` is missing `decision`");
            None
        }
    };
    let rule_pos = yaml::get(entries, "rule").map_or(node.pos, |n| n.pos);
    let rule = match yaml::get(entries, "rule") {
        None => None,
        Some(Node {
            value: Value::Null, ..
        }) => Some(None),
        Some(n) => match n.as_str() {
            Some(id) => Some(Some(id.to_owned())),
            None => {
                d.error(
                    n.pos,
                    "`rule` must be a rule id, or null for the default deny",
                );
                return None;
            }
        },
    };
    let approval = read_expect_approval(entries, decision, d)?;
    Some(Expect {
        decision: decision?,
        rule,
        rule_pos,
        approval,
    })
}

/// The `approvers`, `roles` and `session` of an expectation; `None` if one is malformed.
fn read_expect_approval(
    entries: &[(crate::yaml::Key, Node)],
    decision: Option<DecisionKind>,
    d: &mut Diagnostics,
) -> Option<ExpectApproval> {
    let before = d.len();
    let mut out = ExpectApproval::default();
    for key in ["approvers", "roles", "session"] {
        if let (Some(n), Some(kind @ (DecisionKind::Allow | DecisionKind::Deny))) =
            (yaml::get(entries, key), decision)
        {
            d.error(
                n.pos,
                format!(
                    "`{key}` applies only to `decision: require_approval`; this case expects {kind}"
                ),
            );
        }
    }
    if let Some(n) = yaml::get(entries, "approvers") {
        let count = match n.value {
            Value::Int(i) => u32::try_from(i).ok(),
            Value::UInt(u) => u32::try_from(u).ok(),
            _ => None,
        };
        match count {
            Some(count) if count > 0 => out.approvers = Some(count),
            _ => d.error(
                n.pos,
                "`approvers` must be the number of people who approve, e.g. `approvers: 1`",
            ),
        }
    }
    if let Some(n) = yaml::get(entries, "roles") {
        let roles: Option<Vec<String>> = match &n.value {
            Value::Str(role) => Some(vec![role.clone()]),
            Value::Seq(items) if !items.is_empty() => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect(),
            _ => None,
        };
        match roles {
            Some(roles) => out.roles = Some(sorted(&roles)),
            None => d.error(
                n.pos,
                "`roles` must be the approver roles, e.g. `roles: [operator]`",
            ),
        }
    }
    if let Some(n) = yaml::get(entries, "session") {
        match n.as_str() {
            Some("none") => out.session = Some(None),
            Some(text) => match text.parse::<GrantScope>() {
                Ok(scope) => out.session = Some(Some(scope)),
                Err(_) => d.error(
                    n.pos,
                    format!("`session` must be object, kind, namespace or none, found `{text}`"),
                ),
            },
            None => d.error(
                n.pos,
                format!(
                    "`session` must be object, kind, namespace or none, found {}",
                    n.value.kind_name()
                ),
            ),
        }
    }
    (d.len() == before).then_some(out)
}

fn run_case(policy: &Policy, case: &Case) -> CaseResult {
    let context = case.request.context.as_ref();
    let (subject, roles) = policy.dev_identity(context);
    let input = Input {
        action: &case.request.action,
        resource: &case.resource,
        request_type: case.request.request_type.as_deref(),
        subject: &subject,
        roles: &roles,
        context,
        params: case.request.params.as_ref(),
    };
    let decision = policy.evaluate(&input);
    let rule_ok = match &case.expect.rule {
        None => true,
        Some(expected) => expected.as_deref() == decision.rule,
    };
    let asked = &case.expect.approval;
    let mut expected = match &case.expect.rule {
        None => case.expect.decision.to_string(),
        Some(rule) => describe(case.expect.decision, rule.as_deref()),
    };
    let mut actual = describe(decision.kind, decision.rule);
    if let Some(parts) = asked.describe(asked) {
        expected = format!("{expected} ({parts})");
    }
    let actual_approval = decision.approval.map(|a| ExpectApproval {
        approvers: Some(a.approvers),
        roles: Some(sorted(&a.roles)),
        session: Some(a.session.as_ref().map(|s| s.scope)),
    });
    if let Some(parts) = actual_approval.as_ref().and_then(|a| asked.describe(a)) {
        actual = format!("{actual} ({parts})");
    }
    CaseResult {
        name: case.name.clone(),
        passed: decision.kind == case.expect.decision && rule_ok && asked.met_by(decision.approval),
        expected,
        actual,
    }
}

fn describe(kind: DecisionKind, rule: Option<&str>) -> String {
    match rule {
        Some(rule) => format!("{kind} by {rule}"),
        None => format!("{kind} by default"),
    }
}
