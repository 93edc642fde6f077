//! From the YAML tree to checked rules, reporting every problem with its position.

use std::collections::HashMap;

use warden_protocol::{AllowEntry, DecisionKind, URL_RESOURCE_PREFIX, normalize_kind};

use crate::actions::{self, ActionRef};
use crate::error::{Diagnostics, PolicyErrors};
use crate::glob::Glob;
use crate::rule::{ObjectPattern, ResourcePattern, Rule};
use crate::yaml::{self, Key, Node, Pos, Value};
use crate::{approval, cond};

/// The checked content of a policy file, before indexing.
pub(crate) struct Compiled {
    pub(crate) rules: Vec<Rule>,
    pub(crate) principals: HashMap<String, Vec<String>>,
    /// Every action name or pattern the rules wrote, with its position.
    pub(crate) action_refs: Vec<ActionRef>,
    /// The policy's own `knownActions`, when it declares them.
    pub(crate) known_actions: Option<Vec<String>>,
}

const TOP_KEYS: &[&str] = &[
    "version",
    "description",
    "knownActions",
    "principals",
    "rules",
];
const RULE_KEYS: &[&str] = &[
    "id",
    "description",
    "effect",
    "reason",
    "match",
    "requireParams",
    "when",
    "approval",
];
const MATCH_KEYS: &[&str] = &["actions", "types", "subjects", "resources"];
const SUBJECT_KEYS: &[&str] = &["users", "roles"];
const PRINCIPAL_KEYS: &[&str] = &["roles", "description"];

/// Parses and checks `source`; `origin` names the file in errors.
pub(crate) fn compile(source: &str, origin: &str) -> Result<Compiled, PolicyErrors> {
    let mut d = Diagnostics::new(origin);
    let root = match yaml::parse(source) {
        Ok(root) => root,
        Err((pos, message)) => {
            d.error(pos, format!("invalid YAML: {message}"));
            return Err(d.into_errors());
        }
    };
    let Some(entries) = root.as_map() else {
        d.error(
            root.pos,
            format!(
                "a policy file is a mapping with `version`, `principals` and `rules`; found {}",
                root.value.kind_name()
            ),
        );
        return Err(d.into_errors());
    };
    check_keys(entries, TOP_KEYS, "the policy file", &mut d);
    check_version(entries, root.pos, &mut d);
    if let Some(node) = yaml::get(entries, "description") {
        optional_text(node, "description", &mut d);
    }
    let principals = yaml::get(entries, "principals")
        .map(|node| compile_principals(node, &mut d))
        .unwrap_or_default();
    let rules = match yaml::get(entries, "rules") {
        None => {
            d.error(
                root.pos,
                "missing `rules`: a list of rules (an empty list denies everything)",
            );
            Vec::new()
        }
        Some(node) => compile_rules(node, &mut d),
    };
    let known_actions = yaml::get(entries, "knownActions")
        .and_then(|node| strings(node, "knownActions", &mut d))
        .map(|list| {
            list.into_iter()
                .map(|(s, _)| s.to_owned())
                .collect::<Vec<_>>()
        });
    let action_refs = std::mem::take(&mut d.actions);
    if let Some(known) = &known_actions {
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        d.extend(crate::PolicyErrors(actions::unknown(
            &action_refs,
            &known,
            origin,
        )));
    }
    if d.is_empty() {
        Ok(Compiled {
            rules,
            principals,
            action_refs,
            known_actions,
        })
    } else {
        Err(d.into_errors())
    }
}

/// Reports keys not in `allowed`, with a hint for the usual singular/plural slip.
pub(crate) fn check_keys(
    entries: &[(Key, Node)],
    allowed: &[&str],
    what: &str,
    d: &mut Diagnostics,
) {
    for (key, _) in entries {
        if allowed.contains(&key.name.as_str()) {
            continue;
        }
        let plural = format!("{}s", key.name);
        let hint = if allowed.contains(&plural.as_str()) {
            format!(" (did you mean `{plural}`?)")
        } else {
            String::new()
        };
        d.error(
            key.pos,
            format!(
                "unknown key `{}` in {what}{hint}; expected one of: {}",
                key.name,
                allowed.join(", ")
            ),
        );
    }
}

