//! `executor-service`: configured by environment variables (see `.env.example`).
//!
//! `executor-service permissions` prints, as JSON RBAC rules, the Kubernetes API
//! permissions the registered actions use, which the deployment's Role must grant exactly.

use std::process::ExitCode;

const USAGE: &str = "usage: executor-service [permissions]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => serve(),
        ["permissions"] => {
            let rules = executor_service::actions::Registry::with_builtins().policy_rules();
            println!("{rules}");
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

fn serve() -> ExitCode {
    let keys: Vec<&str> = executor_service::actions::Registry::with_builtins()
        .names()
        .into_iter()
        .map(|(_, key)| key)
        .collect();
    warden_service_kit::run_binary(
        executor_service::init_tracing,
        || executor_service::config::Config::from_env(&keys),
        executor_service::run,
    )
}
