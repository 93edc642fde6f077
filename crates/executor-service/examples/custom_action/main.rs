//! Embedding the executor with an action of your own, in a few lines: the built-in
//! actions plus `annotate_deployment` ([`annotate`]), served exactly as `executor-service`
//! serves them (same environment variables, same checks, audit and budgets;
//! `RATE_LIMIT_ANNOTATE_TTL` / `_MAX` for the new budget).
//!
//! ```sh
//! cargo run -p executor-service --example custom_action            # serve
//! cargo run -p executor-service --example custom_action permissions # its RBAC rules
//! ```
//!
//! Policies must allow `annotate_deployment` like any action. `tests/custom_action.rs`
//! runs this action through the executor against the fake API server.

mod annotate;

use std::process::ExitCode;

use executor_service::actions::Registry;
use executor_service::config::{self, Config};

fn main() -> ExitCode {
    let registry = Registry::with_builtins().register::<annotate::AnnotateDeployment>();
    if std::env::args().nth(1).as_deref() == Some("permissions") {
        println!("{}", registry.policy_rules());
        return ExitCode::SUCCESS;
    }
    let keys = config::budget_keys(&registry);
    warden_service_kit::run_binary(
        || Config::from_env(&keys),
        |config| executor_service::run(config, registry),
    )
}