fn check_version(entries: &[(Key, Node)], root: Pos, d: &mut Diagnostics) {
    match yaml::get(entries, "version") {
        None => d.error(root, "missing `version: 1`"),
        Some(node) => {
            if node.value.as_f64() != Some(1.0) || matches!(node.value, Value::Float(_)) {
                let shown = match &node.value {
                    Value::Str(s) => format!("`\"{s}\"` (a string)"),
                    Value::Int(i) => format!("`{i}`"),
                    Value::UInt(u) => format!("`{u}`"),
                    Value::Float(f) => format!("`{f}`"),
                    other => other.kind_name().to_owned(),
                };
                d.error(
                    node.pos,
                    format!("unsupported version {shown}; this Warden reads `version: 1`"),
                );
            }
        }
    }
}

fn optional_text(node: &Node, key: &str, d: &mut Diagnostics) {
    if node.as_str().is_none() {
        d.error(
            node.pos,
            format!("`{key}` must be a string, found {}", node.value.kind_name()),
        );
    }
}

fn compile_principals(node: &Node, d: &mut Diagnostics) -> HashMap<String, Vec<String>> {
    let mut out = HashMap::new();
    let Some(entries) = node.as_map() else {
        d.error(
            node.pos,
            format!(
                "`principals` maps each requester id to its roles, e.g. \
                 `ai-engine: {{roles: [service]}}`; found {}",
                node.value.kind_name()
            ),
        );
        return out;
    };
    for (key, value) in entries {
        if key.name.trim().is_empty() {
            d.error(key.pos, "a principal id must not be empty");
            continue;
        }
        let Some(fields) = value.as_map() else {
            // An empty value has no useful position of its own; point at its key.
            let pos = if matches!(value.value, Value::Null) {
                key.pos
            } else {
                value.pos
            };
            d.error(
                pos,
                format!(
                    "principal `{}` needs `roles`, e.g. `{{roles: [service]}}`; found {}",
                    key.name,
                    value.value.kind_name()
                ),
            );
            continue;
        };
        check_keys(
            fields,
            PRINCIPAL_KEYS,
            &format!("principal `{}`", key.name),
            d,
        );
        if let Some(desc) = yaml::get(fields, "description") {
            optional_text(desc, "description", d);
        }
        match yaml::get(fields, "roles") {
            None => d.error(
                value.pos,
                format!("principal `{}` is missing `roles`", key.name),
            ),
            Some(roles) => {
                if let Some(list) = strings(roles, "roles", d) {
                    out.insert(
                        key.name.clone(),
                        list.into_iter().map(|(s, _)| s.to_owned()).collect(),
                    );
                }
            }
        }
    }
    out
}

fn compile_rules(node: &Node, d: &mut Diagnostics) -> Vec<Rule> {
    let Value::Seq(items) = &node.value else {
        d.error(
            node.pos,
            format!(
                "`rules` must be a list of rules, found {}",
                node.value.kind_name()
            ),
        );
        return Vec::new();
    };
    let mut seen: HashMap<String, Pos> = HashMap::new();
    let mut rules = Vec::with_capacity(items.len());
    for item in items {
        if let Some(rule) = compile_rule(item, &mut seen, d) {
            rules.push(rule);
        }
        d.rule = None;
    }
    rules
}

