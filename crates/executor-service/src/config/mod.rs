//! Typed configuration, read from the environment once at start-up.
//!
//! Every variable is documented in `.env.example`. A bad value stops the service with a
//! message naming the variable; secrets are never echoed.
//!
//! Layout: this file reads and checks every setting; `secrets.rs` holds the credentials
//! ([`Secrets`], [`AdminToken`]) and their checks.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::actions::Registry;
use crate::store::Budget;

/// Default listen address (`EXECUTOR_BIND`).
pub const DEFAULT_BIND: &str = "0.0.0.0:4000";
/// Default policy service URL (`POLICY_URL`).
pub const DEFAULT_POLICY_URL: &str = "http://localhost:3000";
/// Default protected namespaces (`EXECUTOR_PROTECTED_NAMESPACES`).
pub const DEFAULT_PROTECTED_NAMESPACES: &str = "kube-system,kube-public,kube-node-lease";
/// Shortest HMAC secret accepted (`JWT_SECRET`, each of `EXECUTOR_CLIENT_SECRETS`):
/// HMAC-SHA256 wants a 32-byte key, and a shorter one can be guessed offline from one
/// signed request.
pub const MIN_SECRET_LEN: usize = 32;
/// The value of `EXECUTOR_PROTECTED_NAMESPACES` that protects no namespace: an empty list
/// must be asked for, never reached by an empty value or a typo.
pub const NO_PROTECTED_NAMESPACES: &str = "none";

/// The prefixes of this service's variables: another variable with one of them is a
/// misspelling, warned about at start-up ([`known_vars`]).
pub const PREFIXES: &[&str] = &["EXECUTOR_", "RATE_LIMIT_", "DATABASE_"];

/// Every variable [`Config::from_lookup`] reads besides the rate budgets (see
/// [`known_vars`]); `.env.example` documents each.
pub const VARS: &[&str] = &[
    "EXECUTOR_BIND",
    "POLICY_URL",
    "DATABASE_URL",
    "DATABASE_MAX_CONNECTIONS",
    "JWT_SECRET",
    "EXECUTOR_CLIENT_SECRETS",
    "EXECUTOR_MAX_REPLICAS",
    "EXECUTOR_PROTECTED_NAMESPACES",
    "EXECUTOR_DRY_RUN",
    "EXECUTOR_KUBE_TIMEOUT_SECONDS",
    "EXECUTOR_REQUESTS_PER_SECOND",
    "EXECUTOR_REQUEST_TIMEOUT_SECONDS",
    "EXECUTOR_TOKEN_LEEWAY_SECONDS",
    "EXECUTOR_JWKS_REFRESH_SECONDS",
    "EXECUTOR_JWKS_MAX_AGE_SECONDS",
    "EXECUTOR_ADMIN_TOKEN",
    "EXECUTOR_ACTIONS_FILE",
];

/// Budget defaults per key: (ttl seconds, max). The first two are the seed's values.
const BUDGET_DEFAULTS: &[(&str, u64, u32)] = &[
    ("restart", 300, 5),
    ("scale", 60, 10),
    ("rollout_restart", 300, 5),
    // The three read-only actions: generous, as a diagnosis reads often, but bounded so a
    // looping engine cannot hammer the API server (2 reads a second on average).
    ("read", 60, 120),
];
/// Default for a budget key without its own default (custom actions).
const FALLBACK_BUDGET: (u64, u32) = (300, 5);

/// A setting that could not be used (the one type both services report).
pub use warden_service_kit::ConfigError;

mod secrets;

pub mod approvals;
pub mod operators;

pub use approvals::ApprovalSettings;
pub use operators::OperatorSettings;
pub use secrets::{AdminToken, MIN_ADMIN_TOKEN_LEN, Secrets};
use secrets::{admin_token, parse_client_secrets};

/// The budget keys of `registry`'s actions, which [`Config::from_env`] reads a
/// `RATE_LIMIT_<KEY>_TTL` / `_MAX` pair for.
pub fn budget_keys(registry: &Registry) -> Vec<&'static str> {
    registry.names().into_iter().map(|(_, key)| key).collect()
}

