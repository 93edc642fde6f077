//! Typed configuration, read from the environment once at start-up.
//!
//! Every variable is documented in `.env.example`. A bad value stops the service with a
//! message naming the variable; secrets are never echoed.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::actions::Registry;
use crate::store::Budget;

/// Default listen address (`EXECUTOR_BIND`).
pub const DEFAULT_BIND: &str = "0.0.0.0:4000";
/// Default policy service URL (`POLICY_URL`).
pub const DEFAULT_POLICY_URL: &str = "http://localhost:3000";
/// Default protected namespaces (`EXECUTOR_PROTECTED_NAMESPACES`).
pub const DEFAULT_PROTECTED_NAMESPACES: &str = "kube-system,kube-public,kube-node-lease";
/// Secrets shorter than this get a warning: HMAC-SHA256 wants a 32-byte key.
pub const RECOMMENDED_SECRET_LEN: usize = 32;

/// Budget defaults per key: (ttl seconds, max). The first two are the seed's values.
const BUDGET_DEFAULTS: &[(&str, u64, u32)] = &[
    ("restart", 300, 5),
    ("scale", 60, 10),
    ("rollout_restart", 300, 5),
];
/// Default for a budget key without its own default (custom actions).
const FALLBACK_BUDGET: (u64, u32) = (300, 5);

/// A setting that could not be used (the one type both services report).
pub use warden_service_kit::ConfigError;

/// The budget keys of `registry`'s actions, which [`Config::from_env`] reads a
/// `RATE_LIMIT_<KEY>_TTL` / `_MAX` pair for.
pub fn budget_keys(registry: &Registry) -> Vec<&'static str> {
    registry.names().into_iter().map(|(_, key)| key).collect()
}

/// The HMAC secrets clients sign with.
#[derive(Clone)]
pub struct Secrets {
    default: Vec<u8>,
    per_client: HashMap<String, Vec<u8>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: the secrets themselves never reach a log.
        let mut clients: Vec<_> = self.per_client.keys().collect();
        clients.sort();
        f.debug_struct("Secrets")
            .field("clients", &clients)
            .finish()
    }
}

impl Secrets {
    /// Secrets from a default and `(client, secret)` pairs.
    pub fn new(
        default: impl Into<Vec<u8>>,
        per_client: impl IntoIterator<Item = (String, Vec<u8>)>,
    ) -> Self {
        Secrets {
            default: default.into(),
            per_client: per_client.into_iter().collect(),
        }
    }

    /// The secret `client` signs with: its own, or `JWT_SECRET`.
    pub fn for_client(&self, client: &str) -> &[u8] {
        self.per_client
            .get(client)
            .map_or(&self.default, Vec::as_slice)
    }

    /// Names of secrets shorter than [`RECOMMENDED_SECRET_LEN`] (`JWT_SECRET` or a client).
    pub fn weak(&self) -> Vec<String> {
        let mut weak = Vec::new();
        if self.default.len() < RECOMMENDED_SECRET_LEN {
            weak.push("JWT_SECRET".to_owned());
        }
        let mut clients: Vec<_> = self
            .per_client
            .iter()
            .filter(|(_, s)| s.len() < RECOMMENDED_SECRET_LEN)
            .map(|(c, _)| format!("EXECUTOR_CLIENT_SECRETS[{c}]"))
            .collect();
        clients.sort();
        weak.extend(clients);
        weak
    }
}

/// Shortest `EXECUTOR_ADMIN_TOKEN` accepted: long enough that guessing is hopeless.
pub const MIN_ADMIN_TOKEN_LEN: usize = 32;

/// `EXECUTOR_ADMIN_TOKEN`, the bearer token of the audit API. Only its SHA-256 digest is
/// kept: [`AdminToken::verify`] compares digests in constant time, so neither the token's
/// bytes nor its length leak through timing, and no `Debug` or log can print it.
#[derive(Clone)]
pub struct AdminToken {
    digest: [u8; 32],
}

impl AdminToken {
    /// The token `token` (validation is [`Config::from_lookup`]'s job).
    pub fn new(token: &str) -> Self {
        AdminToken {
            digest: Sha256::digest(token.as_bytes()).into(),
        }
    }

