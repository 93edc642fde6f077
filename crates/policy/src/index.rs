//! The rule index behind [`crate::Policy::evaluate`].
//!
//! Rules are bucketed by exact action (rules whose actions are all literals) with one
//! extra bucket for rules with a glob or no action list; inside a bucket, by exact
//! namespace with one extra list for glob or absent namespaces; inside that, by effect,
//! each list in file order. A request therefore looks at most two action buckets × two
//! namespace lists per effect, and stops at the first match in file order, so the cost
//! does not grow with rules that cannot apply.
//!
//! A URL request has no namespace: it looks at the rules with a `url:` pattern and the
//! rules without `resources`, never at rules whose patterns all name Kubernetes objects,
//! which cannot match it. Rules whose patterns are all URLs are, in turn, in no namespace
//! list.
//!
//! The index is only a pre-filter: every candidate is still checked by
//! [`crate::rule::Rule::verdict`]. It must never drop a rule that could match; that is
//! what the property tests compare against the exhaustive `explain`.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use warden_protocol::{DecisionKind, Resource, Scope};

use crate::Input;
use crate::rule::{ResourcePattern, Rule};

/// FNV-1a: names are short and the table's keys come from the policy, not the
/// request, so lookups cannot be steered into long probe chains; SipHash's DoS
/// resistance would buy nothing here and cost a third of a decision.
#[derive(Default)]
pub(crate) struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FnvMap<V> = HashMap<Box<str>, V, BuildHasherDefault<Fnv>>;

/// Rule indices (into the policy's rule list) per effect, ascending.
#[derive(Default, Debug)]
struct Lists {
    deny: Vec<u32>,
    approval: Vec<u32>,
    allow: Vec<u32>,
}

impl Lists {
    fn get(&self, effect: DecisionKind) -> &[u32] {
        match effect {
            DecisionKind::Deny => &self.deny,
            DecisionKind::RequireApproval => &self.approval,
            DecisionKind::Allow => &self.allow,
        }
    }

    fn push(&mut self, effect: DecisionKind, rule: u32) {
        let list = match effect {
            DecisionKind::Deny => &mut self.deny,
            DecisionKind::RequireApproval => &mut self.approval,
            DecisionKind::Allow => &mut self.allow,
        };
        // A rule listing the same namespace twice must appear once.
        if list.last() != Some(&rule) {
            list.push(rule);
        }
    }
}

#[derive(Default, Debug)]
struct Bucket {
    by_namespace: FnvMap<Lists>,
    /// Rules with an object pattern whose namespace is a glob, or no resource list.
    other_namespaces: Lists,
    /// Rules without a resource list: they apply to URLs too.
    any_resource: Lists,
    /// Rules with a `url:` pattern.
    urls: Lists,
    /// Every deny rule of the bucket that can match an object (no resource list, or an
    /// object pattern): a namespace-wide request intersects them all.
    object_deny: Vec<u32>,
}

impl Bucket {
    fn add(&mut self, rule: &Rule, i: u32) {
        let Some(patterns) = &rule.resources else {
            self.other_namespaces.push(rule.effect, i);
            self.any_resource.push(rule.effect, i);
            if rule.effect == DecisionKind::Deny {
                self.object_deny.push(i);
            }
            return;
        };
        if patterns
            .iter()
            .any(|p| matches!(p, ResourcePattern::Url(_)))
        {
            self.urls.push(rule.effect, i);
        }
        let namespaces: Vec<_> = patterns
            .iter()
            .filter_map(ResourcePattern::namespace)
            .collect();
        if namespaces.is_empty() {
            // Only URL patterns: no object can match.
            return;
        }
        let literal_namespaces: Option<Vec<&str>> =
            namespaces.iter().map(|g| g.literal()).collect();
        match literal_namespaces {
            Some(namespaces) => {
                for ns in namespaces {
                    self.by_namespace
                        .entry(ns.into())
                        .or_default()
                        .push(rule.effect, i);
                }
            }
            None => self.other_namespaces.push(rule.effect, i),
        }
        if rule.effect == DecisionKind::Deny {
            self.object_deny.push(i);
        }
    }
}

/// What part of a bucket a request can reach.
#[derive(Clone, Copy)]
enum Target<'a> {
    /// An object in one namespace: the lists for it, if the bucket has any.
    Namespace(Option<&'a Lists>),
    /// An object scope whose namespace is `*`.
    Wide,
    /// A URL.
    Url,
}

