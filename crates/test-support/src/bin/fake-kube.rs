//! `fake-kube`: Warden's fake Kubernetes API server as a process, for system tests and
//! load scripts.
//!
//! ```text
//! fake-kube [--addr 127.0.0.1:0] [--seed FILE.json] [--kubeconfig PATH]
//! ```
//!
//! The first line on stdout is `listening http://HOST:PORT`, printed once the port is
//! bound, the seed loaded and the kubeconfig (if asked for) written, so a harness can read
//! one line and start. `--kubeconfig PATH` writes a kubeconfig whose current context points
//! at the server (namespace `default`, no credentials); it is written to a temporary file
//! next to PATH and renamed, so a reader never sees half a file. It runs until
//! SIGINT or SIGTERM. The admin API under `/_fake/` is described on
//! `warden_test_support::FakeKube`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use warden_test_support::FakeKube;

/// Warden's fake Kubernetes API server, for system tests and load scripts.
///
/// The first line on stdout is `listening http://HOST:PORT`, once the server is ready. It
/// runs until SIGINT or SIGTERM. It takes no subcommands and reads no settings; the admin
/// API under /_fake/ is described on `warden_test_support::FakeKube` (crates/test-support).
#[derive(Debug, Parser)]
#[command(name = "fake-kube", version)]
struct Args {
    /// Where to listen; port 0 picks a free one (read it from the first stdout line).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Objects to preload, in the `POST /_fake/objects` format.
    #[arg(long, value_name = "FILE.json")]
    seed: Option<PathBuf>,
    /// Where to write a kubeconfig pointing at the server, once it listens.
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let fake = match FakeKube::start_on(args.addr).await {
        Ok(fake) => fake,
        Err(e) => {
            eprintln!("fake-kube: cannot listen on {}: {e}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    if let Some(seed) = &args.seed {
        match fake.add_objects_from_file(seed) {
            Ok(count) => eprintln!("fake-kube: seeded {count} objects from {}", seed.display()),
            Err(e) => {
                eprintln!("fake-kube: {}: {e}", seed.display());
                return ExitCode::FAILURE;
            }
        }
    }
    if let Some(path) = &args.kubeconfig
        && let Err(e) = write_atomically(path, &fake.kubeconfig_yaml())
    {
        eprintln!(
            "fake-kube: cannot write the kubeconfig {}: {e}",
            path.display()
        );
        return ExitCode::FAILURE;
    }
    // stdout is line-buffered, so the harness sees this line at once.
    println!("listening {}", fake.url());
    wait_for_signal().await;
    fake.shutdown().await;
    ExitCode::SUCCESS
}

/// Writes `text` to a temporary file beside `path`, then renames it over `path`: a process
/// polling for the file reads either nothing or all of it.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{}.tmp", std::process::id()));
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}

/// Resolves on SIGINT or (on Unix) SIGTERM, the signal process supervisors send.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