/// Every variable the executor reads for actions with budget keys `budget_keys`:
/// [`VARS`] and a `RATE_LIMIT_<KEY>_TTL` / `_MAX` pair per key.
pub fn known_vars(budget_keys: &[&str]) -> Vec<String> {
    let mut vars: Vec<String> = VARS
        .iter()
        .chain(operators::VARS)
        .chain(approvals::VARS)
        .map(|v| (*v).to_owned())
        .collect();
    for key in budget_keys {
        let upper = key.to_ascii_uppercase();
        vars.push(format!("RATE_LIMIT_{upper}_TTL"));
        vars.push(format!("RATE_LIMIT_{upper}_MAX"));
    }
    vars.dedup();
    vars
}

/// Warns about each variable of the environment that has one of [`PREFIXES`] but is not
/// one of [`known_vars`], naming the closest known one.
pub fn warn_unknown_vars(budget_keys: &[&str]) {
    let known = known_vars(budget_keys);
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    warden_service_kit::warn_unknown_vars(PREFIXES, &known);
}

/// How the executor is configured.
#[derive(Debug, Clone)]
pub struct Config {
    /// `EXECUTOR_BIND`.
    pub bind: SocketAddr,
    /// `POLICY_URL`: where the JWKS is fetched (`{POLICY_URL}/.well-known/jwks.json`).
    pub policy_url: String,
    /// `DATABASE_URL` (required; may contain a password, so never logged).
    pub database_url: String,
    /// `DATABASE_MAX_CONNECTIONS`.
    pub database_max_connections: u32,
    /// `JWT_SECRET` and `EXECUTOR_CLIENT_SECRETS`.
    pub secrets: Secrets,
    /// `RATE_LIMIT_<KEY>_TTL` / `_MAX` for every budget key of the registered actions.
    pub budgets: BTreeMap<String, Budget>,
    /// `EXECUTOR_MAX_REPLICAS`.
    pub max_replicas: i32,
    /// `EXECUTOR_PROTECTED_NAMESPACES`.
    pub protected_namespaces: Vec<String>,
    /// `EXECUTOR_DRY_RUN`: every request is a dry run.
    pub dry_run: bool,
    /// `EXECUTOR_KUBE_TIMEOUT_SECONDS`: deadline of each Kubernetes API call.
    pub kube_timeout: Duration,
    /// `EXECUTOR_REQUESTS_PER_SECOND`: per-client-address request rate.
    pub requests_per_second: u32,
    /// `EXECUTOR_REQUEST_TIMEOUT_SECONDS`: longest time a client waits for an answer. The
    /// action itself is never cancelled by it once started (its audit row must be completed).
    pub request_timeout: Duration,
    /// `EXECUTOR_TOKEN_LEEWAY_SECONDS`: clock skew tolerated on token expiry.
    pub token_leeway: Duration,
    /// `EXECUTOR_JWKS_REFRESH_SECONDS`: how often the JWKS and its revocation floor are
    /// fetched.
    pub jwks_refresh: Duration,
    /// `EXECUTOR_JWKS_MAX_AGE_SECONDS`: how long after the last good JWKS fetch tokens are
    /// still honoured; past it every token is refused (503 `token_keys_unavailable`).
    pub jwks_max_age: Duration,
    /// `EXECUTOR_ADMIN_TOKEN`: the bearer token of the audit API (`/executor/audit`,
    /// `/executor/stats`); unset, those endpoints are off (404).
    pub admin_token: Option<AdminToken>,
    /// Who may decide approval requests ([`operators`]).
    pub operators: OperatorSettings,
    /// Approval requests, grants and their notifications ([`approvals`]).
    pub approvals: ApprovalSettings,
}

impl Config {
    /// Reads the configuration from the process environment, for the actions whose
    /// budget keys are `budget_keys`, first warning about misspelled variables
    /// ([`warn_unknown_vars`]; logging must be installed, as `run_binary` does).
    pub fn from_env(budget_keys: &[&str]) -> Result<Self, ConfigError> {
        warn_unknown_vars(budget_keys);
        Self::from_lookup(|name| std::env::var(name).ok(), budget_keys)
    }

