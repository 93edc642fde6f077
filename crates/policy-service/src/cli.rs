//! The `policy-service` command line: serve (the default), `check`, `test`, `keygen`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use warden_policy::Policy;

use crate::config::Config;

/// Warden policy service.
#[derive(Debug, Parser)]
#[command(
    name = "policy-service",
    version,
    about,
    after_help = "Settings: environment variables (or a .env file), listed with their \
                  defaults in .env.example and described in README.md."
)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (configured by environment variables, see .env.example).
    Serve,
    /// Validate policy files; exits non-zero and prints every error with file:line:column.
    ///
    /// Every action a rule names must be one an executor implements: the policy's own
    /// `knownActions` when it declares them, else the list given here, else the executor's
    /// built-in actions.
    Check {
        /// Policy files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The actions the executor implements, comma-separated.
        #[arg(long, value_delimiter = ',', conflicts_with = "actions_from")]
        actions: Option<Vec<String>>,
        /// A file with the actions the executor implements, one per line, as
        /// `executor-service actions` prints them (`-`: standard input).
        #[arg(long, value_name = "FILE")]
        actions_from: Option<PathBuf>,
    },
    /// Run policy test cases (a `*.tests.yaml` file, or a policy whose sibling
    /// `<name>.tests.yaml` exists).
    Test {
        /// Test files or policy files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print a new Ed25519 signing key (PKCS#8 PEM) for DECISION_SIGNING_KEY_FILE.
    Keygen {
        /// Write the key to this file (mode 0600) instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(),
        Command::Check {
            files,
            actions,
            actions_from,
        } => match known_actions(actions, actions_from.as_deref()) {
            Ok(known) => check_with(&files, &known),
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::from(2)
            }
        },
        Command::Test { files } => test(&files),
        Command::Keygen { out } => keygen(out.as_deref()),
    }
}

fn serve() -> ExitCode {
    warden_service_kit::run_binary(Config::from_env, |config| async move {
        crate::Application::build(&config)
            .await?
            .run_until_stopped()
            .await?;
        anyhow::Ok(())
    })
}

/// The executor's actions for `check`: given on the command line, read from a file, or
/// the built-in ones.
fn known_actions(listed: Option<Vec<String>>, from: Option<&Path>) -> Result<Vec<String>, String> {
    let names = match (listed, from) {
        (Some(listed), _) => listed,
        (None, Some(path)) => {
            let text = if path == Path::new("-") {
                std::io::read_to_string(std::io::stdin())
            } else {
                std::fs::read_to_string(path)
            }
            .map_err(|e| format!("--actions-from {}: {e}", path.display()))?;
            text.lines().map(str::to_owned).collect()
        }
        (None, None) => {
            return Ok(warden_protocol::BUILTIN_ACTIONS.map(str::to_owned).to_vec());
        }
    };
    let names: Vec<String> = names
        .into_iter()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return Err("the list of known actions is empty".into());
    }
    Ok(names)
}

/// `check`: loads each file and reports errors, including actions not in `known` (unless
/// the policy declares its own `knownActions`, which loading already checked).
pub fn check_with(files: &[PathBuf], known: &[String]) -> ExitCode {
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    let mut failed = false;
    for file in files {
        let loaded = Policy::load(file).and_then(|policy| {
            if policy.known_actions().is_none() {
                policy.check_actions(&known, &file.display().to_string())?;
            }
            Ok(policy)
        });
        match loaded {
            Ok(policy) => println!(
                "ok   {} ({} rules, {})",
                file.display(),
                policy.rule_count(),
                policy.version()
            ),
            Err(errors) => {
                failed = true;
                eprintln!("FAIL {}", file.display());
                for error in &errors.0 {
                    eprintln!("  {error}");
                }
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The test file for `path`: itself if it is one, else `<stem>.tests.yaml` beside it.
pub fn tests_file_for(path: &Path) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.ends_with(".tests.yaml") || name.ends_with(".tests.yml") {
        return path.to_owned();
    }
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("policy");
    path.with_file_name(format!("{stem}.tests.yaml"))
}

/// `test`: runs the cases of each file and prints a summary line `N passed, N failed`.
pub fn test(files: &[PathBuf]) -> ExitCode {
    let (mut passed, mut failed, mut broken) = (0usize, 0usize, false);
    for file in files {
        let tests = tests_file_for(file);
        match warden_policy::testing::run_file(&tests) {
            Ok(report) => {
                println!(
                    "{} (policy {})",
                    tests.display(),
                    report.policy_file.display()
                );
                for case in &report.cases {
                    if case.passed {
                        println!("  ok   {}", case.name);
                    } else {
                        println!(
                            "  FAIL {}: expected {}, got {}",
                            case.name, case.expected, case.actual
                        );
                    }
                }
                passed += report.passed();
                failed += report.failed();
            }
            Err(errors) => {
                broken = true;
                eprintln!("FAIL {}", tests.display());
                for error in &errors.0 {
                    eprintln!("  {error}");
                }
            }
        }
    }
    println!("summary: {passed} passed, {failed} failed");
    if failed > 0 || broken {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn keygen(out: Option<&Path>) -> ExitCode {
    let pem = match crate::keys::generate_pem() {
        Ok(pem) => pem,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let Some(out) = out else {
        print!("{pem}");
        return ExitCode::SUCCESS;
    };
    match write_private(out, &pem) {
        Ok(()) => {
            eprintln!("wrote {}", out.display());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("cannot write {}: {err}", out.display());
            ExitCode::FAILURE
        }
    }
}

fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(content.as_bytes())
}
