//! `cargo run` at the repository root: the policy service and the executor in one process,
//! on the seed's ports, with defaults that need nothing installed.
//!
//! What differs from running the two production binaries (`policy-service`,
//! `executor-service`), and only when the variable is not set:
//!
//! | Variable | Default here | Why |
//! |---|---|---|
//! | `POLICY_BIND`, `EXECUTOR_BIND` | `127.0.0.1:3000`, `127.0.0.1:4000` | a trial on a laptop is not exposed to the network |
//! | `POLICY_URL` | the policy service of this process | |
//! | `DATABASE_URL` | `sqlite://data/warden.db` | the embedded audit store; `postgres://…` switches to Postgres |
//! | `JWT_SECRET` | 32 random bytes, printed once in the banner | so the walk-through can sign |
//! | `EXECUTOR_ADMIN_TOKEN` | 32 random bytes, printed once in the banner as `WARDEN_TOKEN`, unless an operator is configured (`EXECUTOR_OPERATORS`, `EXECUTOR_OIDC_ISSUER`) | so a person can approve with `warden approvals` and read the audit API |
//! | cluster | none (every action a dry run) unless `KUBECONFIG`, `~/.kube/config` or an in-cluster ServiceAccount is found | nothing is touched by accident |
//!
//! Everything else (and `.env`) is read exactly as the two services read it.
//!
//! # Layout
//! - [`Settings`]: both configurations with the defaults above ([`Settings::from_lookup`]).
//! - [`banner`]: what is printed once both services listen.
//! - [`run`]: builds both services' `Application`s, as their own binaries do, and serves
//!   until SIGTERM or Ctrl-C.
//! - `src/main.rs`: the thin binary: the action registry, the settings, the cluster
//!   (`executor_service::kube_client::discover`, the executor binary's rule except that
//!   no cluster found is never an error here), then [`run`]; or, with a subcommand, the
//!   command line for people ([`cli`]).

pub mod cli;

use std::net::SocketAddr;

use executor_service::actions::Registry;
use rand_core::{OsRng, RngCore as _};

pub use executor_service::kube_client::ClusterChoice;

/// Policy service address of `cargo run`.
pub const DEFAULT_POLICY_BIND: &str = "127.0.0.1:3000";
/// Executor address of `cargo run`.
pub const DEFAULT_EXECUTOR_BIND: &str = "127.0.0.1:4000";
/// The embedded audit store of `cargo run`.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/warden.db";

/// Both services' configurations, with `cargo run`'s defaults applied.
#[derive(Debug)]
pub struct Settings {
    /// The policy service's configuration.
    pub policy: policy_service::config::Config,
    /// The executor's configuration.
    pub executor: executor_service::config::Config,
    /// The `JWT_SECRET` generated for this run, when none was set (to print once).
    pub generated_secret: Option<String>,
    /// The `EXECUTOR_ADMIN_TOKEN` generated for this run, when no operator was configured
    /// (to print once, as the `WARDEN_TOKEN` of the `warden` commands).
    pub generated_operator_token: Option<String>,
}

/// A setting that cannot be used; the message names the variable.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(String);

impl Settings {
    /// Reads both configurations through `lookup` (the environment), filling in the
    /// defaults of the table in the crate documentation; the executor's budgets are those
    /// of `registry`'s actions.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        registry: &Registry,
    ) -> Result<Settings, SettingsError> {
        let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let generated_secret = match set("JWT_SECRET") {
            Some(_) => None,
            None => Some(random_secret()),
        };
        // Someone must be able to answer an approval request: without any operator
        // configured, this run has one, the admin, with a fresh token.
        let no_operator = [
            "EXECUTOR_ADMIN_TOKEN",
            "EXECUTOR_OPERATORS",
            "EXECUTOR_OIDC_ISSUER",
        ]
        .iter()
        .all(|name| set(name).is_none());
        let generated_operator_token = no_operator.then(random_secret);
        let with_defaults = |name: &str| -> Option<String> {
            let default = match name {
                "POLICY_BIND" => Some(DEFAULT_POLICY_BIND.to_owned()),
                "EXECUTOR_BIND" => Some(DEFAULT_EXECUTOR_BIND.to_owned()),
                "DATABASE_URL" => Some(DEFAULT_DATABASE_URL.to_owned()),
                "JWT_SECRET" => generated_secret.clone(),
                "EXECUTOR_ADMIN_TOKEN" => generated_operator_token.clone(),
                _ => None,
            };
            match default {
                Some(default) => Some(set(name).unwrap_or(default)),
                // As it is: the configurations tell an empty value from an unset one where
                // that matters (EXECUTOR_PROTECTED_NAMESPACES=).
                None => lookup(name),
            }
        };
        let policy = policy_service::config::Config::from_lookup(with_defaults)
            .map_err(|e| SettingsError(e.to_string()))?;
        let policy_url = format!("http://{}", reachable(policy.bind));
        let executor_lookup = |name: &str| match name {
            "POLICY_URL" => set(name).or_else(|| Some(policy_url.clone())),
            _ => with_defaults(name),
        };
        let keys = executor_service::config::budget_keys(registry);
        let executor = executor_service::config::Config::from_lookup(executor_lookup, &keys)
            .map_err(|e| SettingsError(e.to_string()))?;
        Ok(Settings {
            policy,
            executor,
            generated_secret,
            generated_operator_token,
        })
    }
}

