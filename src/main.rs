//! `cargo run`: both services in one process on embedded defaults (see the library docs).

use std::process::ExitCode;

fn main() -> ExitCode {
    warden_service_kit::run_binary(
        executor_service::init_tracing,
        || warden::Settings::from_lookup(|name| std::env::var(name).ok()),
        |settings| async move {
            let kubeconfig_set = std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty());
            let cluster =
                warden::connect_cluster(kubeconfig_set, settings.executor.kube_timeout).await?;
            warden::run(settings, cluster).await
        },
    )
}
