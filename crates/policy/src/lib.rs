//! Warden's policy language: which remediations an AI engine (or a person) may run,
//! on what, and when.
//!
//! A policy is one YAML file of rules. Each request — an action on a resource by a
//! requester, with context — gets one of three decisions: `allow`, `deny` or
//! `require_approval`. Nothing is allowed unless a rule allows it, and any matching
//! `deny` rule wins.
//!
//! ```yaml
//! version: 1
//!
//! principals:                  # known requesters and their roles (API-key identities)
//!   ai-engine: {roles: [service]}
//!   ops: {roles: [operator]}
//!
//! rules:
//!   - id: deny-system-namespaces
//!     effect: deny
//!     reason: System namespaces are never changed by automation
//!     match:
//!       resources: [kube-system, kube-public, kube-node-lease]
//!
//!   - id: approve-medium-severity
//!     effect: require_approval
//!     reason: Medium-severity incidents need a person to agree
//!     match:
//!       actions: [restart_pod, scale_deployment]
//!       subjects: {roles: [service]}
//!     when: metadata.severity == medium
//!     approval:                # who approves, and for how long the request waits
//!       approvers: 1
//!       roles: [operator]
//!       expires: 15m
//!       session: {scope: namespace, maxTtl: 1h}
//!
//!   - id: allow-ai-remediation
//!     effect: allow
//!     reason: The AI engine may restart pods and scale deployments on serious incidents
//!     match:
//!       actions: [restart_pod, "scale_*"]
//!       types: self_healing
//!       subjects: {users: [ai-engine], roles: [service]}
//!     when:
//!       all:
//!         - metadata.severity in [high, critical]
//!         - {field: metadata.confidence, op: ">=", value: 0.8}
//!         - not: metadata.automated == false
//! ```
//!
//! # Top level
//!
//! | key | required | meaning |
//! |---|---|---|
//! | `version` | yes | always `1` |
//! | `description` | no | free text |
//! | `principals` | no | `id: {roles: [..], description: ..}`; the service gives an API-key caller these roles, and development mode uses them when a request names no role |
//! | `rules` | yes | the rules; an empty list denies everything |
//!
//! # Rules
//!
//! | key | required | meaning |
//! |---|---|---|
//! | `id` | yes | unique, no spaces; reported as `matchedRule` and carried in decision tokens |
//! | `effect` | yes | `allow`, `deny` or `require_approval` |
//! | `reason` | yes | the text returned with the decision |
//! | `description` | no | notes for policy authors |
//! | `match` | no | targets, below; an absent key matches anything |
//! | `requireParams` | no | `true`: the request must carry `params` (below); default `false` |
//! | `when` | no | a condition, below |
//! | `approval` | no | `require_approval` rules only: how the action is approved, below |
//!
//! A rule *matches* a request when every target given matches and its condition holds.
//!
//! ## Approvals (`approval`)
//!
//! A `require_approval` decision is not a refusal: the policy service signs it like an
//! allow (audience `warden-executor-approval`, claim `apr`), and the executor turns it
//! into an approval request that people approve or deny. The rule's `approval:` block
//! says what that takes; every key is optional, and a rule without the block gets all the
//! defaults.
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `approvers` | `1` | distinct people who must approve, 1 to 10 |
//! | `roles` | `[operator]` | an approver must hold one of these roles; exact names, not globs; never empty |
//! | `expires` | `15m` | an unanswered request expires after this long; at most `24h` |
//! | `session` | none | `{scope: .., maxTtl: ..}`: an approver may also grant a session, below |
//!
//! A session lets later requests of the same requester and action skip the approval
//! while it lasts. `scope` is the widest thing a grant may cover: `object` (this object),
//! `kind` (every object of this kind in the namespace) or `namespace` (every object in
//! it); `maxTtl` is the longest grant, at most `24h`. Both are required.
//!
//! Durations are hours, minutes and seconds in that order, each at most once: `90s`,
//! `15m`, `1h`, `1h30m`; zero and bare numbers are errors. An `approval:` block on an
//! `allow` or `deny` rule is an error, since nothing would read it.
//!
//! ## Parameters (`params`)
//!
//! A request may carry the action's parameters as `params`, the same object the client
//! then sends the executor as `actionParams` (e.g. `{namespace, deploymentName,
//! replicas}`). Conditions read them as `params.<path>`. What a decision covers depends
//! on whether they were given:
//!
//! - **with `params`**, the token of an `allow` or `require_approval` decision binds
//!   their digest, and the executor runs the action only with exactly those parameters;
//! - **without**, the decision covers *any* parameters for that action, resource and
//!   requester, and every `params.*` condition reads a missing field (so it fails closed,
//!   below).
//!
//! `requireParams: true` makes a rule read a request without `params` the same fail-closed
//! way: an `allow` or `require_approval` rule does **not** match it, a `deny` rule
//! **does**. Put it on allow rules whose conditions look at the parameters, so that a
//! client cannot pass a `params.replicas == 0` check by leaving `params` out.
//!
//! # Targets (`match`)
//!
//! Every value is a string or a list of strings; a list matches if any entry does.
//! Strings are globs: `*` matches any run of characters, `?` exactly one character,
//! everything else is literal.
//!
//! - `actions`: the request's `action`, e.g. `[restart_pod, "scale_*"]`.
//! - `types`: the request's `type`, e.g. `self_healing`.
//! - `subjects`: `{users: [..], roles: [..]}`. `users` match the requester's id;
//!   `roles` hold if the requester has any of them. Given both, both must hold.
//! - `resources`: patterns `namespace/kind/name`, one glob per part (`*` never spans a
//!   `/`). Shorter forms pad with `*`: `staging` is `staging/*/*`, `prod/deployment` is
//!   `prod/deployment/*`. Kind literals are normalised like requests (`deploy`,
//!   `Deployments` → `deployment`). For HTTP actions, `url:` patterns match URLs (below).
//!   An object pattern never matches a URL and a URL pattern never matches an object, for
//!   every effect: a deny rule whose `resources` are all Kubernetes patterns (`"*"`
//!   included) does not apply to a URL request. A rule without `resources` matches any
//!   resource, URLs included.
//!
//! ## Resources in requests, and wide requests
//!
//! Requests name resources in four forms (see [`warden_protocol::Resource`]); the three
//! Kubernetes forms are parsed to `namespace/kind/name`:
//!
//! | request | means | matched as |
//! |---|---|---|
//! | `production/deployment/api` | that object | `production/deployment/api` |
//! | `pod:api-pod-12345` | that object in `default` | `default/pod/api-pod-12345` |
//! | `production:resource` | the whole namespace | `production/*/*` |
//! | `url:https://api.internal.example.com/v1/tickets?id=7` | the URL an HTTP action calls | `url:https://api.internal.example.com/v1/tickets` (canonical, without the query) |
//!
//! A string starting with `url:` is always a URL; a namespace called `url` is written
//! `url/*/*`. Decisions and their tokens carry the canonical form (the `resource` of the
//! answer, the token's `res`).
//!
//! A `*` part in a request means "every value". Matching is one-sided on purpose:
//!
//! - `allow` and `require_approval` rules must **cover** the request: a `*` part is
//!   covered only by a pattern part that is exactly `*`. `production/deployment/*` does
//!   not allow `production:resource`; `"*"` or `production` does.
//! - `deny` rules need only **intersect** it: a `*` part meets every pattern. A deny on
//!   `kube-system` denies `*/deployment/api`, which includes kube-system.
//!
//! So a namespace-wide request is never allowed by a narrow allow rule, and is denied by
//! any deny rule inside its scope. The same holds for a request without a `type`: an
//! allow rule with `types` matches it only if one of its types is `*`, a deny rule with
//! `types` always does.
//!
//! ## URLs
//!
//! A URL pattern is `url:` and a URL prefix, `url:<scheme>://<host>[:port][/path]`,
//! compared part by part with the request's canonical URL (see
//! [`warden_protocol::AllowEntry`]), never as text, so `https://api.internal.com` does
//! not match `https://api.internal.com.evil.com` nor `https://api.internal.com@evil.com`
//! (the latter is refused outright):
//!
//! | part | pattern | matches |
//! |---|---|---|
//! | scheme | `http` or `https` | the same scheme only |
//! | host | `api.internal.example.com` | exactly that host (case, IDNA and a trailing dot normalised); **not** its subdomains |
//! | host | `*.internal.example.com` | every host under the domain, at any depth, on label boundaries (`a.internal.example.com`, `a.b.internal.example.com`); **not** `internal.example.com` itself nor `evilinternal.example.com` |
//! | host | `10.0.0.7`, `[fd00::7]` | exactly that address; `*.` never precedes an IP |
//! | port | `:8443`, or none | that port; none is the scheme's default (443, 80) |
//! | path | `/v1/` or `/v1` | `/v1` and every path under it on segment boundaries (`/v1/tickets`); not `/v10`; none or `/` is every path |
//!
//! The domain hierarchy is explicit: a rule for `internal.example.com` covers its
//! subdomains only when it says so with `*.`, and `*.internal.example.com` needs the
//! bare domain listed beside it to cover that too:
//! `resources: ["url:https://internal.example.com/", "url:https://*.internal.example.com/"]`.
//! The query is never matched (it is part of the action's parameters, bound by `prm`).
//! A URL is one exact target, so allow, approval and deny rules read it alike. Patterns
//! are checked at load time: no query, fragment, user information or `.`/`..` segment,
//! and no link-local, metadata or reserved IP.
//!
//! # Conditions (`when`)
//!
//! A condition is one of:
//!
//! - a string `"<field> <operator> <value>"`, e.g. `metadata.severity in [high, critical]`.
//!   The value is read as YAML, so `0.8` is a number, `true` a boolean, `[a, b]` a list
//!   and `"a b"` a string;
//! - the same as a mapping: `{field: metadata.confidence, op: ">=", value: 0.8}`;
//! - `{all: [..]}` (every one holds), `{any: [..]}` (at least one holds),
//!   `{not: <condition>}`; a plain list is `all`.
//!
//! Inside a flow collection (`[..]` or `{..}`), YAML ends a plain string at `,`, `[`,
//! `]`, `{` or `}`, so quote conditions that contain them:
//! `{all: ["metadata.severity in [high, critical]", metadata.confidence >= 0.8]}`.
//! Booleans are YAML 1.2's `true` / `false` only: `yes`, `no`, `on` and `off` are
//! strings, as they are in the JSON requests conditions are compared with.
//!
//! Fields:
//!
//! | field | value |
//! |---|---|
//! | `action`, `type` | the request's action and type |
//! | `resource.namespace`, `resource.kind`, `resource.name` | parts of a Kubernetes resource; a `*` part has no single value (see errors below); missing for a URL |
//! | `resource.url` | a URL resource's canonical URL without its query (`https://api.example.com/v1/tickets`); missing for a Kubernetes resource |
//! | `resource.host` | a URL resource's host as the canonical URL writes it: lowercase ASCII (IDNA punycode), no trailing dot, an IPv6 address in brackets; a literal in another form is a load error; missing for a Kubernetes resource |
//! | `resource.path` | a URL resource's normalised path, starting with `/`; missing for a Kubernetes resource |
//! | `subject.id` | the authenticated requester (in development mode `context.userId`) |
//! | `subject.roles` | the requester's roles, a list |
//! | `context.userId`, `context.role`, `context.ipAddress`, `context.userAgent` | as sent by the client |
//! | `context.metadata.<path>`, or `metadata.<path>` | a dotted path into the metadata JSON (`metadata.incident.id`, `metadata.pods.0`) |
//! | `context.<name>.<path>` | any other context field |
//! | `params.<path>` | a dotted path into the request's `params`, the action's parameters (`params.replicas`) |
//!
//! Operators:
//!
//! | operator | value | true when |
//! |---|---|---|
//! | `==`, `!=` | string, number, boolean | equal / not equal; different types are simply not equal |
//! | `in`, `not in` | non-empty list | equal to one of the list / to none |
//! | `<`, `<=`, `>`, `>=` | number or string | numbers compare as numbers (`10 > 9`, `1 == 1.0`), strings by bytes; anything else is a type error |
//! | `exists` | none, `true` or `false` | the field is present (not `null`, not a `*` resource part); `subject.roles` exists if non-empty |
//! | `matches` | glob string | the string matches the glob |
//!
//! A list-valued field (`subject.roles`, or a JSON array) satisfies `==`, `in` and
//! `matches` if any element does, and `!=` / `not in` if none does; ordering a list is
//! a type error.
//!
//! ## Errors fail closed
//!
//! A condition that reads a missing field (or `null`, or a `*` resource part) or
//! compares incompatible types is neither true nor false: it is an **error**, and an
//! error anywhere inside `all`, `any` or `not` makes the whole condition an error. Then:
//!
//! - an `allow` or `require_approval` rule does **not** match;
//! - a `deny` rule **does** match.
//!
//! A request that omits `metadata.severity` is therefore never allowed by a rule that
//! looks at severity, and never slips past a deny rule that does. `exists` never errors,
//! so write `metadata.x exists false` to test for absence. The explain trace says so in
//! `failed`, naming the condition.
//!
//! # Decisions
//!
//! 1. Any matching `deny` rule wins; the first in the file is `matchedRule`.
//! 2. Else the first matching `require_approval` rule.
//! 3. Else the first matching `allow` rule.
//! 4. Else deny by default, with no `matchedRule` and a reason naming the action when
//!    the policy mentions it (and, for a wide request, the covering rule it lacks).
//!
//! Order in the file therefore only chooses which rule is reported among rules of the
//! same effect; a deny can never be overridden by moving an allow above it.
//!
//! # Load-time checks
//!
//! [`Policy::parse`] reports every problem at once, each as
//! ``file:line:column: rule `id`: message``: YAML syntax, unknown or duplicate keys,
//! missing `id`/`effect`/`reason`, duplicate rule ids, unknown effects, fields or
//! operators, operands that do not fit the operator (`in` without a list, ordering a
//! boolean), empty lists, malformed resource patterns (`url:` ones with the refusal's
//! code), `resource.host` literals not in canonical form, and `approval:` blocks with bad
//! values or on rules that are not `require_approval`.
//!
//! # Tests
//!
//! A policy ships with a test file of requests and expected decisions; see [`testing`].
//!
//! # Layout
//!
//! - `lib.rs`: this reference, [`Policy`] (load, evaluate, explain) and its inputs.
//! - `error.rs`: [`PolicyError`] / [`PolicyErrors`] with file, line, column and rule.
//! - `yaml.rs`: the YAML tree with positions that every check reports from.
//! - `compile.rs`: policy file → checked rules (top level, principals, rules, targets).
//! - `approval.rs`: a rule's `approval:` block and its durations.
//! - `cond/`: `when:` conditions. `mod.rs`: the condition tree (fields, operators,
//!   literals); `eval.rs`: three-valued evaluation; `compile.rs`: the structured YAML forms
//!   and the checks of each leaf; `shorthand.rs`: the `<field> <op> [<value>]` form.
//! - `glob.rs`: the glob matcher.
//! - `rule.rs`: a compiled rule and `Rule::verdict`, the one matching function.
//! - `index.rs`: the action/namespace index that keeps `evaluate` independent of size.
//! - [`testing`]: test files. `synthetic`: large generated policies for benchmarks.

