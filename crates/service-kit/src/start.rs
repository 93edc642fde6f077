//! The start-up sequence every Warden binary runs before serving, written once.

use std::fmt::Display;
use std::future::Future;
use std::process::ExitCode;

/// Reads `.env` (the environment wins), installs logging ([`crate::init_tracing`]), reads
/// the configuration with `config`, then runs `serve` on a multi-threaded runtime.
///
/// A bad `.env`, log setting or configuration prints `configuration error: ...` (which
/// names the variable) and exits with 2; a failure of `serve` prints its cause chain and
/// exits with 1.
pub fn run_binary<C, E1, E2, F>(
    config: impl FnOnce() -> Result<C, E1>,
    serve: impl FnOnce(C) -> F,
) -> ExitCode
where
    E1: Display,
    E2: Display,
    F: Future<Output = Result<(), E2>>,
{
    // Before anything reads the environment: `.env` may set RUST_LOG or LOG_FORMAT too.
    let dotenv = match crate::load_dotenv() {
        Ok(path) => path,
        Err(err) => return configuration_error(err),
    };
    if let Err(err) = crate::init_tracing() {
        return configuration_error(err);
    }
    let config = match config() {
        Ok(config) => config,
        Err(err) => return configuration_error(err),
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
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn configuration_error(err: impl Display) -> ExitCode {
    eprintln!("configuration error: {err}");
    ExitCode::from(2)
}
