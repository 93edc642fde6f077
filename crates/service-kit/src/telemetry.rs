//! Logging: human-readable lines by default, JSON lines with `LOG_FORMAT=json`; the level
//! comes from `RUST_LOG` (default `info`). Logs go to standard error, so that standard
//! output stays for what a command prints (`permissions`, `cargo run`'s banner).

use tracing_subscriber::EnvFilter;

use crate::ConfigError;

/// Installs the global subscriber. Call once, before anything logs; a subscriber already
/// installed (tests, embedding) is left in place.
pub fn init_tracing() -> Result<(), ConfigError> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let format = std::env::var("LOG_FORMAT").unwrap_or_default();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format.trim() {
        "" | "text" => builder.try_init(),
        "json" => builder.json().flatten_event(true).try_init(),
        _ => return Err(ConfigError::new("LOG_FORMAT", "expected `text` or `json`")),
    };
    // Already initialised is fine.
    let _ = result;
    Ok(())
}
