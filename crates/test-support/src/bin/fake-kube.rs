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

use warden_test_support::FakeKube;

const USAGE: &str = "usage: fake-kube [--addr 127.0.0.1:0] [--seed FILE.json] [--kubeconfig PATH]";

/// Command-line options.
struct Args {
    /// Where to listen; port 0 picks a free one (read it from the first stdout line).
    addr: SocketAddr,
    /// Objects to preload, in the `POST /_fake/objects` format.
    seed: Option<PathBuf>,
    /// Where to write a kubeconfig pointing at the server, once it listens.
    kubeconfig: Option<PathBuf>,
}

impl Args {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut parsed = Args {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: None,
            kubeconfig: None,
        };
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
                None => (arg, None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            match flag.as_str() {
                "--addr" => {
                    let text = value()?;
                    parsed.addr = text
                        .parse()
                        .map_err(|e| format!("--addr {text:?} is not host:port: {e}"))?;
                }
                "--seed" => parsed.seed = Some(PathBuf::from(value()?)),
                "--kubeconfig" => parsed.kubeconfig = Some(PathBuf::from(value()?)),
                "-h" | "--help" => return Err(String::new()),
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(parsed)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("fake-kube: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
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
