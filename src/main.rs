//! `cargo run`: both services in one process on embedded defaults (see the library docs).

use std::process::ExitCode;

use executor_service::actions::Registry;
use executor_service::kube_client::{self, WithoutCluster};

fn main() -> ExitCode {
    // The one registry of this process: which budgets the settings read, and what the
    // executor serves.
    let registry = Registry::with_builtins();
    warden_service_kit::run_binary(
        move || {
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
