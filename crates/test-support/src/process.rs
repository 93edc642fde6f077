//! Helpers for tests that run a real binary on a real port.

use std::net::{Ipv4Addr, TcpListener};

/// A loopback port that was free a moment ago, for a child process to bind.
///
/// The port is released before returning, so another process may take it first; tests
/// that start a server on it fail loudly (the server does not come up) rather than wrongly.
///
/// # Panics
///
/// When no loopback port can be bound.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

/// What a binary printed and how it exited.
#[derive(Debug)]
pub struct Ran {
    /// The exit code (`None` if a signal ended it).
    pub code: Option<i32>,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

/// Runs `bin` with `args` in an empty environment from the temporary directory, bounded:
/// an argument it does not recognise must not start a server that never exits.
///
/// # Panics
///
/// When the binary cannot be started or runs longer than 20 seconds.
pub fn run_bounded(bin: &str, args: &[&str]) -> Ran {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let mut child = Command::new(bin)
        .args(args)
        .env_clear()
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                panic!("{bin} {args:?} kept running");
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting for {bin}: {e}"),
        }
    }
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("reading {bin}'s output: {e}"));
    Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The command-line contract every Warden binary keeps: `--help` exits 0 with its usage
/// and each of `help_mentions`; `--version` prints `NAME VERSION`; an unknown argument
/// exits 2 with the error and the usage on standard error, and nothing on standard output.
///
/// # Panics
///
/// When the binary breaks any of it.
pub fn assert_command_line(bin: &str, name: &str, version: &str, help_mentions: &[&str]) {
    let help = run_bounded(bin, &["--help"]);
    assert_eq!(help.code, Some(0), "{}{}", help.stdout, help.stderr);
    assert!(
        help.stdout.contains(&format!("Usage: {name}")),
        "{}",
        help.stdout
    );
    for expected in help_mentions {
        assert!(
            help.stdout.contains(expected),
            "no {expected:?} in:\n{}",
            help.stdout
        );
    }

    let shown = run_bounded(bin, &["--version"]);
    assert_eq!(shown.code, Some(0), "{}", shown.stderr);
    assert_eq!(shown.stdout, format!("{name} {version}\n"));

    let bogus = run_bounded(bin, &["--bogus"]);
    assert_eq!(bogus.code, Some(2), "{}", bogus.stderr);
    assert!(bogus.stderr.contains("'--bogus'"), "{}", bogus.stderr);
    assert!(
        bogus.stderr.contains(&format!("Usage: {name}")),
        "{}",
        bogus.stderr
    );
    assert!(bogus.stdout.is_empty(), "{}", bogus.stdout);
}
