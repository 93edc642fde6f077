//! A compiled rule and the one function that decides whether it matches a request.
//!
//! Both the indexed [`crate::Policy::evaluate`] and the exhaustive
//! [`crate::Policy::explain`] call [`Rule::verdict`]; the index only chooses which rules
//! to ask. That is what keeps the two in agreement.

use std::fmt;

use warden_protocol::{ApprovalClaims, DecisionKind, Scope};

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

/// `namespace/kind/name`, each part a glob; shorter forms are padded with `*`.
#[derive(Debug, Clone)]
pub(crate) struct ResourcePattern {
    pub(crate) namespace: Glob,
    pub(crate) kind: Glob,
    pub(crate) name: Glob,
}

impl fmt::Display for ResourcePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.namespace, self.kind, self.name)
    }
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
        if let Some(resources) = &self.resources {
            let intersects = self.intersects();
            let part = |glob: &Glob, scope: &Scope| match scope {
                Scope::Exact(v) => glob.matches(v),
                Scope::Any => intersects || glob.is_any(),
            };
            let r = input.resource;
            let ok = resources.iter().any(|p| {
                part(&p.namespace, &r.namespace) && part(&p.kind, &r.kind) && part(&p.name, &r.name)
            });
            if !ok {
                return Verdict::Miss(Miss::Resource);
            }
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
                let patterns = self
                    .resources
                    .iter()
                    .flatten()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                if input.resource.is_wide() && !self.intersects() {
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