/// The lists of one bucket that can apply to one request, looked up once and reused
/// for each effect.
#[derive(Clone, Copy)]
struct Slot<'a> {
    bucket: &'a Bucket,
    target: Target<'a>,
}

impl<'a> Slot<'a> {
    fn new(bucket: &'a Bucket, resource: &Resource) -> Slot<'a> {
        let target = match resource {
            Resource::Url(_) => Target::Url,
            Resource::Object(r) => match &r.namespace {
                Scope::Exact(ns) if !bucket.by_namespace.is_empty() => {
                    Target::Namespace(bucket.by_namespace.get(ns.as_str()))
                }
                Scope::Exact(_) => Target::Namespace(None),
                Scope::Any => Target::Wide,
            },
        };
        Slot { bucket, target }
    }

    /// The candidate lists for `effect`: at most two.
    fn lists(self, effect: DecisionKind) -> [&'a [u32]; 2] {
        let bucket = self.bucket;
        match self.target {
            Target::Url => [bucket.urls.get(effect), bucket.any_resource.get(effect)],
            // Deny intersects, so every deny rule may apply to a namespace-wide request.
            // Allow and approval must cover every namespace, which only a `*` pattern
            // (never a literal) can.
            Target::Wide if effect == DecisionKind::Deny => [&bucket.object_deny, &[]],
            Target::Wide => [bucket.other_namespaces.get(effect), &[]],
            Target::Namespace(lists) => [
                lists.map_or(&[][..], |l| l.get(effect)),
                bucket.other_namespaces.get(effect),
            ],
        }
    }
}

/// The whole index. See the module documentation.
#[derive(Default, Debug)]
pub(crate) struct Index {
    by_action: FnvMap<(Bucket, Box<str>, Box<str>)>,
    other_actions: Bucket,
}

impl Index {
    pub(crate) fn build(rules: &[Rule]) -> Index {
        let mut index = Index::default();
        for (i, rule) in rules.iter().enumerate() {
            let Ok(i) = u32::try_from(i) else {
                // Four billion rules do not fit in memory; nothing to index.
                break;
            };
            let literal_actions: Option<Vec<&str>> = rule
                .actions
                .as_ref()
                .and_then(|gs| gs.iter().map(|g| g.literal()).collect());
            match literal_actions {
                Some(mut actions) => {
                    actions.sort_unstable();
                    actions.dedup();
                    for action in actions {
                        let entry = index.by_action.entry(action.into()).or_insert_with(|| {
                            (
                                Bucket::default(),
                                format!(
                                    "no rule allows `{action}` for this resource, requester and \
                                     context (default deny)"
                                )
                                .into(),
                                format!(
                                    "no rule allows `{action}` on the whole requested scope \
                                     (default deny); a `*` part of a request is covered only by \
                                     a pattern part that is exactly `*`"
                                )
                                .into(),
                            )
                        });
                        entry.0.add(rule, i);
                    }
                }
                None => index.other_actions.add(rule, i),
            }
        }
        index
    }

    /// The deciding rule: the first matching deny in file order, else the first
    /// matching require_approval, else the first matching allow.
    pub(crate) fn decide(&self, rules: &[Rule], input: &Input<'_>) -> Option<usize> {
        let exact = if self.by_action.is_empty() {
            None
        } else {
            self.by_action.get(input.action)
        };
        let slots = [
            exact.map(|(bucket, _, _)| Slot::new(bucket, input.resource)),
            Some(Slot::new(&self.other_actions, input.resource)),
        ];
        for effect in [
            DecisionKind::Deny,
            DecisionKind::RequireApproval,
            DecisionKind::Allow,
        ] {
            let mut best: Option<u32> = None;
            for slot in slots.iter().flatten() {
                for list in slot.lists(effect) {
                    for &i in list {
                        // Lists are in file order: past the best so far, nothing can win.
                        if best.is_some_and(|b| i >= b) {
                            break;
                        }
                        let Some(rule) = rules.get(i as usize) else {
                            break;
                        };
                        if rule.verdict(input).matched() {
                            best = Some(i);
                            break;
                        }
                    }
                }
            }
            if let Some(i) = best {
                return Some(i as usize);
            }
        }
        None
    }

    /// The precomputed default-deny reason for this request's action, if the policy
    /// names the action at all.
    pub(crate) fn default_reason(&self, input: &Input<'_>) -> Option<&str> {
        self.by_action.get(input.action).map(|(_, narrow, wide)| {
            if input.resource.is_wide() {
                &**wide
            } else {
                &**narrow
            }
        })
    }
}
