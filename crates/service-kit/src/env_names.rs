//! Misspelled settings: a variable with one of a service's prefixes that the service does
//! not read would otherwise be ignored without a word (`EXECUTOR_DRYRUN=true` acting on
//! the cluster). Each service passes its prefixes and the names it reads.

use warden_protocol::names::edit_distance;

/// Variables of the environment whose names start with one of `prefixes` but are not in
/// `known`, each with the closest name of `known` (by edit distance), sorted by name.
pub fn unknown_vars<'k>(
    names: impl IntoIterator<Item = String>,
    prefixes: &[&str],
    known: &[&'k str],
) -> Vec<(String, Option<&'k str>)> {
    let mut unknown: Vec<(String, Option<&'k str>)> = names
        .into_iter()
        .filter(|name| prefixes.iter().any(|p| name.starts_with(p)))
        .filter(|name| !known.contains(&name.as_str()))
        .map(|name| {
            let closest = known
                .iter()
                .min_by_key(|k| edit_distance(&name, k))
                .copied();
            (name, closest)
        })
        .collect();
    unknown.sort();
    unknown.dedup();
    unknown
}

/// Logs a warning for each variable [`unknown_vars`] finds in the process environment,
/// naming the closest known variable. Call it after logging is installed.
pub fn warn_unknown_vars(prefixes: &[&str], known: &[&str]) {
    let names = std::env::vars_os().filter_map(|(name, _)| name.into_string().ok());
    for (name, closest) in unknown_vars(names, prefixes, known) {
        match closest {
            Some(closest) => tracing::warn!(
                "{name} is not a setting of this service and is ignored; did you mean {closest}?"
            ),
            None => tracing::warn!("{name} is not a setting of this service and is ignored"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &[
        "EXECUTOR_DRY_RUN",
        "EXECUTOR_BIND",
        "RATE_LIMIT_RESTART_MAX",
        "RATE_LIMIT_RESTART_TTL",
        "POLICY_FILE",
        "POLICY_URL",
    ];

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn misspellings_are_found_with_the_closest_known_name() {
        let found = unknown_vars(
            names(&[
                "EXECUTOR_DRYRUN",
                "RATE_LIMIT_RESTRT_MAX",
                "POLICY_FLIE",
                "EXECUTOR_BIND",
                "HOME",
                "POLICYURL",
            ]),
            &["EXECUTOR_", "RATE_LIMIT_", "POLICY_"],
            KNOWN,
        );
        assert_eq!(
            found,
            [
                ("EXECUTOR_DRYRUN".to_owned(), Some("EXECUTOR_DRY_RUN")),
                ("POLICY_FLIE".to_owned(), Some("POLICY_FILE")),
                (
                    "RATE_LIMIT_RESTRT_MAX".to_owned(),
                    Some("RATE_LIMIT_RESTART_MAX")
                ),
            ]
        );
    }

    #[test]
    fn names_outside_the_prefixes_are_left_alone() {
        assert!(unknown_vars(names(&["PATH", "DATABASE_URL"]), &["EXECUTOR_"], KNOWN).is_empty());
        assert_eq!(
            unknown_vars(names(&["EXECUTOR_X"]), &["EXECUTOR_"], &[]),
            [("EXECUTOR_X".to_owned(), None)]
        );
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("POLICY_FLIE", "POLICY_FILE"), 2);
        assert_eq!(edit_distance("EXECUTOR_DRYRUN", "EXECUTOR_DRY_RUN"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
