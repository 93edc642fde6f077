//! The `approval:` block of a `require_approval` rule, and the durations it is written in.
//!
//! The block compiles to [`ApprovalClaims`], the value the policy service puts in a decision
//! token's `apr` claim, so every limit the executor relies on (approver count, expiry,
//! session length) is checked here, when the policy loads, and never at request time.

use warden_protocol::{
    ApprovalClaims, DEFAULT_APPROVAL_EXPIRY_SECONDS, GrantScope, MAX_APPROVAL_SECONDS,
    MAX_APPROVERS, SessionRule,
};

use crate::compile::check_keys;
use crate::error::Diagnostics;
use crate::yaml::{self, Node, Value};

const APPROVAL_KEYS: &[&str] = &["approvers", "roles", "expires", "session"];
const SESSION_KEYS: &[&str] = &["scope", "maxTtl"];

/// The role an approver needs when the rule names none.
pub(crate) const DEFAULT_APPROVER_ROLE: &str = "operator";

/// What a `require_approval` rule without an `approval:` block gets: one operator, 15
/// minutes, no session.
pub(crate) fn defaults() -> ApprovalClaims {
    ApprovalClaims {
        approvers: 1,
        roles: vec![DEFAULT_APPROVER_ROLE.to_owned()],
        expires_in: DEFAULT_APPROVAL_EXPIRY_SECONDS,
        session: None,
    }
}

/// Checks an `approval:` block; `None` when it has errors (already reported).
pub(crate) fn compile(node: &Node, d: &mut Diagnostics) -> Option<ApprovalClaims> {
    let Some(entries) = node.as_map() else {
        d.error(
            node.pos,
            format!(
                "`approval` must be a mapping with any of {}, e.g. \
                 `{{approvers: 1, roles: [operator], expires: 15m}}`; found {}",
                APPROVAL_KEYS.join(", "),
                node.value.kind_name()
            ),
        );
        return None;
    };
    let before = d.len();
    check_keys(entries, APPROVAL_KEYS, "`approval`", d);
    let mut claims = defaults();
    if let Some(n) = yaml::get(entries, "approvers") {
        match n.value {
            Value::Int(i) if (1..=i64::from(MAX_APPROVERS)).contains(&i) => {
                // The range check above makes the conversion lossless.
                claims.approvers = u32::try_from(i).unwrap_or(MAX_APPROVERS);
            }
            Value::UInt(u) if (1..=u64::from(MAX_APPROVERS)).contains(&u) => {
                claims.approvers = u32::try_from(u).unwrap_or(MAX_APPROVERS);
            }
            Value::Int(_) | Value::UInt(_) => d.error(
                n.pos,
                format!("`approvers` must be between 1 and {MAX_APPROVERS}"),
            ),
            _ => d.error(
                n.pos,
                format!(
                    "`approvers` must be a whole number of people (1 to {MAX_APPROVERS}), found {}",
                    n.value.kind_name()
                ),
            ),
        }
    }
    if let Some(n) = yaml::get(entries, "roles")
        && let Some(roles) = roles(n, d)
    {
        claims.roles = roles;
    }
    if let Some(n) = yaml::get(entries, "expires")
        && let Some(seconds) = bounded_duration(n, "expires", d)
    {
        claims.expires_in = seconds;
    }
    if let Some(n) = yaml::get(entries, "session") {
        claims.session = session(n, d);
    }
    (d.len() == before).then_some(claims)
}

/// A role name or a non-empty list of them. Literal names: the executor compares an
/// approver's roles with them exactly, so a `*` would never mean what it seems to.
fn roles(node: &Node, d: &mut Diagnostics) -> Option<Vec<String>> {
    let items: Vec<&Node> = match &node.value {
        Value::Str(_) => vec![node],
        Value::Seq(items) if items.is_empty() => {
            d.error(
                node.pos,
                format!(
                    "`roles` must not be empty: nobody could approve; remove the key for the \
                     default [{DEFAULT_APPROVER_ROLE}]"
                ),
            );
            return None;
        }
        Value::Seq(items) => items.iter().collect(),
        other => {
            d.error(
                node.pos,
                format!(
                    "`roles` must be a role name or a list of them, found {}",
                    other.kind_name()
                ),
            );
            return None;
        }
    };
    let before = d.len();
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        match item.as_str() {
            Some(s) if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                d.error(
                    item.pos,
                    format!("approver role `{s}` must be non-empty and contain no spaces"),
                );
            }
            Some(s) if s.contains(['*', '?']) => d.error(
                item.pos,
                format!("approver role `{s}` is a pattern; approver roles are exact role names"),
            ),
            Some(s) if out.iter().any(|r| r == s) => {
                d.error(item.pos, format!("approver role `{s}` is listed twice"));
            }
            Some(s) => out.push(s.to_owned()),
            None => d.error(
                item.pos,
                format!(
                    "approver roles must be strings, found {}",
                    item.value.kind_name()
                ),
            ),
        }
    }
    (d.len() == before).then_some(out)
}

