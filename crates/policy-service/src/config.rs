//! Typed configuration, read from the environment once at start-up.
//!
//! Every variable is documented in `.env.example`. A bad value stops the service with a
//! message naming the variable, rather than running with a surprise default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::identity::{ApiKeys, MIN_API_KEY_LEN};

/// Default listen address (`POLICY_BIND`).
pub const DEFAULT_BIND: &str = "0.0.0.0:3000";
/// Default policy file (`POLICY_FILE`).
pub const DEFAULT_POLICY_FILE: &str = "policies/default.yaml";
/// Default lifetime of a decision token (`DECISION_TTL_SECONDS`).
pub const DEFAULT_DECISION_TTL: Duration = Duration::from_secs(60);
/// Longest decision lifetime accepted: a decision is about the cluster as it is now.
pub const MAX_DECISION_TTL: Duration = Duration::from_secs(3600);

/// A setting that could not be used (the one type both services report).
pub use warden_service_kit::ConfigError;

/// The prefixes of this service's variables: another variable with one of them is a
/// misspelling, warned about at start-up.
pub const PREFIXES: &[&str] = &["POLICY_", "DECISION_"];

/// Every variable [`Config::from_lookup`] reads; `.env.example` documents each.
pub const VARS: &[&str] = &[
    "POLICY_BIND",
    "POLICY_FILE",
    "DECISION_SIGNING_KEY_FILE",
    "DECISION_PREVIOUS_KEY_FILES",
    "DECISION_TTL_SECONDS",
    "POLICY_API_KEYS",
    "POLICY_RELOAD_INTERVAL_SECONDS",
    "POLICY_REQUEST_TIMEOUT_SECONDS",
    "POLICY_RELOAD_REVOKES",
];

/// Variables of the executor with one of [`PREFIXES`]: a `.env` both services read holds
/// them, so they are no misspelling here.
pub const EXECUTOR_VARS: &[&str] = &["POLICY_URL"];

/// Warns about each variable of the environment that has one of [`PREFIXES`] but is
/// neither in [`VARS`] nor in [`EXECUTOR_VARS`], naming the closest known one.
pub fn warn_unknown_vars() {
    let known = [VARS, EXECUTOR_VARS].concat();
    warden_service_kit::warn_unknown_vars(PREFIXES, &known);
}

/// How the policy service is configured.
#[derive(Debug, Clone)]
pub struct Config {
    /// `POLICY_BIND`: where to listen.
    pub bind: SocketAddr,
    /// `POLICY_FILE`: the policy to load and watch.
    pub policy_file: PathBuf,
    /// `DECISION_SIGNING_KEY_FILE`: Ed25519 private key (PEM). `None`: an ephemeral key.
    pub signing_key_file: Option<PathBuf>,
    /// `DECISION_PREVIOUS_KEY_FILES`: comma-separated PEM files whose public keys stay in
    /// the JWKS during a key rotation.
    pub previous_key_files: Vec<PathBuf>,
    /// `DECISION_TTL_SECONDS`: lifetime of a decision token.
    pub decision_ttl: Duration,
    /// `POLICY_API_KEYS`: `identity=key,...`. `None`: development mode (identity from the body).
    pub api_keys: Option<ApiKeys>,
    /// `POLICY_RELOAD_INTERVAL_SECONDS`: how often the policy file is checked for changes;
    /// zero turns polling off (SIGHUP still reloads).
    pub reload_interval: Duration,
    /// `POLICY_REQUEST_TIMEOUT_SECONDS`: longest time a request may take.
    pub request_timeout: Duration,
    /// `POLICY_RELOAD_REVOKES`: every successful reload that changes the policy (and every
    /// SIGHUP, and the start-up) revokes the tokens issued before it.
    pub reload_revokes: bool,
}

impl Config {
    /// Reads the configuration from the process environment, first warning about
    /// misspelled variables ([`warn_unknown_vars`]; logging must be installed, as
    /// `run_binary` does).
    pub fn from_env() -> Result<Self, ConfigError> {
        warn_unknown_vars();
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let bind = get("POLICY_BIND")
            .unwrap_or_else(|| DEFAULT_BIND.to_owned())
            .parse()
            .map_err(|_| {
                ConfigError::new("POLICY_BIND", "expected an address like 0.0.0.0:3000")
            })?;
        let decision_ttl = seconds(get("DECISION_TTL_SECONDS"), "DECISION_TTL_SECONDS", 60)?;
        if decision_ttl.is_zero() || decision_ttl > MAX_DECISION_TTL {
            return Err(ConfigError::new(
                "DECISION_TTL_SECONDS",
                format!("must be between 1 and {}", MAX_DECISION_TTL.as_secs()),
            ));
        }
        let request_timeout = seconds(
            get("POLICY_REQUEST_TIMEOUT_SECONDS"),
            "POLICY_REQUEST_TIMEOUT_SECONDS",
            10,
        )?;
        if request_timeout.is_zero() {
            return Err(ConfigError::new(
                "POLICY_REQUEST_TIMEOUT_SECONDS",
                "must be at least 1",
            ));
        }
        let api_keys = match get("POLICY_API_KEYS") {
            None => None,
            Some(raw) => Some({
                // The list's form first (empty entries, names, duplicates), as for every
                // `name=value` list; then what is particular to keys.
                warden_service_kit::config::parse_named_list(
                    "POLICY_API_KEYS",
                    &raw,
                    "identity=key,...",
                )?;
                ApiKeys::parse(&raw).map_err(|m| {
                ConfigError::new(
                    "POLICY_API_KEYS",
                    format!("{m} (expected identity=key,...; keys of at least {MIN_API_KEY_LEN} characters)"),
                )
            })?
            }),
        };
        Ok(Config {
            bind,
            policy_file: get("POLICY_FILE")
                .unwrap_or_else(|| DEFAULT_POLICY_FILE.to_owned())
                .into(),
            signing_key_file: get("DECISION_SIGNING_KEY_FILE").map(PathBuf::from),
            previous_key_files: get("DECISION_PREVIOUS_KEY_FILES")
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(PathBuf::from)
                        .collect()
                })
                .unwrap_or_default(),
            decision_ttl,
            api_keys,
            reload_interval: seconds(
                get("POLICY_RELOAD_INTERVAL_SECONDS"),
                "POLICY_RELOAD_INTERVAL_SECONDS",
                2,
            )?,
            request_timeout,
            reload_revokes: match get("POLICY_RELOAD_REVOKES") {
                None => false,
                Some(raw) => warden_service_kit::config::parse_bool("POLICY_RELOAD_REVOKES", &raw)?,
            },
        })
    }
}