    /// Whether `presented` is the token, in time independent of where they differ.
    pub fn verify(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        bool::from(self.digest.ct_eq(&presented))
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
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
}

impl Config {
    /// Reads the configuration from the process environment, for the actions whose
    /// budget keys are `budget_keys`.
    pub fn from_env(budget_keys: &[&str]) -> Result<Self, ConfigError> {
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
        if !(policy_url.starts_with("http://") || policy_url.starts_with("https://")) {
            return Err(ConfigError::new(
                "POLICY_URL",
                "expected an http:// or https:// URL",
            ));
        }
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
        Ok(Config {
            bind,
            policy_url: policy_url.trim_end_matches('/').to_owned(),
            database_url,
            database_max_connections: number(&get, "DATABASE_MAX_CONNECTIONS", 16, 1..=1000)?,
            secrets: Secrets::new(default_secret.into_bytes(), per_client),
            budgets,
            max_replicas: number(&get, "EXECUTOR_MAX_REPLICAS", 50, 0..=100_000)?,
            protected_namespaces: get("EXECUTOR_PROTECTED_NAMESPACES")
                .unwrap_or_else(|| DEFAULT_PROTECTED_NAMESPACES.to_owned())
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            dry_run: boolean(&get, "EXECUTOR_DRY_RUN", false)?,
            kube_timeout,
            requests_per_second: number(&get, "EXECUTOR_REQUESTS_PER_SECOND", 50, 1..=1_000_000)?,
            request_timeout: seconds(&get, "EXECUTOR_REQUEST_TIMEOUT_SECONDS", 30, 1..=600)?,
            token_leeway: seconds(&get, "EXECUTOR_TOKEN_LEEWAY_SECONDS", 5, 0..=300)?,
            jwks_refresh,
            jwks_max_age,
            admin_token: get("EXECUTOR_ADMIN_TOKEN")
                .map(|raw| admin_token(&raw))
                .transpose()?,
        })
    }
}

/// Validates `EXECUTOR_ADMIN_TOKEN` (surrounding whitespace, e.g. the newline of a secret
/// file, is dropped). Visible ASCII only: anything else could never be sent in an
/// `Authorization` header, so such a token would lock everyone out. The message never
/// echoes the value.
fn admin_token(raw: &str) -> Result<AdminToken, ConfigError> {
    let token = raw.trim();
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConfigError::new(
            "EXECUTOR_ADMIN_TOKEN",
            "expected visible ASCII characters only (no spaces), e.g. `openssl rand -hex 32`",
        ));
    }
    if token.len() < MIN_ADMIN_TOKEN_LEN {
        return Err(ConfigError::new(
            "EXECUTOR_ADMIN_TOKEN",
            format!(
                "too short: at least {MIN_ADMIN_TOKEN_LEN} characters, e.g. `openssl rand -hex 32`"
            ),
        ));
    }
    Ok(AdminToken::new(token))
}

fn parse_client_secrets(raw: &str) -> Result<Vec<(String, Vec<u8>)>, ConfigError> {
    let var = "EXECUTOR_CLIENT_SECRETS";
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, item) in raw.split(',').map(str::trim).enumerate() {
        if item.is_empty() {
            continue;
        }
        let (client, secret) = item.split_once('=').ok_or_else(|| {
            ConfigError::new(
                var,
                format!("entry {} has no `=` (expected client=secret,...)", i + 1),
            )
        })?;
        let client = client.trim();
        if client.is_empty() || secret.is_empty() {
            return Err(ConfigError::new(
                var,
                format!("entry {} has an empty client or secret", i + 1),
            ));
        }
        if out.iter().any(|(c, _)| c == client) {
            return Err(ConfigError::new(
                var,
                format!("client `{client}` appears twice"),
            ));
        }
        out.push((client.to_owned(), secret.as_bytes().to_vec()));
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
    match get(var).as_deref().map(str::trim) {
        None => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(_) => Err(ConfigError::new(var, "expected true or false")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
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
    fn short_secrets_are_named_as_weak_but_accepted() {
        let c = config(&[
            ("JWT_SECRET", "short"),
            (
                "EXECUTOR_CLIENT_SECRETS",
                "ai-engine=tiny,ops=0123456789abcdef0123456789abcdef",
            ),
        ])
        .unwrap();
        assert_eq!(
            c.secrets.weak(),
            ["JWT_SECRET", "EXECUTOR_CLIENT_SECRETS[ai-engine]"]
        );
        assert_eq!(c.secrets.for_client("ai-engine"), b"tiny");
        assert_eq!(c.secrets.for_client("someone-else"), b"short");
        assert!(!format!("{:?}", c.secrets).contains("tiny"));
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        for (var, value) in [
            ("EXECUTOR_BIND", "nowhere"),
            ("POLICY_URL", "ftp://x"),
            ("RATE_LIMIT_RESTART_TTL", "0"),
            ("RATE_LIMIT_SCALE_MAX", "-1"),
            ("RATE_LIMIT_RESTART_MAX", "100001"),
            ("EXECUTOR_MAX_REPLICAS", "lots"),
            ("EXECUTOR_DRY_RUN", "perhaps"),
            ("EXECUTOR_KUBE_TIMEOUT_SECONDS", "0"),
            ("EXECUTOR_REQUESTS_PER_SECOND", "0"),
            ("EXECUTOR_CLIENT_SECRETS", "ai-engine"),
            ("EXECUTOR_CLIENT_SECRETS", "a=x,a=y"),
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