/// 32 random bytes, hex: a full-strength HMAC-SHA256 key.
fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// An address a local client can connect to: a wildcard bind is reached on loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        let loopback = match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        };
        SocketAddr::new(loopback, addr.port())
    } else {
        addr
    }
}

/// What is printed once both services listen: where they are, what runs in which mode,
/// and the commands to try.
pub fn banner(
    settings: &Settings,
    policy: SocketAddr,
    executor: SocketAddr,
    cluster: &ClusterChoice,
) -> String {
    let (policy, executor) = (reachable(policy), reachable(executor));
    let identity = if settings.policy.api_keys.is_some() {
        "API keys required"
    } else {
        "development mode: no API keys, callers name themselves"
    };
    let store = if executor_service::store::sqlite::is_sqlite_url(&settings.executor.database_url) {
        settings.executor.database_url.clone()
    } else {
        "Postgres (DATABASE_URL)".to_owned()
    };
    let cluster_line = match &cluster.client {
        None => {
            "none: every action is a dry run, nothing is sent (set KUBECONFIG to act)".to_owned()
        }
        Some(_) if settings.executor.dry_run => {
            format!(
                "{} (EXECUTOR_DRY_RUN=true: server-side dry runs)",
                cluster.description
            )
        }
        Some(_) => format!(
            "{} (LIVE: actions change this cluster)",
            cluster.description
        ),
    };
    let secret = match &settings.generated_secret {
        Some(secret) => format!(
            "{secret}\n                   (generated for this run: clients sign with it; set JWT_SECRET to keep one)"
        ),
        None => "from the environment".to_owned(),
    };
    let operator = match &settings.generated_operator_token {
        Some(token) => format!(
            "{token}\n                   (generated for this run: the admin's token for `warden approvals` and the audit API; set EXECUTOR_ADMIN_TOKEN to keep one)"
        ),
        None => "from the environment (EXECUTOR_OPERATORS, EXECUTOR_OIDC_*, EXECUTOR_ADMIN_TOKEN)"
            .to_owned(),
    };
    format!(
        r#"
Warden is running (one process, embedded defaults)
  policy service   http://{policy}   {file} ({identity})
  executor         http://{executor}   audit store: {store}
  cluster          {cluster_line}
  JWT_SECRET       {secret}
  WARDEN_TOKEN     {operator}

Try it:
  curl -s {policy}/readyz
  curl -s {policy}/api/v1/policy/evaluate -H 'content-type: application/json' \
    -d '{{"action":"restart_pod","resource":"pod:api-pod-12345","type":"self_healing",
         "context":{{"userId":"ai-engine","role":"service","metadata":{{"severity":"high"}}}}}}'
  curl -s {executor}/readyz
The README's walk-through signs and executes that decision step by step.
"#,
        file = settings.policy.policy_file.display(),
    )
}

