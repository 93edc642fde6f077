//! `warden grants list|revoke`: `/executor/grants`.

use serde_json::Value;
use uuid::Uuid;

use super::table::{Table, clean_lines, fields, text, time};
use super::{CliError, Client, Remote, Report, parse};

/// `warden grants …`.
#[derive(Debug, clap::Args)]
pub struct GrantsArgs {
    /// Executor, token and output.
    #[command(flatten)]
    pub remote: Remote,
    /// What to do.
    #[command(subcommand)]
    pub command: GrantsCommand,
}

/// The grant commands.
#[derive(Debug, clap::Subcommand)]
pub enum GrantsCommand {
    /// List session grants, newest first.
    List {
        /// Only grants in force now (neither revoked nor expired).
        #[arg(long)]
        active: bool,
        /// At most this many (1 to 500; the executor's default is 50).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=500))]
        limit: Option<u32>,
    },
    /// Revoke a grant at once: later requests need approval again.
    Revoke {
        /// The grant id.
        #[arg(value_parser = parse::id)]
        id: Uuid,
    },
}

/// Runs a grant command.
pub async fn run(client: &Client, json: bool, command: GrantsCommand) -> Result<Report, CliError> {
    match command {
        GrantsCommand::List { active, limit } => {
            let query = [
                (
                    "active",
                    if active {
                        "true".to_owned()
                    } else {
                        String::new()
                    },
                ),
                ("limit", limit.map(|n| n.to_string()).unwrap_or_default()),
            ];
            let answer = client.get(&["executor", "grants"], &query).await?;
            Ok(if json {
                Report::json(&answer)
            } else {
                Report::text(list_table(&answer.value))
            })
        }
        GrantsCommand::Revoke { id } => {
            let answer = client
                .delete(&["executor", "grants", &id.to_string()])
                .await?;
            Ok(if json {
                Report::json(&answer)
            } else {
                let g = &answer.value;
                let mut out = clean_lines(&format!(
                    "revoked grant {}: {}\n",
                    text(&g["id"]),
                    text(&g["description"])
                ));
                out.push_str(&fields(&[
                    ("Revoked by", text(&g["revokedBy"])),
                    ("Revoked at", time(&g["revokedAt"])),
                ]));
                Report::text(out)
            })
        }
    }
}

/// Whether a grant is in force, or why not.
fn state(g: &Value) -> &'static str {
    if g["active"].as_bool() == Some(true) {
        "active"
    } else if g["revokedAt"].is_string() {
        "revoked"
    } else {
        "expired"
    }
}

/// What a grant covers: `namespace`, `namespace/kind` or `namespace/kind/name`.
fn covers(g: &Value) -> String {
    [&g["namespace"], &g["targetKind"], &g["targetName"]]
        .iter()
        .filter_map(|v| v.as_str())
        .collect::<Vec<_>>()
        .join("/")
}

/// `{"grants": [...]}` as a table.
fn list_table(value: &Value) -> String {
    let mut table = Table::new(&[
        ("ID", None),
        ("STATE", None),
        ("ACTION", Some(28)),
        ("REQUESTED BY", Some(20)),
        ("SCOPE", None),
        ("COVERS", Some(48)),
        ("GRANTED BY", Some(20)),
        ("EXPIRES (UTC)", None),
    ]);
    for g in value["grants"].as_array().into_iter().flatten() {
        table.row(vec![
            text(&g["id"]),
            state(g).to_owned(),
            text(&g["actionType"]),
            text(&g["requestedBy"]),
            text(&g["scope"]),
            covers(g),
            text(&g["grantedBy"]),
            time(&g["expiresAt"]),
        ]);
    }
    table.render_or("no session grants")
}
