//! A compiled rule and the one function that decides whether it matches a request.
//!
//! Both the indexed [`crate::Policy::evaluate`] and the exhaustive
//! [`crate::Policy::explain`] call [`Rule::verdict`]; the index only chooses which rules
//! to ask. That is what keeps the two in agreement.

use std::fmt;

use warden_protocol::url::{HostPattern, NormalUrl, UrlHost};
use warden_protocol::{AllowEntry, ApprovalClaims, DecisionKind, Resource, Scope};

use crate::Input;
use crate::cond::{Cond, Fault, Leaf, Truth};
use crate::glob::Glob;

/// One rule of a policy, ready to evaluate.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) id: String,
    pub(crate) effect: DecisionKind,
    pub(crate) reason: String,
    /// `None` everywhere below means the key was absent: match anything.
    pub(crate) actions: Option<Vec<Glob>>,
    pub(crate) types: Option<Vec<Glob>>,
    pub(crate) users: Option<Vec<Glob>>,
    pub(crate) roles: Option<Vec<Glob>>,
    pub(crate) resources: Option<Vec<ResourcePattern>>,
    /// `requireParams: true`: the request must carry the action's parameters.
    pub(crate) require_params: bool,
    pub(crate) when: Option<Cond>,
    /// How a `require_approval` rule is approved (its `approval:` block or the defaults);
    /// `None` exactly for allow and deny rules.
    pub(crate) approval: Option<ApprovalClaims>,
}

/// One entry of a rule's `resources`: Kubernetes objects or URLs, never both, so a pattern
/// of one kind never matches a request of the other.
#[derive(Debug, Clone)]
pub(crate) enum ResourcePattern {
    /// `namespace[/kind[/name]]`.
    Object(ObjectPattern),
    /// `url:<scheme>://<host or *.domain>[:port][/path prefix]`.
    Url(AllowEntry),
}

impl ResourcePattern {
    /// The namespace glob of an object pattern.
    pub(crate) fn namespace(&self) -> Option<&Glob> {
        match self {
            ResourcePattern::Object(p) => Some(&p.namespace),
            ResourcePattern::Url(_) => None,
        }
    }
}

impl fmt::Display for ResourcePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResourcePattern::Object(p) => write!(f, "{}/{}/{}", p.namespace, p.kind, p.name),
            ResourcePattern::Url(entry) => write!(f, "url:{entry}"),
        }
    }
}

/// `namespace/kind/name`, each part a glob; shorter forms are padded with `*`.
#[derive(Debug, Clone)]
pub(crate) struct ObjectPattern {
    pub(crate) namespace: Glob,
    pub(crate) kind: Glob,
    pub(crate) name: Glob,
}

/// How a rule relates to a request.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Verdict<'r> {
    /// Every target and the condition hold.
    Match,
    /// A deny rule whose condition could not be evaluated: it applies (fail closed).
    MatchFailClosed(&'r Leaf, Fault),
    /// A deny rule with `requireParams` and a request without params: it applies (fail
    /// closed), since the parameters it cannot see might be the ones it denies.
    MatchWithoutParams,
    /// The rule does not apply, and the first reason why.
    Miss(Miss<'r>),
}

impl Verdict<'_> {
    pub(crate) fn matched(self) -> bool {
        !matches!(self, Verdict::Miss(_))
    }
}

