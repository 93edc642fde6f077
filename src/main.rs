//! `cargo run`: both services in one process on embedded defaults (see the library docs).

use std::process::ExitCode;

use clap::Parser;
use executor_service::actions::Registry;
use executor_service::kube_client::{self, WithoutCluster};

/// Warden in one process: starts the policy service (127.0.0.1:3000) and the executor
/// (127.0.0.1:4000) on embedded defaults, for a trial without anything installed.
///
/// With a subcommand, it is instead a client of a running executor, for the people who
/// decide approvals and read the audit log. The production binaries are `policy-service`
/// and `executor-service`.
#[derive(Debug, Parser)]
#[command(
    name = "warden",
    version,
    after_help = "Settings: environment variables (or a .env file), listed with their \
                  defaults in .env.example; README.md says what this process sets \
                  differently (SQLite audit store, a generated JWT_SECRET, no cluster \
                  unless one is found)."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<warden::cli::Command>,
}

fn main() -> ExitCode {
    // Parsed before anything reads the environment: `--help` needs no configuration.
    if let Some(command) = Cli::parse().command {
        return warden::cli::run(command);
    }
    // The one registry of this process: which budgets the settings read, and what the
    // executor serves (with the HTTP actions of EXECUTOR_ACTIONS_FILE, if set).
    let registry = match executor_service::actions::http::from_env() {
        Ok(specs) => Registry::with_builtins().with_http_actions(specs),
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    warden_service_kit::run_binary(
        move || {
            warn_unknown_vars(&registry);
            warden::Settings::from_lookup(|name| std::env::var(name).ok(), &registry)
                .map(|settings| (settings, registry))
        },
        |(settings, registry)| async move {
            let cluster =
                kube_client::discover(WithoutCluster::Allowed, settings.executor.kube_timeout)
                    .await?;
            warden::run(settings, registry, cluster).await
        },
    )
}

/// The settings of both services are read here, so a variable is misspelled only if
/// neither service knows it.
fn warn_unknown_vars(registry: &Registry) {
    let executor =
        executor_service::config::known_vars(&executor_service::config::budget_keys(registry));
    let mut known: Vec<&str> = executor.iter().map(String::as_str).collect();
    known.extend_from_slice(policy_service::config::VARS);
    let prefixes = [
        executor_service::config::PREFIXES,
        policy_service::config::PREFIXES,
    ]
    .concat();
    warden_service_kit::warn_unknown_vars(&prefixes, &known);
}