fn compile_rule(node: &Node, seen: &mut HashMap<String, Pos>, d: &mut Diagnostics) -> Option<Rule> {
    let Some(entries) = node.as_map() else {
        d.error(
            node.pos,
            format!(
                "each rule is a mapping with `id`, `effect`, `reason` and optional `match` / \
                 `when`; found {}",
                node.value.kind_name()
            ),
        );
        return None;
    };
    // The id goes first into every later message, wherever it sits in the mapping.
    let id = rule_id(entries, node.pos, seen, d);
    d.rule = match &id {
        Ok(id) | Err(Some(id)) => Some(id.clone()),
        Err(None) => None,
    };
    let before = d.len();

    check_keys(entries, RULE_KEYS, "a rule", d);
    if let Some(desc) = yaml::get(entries, "description") {
        optional_text(desc, "description", d);
    }
    let effect = match yaml::get(entries, "effect") {
        None => {
            d.error(
                node.pos,
                "missing `effect` (allow, deny or require_approval)",
            );
            None
        }
        Some(e) => match e.as_str() {
            Some("allow") => Some(DecisionKind::Allow),
            Some("deny") => Some(DecisionKind::Deny),
            Some("require_approval") => Some(DecisionKind::RequireApproval),
            Some(other) => {
                d.error(
                    e.pos,
                    format!("unknown effect `{other}`; expected allow, deny or require_approval"),
                );
                None
            }
            None => {
                d.error(
                    e.pos,
                    format!(
                        "`effect` must be allow, deny or require_approval, found {}",
                        e.value.kind_name()
                    ),
                );
                None
            }
        },
    };
    let reason = match yaml::get(entries, "reason") {
        None => {
            d.error(
                node.pos,
                "missing `reason`: the text people see with the decision",
            );
            None
        }
        Some(r) => match r.as_str() {
            Some(text) if !text.trim().is_empty() => Some(text.to_owned()),
            Some(_) => {
                d.error(r.pos, "`reason` must not be empty");
                None
            }
            None => {
                d.error(
                    r.pos,
                    format!("`reason` must be a string, found {}", r.value.kind_name()),
                );
                None
            }
        },
    };

    let mut rule = Rule {
        id: d.rule.clone().unwrap_or_default(),
        effect: effect.unwrap_or(DecisionKind::Deny),
        reason: reason.unwrap_or_default(),
        actions: None,
        types: None,
        users: None,
        roles: None,
        resources: None,
        require_params: false,
        when: None,
        approval: None,
    };
    if let Some(node) = yaml::get(entries, "requireParams") {
        match node.value {
            Value::Bool(b) => rule.require_params = b,
            _ => d.error(
                node.pos,
                format!(
                    "`requireParams` must be true or false, found {}",
                    node.value.kind_name()
                ),
            ),
        }
    }
    if let Some(m) = yaml::get(entries, "match") {
        compile_match(m, &mut rule, d);
    }
    if let Some(w) = yaml::get(entries, "when") {
        rule.when = cond::compile(w, d);
    }
    compile_approval(entries, effect, &mut rule, d);
    (id.is_ok() && d.len() == before).then_some(rule)
}

/// Sets the approval requirements of a `require_approval` rule: its `approval:` block, or
/// the defaults without one. On any other rule the block is an error, since nothing would
/// read it; with an unknown effect its contents are still checked.
fn compile_approval(
    entries: &[(Key, Node)],
    effect: Option<DecisionKind>,
    rule: &mut Rule,
    d: &mut Diagnostics,
) {
    let block = yaml::get(entries, "approval");
    if let (Some(node), Some(kind @ (DecisionKind::Allow | DecisionKind::Deny))) = (block, effect) {
        let key = entries
            .iter()
            .find(|(k, _)| k.name == "approval")
            .map_or(node.pos, |(k, _)| k.pos);
        d.error(
            key,
            format!(
                "`approval` applies only to require_approval rules; this rule's effect is {kind}"
            ),
        );
        return;
    }
    let claims = match block {
        Some(node) => approval::compile(node, d),
        None => Some(approval::defaults()),
    };
    if effect == Some(DecisionKind::RequireApproval) {
        rule.approval = claims;
    }
}

/// The rule's id; `Err(Some(id))` for a duplicate, which still labels its messages.
fn rule_id(
    entries: &[(Key, Node)],
    pos: Pos,
    seen: &mut HashMap<String, Pos>,
    d: &mut Diagnostics,
) -> Result<String, Option<String>> {
    let Some(node) = yaml::get(entries, "id") else {
        d.error(pos, "rule is missing `id`");
        return Err(None);
    };
    let Some(id) = node.as_str() else {
        d.error(
            node.pos,
            format!("`id` must be a string, found {}", node.value.kind_name()),
        );
        return Err(None);
    };
    // Ids travel in tokens, logs and URLs: keep them one printable word.
    if id.is_empty() || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        d.error(
            node.pos,
            format!("rule id `{id}` must be non-empty and contain no spaces"),
        );
        return Err(None);
    }
    if let Some(first) = seen.get(id) {
        let first_line = first
            .line()
            .map_or(String::new(), |l| format!(" (first on line {l})"));
        d.rule = Some(id.to_owned());
        d.error(node.pos, format!("duplicate rule id `{id}`{first_line}"));
        return Err(Some(id.to_owned()));
    }
    seen.insert(id.to_owned(), node.pos);
    Ok(id.to_owned())
}