/// The first target or condition that did not hold.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Miss<'r> {
    Action,
    Type,
    User,
    Role,
    Resource,
    /// `requireParams` on an allow or approval rule, and the request has no params.
    NoParams,
    False(&'r Cond),
    Error(&'r Leaf, Fault),
}

impl Rule {
    /// Deny rules read wide scopes and missing values as "might be in": they intersect.
    /// Allow and approval rules must cover the whole request.
    fn intersects(&self) -> bool {
        self.effect == DecisionKind::Deny
    }

    /// Whether the rule applies to `input`; targets are checked cheapest first.
    pub(crate) fn verdict(&self, input: &Input<'_>) -> Verdict<'_> {
        if let Some(actions) = &self.actions
            && !actions.iter().any(|g| g.matches(input.action))
        {
            return Verdict::Miss(Miss::Action);
        }
        if let Some(types) = &self.types {
            let ok = match input.request_type {
                Some(t) => types.iter().any(|g| g.matches(t)),
                // An absent type is every type, like a `*` resource part.
                None => self.intersects() || types.iter().any(Glob::is_any),
            };
            if !ok {
                return Verdict::Miss(Miss::Type);
            }
        }
        if let Some(users) = &self.users
            && !users.iter().any(|g| g.matches(input.subject))
        {
            return Verdict::Miss(Miss::User);
        }
        if let Some(roles) = &self.roles
            && !input
                .roles
                .iter()
                .any(|r| roles.iter().any(|g| g.matches(r)))
        {
            return Verdict::Miss(Miss::Role);
        }
        if let Some(resources) = &self.resources
            && !self.resource_matches(resources, input.resource)
        {
            return Verdict::Miss(Miss::Resource);
        }
        if self.require_params && input.params.is_none() {
            return if self.intersects() {
                Verdict::MatchWithoutParams
            } else {
                Verdict::Miss(Miss::NoParams)
            };
        }
        match self.when.as_ref().map(|c| c.eval(input)) {
            None | Some(Truth::True) => Verdict::Match,
            Some(Truth::False(witness)) => Verdict::Miss(Miss::False(witness)),
            Some(Truth::Error(leaf, fault)) if self.intersects() => {
                Verdict::MatchFailClosed(leaf, fault)
            }
            Some(Truth::Error(leaf, fault)) => Verdict::Miss(Miss::Error(leaf, fault)),
        }
    }

    /// Whether one of `patterns` matches `resource`. Object patterns read objects, URL
    /// patterns read URLs. A URL is one exact target, so covering and intersecting it are
    /// the same: the entry allows it.
    fn resource_matches(&self, patterns: &[ResourcePattern], resource: &Resource) -> bool {
        match resource {
            Resource::Object(r) => {
                let intersects = self.intersects();
                let part = |glob: &Glob, scope: &Scope| match scope {
                    Scope::Exact(v) => glob.matches(v),
                    Scope::Any => intersects || glob.is_any(),
                };
                patterns.iter().any(|p| match p {
                    ResourcePattern::Object(p) => {
                        part(&p.namespace, &r.namespace)
                            && part(&p.kind, &r.kind)
                            && part(&p.name, &r.name)
                    }
                    ResourcePattern::Url(_) => false,
                })
            }
            Resource::Url(url) => patterns
                .iter()
                .any(|p| matches!(p, ResourcePattern::Url(entry) if entry.allows(url))),
        }
    }

    /// The `failed` text of an explain trace entry.
    pub(crate) fn describe(&self, verdict: Verdict<'_>, input: &Input<'_>) -> Option<String> {
        let list = |globs: &[Glob]| {
            globs
                .iter()
                .map(Glob::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let miss = match verdict {
            Verdict::Match => return None,
            Verdict::MatchFailClosed(leaf, fault) => {
                return Some(format!(
                    "{}; a deny rule applies when its condition cannot be evaluated (fail closed)",
                    leaf.describe_fault(fault)
                ));
            }
            Verdict::MatchWithoutParams => {
                return Some(
                    "the request has no `params`, which this rule requires; a deny rule \
                     applies without them (fail closed)"
                        .to_owned(),
                );
            }
            Verdict::Miss(miss) => miss,
        };
        Some(match miss {
            Miss::Action => format!(
                "action `{}` is not one of [{}]",
                input.action,
                list(self.actions.as_deref().unwrap_or_default())
            ),
            Miss::Type => {
                let types = list(self.types.as_deref().unwrap_or_default());
                match input.request_type {
                    Some(t) => format!("type `{t}` is not one of [{types}]"),
                    None => format!("the request has no type; this rule needs one of [{types}]"),
                }
            }
            Miss::User => format!(
                "subject `{}` is not one of [{}]",
                input.subject,
                list(self.users.as_deref().unwrap_or_default())
            ),
            Miss::Role => format!(
                "roles [{}] include none of [{}]",
                input.roles.join(", "),
                list(self.roles.as_deref().unwrap_or_default())
            ),
            Miss::Resource => {
                let all = self.resources.as_deref().unwrap_or_default();
                let patterns = all
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                let urls = all.iter().filter_map(|p| match p {
                    ResourcePattern::Url(entry) => Some(entry),
                    ResourcePattern::Object(_) => None,
                });
                if let Resource::Url(url) = input.resource {
                    let why = url_miss(urls, url);
                    format!(
                        "resource `{}` does not match [{patterns}]: {why}",
                        input.resource
                    )
                } else if urls.count() == all.len() {
                    format!(
                        "resource `{}` is a Kubernetes object, and [{patterns}] match only URLs",
                        input.resource
                    )
                } else if input.resource.is_wide() && !self.intersects() {
                    format!(
                        "resource `{}` is not covered by [{patterns}]: a `*` part of a request \
                         is covered only by a pattern part that is exactly `*`",
                        input.resource
                    )
                } else {
                    format!("resource `{}` does not match [{patterns}]", input.resource)
                }
            }
            Miss::NoParams => "the request has no `params`, which this rule requires \
                 (`requireParams: true`)"
                .to_owned(),
            Miss::False(cond) => cond.describe_false(),
            Miss::Error(leaf, fault) => format!(
                "{}; {} rule does not apply when its condition cannot be evaluated",
                leaf.describe_fault(fault),
                if self.effect == DecisionKind::Allow {
                    "an allow"
                } else {
                    "a require_approval"
                }
            ),
        })
    }
}

/// Why no URL entry matches `url`, naming the first part that fails in the order host,
/// scheme, port, path, as the executor's allowlist does.
fn url_miss<'e>(entries: impl Iterator<Item = &'e AllowEntry>, url: &NormalUrl) -> &'static str {
    let all: Vec<&AllowEntry> = entries.collect();
    if all.is_empty() {
        return "it is a URL, and the rule's patterns match only Kubernetes objects";
    }
    let mut candidates: Vec<&AllowEntry> = all
        .iter()
        .copied()
        .filter(|e| e.host().matches(url.host()))
        .collect();
    if candidates.is_empty() {
        let bare_domain = all.iter().any(|e| match (e.host(), url.host()) {
            (HostPattern::Subdomains(domain), UrlHost::Domain(host)) => domain == host,
            _ => false,
        });
        return if bare_domain {
            "no pattern covers this host: `*.domain` covers the hosts under the domain, not \
             the domain itself"
        } else {
            "no pattern covers this host"
        };
    }
    candidates.retain(|e| e.scheme() == url.scheme());
    if candidates.is_empty() {
        return "the patterns for this host use another scheme";
    }
    candidates.retain(|e| e.port() == url.port());
    if candidates.is_empty() {
        return "the patterns for this host use another port";
    }
    "no pattern for this host covers this path (prefixes end on `/` boundaries)"
}