mod actions;
mod approval;
mod compile;
mod cond;
mod error;
mod glob;
mod index;
mod rule;
#[doc(hidden)]
pub mod synthetic;
pub mod testing;
mod yaml;

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use warden_protocol::{ApprovalClaims, DecisionKind, RequestContext, Resource, RuleTrace};

pub use error::{PolicyError, PolicyErrors};

use index::Index;
use rule::Rule;

/// The requester id in development mode when the request names none.
const ANONYMOUS: &str = "anonymous";

const DEFAULT_REASON: &str =
    "no rule allows this action for this resource, requester and context (default deny)";
const DEFAULT_REASON_WIDE: &str = "no rule allows this action on the whole requested scope \
     (default deny); a `*` part of a request is covered only by a pattern part that is exactly `*`";

/// A loaded, checked and indexed policy. Immutable, so one instance can serve every
/// thread; reloads build a new one.
///
/// ```
/// use warden_policy::{Input, Policy};
/// use warden_protocol::{DecisionKind, Resource};
///
/// let policy = Policy::parse(
///     "version: 1
/// rules:
///   - id: allow-restarts
///     effect: allow
///     reason: pods may be restarted
///     match: {actions: [restart_pod], resources: [\"*/pod\"]}
/// ",
///     "inline.yaml",
/// )?;
/// let resource: Resource = "pod:api-pod-12345".parse()?;
/// let roles = ["service".to_owned()];
/// let input = Input {
///     action: "restart_pod",
///     resource: &resource,
///     request_type: None,
///     subject: "ai-engine",
///     roles: &roles,
///     context: None,
///     params: None,
/// };
///
/// let decision = policy.evaluate(&input);
/// assert_eq!(decision.kind, DecisionKind::Allow);
/// assert_eq!(decision.rule, Some("allow-restarts"));
/// assert_eq!(policy.explain(&input).0, decision);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Policy {
    version: String,
    rules: Vec<Rule>,
    principals: HashMap<String, Vec<String>>,
    index: Index,
    action_refs: Vec<actions::ActionRef>,
    known_actions: Option<Vec<String>>,
}

