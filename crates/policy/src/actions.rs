//! Which action names a policy uses, checked against the actions an executor implements.
//!
//! A misspelled action (`restart_pods`) is not a syntax error: the rule loads and simply
//! never matches, so an allow rule silently allows nothing and a deny rule silently denies
//! nothing. Every name in a rule's `match.actions` is therefore kept with its position, and
//! checked against a list of known actions: the policy's own `knownActions`, when it
//! declares them (then at every load, serving included), or the list `policy-service check`
//! is given (`--actions`, `--actions-from`, by default the executor's built-in actions).

use crate::error::{Diagnostics, PolicyError};
use crate::glob::Glob;
use crate::yaml::Pos;
use warden_protocol::names::edit_distance;

/// An action name or pattern as a rule wrote it.
#[derive(Debug, Clone)]
pub(crate) struct ActionRef {
    pub(crate) rule: Option<String>,
    pub(crate) pattern: String,
    pub(crate) pos: Pos,
}

/// The names in `refs` that no entry of `known` answers to: a literal that is not known,
/// or a pattern (`scale_*`) that matches none of them. One error per reference.
pub(crate) fn unknown(refs: &[ActionRef], known: &[&str], file: &str) -> Vec<PolicyError> {
    let mut d = Diagnostics::new(file);
    for r in refs {
        let is_pattern = r.pattern.contains(['*', '?']);
        let answered = if is_pattern {
            let glob = Glob::new(&r.pattern);
            known.iter().any(|k| glob.matches(k))
        } else {
            known.contains(&r.pattern.as_str())
        };
        if answered {
            continue;
        }
        let listing = known.join(", ");
        let message = if is_pattern {
            format!(
                "action pattern `{}` matches no action an executor implements (known: {listing})",
                r.pattern
            )
        } else {
            let hint = closest(&r.pattern, known)
                .map(|name| format!("; did you mean `{name}`?"))
                .unwrap_or_default();
            format!(
                "unknown action `{}`: no executor implements it (known: {listing}){hint}",
                r.pattern
            )
        };
        d.rule = r.rule.clone();
        d.error(r.pos, message);
    }
    d.into_errors().0
}

/// The known name nearest to `name`, if it is near enough to be a slip (edit distance at
/// most a third of the name, and at least 1).
fn closest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    let limit = (name.chars().count() / 3).max(1);
    known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slip_finds_its_name_and_a_stranger_finds_none() {
        let known = ["restart_pod", "scale_deployment", "scale_statefulset"];
        assert_eq!(closest("restart_pods", &known), Some("restart_pod"));
        assert_eq!(
            closest("scale_deploymnet", &known),
            Some("scale_deployment")
        );
        assert_eq!(closest("drop_database", &known), None);
    }
}
