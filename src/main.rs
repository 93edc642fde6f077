//! `cargo run`: both services in one process on embedded defaults (see the library docs).

use std::process::ExitCode;

fn main() -> ExitCode {
    // `.env` first: it may set RUST_LOG, LOG_FORMAT or any setting; the environment wins.
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
    let settings = match warden::Settings::from_lookup(|name| std::env::var(name).ok()) {
        Ok(settings) => settings,
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
    let kubeconfig_set = std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty());
    let result = runtime.block_on(async {
        let cluster =
            warden::connect_cluster(kubeconfig_set, settings.executor.kube_timeout).await?;
        warden::run(settings, cluster).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