/// One request as the policy sees it. Borrowed, so evaluating allocates nothing.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The remediation asked for, e.g. `restart_pod`.
    pub action: &'a str,
    /// The target, already parsed: a Kubernetes object or scope, or a URL.
    pub resource: &'a Resource,
    /// The request's free-form `type`, e.g. `self_healing`.
    pub request_type: Option<&'a str>,
    /// The requester: the authenticated identity, or in development mode
    /// `context.userId` (see [`Policy::dev_identity`]).
    pub subject: &'a str,
    /// The requester's roles.
    pub roles: &'a [String],
    /// The request's context, read by `context.*` and `metadata.*` fields.
    pub context: Option<&'a RequestContext>,
    /// The action's parameters (the request's `params`), read by `params.*` fields and
    /// required by rules with `requireParams: true`.
    pub params: Option<&'a Map<String, Value>>,
}

/// The outcome of an evaluation, borrowing its texts from the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision<'p> {
    /// Allow, deny or require approval.
    pub kind: DecisionKind,
    /// The rule that decided; `None` for the default deny.
    pub rule: Option<&'p str>,
    /// The rule's reason, or why nothing matched.
    pub reason: &'p str,
    /// How the action is approved: `Some` exactly for [`DecisionKind::RequireApproval`]
    /// (the rule's `approval:` block, or its defaults), `None` for allow and deny.
    pub approval: Option<&'p ApprovalClaims>,
}