    /// Reads the configuration through `lookup`.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        budget_keys: &[&str],
    ) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let bind = get("EXECUTOR_BIND")
            .unwrap_or_else(|| DEFAULT_BIND.to_owned())
            .parse()
            .map_err(|_| {
                ConfigError::new("EXECUTOR_BIND", "expected an address like 0.0.0.0:4000")
            })?;
        let policy_url = get("POLICY_URL").unwrap_or_else(|| DEFAULT_POLICY_URL.to_owned());
        check_policy_url(&policy_url)?;
        let database_url = get("DATABASE_URL").ok_or_else(|| {
            ConfigError::new(
                "DATABASE_URL",
                "required: the audit store, postgres://user@host/warden (production) or sqlite://data/warden.db (one node)",
            )
        })?;
        let default_secret = lookup("JWT_SECRET")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ConfigError::new(
                    "JWT_SECRET",
                    "required and must not be empty: the HMAC secret clients sign with",
                )
            })?;
        if default_secret.len() < MIN_SECRET_LEN {
            return Err(ConfigError::new(
                "JWT_SECRET",
                format!("too short: at least {MIN_SECRET_LEN} bytes, e.g. `openssl rand -hex 32`"),
            ));
        }
        let per_client = match get("EXECUTOR_CLIENT_SECRETS") {
            None => Vec::new(),
            Some(raw) => parse_client_secrets(&raw)?,
        };
        let mut budgets = BTreeMap::new();
        for key in budget_keys {
            budgets
                .entry((*key).to_owned())
                .or_insert(budget(&get, key)?);
        }
        let kube_timeout = seconds(&get, "EXECUTOR_KUBE_TIMEOUT_SECONDS", 10, 1..=300)?;
        let jwks_refresh = seconds(&get, "EXECUTOR_JWKS_REFRESH_SECONDS", 5, 1..=300)?;
        let jwks_max_age = seconds(&get, "EXECUTOR_JWKS_MAX_AGE_SECONDS", 30, 2..=3600)?;
        if jwks_max_age <= jwks_refresh {
            return Err(ConfigError::new(
                "EXECUTOR_JWKS_MAX_AGE_SECONDS",
                "must be longer than EXECUTOR_JWKS_REFRESH_SECONDS, or one missed fetch refuses every token",
            ));
        }
        let admin_token = get("EXECUTOR_ADMIN_TOKEN")
            .map(|raw| admin_token(&raw))
            .transpose()?;
        let secrets = Secrets::new(default_secret.into_bytes(), per_client);
        let operators = operators::operator_settings(&get, &secrets, admin_token.clone())?;
        Ok(Config {
            bind,
            policy_url: policy_url.trim_end_matches('/').to_owned(),
            database_url,
            database_max_connections: number(&get, "DATABASE_MAX_CONNECTIONS", 16, 1..=1000)?,
            secrets,
            budgets,
            max_replicas: number(&get, "EXECUTOR_MAX_REPLICAS", 50, 0..=100_000)?,
            // Read unfiltered: an empty value is an error here, not the default.
            protected_namespaces: protected_namespaces(
                lookup("EXECUTOR_PROTECTED_NAMESPACES").as_deref(),
            )?,
            dry_run: boolean(&get, "EXECUTOR_DRY_RUN", false)?,
            kube_timeout,
            requests_per_second: number(&get, "EXECUTOR_REQUESTS_PER_SECOND", 50, 1..=1_000_000)?,
            request_timeout: seconds(&get, "EXECUTOR_REQUEST_TIMEOUT_SECONDS", 30, 1..=600)?,
            token_leeway: seconds(&get, "EXECUTOR_TOKEN_LEEWAY_SECONDS", 5, 0..=300)?,
            jwks_refresh,
            jwks_max_age,
            admin_token,
            operators,
            approvals: approvals::approval_settings(&get)?,
        })
    }
}

/// `POLICY_URL`: an `http://` or `https://` URL with a host, nothing after the path.
fn check_policy_url(raw: &str) -> Result<(), ConfigError> {
    let expected = "expected an http:// or https:// URL with a host, like http://policy:3000";
    if !(raw.starts_with("http://") || raw.starts_with("https://")) {
        return Err(ConfigError::new("POLICY_URL", expected));
    }
    let url = reqwest::Url::parse(raw).map_err(|_| ConfigError::new("POLICY_URL", expected))?;
    let plain = url.host_str().is_some_and(|h| !h.is_empty())
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if !plain || raw.chars().any(char::is_whitespace) {
        return Err(ConfigError::new("POLICY_URL", expected));
    }
    Ok(())
}