fn session(node: &Node, d: &mut Diagnostics) -> Option<SessionRule> {
    let Some(entries) = node.as_map() else {
        d.error(
            node.pos,
            format!(
                "`session` must be a mapping like `{{scope: namespace, maxTtl: 1h}}`; found {}",
                node.value.kind_name()
            ),
        );
        return None;
    };
    check_keys(entries, SESSION_KEYS, "`session`", d);
    let scope = match yaml::get(entries, "scope") {
        None => {
            d.error(
                node.pos,
                "`session` is missing `scope` (object, kind or namespace)",
            );
            None
        }
        Some(n) => match n.as_str().map(str::parse::<GrantScope>) {
            Some(Ok(scope)) => Some(scope),
            Some(Err(message)) => {
                d.error(n.pos, message);
                None
            }
            None => {
                d.error(
                    n.pos,
                    format!(
                        "`scope` must be object, kind or namespace, found {}",
                        n.value.kind_name()
                    ),
                );
                None
            }
        },
    };
    let max_ttl = match yaml::get(entries, "maxTtl") {
        None => {
            d.error(
                node.pos,
                "`session` is missing `maxTtl`, the longest grant, e.g. `maxTtl: 1h`",
            );
            None
        }
        Some(n) => bounded_duration(n, "maxTtl", d),
    };
    Some(SessionRule {
        scope: scope?,
        max_ttl: max_ttl?,
    })
}

/// A duration string between one second and [`MAX_APPROVAL_SECONDS`], in seconds.
fn bounded_duration(node: &Node, key: &str, d: &mut Diagnostics) -> Option<u64> {
    let Some(text) = node.as_str() else {
        let hint = match node.value {
            Value::Int(_) | Value::UInt(_) | Value::Float(_) => {
                " (a bare number has no unit; write e.g. `90s`)"
            }
            _ => "",
        };
        d.error(
            node.pos,
            format!(
                "`{key}` must be a duration like `90s`, `15m`, `1h` or `1h30m`, found {}{hint}",
                node.value.kind_name()
            ),
        );
        return None;
    };
    match parse_duration(text) {
        Err(message) => {
            d.error(node.pos, format!("`{key}`: {message}"));
            None
        }
        Ok(0) => {
            d.error(node.pos, format!("`{key}` must be longer than zero"));
            None
        }
        Ok(seconds) if seconds > MAX_APPROVAL_SECONDS => {
            d.error(
                node.pos,
                format!("`{key}` is `{text}`; the longest allowed is 24h"),
            );
            None
        }
        Ok(seconds) => Some(seconds),
    }
}

/// Parses `90s`, `15m`, `1h`, `1h30m`, `1h30m15s`: hours, minutes and seconds, each at
/// most once and in that order, into seconds.
pub(crate) fn parse_duration(text: &str) -> Result<u64, String> {
    let invalid = || {
        format!(
            "`{text}` is not a duration; write hours, minutes and seconds in that order, \
             e.g. `90s`, `15m`, `1h` or `1h30m`"
        )
    };
    if text.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    // Index into "hms" of the last unit seen, so that units go strictly h → m → s.
    let mut last: Option<usize> = None;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (number, tail) = rest.split_at(digits);
        let mut chars = tail.chars();
        let unit = chars.next();
        let (Some(unit), false) = (unit, number.is_empty()) else {
            return Err(invalid());
        };
        let (index, factor) = match unit {
            'h' => (0, 3600),
            'm' => (1, 60),
            's' => (2, 1),
            _ => return Err(invalid()),
        };
        if last.is_some_and(|l| l >= index) {
            return Err(invalid());
        }
        last = Some(index);
        let value: u64 = number.parse().map_err(|_| invalid())?;
        total = value
            .checked_mul(factor)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(invalid)?;
        rest = chars.as_str();
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn durations_in_every_documented_form() {
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("1h"), Ok(3600));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert_eq!(parse_duration("1h0m15s"), Ok(3615));
        assert_eq!(parse_duration("0s"), Ok(0));
    }

    #[test]
    fn malformed_durations_are_refused() {
        for text in [
            "",
            "15",
            "m",
            "15x",
            "1.5h",
            "30m1h",
            "1h1h",
            "15 m",
            " 15m",
            "-5m",
            "1d",
            "99999999999999999999h",
            "18446744073709551615h",
        ] {
            assert!(parse_duration(text).is_err(), "{text:?} was accepted");
        }
    }
}
