//! `warden approvals|grants|audit …`: the command line for people, a client of the
//! executor's HTTP API.
//!
//! - Where and who: `--url` / `WARDEN_URL` (default [`DEFAULT_URL`]) and `--token` /
//!   `WARDEN_TOKEN`, sent as `Authorization: Bearer` (an operator token for approvals and
//!   grants, `EXECUTOR_ADMIN_TOKEN` for the audit commands). The token is never printed,
//!   not even by `--help`.
//! - Output: tables and `key  value` blocks for people (times in UTC, long values cut
//!   with `…`), or `--json`: the API's answer as it came, indented.
//! - Exit codes: 0 done; 1 the executor is unreachable, refused (its `error` and `code`
//!   are printed), or an approved action failed; 2 a usage error.
//!
//! # Layout
//!
//! - `mod.rs`: the subcommands' shared flags, [`run`] and error reporting;
//! - [`client`]: HTTP, the token, and [`CliError`];
//! - [`approvals`], [`grants`], [`audit`]: each command's arguments, call and rendering;
//! - [`table`], [`json`], [`parse`]: output for people, `--json`, and argument values.

pub mod approvals;
pub mod audit;
pub mod client;
pub mod grants;
pub mod json;
pub mod parse;
pub mod table;

use std::process::ExitCode;

pub use client::{Answer, CliError, Client};

/// The executor's URL when neither `--url` nor `WARDEN_URL` is given.
pub const DEFAULT_URL: &str = "http://localhost:4000";

/// The subcommands of `warden` (with none, `warden` runs both services).
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Approval requests: list, show, approve, deny.
    #[command(after_help = AUTH_HELP)]
    Approvals(approvals::ApprovalsArgs),
    /// Session grants: list, revoke.
    #[command(after_help = AUTH_HELP)]
    Grants(grants::GrantsArgs),
    /// The audit log: list, show, stats (needs the executor's EXECUTOR_ADMIN_TOKEN).
    #[command(after_help = AUTH_HELP)]
    Audit(audit::AuditArgs),
}

const AUTH_HELP: &str = "WARDEN_URL and WARDEN_TOKEN (or --url and --token) say which \
executor and who you are: an operator token for approvals and grants, EXECUTOR_ADMIN_TOKEN \
for the audit log. Prefer WARDEN_TOKEN to --token: a flag shows in the process list.\n\
Exit codes: 0 done, 1 unreachable, refused or the approved action failed, 2 usage error.";

/// Where the executor is, who is asking, and how to print: flags of every subcommand.
#[derive(Clone, clap::Args)]
#[command(next_help_heading = "Executor")]
pub struct Remote {
    /// The executor's base URL.
    #[arg(long, global = true, env = "WARDEN_URL", default_value = DEFAULT_URL, value_name = "URL")]
    pub url: String,
    /// Your bearer token (operator token; EXECUTOR_ADMIN_TOKEN for `audit`).
    #[arg(
        long,
        global = true,
        env = "WARDEN_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// Print the API's JSON answer (indented) instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<hidden>"))
            .field("json", &self.json)
            .finish()
    }
}

/// What a command prints, and whether it did what was asked.
#[derive(Debug, Default)]
pub struct Report {
    /// For standard output.
    pub stdout: String,
    /// Notes for standard error (such as "more rows").
    pub stderr: String,
    /// `false`: exit 1 although the API answered (an approved action that failed).
    pub failed: bool,
}

impl Report {
    /// A report of `stdout`.
    pub fn text(stdout: String) -> Report {
        Report {
            stdout,
            ..Report::default()
        }
    }

    /// The API's answer as it came, indented.
    pub fn json(answer: &Answer) -> Report {
        Report::text(json::pretty(&answer.text))
    }
}

/// Runs `command` and prints its report or its error; the exit code as documented in the
/// module.
pub fn run(command: Command) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(command)) {
        Ok(report) => {
            print!("{}", report.stdout);
            eprint!("{}", report.stderr);
            if report.failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(err) => {
            eprintln!("error: {err}");
            if let Some(hint) = err.hint() {
                eprintln!("{hint}");
            }
            ExitCode::from(err.exit_code())
        }
    }
}

/// Runs `command` against the executor it names.
pub async fn execute(command: Command) -> Result<Report, CliError> {
    match command {
        Command::Approvals(args) => {
            let client = Client::new(&args.remote)?;
            approvals::run(&client, args.remote.json, args.command).await
        }
        Command::Grants(args) => {
            let client = Client::new(&args.remote)?;
            grants::run(&client, args.remote.json, args.command).await
        }
        Command::Audit(args) => {
            let client = Client::new(&args.remote)?;
            audit::run(&client, args.remote.json, args.command).await
        }
    }
}