/// Starts both services, the actions of `registry` on `cluster`, and serves until SIGTERM
/// or Ctrl-C (each drains its open requests).
pub async fn run(
    settings: Settings,
    registry: Registry,
    cluster: ClusterChoice,
) -> anyhow::Result<()> {
    // The policy service serves before the executor starts: the executor fetches its keys
    // at start-up.
    let policy = policy_service::Application::build(&settings.policy).await?;
    let policy_addr = policy.local_addr();
    let policy = tokio::spawn(policy.run_until_stopped());
    let executor = executor_service::Application::build(
        settings.executor.clone(),
        registry,
        cluster.client.clone(),
    )
    .await?;
    println!(
        "{}",
        banner(&settings, policy_addr, executor.local_addr(), &cluster)
    );
    let (policy, executor) = tokio::join!(policy, executor.run_until_stopped());
    executor?;
    policy??;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| env.get(name).cloned(), &Registry::with_builtins())
    }

    #[test]
    fn nothing_set_gives_the_embedded_defaults() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.policy.bind, DEFAULT_POLICY_BIND.parse().unwrap());
        assert_eq!(s.executor.bind, DEFAULT_EXECUTOR_BIND.parse().unwrap());
        assert_eq!(s.executor.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(s.executor.policy_url, "http://127.0.0.1:3000");
        let secret = s.generated_secret.unwrap();
        assert_eq!(secret.len(), 64);
        assert_eq!(
            s.executor.secrets.for_client("ai-engine"),
            secret.as_bytes()
        );
    }

    #[test]
    fn set_variables_win() {
        let s = settings(&[
            ("POLICY_BIND", "0.0.0.0:3100"),
            ("DATABASE_URL", "postgres://postgres@127.0.0.1/warden"),
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ])
        .unwrap();
        assert_eq!(s.executor.policy_url, "http://127.0.0.1:3100");
        assert_eq!(
            s.executor.database_url,
            "postgres://postgres@127.0.0.1/warden"
        );
        assert!(s.generated_secret.is_none());
        let s = settings(&[("POLICY_URL", "http://policy:3000")]).unwrap();
        assert_eq!(s.executor.policy_url, "http://policy:3000");
    }

    #[test]
    fn without_operators_the_run_has_an_admin_and_with_them_none_is_made() {
        let alone = settings(&[]).unwrap();
        let token = alone.generated_operator_token.clone().unwrap();
        let with_operators = settings(&[(
            "EXECUTOR_OPERATORS",
            "alice:operator:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        )])
        .unwrap();

        assert_eq!(token.len(), 64);
        assert_ne!(Some(&token), alone.generated_secret.as_ref());
        assert!(alone.executor.operators.admin.is_some());
        assert!(with_operators.generated_operator_token.is_none());
        assert!(with_operators.executor.admin_token.is_none());
    }

    #[test]
    fn a_bad_setting_names_its_variable() {
        let err = settings(&[("EXECUTOR_MAX_REPLICAS", "many")]).unwrap_err();
        assert!(
            err.to_string().starts_with("EXECUTOR_MAX_REPLICAS"),
            "{err}"
        );
        let err = settings(&[("POLICY_BIND", "nowhere")]).unwrap_err();
        assert!(err.to_string().starts_with("POLICY_BIND"), "{err}");
    }

    #[test]
    fn settings_are_validated_as_the_services_validate_them() {
        let err = settings(&[("EXECUTOR_PROTECTED_NAMESPACES", "")]).unwrap_err();
        assert!(err.to_string().contains("write `none`"), "{err}");
        let err = settings(&[("JWT_SECRET", "short")]).unwrap_err();
        assert!(err.to_string().starts_with("JWT_SECRET"), "{err}");
        assert!(
            settings(&[("EXECUTOR_DRY_RUN", "TRUE")])
                .unwrap()
                .executor
                .dry_run
        );
    }

    #[test]
    fn the_banner_says_what_runs_and_shows_the_secret_once() {
        let s = settings(&[]).unwrap();
        let none = ClusterChoice {
            client: None,
            description: "none".into(),
        };
        let text = banner(
            &s,
            "127.0.0.1:3000".parse().unwrap(),
            "0.0.0.0:4000".parse().unwrap(),
            &none,
        );
        let secret = s.generated_secret.as_deref().unwrap();
        assert_eq!(text.matches(secret).count(), 1);
        let operator = s.generated_operator_token.as_deref().unwrap();
        assert_eq!(text.matches(operator).count(), 1);
        assert!(text.contains("WARDEN_TOKEN"));
        assert!(text.contains("http://127.0.0.1:4000"));
        assert!(text.contains("every action is a dry run"));
        assert!(text.contains("sqlite://data/warden.db"));
        assert!(text.contains("/api/v1/policy/evaluate"));
    }
}
