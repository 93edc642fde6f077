//! `executor-service`: configured by environment variables (see `.env.example`).
//!
//! `executor-service permissions` prints, as JSON RBAC rules, the Kubernetes API
//! permissions the registered actions use, which the deployment's Role must grant exactly.
//! `executor-service check-actions FILE` checks a file of declarative HTTP actions (what
//! `EXECUTOR_ACTIONS_FILE` loads at start-up).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use executor_service::actions::{self, Registry};
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
    /// Check a file of declarative HTTP actions; print each problem as
    /// file:line:column and exit 1 if there is any.
    CheckActions {
        /// The YAML file (what EXECUTOR_ACTIONS_FILE names).
        file: std::path::PathBuf,
    },
}

fn main() -> ExitCode {
    // Parsed before anything reads the environment: `--help` needs no configuration.
    let cli = Cli::parse();
    // The one registry of this process: what it serves, what `permissions` reports and
    // which budgets the configuration reads.
    let registry = match actions::http::from_env() {
        Ok(specs) => Registry::with_builtins().with_http_actions(specs),
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
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
        Some(Command::CheckActions { file }) => match actions::http::load(&file) {
            Ok(specs) => {
                for spec in &specs {
                    println!(
                        "{}: {} {}",
                        spec.name,
                        spec.methods.join("|"),
                        spec.description
                    );
                }
                println!("{}: {} actions, no problems", file.display(), specs.len());
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("{message}");
                ExitCode::FAILURE
            }
        },
    }
}
