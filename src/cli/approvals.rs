//! `warden approvals list|show|approve|deny`: `/executor/approvals`.

use serde_json::{Value, json};
use uuid::Uuid;

use super::table::{Table, fields, target, text, time, yes_no};
use super::{CliError, Client, Remote, Report, parse};

/// `warden approvals …`.
#[derive(Debug, clap::Args)]
pub struct ApprovalsArgs {
    /// Executor, token and output.
    #[command(flatten)]
    pub remote: Remote,
    /// What to do.
    #[command(subcommand)]
    pub command: ApprovalsCommand,
}

/// The approval commands.
#[derive(Debug, clap::Subcommand)]
pub enum ApprovalsCommand {
    /// List approval requests, newest first.
    List(ListArgs),
    /// Show one request: what it would run, who asked, every vote, and its execution.
    Show {
        /// The approval id.
        #[arg(value_parser = parse::id)]
        id: Uuid,
    },
    /// Approve a request. The approval that completes it runs the action at once.
    Approve(ApproveArgs),
    /// Deny a request: nothing runs. One denial denies.
    Deny(DenyArgs),
}

/// A request's state, for `--status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Status {
    /// Waiting for people.
    Pending,
    /// Approved (and run).
    Approved,
    /// Denied.
    Denied,
    /// Nobody decided in time.
    Expired,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Denied => "denied",
            Status::Expired => "expired",
        }
    }
}

/// `warden approvals list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only requests in this state.
    #[arg(long, value_enum)]
    pub status: Option<Status>,
    /// Only this requester's.
    #[arg(long, value_name = "CLIENT")]
    pub requested_by: Option<String>,
    /// Only requests on this namespace.
    #[arg(long)]
    pub namespace: Option<String>,
    /// At most this many (1 to 500; the executor's default is 50).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub limit: Option<u32>,
}

/// How widely a session grant covers later requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GrantScope {
    /// The same object.
    Object,
    /// The same kind in the namespace.
    Kind,
    /// The whole namespace.
    Namespace,
}

impl GrantScope {
    fn as_str(self) -> &'static str {
        match self {
            GrantScope::Object => "object",
            GrantScope::Kind => "kind",
            GrantScope::Namespace => "namespace",
        }
    }
}

/// `warden approvals approve`.
#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    /// The approval id.
    #[arg(value_parser = parse::id)]
    pub id: Uuid,
    /// Why you approve (kept with your vote).
    #[arg(long)]
    pub comment: Option<String>,
    /// Also grant a session: later requests of the same requester and action within this
    /// scope run without asking, until the TTL ends (the rule's `session` bounds both).
    #[arg(long, value_enum, requires = "grant_ttl", value_name = "SCOPE")]
    pub grant_scope: Option<GrantScope>,
    /// How long the session grant lasts: 90s, 15m, 1h, 1h30m or seconds.
    #[arg(long, value_parser = parse::ttl, requires = "grant_scope", value_name = "TTL")]
    pub grant_ttl: Option<u64>,
}

/// `warden approvals deny`.
#[derive(Debug, clap::Args)]
pub struct DenyArgs {
    /// The approval id.
    #[arg(value_parser = parse::id)]
    pub id: Uuid,
    /// Why you deny (required; kept with your vote and sent to the webhooks).
    #[arg(long)]
    pub comment: String,
}

/// Runs an approval command.
pub async fn run(
    client: &Client,
    json: bool,
    command: ApprovalsCommand,
) -> Result<Report, CliError> {
    match command {
        ApprovalsCommand::List(args) => {
            let query = [
                (
                    "status",
                    args.status
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                ),
                ("requestedBy", args.requested_by.unwrap_or_default()),
                ("namespace", args.namespace.unwrap_or_default()),
                (
                    "limit",
                    args.limit.map(|n| n.to_string()).unwrap_or_default(),
                ),
            ];
            let answer = client.get(&["executor", "approvals"], &query).await?;
            Ok(if json {
                Report::json(&answer)
            } else {
                Report::text(list_table(&answer.value))
            })
        }
        ApprovalsCommand::Show { id } => {
            let answer = client
                .get(&["executor", "approvals", &id.to_string()], &[])
                .await?;
            Ok(if json {
                Report::json(&answer)
            } else {
                Report::text(detail(&answer.value))
            })
        }
        ApprovalsCommand::Approve(args) => {
            let mut body = json!({});
            if let Some(comment) = &args.comment {
                body["comment"] = json!(comment);
            }
            if let (Some(scope), Some(ttl)) = (args.grant_scope, args.grant_ttl) {
                body["grant"] = json!({"scope": scope.as_str(), "ttlSeconds": ttl});
            }
            let id = args.id.to_string();
            let answer = client
                .post(&["executor", "approvals", &id, "approve"], &body)
                .await?;
            Ok(if json {
                let mut report = Report::json(&answer);
                report.failed = execution_failed(&answer.value);
                report
            } else {
                approved(&answer.value)
            })
        }
        ApprovalsCommand::Deny(args) => {
            let id = args.id.to_string();
            let answer = client
                .post(
                    &["executor", "approvals", &id, "deny"],
                    &json!({"comment": args.comment}),
                )
                .await?;
            Ok(if json {
                Report::json(&answer)
            } else {
                Report::text(format!("denied {id}: nothing ran\n"))
            })
        }
    }
}

