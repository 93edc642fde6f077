//! `executor-service`: configured by environment variables (see `.env.example`).
//!
//! `executor-service permissions` prints, as JSON RBAC rules, the Kubernetes API
//! permissions the registered actions use, which the deployment's Role must grant exactly.

use std::process::ExitCode;

use executor_service::actions::Registry;
use executor_service::config::{self, Config};

const USAGE: &str = "usage: executor-service [permissions]";

fn main() -> ExitCode {
    // The one registry of this process: what it serves, what `permissions` reports and
    // which budgets the configuration reads.
    let registry = Registry::with_builtins();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => {
            let keys = config::budget_keys(&registry);
            warden_service_kit::run_binary(
                || Config::from_env(&keys),
                |config| executor_service::run(config, registry),
            )
        }
        ["permissions"] => {
            println!("{}", registry.policy_rules());
            ExitCode::SUCCESS
        }
        ["-h" | "--help"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