/// `EXECUTOR_PROTECTED_NAMESPACES`: unset, the default list; `none`, no namespace; else
/// comma-separated namespace names (DNS-1123 labels, spaces around each ignored). An
/// entry that is not a namespace name could never match one, so it would protect nothing:
/// it is refused, and so is an empty value, which would otherwise protect nothing by
/// accident.
fn protected_namespaces(raw: Option<&str>) -> Result<Vec<String>, ConfigError> {
    let var = "EXECUTOR_PROTECTED_NAMESPACES";
    let Some(raw) = raw else {
        return Ok(DEFAULT_PROTECTED_NAMESPACES
            .split(',')
            .map(str::to_owned)
            .collect());
    };
    if raw.trim() == NO_PROTECTED_NAMESPACES {
        return Ok(Vec::new());
    }
    if raw.split(',').all(|entry| entry.trim().is_empty()) {
        return Err(ConfigError::new(
            var,
            format!(
                "empty: list namespaces (e.g. {DEFAULT_PROTECTED_NAMESPACES}), or write `{NO_PROTECTED_NAMESPACES}` to protect no namespace"
            ),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, entry) in raw.split(',').map(str::trim).enumerate() {
        if entry.is_empty() {
            return Err(ConfigError::new(
                var,
                format!(
                    "entry {} is empty (expected namespace,namespace,...)",
                    i + 1
                ),
            ));
        }
        if !warden_protocol::is_dns1123_label(entry) {
            return Err(ConfigError::new(
                var,
                format!(
                    "`{entry}` is not a namespace name (lowercase letters, digits and `-`, at most 63), so it would protect nothing"
                ),
            ));
        }
        if out.iter().any(|n| n == entry) {
            return Err(ConfigError::new(var, format!("`{entry}` appears twice")));
        }
        out.push(entry.to_owned());
    }
    Ok(out)
}

/// Largest accepted `RATE_LIMIT_*_MAX`. Each unit of a budget is a row of `budget_slots`,
/// created by the first action of that budget: a hundred thousand rows take well under a
/// second to create, a million would make that first request slow enough to time out.
const MAX_BUDGET: u32 = 100_000;

fn budget(get: &impl Fn(&str) -> Option<String>, key: &str) -> Result<Budget, ConfigError> {
    let (ttl, max) = BUDGET_DEFAULTS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map_or(FALLBACK_BUDGET, |(_, t, m)| (*t, *m));
    let upper = key.to_ascii_uppercase();
    let ttl_var = format!("RATE_LIMIT_{upper}_TTL");
    let max_var = format!("RATE_LIMIT_{upper}_MAX");
    let ttl = match get(&ttl_var) {
        None => ttl,
        Some(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|t| (1..=86_400 * 7).contains(t))
            .ok_or_else(|| ConfigError::new(&ttl_var, "expected seconds between 1 and 604800"))?,
    };
    let max = match get(&max_var) {
        None => max,
        Some(v) => v
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|m| *m <= MAX_BUDGET)
            .ok_or_else(|| {
                ConfigError::new(&max_var, "expected a whole number between 0 and 100000")
            })?,
    };
    Ok(Budget {
        key: key.to_owned(),
        max,
        ttl: Duration::from_secs(ttl),
    })
}

fn number<T>(
    get: &impl Fn(&str) -> Option<String>,
    var: &str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    match get(var) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<T>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                ConfigError::new(
                    var,
                    format!(
                        "expected a whole number between {} and {}",
                        range.start(),
                        range.end()
                    ),
                )
            }),
    }
}

fn seconds(
    get: &impl Fn(&str) -> Option<String>,
    var: &str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    number(get, var, default, range).map(Duration::from_secs)
}