/// `{"approvals": [...]}` as a table.
fn list_table(value: &Value) -> String {
    let mut table = Table::new(&[
        ("ID", None),
        ("STATUS", None),
        ("ACTION", Some(28)),
        ("TARGET", Some(48)),
        ("REQUESTED BY", Some(20)),
        ("VOTES", None),
        ("CREATED (UTC)", None),
        ("EXPIRES (UTC)", None),
    ]);
    for a in value["approvals"].as_array().into_iter().flatten() {
        table.row(vec![
            text(&a["id"]),
            text(&a["status"]),
            text(&a["actionType"]),
            target(a, "namespace", "targetKind", "targetName"),
            text(&a["requestedBy"]),
            votes(a),
            time(&a["createdAt"]),
            time(&a["expiresAt"]),
        ]);
    }
    table.render_or("no approval requests")
}

/// `approvals` of `approversNeeded`.
fn votes(a: &Value) -> String {
    format!("{}/{}", text(&a["approvals"]), text(&a["approversNeeded"]))
}

/// One ApprovalView in full.
fn detail(a: &Value) -> String {
    let session = match &a["session"] {
        Value::Null => "not allowed".to_owned(),
        s => format!(
            "up to scope {} for {}",
            text(&s["scope"]),
            s["maxTtl"]
                .as_u64()
                .map(parse::human_seconds)
                .unwrap_or_else(|| text(&s["maxTtl"]))
        ),
    };
    let roles = a["roles"]
        .as_array()
        .map(|r| r.iter().map(text).collect::<Vec<_>>().join(", "))
        .unwrap_or_else(|| "-".to_owned());
    let execution = match &a["execution"] {
        Value::Null => text(&a["executionId"]),
        e => format!(
            "{} {}{}",
            text(&e["id"]),
            text(&e["status"]),
            match &e["error"] {
                Value::Null => String::new(),
                err => format!(": {}", text(err)),
            }
        ),
    };
    let mut out = fields(&[
        ("Approval", text(&a["id"])),
        (
            "Status",
            format!("{} ({} approvals)", text(&a["status"]), votes(a)),
        ),
        ("Action", text(&a["actionType"])),
        ("Target", target(a, "namespace", "targetKind", "targetName")),
        ("Parameters", a["actionParams"].to_string()),
        ("Requested by", text(&a["requestedBy"])),
        ("Rule", text(&a["rule"])),
        ("Reason", text(&a["reason"])),
        ("Roles", roles),
        ("Session grants", session),
        ("Dry run", yes_no(&a["dryRun"])),
        ("Created", time(&a["createdAt"])),
        ("Expires", time(&a["expiresAt"])),
        ("Decided", time(&a["decidedAt"])),
        ("Execution", execution),
        ("Grant", text(&a["grantId"])),
        ("Digest", text(&a["actionDigest"])),
        ("Decision", text(&a["decisionId"])),
        ("Policy version", text(&a["policyVersion"])),
        ("Audit row", text(&a["auditId"])),
    ]);
    let mut table = Table::new(&[
        ("APPROVER", Some(32)),
        ("VOTE", None),
        ("METHOD", None),
        ("AT (UTC)", None),
        ("COMMENT", Some(60)),
    ]);
    for v in a["votes"].as_array().into_iter().flatten() {
        table.row(vec![
            text(&v["approver"]),
            text(&v["vote"]),
            text(&v["method"]),
            time(&v["at"]),
            text(&v["comment"]),
        ]);
    }
    out.push('\n');
    out.push_str(&table.render_or("no votes yet"));
    out
}

/// Whether an approve answer carries an execution that failed.
fn execution_failed(answer: &Value) -> bool {
    answer["execution"].is_object() && answer["execution"]["success"] != Value::Bool(true)
}

/// An approve answer in words: whether it ran and how, or how many approvals so far.
fn approved(answer: &Value) -> Report {
    let a = &answer["approval"];
    let id = text(&a["id"]);
    let what = format!(
        "{} on {}",
        text(&a["actionType"]),
        target(a, "namespace", "targetKind", "targetName")
    );
    let execution = &answer["execution"];
    let mut report = Report::default();
    let mut out = if execution.is_object() {
        let dry = if execution["dryRun"].as_bool() == Some(true) {
            " (dry run)"
        } else {
            ""
        };
        if execution_failed(answer) {
            report.failed = true;
            format!(
                "approved {id}; {what} ran{dry} and failed: {} (code: {})\naudit row: {}\n",
                text(&execution["error"]),
                text(&execution["code"]),
                text(&execution["auditId"])
            )
        } else {
            format!(
                "approved {id}; {what} ran{dry}: succeeded\naudit row: {}\n",
                text(&execution["auditId"])
            )
        }
    } else {
        format!(
            "recorded, {} of {} approvals for {id} ({what}); it runs once enough people approve\n",
            text(&a["approvals"]),
            text(&a["approversNeeded"])
        )
    };
    if let grant @ Value::Object(_) = &answer["grant"] {
        out.push_str(&format!(
            "session grant {}: {}\n",
            text(&grant["id"]),
            text(&grant["description"])
        ));
    }
    report.stdout = super::table::clean_lines(&out);
    report
}