impl Policy {
    /// Parses and checks a policy. `origin` names the file in error messages.
    pub fn parse(source: &str, origin: &str) -> Result<Policy, PolicyErrors> {
        let compiled = compile::compile(source, origin)?;
        let index = Index::build(&compiled.rules);
        Ok(Policy {
            version: format!("sha256:{}", hex::encode(Sha256::digest(source.as_bytes()))),
            rules: compiled.rules,
            principals: compiled.principals,
            index,
            action_refs: compiled.action_refs,
            known_actions: compiled.known_actions,
        })
    }

    /// The actions the policy declares it knows (`knownActions`), if it does; its rules
    /// were checked against them when it loaded.
    pub fn known_actions(&self) -> Option<&[String]> {
        self.known_actions.as_deref()
    }

    /// Checks every action a rule names against `known`, the actions an executor
    /// implements: a literal that is not among them (with the closest name), or a pattern
    /// that matches none of them, is an error. `file` names the policy in the errors.
    pub fn check_actions(&self, known: &[&str], file: &str) -> Result<(), PolicyErrors> {
        let errors = actions::unknown(&self.action_refs, known, file);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(PolicyErrors(errors))
        }
    }

    /// Reads and parses a policy file; errors name the file as `path` is written.
    pub fn load(path: &Path) -> Result<Policy, PolicyErrors> {
        let origin = path.display().to_string();
        let source = std::fs::read_to_string(path)
            .map_err(|e| PolicyErrors::single(&origin, format!("cannot read policy file: {e}")))?;
        Policy::parse(&source, &origin)
    }

    /// `sha256:<hex>` of the source text: identical files have identical versions, so
    /// a decision token names exactly the rules that made it.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Number of rules.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// The roles the policy declares for principal `id`, if it declares the principal.
    pub fn principal_roles(&self, id: &str) -> Option<&[String]> {
        self.principals.get(id).map(Vec::as_slice)
    }

    /// The requester in development mode and in test files, where nobody
    /// authenticates: `context.userId` (or `anonymous`); roles `[context.role]` if the
    /// request names one, else the principal's declared roles, else none.
    pub fn dev_identity(&self, context: Option<&RequestContext>) -> (String, Vec<String>) {
        let subject = context
            .and_then(|c| c.user_id.as_deref())
            .filter(|id| !id.is_empty())
            .unwrap_or(ANONYMOUS)
            .to_owned();
        let roles = match context.and_then(|c| c.role.as_ref()) {
            Some(role) => vec![role.clone()],
            None => self
                .principal_roles(&subject)
                .map(<[String]>::to_vec)
                .unwrap_or_default(),
        };
        (subject, roles)
    }

    /// Decides a request. Uses the index, so the cost depends on the rules that could
    /// apply to this action and namespace, not on the size of the policy; it does not
    /// allocate.
    pub fn evaluate<'p>(&'p self, input: &Input<'_>) -> Decision<'p> {
        match self
            .index
            .decide(&self.rules, input)
            .and_then(|i| self.rules.get(i))
        {
            Some(rule) => decided(rule),
            None => self.default_deny(input),
        }
    }

    /// Decides a request by checking every rule in file order, and reports for each
    /// whether it matched and, if not, the first target or condition that failed. Gives
    /// the same decision as [`Policy::evaluate`]; slower, for `?explain=true` and
    /// debugging.
    pub fn explain<'p>(&'p self, input: &Input<'_>) -> (Decision<'p>, Vec<RuleTrace>) {
        let mut trace = Vec::with_capacity(self.rules.len());
        let decision = self.scan(input, |rule, verdict| {
            trace.push(RuleTrace {
                rule: rule.id.clone(),
                effect: rule.effect,
                matched: verdict.matched(),
                failed: rule.describe(verdict, input),
            });
        });
        (decision, trace)
    }

    /// [`Policy::explain`]'s decision without building the trace: every rule checked in
    /// file order, no index. For tests and benchmarks that compare against the index.
    #[doc(hidden)]
    pub fn evaluate_unindexed<'p>(&'p self, input: &Input<'_>) -> Decision<'p> {
        self.scan(input, |_, _| {})
    }

    /// Checks every rule in file order, reporting each verdict to `seen`, and combines
    /// the first match of each effect by precedence.
    fn scan<'p>(
        &'p self,
        input: &Input<'_>,
        mut seen: impl FnMut(&'p Rule, rule::Verdict<'p>),
    ) -> Decision<'p> {
        // First matching rule per effect, in precedence order: deny, approval, allow.
        let mut first: [Option<&Rule>; 3] = [None; 3];
        for rule in &self.rules {
            let verdict = rule.verdict(input);
            let slot = match rule.effect {
                DecisionKind::Deny => 0,
                DecisionKind::RequireApproval => 1,
                DecisionKind::Allow => 2,
            };
            if verdict.matched()
                && let Some(s @ None) = first.get_mut(slot)
            {
                *s = Some(rule);
            }
            seen(rule, verdict);
        }
        match first.iter().flatten().next() {
            Some(rule) => decided(rule),
            None => self.default_deny(input),
        }
    }

    /// Whether the policy has a rule with this id.
    pub(crate) fn has_rule(&self, id: &str) -> bool {
        self.rules.iter().any(|r| r.id == id)
    }

    fn default_deny(&self, input: &Input<'_>) -> Decision<'_> {
        let reason = self
            .index
            .default_reason(input)
            .unwrap_or(if input.resource.is_wide() {
                DEFAULT_REASON_WIDE
            } else {
                DEFAULT_REASON
            });
        Decision {
            kind: DecisionKind::Deny,
            rule: None,
            reason,
            approval: None,
        }
    }
}

fn decided(rule: &Rule) -> Decision<'_> {
    Decision {
        kind: rule.effect,
        rule: Some(&rule.id),
        reason: &rule.reason,
        approval: rule.approval.as_ref(),
    }
}