fn boolean(
    get: &impl Fn(&str) -> Option<String>,
    var: &str,
    default: bool,
) -> Result<bool, ConfigError> {
    match get(var) {
        None => Ok(default),
        Some(raw) => warden_service_kit::config::parse_bool(var, &raw),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::collections::HashMap;

    use super::*;

    const KEYS: &[&str] = &["restart", "scale", "rollout_restart"];

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut map: HashMap<String, String> = [
            ("DATABASE_URL", "postgres://postgres@127.0.0.1/warden"),
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in vars {
            map.insert(k.to_string(), v.to_string());
        }
        Config::from_lookup(|name| map.get(name).cloned(), KEYS)
    }

    #[test]
    fn defaults_follow_the_seed() {
        let c = config(&[]).unwrap();
        assert_eq!(c.bind, "0.0.0.0:4000".parse().unwrap());
        assert_eq!(c.policy_url, "http://localhost:3000");
        assert_eq!(c.budgets["restart"].max, 5);
        assert_eq!(c.budgets["restart"].ttl, Duration::from_secs(300));
        assert_eq!(c.budgets["scale"].max, 10);
        assert_eq!(c.budgets["scale"].ttl, Duration::from_secs(60));
        assert_eq!(c.max_replicas, 50);
        assert_eq!(
            c.protected_namespaces,
            ["kube-system", "kube-public", "kube-node-lease"]
        );
        assert!(!c.dry_run);
        assert_eq!(c.jwks_refresh, Duration::from_secs(5));
        assert_eq!(c.jwks_max_age, Duration::from_secs(30));
    }

    #[test]
    fn budgets_are_read_per_key() {
        let c = config(&[
            ("RATE_LIMIT_RESTART_MAX", "7"),
            ("RATE_LIMIT_ROLLOUT_RESTART_TTL", "30"),
        ])
        .unwrap();
        assert_eq!(c.budgets["restart"].max, 7);
        assert_eq!(c.budgets["rollout_restart"].ttl, Duration::from_secs(30));
    }

    #[test]
    fn an_empty_secret_refuses_to_start() {
        let e = config(&[("JWT_SECRET", "")]).unwrap_err();
        assert_eq!(e.var, "JWT_SECRET");
    }

    #[test]
    fn short_secrets_refuse_to_start_naming_the_minimum_not_the_value() {
        // Act
        let default = config(&[("JWT_SECRET", "hunter2-short")]).unwrap_err();
        let client = config(&[(
            "EXECUTOR_CLIENT_SECRETS",
            "ops=0123456789abcdef0123456789abcdef,ai-engine=hunter2-tiny",
        )])
        .unwrap_err();

        // Assert
        assert_eq!(
            default.to_string(),
            "JWT_SECRET: too short: at least 32 bytes, e.g. `openssl rand -hex 32`"
        );
        assert_eq!(client.var, "EXECUTOR_CLIENT_SECRETS");
        assert!(
            client.to_string().contains("client `ai-engine`"),
            "{client}"
        );
        assert!(client.to_string().contains("at least 32 bytes"), "{client}");
        assert!(!client.to_string().contains("hunter2"), "{client}");
    }

    #[test]
    fn per_client_secrets_are_used_and_never_shown() {
        let own = "ai-engine-own-secret-0123456789abcdef";
        let c = config(&[("EXECUTOR_CLIENT_SECRETS", &format!("ai-engine={own}"))]).unwrap();
        assert_eq!(c.secrets.for_client("ai-engine"), own.as_bytes());
        assert_eq!(
            c.secrets.for_client("someone-else"),
            b"0123456789abcdef0123456789abcdef"
        );
        assert!(!format!("{:?}", c.secrets).contains(own));
    }

    #[test]
    fn protected_namespaces_are_namespace_names_or_none() {
        let listed = config(&[("EXECUTOR_PROTECTED_NAMESPACES", "kube-system, production")]);
        assert_eq!(
            listed.unwrap().protected_namespaces,
            ["kube-system", "production"]
        );
        let none = config(&[("EXECUTOR_PROTECTED_NAMESPACES", "none")]).unwrap();
        assert!(none.protected_namespaces.is_empty());
        for (value, says) in [
            ("KUBE-SYSTEM", "`KUBE-SYSTEM` is not a namespace name"),
            ("kube-system,Staging", "`Staging` is not a namespace name"),
            ("kube_system", "`kube_system` is not a namespace name"),
            ("kube-system,,prod", "entry 2 is empty"),
            ("kube-system,", "entry 2 is empty"),
            ("prod,prod", "`prod` appears twice"),
            ("", "write `none`"),
            (" ", "write `none`"),
            (",", "write `none`"),
            (" , ,", "write `none`"),
        ] {
            let err = config(&[("EXECUTOR_PROTECTED_NAMESPACES", value)]).unwrap_err();
            assert_eq!(err.var, "EXECUTOR_PROTECTED_NAMESPACES", "{value:?}");
            assert!(err.to_string().contains(says), "{value:?}: {err}");
        }
    }

    #[test]
    fn booleans_accept_every_spelling_of_the_shared_parser() {
        for (value, on) in [("TRUE", true), ("on", true), ("Off", false), ("no", false)] {
            assert_eq!(config(&[("EXECUTOR_DRY_RUN", value)]).unwrap().dry_run, on);
        }
        let err = config(&[("EXECUTOR_DRY_RUN", "perhaps")]).unwrap_err();
        assert!(err.to_string().contains("yes/no"), "{err}");
    }

    #[test]
    fn every_known_variable_is_documented_in_env_example() {
        let example = include_str!("../../../../.env.example");
        for var in known_vars(KEYS) {
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
    fn each_bad_value_names_its_variable() {
        for (var, value) in [
            ("EXECUTOR_BIND", "nowhere"),
            ("POLICY_URL", "ftp://x"),
            ("POLICY_URL", "http://"),
            ("POLICY_URL", "http://policy:3000?x=1"),
            ("POLICY_URL", "http://policy :3000"),
            ("RATE_LIMIT_RESTART_TTL", "0"),
            ("RATE_LIMIT_SCALE_MAX", "-1"),
            ("RATE_LIMIT_RESTART_MAX", "100001"),
            ("EXECUTOR_MAX_REPLICAS", "lots"),
            ("EXECUTOR_DRY_RUN", "perhaps"),
            ("EXECUTOR_KUBE_TIMEOUT_SECONDS", "0"),
            ("EXECUTOR_REQUESTS_PER_SECOND", "0"),
            ("EXECUTOR_CLIENT_SECRETS", "ai-engine"),
            ("EXECUTOR_CLIENT_SECRETS", "a=x,a=y"),
            (
                "EXECUTOR_CLIENT_SECRETS",
                "ai engine=0123456789abcdef0123456789abcdef",
            ),
            (
                "EXECUTOR_CLIENT_SECRETS",
                "a=0123456789abcdef0123456789abcdef,",
            ),
            ("JWT_SECRET", "0123456789abcdef0123456789abcde"),
            ("EXECUTOR_PROTECTED_NAMESPACES", "KUBE-SYSTEM"),
            ("DATABASE_MAX_CONNECTIONS", "0"),
            ("EXECUTOR_JWKS_REFRESH_SECONDS", "0"),
            ("EXECUTOR_JWKS_MAX_AGE_SECONDS", "5"),
            ("EXECUTOR_ADMIN_TOKEN", "too-short"),
            (
                "EXECUTOR_ADMIN_TOKEN",
                "has a space 0123456789abcdef0123456789",
            ),
        ] {
            let e = config(&[(var, value)]).unwrap_err();
            assert_eq!(e.var, var, "{value}");
        }
        let missing = Config::from_lookup(|_| None, KEYS).unwrap_err();
        assert_eq!(missing.var, "DATABASE_URL");
    }

    #[test]
    fn the_admin_token_is_optional_and_never_shown() {
        // Arrange
        let token = "0123456789abcdef0123456789abcdef-admin";

        // Act
        let off = config(&[]).unwrap();
        let on = config(&[("EXECUTOR_ADMIN_TOKEN", &format!("{token}\n"))]).unwrap();
        let short = config(&[("EXECUTOR_ADMIN_TOKEN", "hunter2hunter2")]).unwrap_err();

        // Assert
        assert!(off.admin_token.is_none());
        let admin = on.admin_token.as_ref().unwrap();
        assert!(admin.verify(token));
        assert!(!admin.verify(&token[1..]));
        assert!(!admin.verify(""));
        assert!(!format!("{on:?}").contains(token));
        assert_eq!(short.var, "EXECUTOR_ADMIN_TOKEN");
        assert!(!short.to_string().contains("hunter2"), "{short}");
    }

    #[test]
    fn client_secret_errors_do_not_echo_secrets() {
        let e = config(&[("EXECUTOR_CLIENT_SECRETS", "a=hunter2hunter2,a=hunter3")]).unwrap_err();
        assert!(!e.to_string().contains("hunter"), "{e}");
    }
}
