//! `executor-service`: configured by environment variables (see `.env.example`).
//!
//! `executor-service permissions` prints, as JSON RBAC rules, the Kubernetes API
//! permissions the registered actions use, which the deployment's Role must grant exactly.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use executor_service::actions::Registry;
use executor_service::config::{self, Config};

/// Warden's executor service: runs a remediation action on Kubernetes only with a valid
/// signed request and policy decision, and audits every attempt.
///
/// Without a subcommand it serves the HTTP API.
#[derive(Debug, Parser)]
#[command(
    name = "executor-service",
    version,
    after_help = "Settings: environment variables (or a .env file), listed with their \
                  defaults in .env.example and described in README.md."
)]
struct Cli {
    /// What to do; serve the HTTP API when omitted.
    #[command(subcommand)]
    command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Print, as JSON RBAC rules, the Kubernetes API permissions the registered actions
    /// use (what the deployment's Role must grant).
    Permissions,
}

fn main() -> ExitCode {
    // Parsed before anything reads the environment: `--help` needs no configuration.
    let cli = Cli::parse();
    // The one registry of this process: what it serves, what `permissions` reports and
    // which budgets the configuration reads.
    let registry = Registry::with_builtins();
    match cli.command {
        None => {
            let keys = config::budget_keys(&registry);
            warden_service_kit::run_binary(
                || Config::from_env(&keys),
                |config| executor_service::run(config, registry),
            )
        }
        Some(Command::Permissions) => {
            println!("{}", registry.policy_rules());
            ExitCode::SUCCESS
        }
    }
}