fn seconds(raw: Option<String>, var: &'static str, default: u64) -> Result<Duration, ConfigError> {
    match raw {
        None => Ok(Duration::from_secs(default)),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| ConfigError::new(var, "expected a whole number of seconds")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_match_the_design_notes() {
        let c = config(&[]).unwrap();
        assert_eq!(c.bind, "0.0.0.0:3000".parse().unwrap());
        assert_eq!(c.policy_file, PathBuf::from("policies/default.yaml"));
        assert_eq!(c.decision_ttl, Duration::from_secs(60));
        assert!(c.api_keys.is_none());
        assert!(c.signing_key_file.is_none());
        assert!(!c.reload_revokes);
        assert!(
            config(&[("POLICY_RELOAD_REVOKES", "true")])
                .unwrap()
                .reload_revokes
        );
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        for (var, value) in [
            ("POLICY_BIND", "localhost"),
            ("DECISION_TTL_SECONDS", "0"),
            ("DECISION_TTL_SECONDS", "99999"),
            ("DECISION_TTL_SECONDS", "soon"),
            ("POLICY_RELOAD_INTERVAL_SECONDS", "-1"),
            ("POLICY_REQUEST_TIMEOUT_SECONDS", "0"),
            ("POLICY_API_KEYS", "ai-engine=short"),
            ("POLICY_API_KEYS", "no-equals-sign-here-at-all"),
            ("POLICY_RELOAD_REVOKES", "sometimes"),
            (
                "POLICY_API_KEYS",
                "ai-engine=0123456789abcdef,,ops=0123456789abcdef-ops",
            ),
            ("POLICY_API_KEYS", "ai-engine=0123456789abcdef,"),
            ("POLICY_API_KEYS", "ai engine=0123456789abcdef"),
            ("POLICY_API_KEYS", "=0123456789abcdef"),
            ("POLICY_API_KEYS", "a=0123456789abcdef,a=0123456789abcdef-2"),
            ("POLICY_API_KEYS", ","),
        ] {
            let err = config(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var, "{value}");
        }
    }

    #[test]
    fn api_key_errors_never_echo_the_key() {
        let err = config(&[("POLICY_API_KEYS", "ai-engine=tooshort")]).unwrap_err();
        assert!(!err.to_string().contains("tooshort"), "{err}");
    }

    #[test]
    fn api_key_list_errors_name_the_identity_not_the_key() {
        let err = config(&[(
            "POLICY_API_KEYS",
            "ops=hunter2hunter2hunter2,ops=hunter3hunter3hunter3",
        )])
        .unwrap_err();
        assert!(err.to_string().contains("`ops` appears twice"), "{err}");
        assert!(!err.to_string().contains("hunter"), "{err}");
    }

    #[test]
    fn reload_revokes_takes_every_boolean_spelling() {
        for (value, on) in [("TRUE", true), ("yes", true), ("on", true), ("OFF", false)] {
            let c = config(&[("POLICY_RELOAD_REVOKES", value)]).unwrap();
            assert_eq!(c.reload_revokes, on, "{value}");
        }
        let err = config(&[("POLICY_RELOAD_REVOKES", "sometimes")]).unwrap_err();
        assert!(err.to_string().contains("true/false, yes/no"), "{err}");
    }

    #[test]
    fn every_known_variable_is_documented_in_env_example() {
        let example = include_str!("../../../.env.example");
        for var in VARS.iter().chain(EXECUTOR_VARS) {
            assert!(
                example
                    .lines()
                    .any(|l| l.starts_with(&format!("{var}="))
                        || l.starts_with(&format!("# {var}="))),
                "{var} is not in .env.example"
            );
        }
    }

    #[test]
    fn previous_key_files_are_a_comma_list() {
        let c = config(&[("DECISION_PREVIOUS_KEY_FILES", "a.pem, b.pem,")]).unwrap();
        assert_eq!(
            c.previous_key_files,
            vec![PathBuf::from("a.pem"), PathBuf::from("b.pem")]
        );
    }
}