fn compile_match(node: &Node, rule: &mut Rule, d: &mut Diagnostics) {
    let Some(entries) = node.as_map() else {
        d.error(
            node.pos,
            format!(
                "`match` must be a mapping with any of {}; found {}",
                MATCH_KEYS.join(", "),
                node.value.kind_name()
            ),
        );
        return;
    };
    check_keys(entries, MATCH_KEYS, "`match`", d);
    rule.actions = yaml::get(entries, "actions").and_then(|n| {
        let list = strings(n, "actions", d)?;
        let rule_id = d.rule.clone();
        d.actions
            .extend(list.iter().map(|(pattern, pos)| ActionRef {
                rule: rule_id.clone(),
                pattern: (*pattern).to_owned(),
                pos: *pos,
            }));
        Some(list.into_iter().map(|(s, _)| Glob::new(s)).collect())
    });
    rule.types = yaml::get(entries, "types").and_then(|n| globs(n, "types", d));
    if let Some(subjects) = yaml::get(entries, "subjects") {
        match subjects.as_map() {
            Some(fields) if !fields.is_empty() => {
                check_keys(fields, SUBJECT_KEYS, "`subjects`", d);
                rule.users = yaml::get(fields, "users").and_then(|n| globs(n, "users", d));
                rule.roles = yaml::get(fields, "roles").and_then(|n| globs(n, "roles", d));
            }
            _ => d.error(
                subjects.pos,
                "`subjects` needs `users` and/or `roles`, e.g. `{roles: [service]}`",
            ),
        }
    }
    if let Some(resources) = yaml::get(entries, "resources")
        && let Some(list) = strings(resources, "resources", d)
    {
        let mut patterns = Vec::with_capacity(list.len());
        for (text, pos) in list {
            match parse_resource_pattern(text) {
                Ok(p) => patterns.push(p),
                Err(message) => d.error(pos, message),
            }
        }
        rule.resources = Some(patterns);
    }
}

/// A string or a non-empty list of non-empty strings (`None` if the shape is wrong).
fn strings<'n>(node: &'n Node, key: &str, d: &mut Diagnostics) -> Option<Vec<(&'n str, Pos)>> {
    let items: Vec<&Node> = match &node.value {
        Value::Str(_) => vec![node],
        Value::Seq(items) if items.is_empty() => {
            d.error(
                node.pos,
                format!("`{key}` is an empty list, which matches nothing; remove the key to match anything"),
            );
            return None;
        }
        Value::Seq(items) => items.iter().collect(),
        other => {
            d.error(
                node.pos,
                format!(
                    "`{key}` must be a string or a list of strings, found {}",
                    other.kind_name()
                ),
            );
            return None;
        }
    };
    // Bad entries are reported and skipped, so the good ones still get checked; the
    // reported errors already keep the policy from loading.
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item.as_str() {
            Some(s) if !s.is_empty() => out.push((s, item.pos)),
            Some(_) => d.error(item.pos, format!("`{key}` entries must not be empty")),
            None => d.error(
                item.pos,
                format!(
                    "`{key}` entries must be strings, found {}",
                    item.value.kind_name()
                ),
            ),
        }
    }
    Some(out)
}

fn globs(node: &Node, key: &str, d: &mut Diagnostics) -> Option<Vec<Glob>> {
    strings(node, key, d).map(|list| list.into_iter().map(|(s, _)| Glob::new(s)).collect())
}

/// `url:<URL prefix>`, or `ns`, `ns/kind` or `ns/kind/name` with missing trailing parts
/// `*`.
pub(crate) fn parse_resource_pattern(text: &str) -> Result<ResourcePattern, String> {
    if let Some(url) = text.strip_prefix(URL_RESOURCE_PREFIX) {
        return AllowEntry::parse(url)
            .map(ResourcePattern::Url)
            .map_err(|refusal| {
                format!(
                    "URL pattern `{text}` is refused ({}): {refusal}; the form is \
                     url:<http or https>://<host or *.domain>[:port][/path prefix], e.g. \
                     `url:https://*.internal.example.com/v1/`",
                    refusal.code()
                )
            });
    }
    if text.contains(':') {
        return Err(format!(
            "resource pattern `{text}` uses `:`; patterns are namespace[/kind[/name]], \
             e.g. `*/pod/api-*` or `production`, or url:<URL prefix>"
        ));
    }
    let parts: Vec<&str> = text.split('/').collect();
    if parts.len() > 3 {
        return Err(format!(
            "resource pattern `{text}` has {} parts; the form is namespace[/kind[/name]]",
            parts.len()
        ));
    }
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "resource pattern `{text}` has an empty part; write `*` to match any value"
        ));
    }
    let part = |i: usize| parts.get(i).copied().unwrap_or("*");
    let kind = part(1);
    let kind = if kind.contains(['*', '?']) {
        Glob::new(kind)
    } else {
        Glob::new(normalize_kind(kind))
    };
    Ok(ResourcePattern::Object(ObjectPattern {
        namespace: Glob::new(part(0)),
        kind,
        name: Glob::new(part(2)),
    }))
}
