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
    // Before anything reads the environment: `.env` may set RUST_LOG or LOG_FORMAT too.
    // Same rules as the policy service: the environment wins over the file.
    let dotenv = match warden_service_kit::load_dotenv() {
        Ok(path) => path,
        Err(err) => {
            eprintln!("configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    if let Err(err) = executor_service::init_tracing() {
        eprintln!("configuration error: {err}");
        return ExitCode::from(2);
    }
    let keys: Vec<&str> = executor_service::actions::Registry::with_builtins()
        .names()
        .into_iter()
        .map(|(_, key)| key)
        .collect();
    let config = match executor_service::config::Config::from_env(&keys) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    if let Some(path) = dotenv {
        tracing::info!(file = %path.display(), "read settings from .env (the environment wins)");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(executor_service::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
