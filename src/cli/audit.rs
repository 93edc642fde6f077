//! `warden audit list|show|stats`: `/executor/audit` and `/executor/stats`, which need the
//! executor's `EXECUTOR_ADMIN_TOKEN` as the token.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use uuid::Uuid;

use super::table::{Table, fields, target, text, time, yes_no};
use super::{Answer, CliError, Client, Remote, Report, parse};

/// Page size of `--all` when `--limit` is not given: the API's largest.
const ALL_PAGE: u32 = 500;

/// `warden audit …`.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// Executor, token and output.
    #[command(flatten)]
    pub remote: Remote,
    /// What to do.
    #[command(subcommand)]
    pub command: AuditCommand,
}

/// The audit commands.
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// List audit rows, newest first, one page (or every page with --all).
    List(ListArgs),
    /// Show one audit row in full.
    Show {
        /// The row id (the `auditId` of an execution).
        #[arg(value_parser = parse::id)]
        id: Uuid,
    },
    /// Execution rate, success, failure and denial ratios, average duration: in total,
    /// by namespace and by action type.
    Stats {
        /// Start of the window (default: 24 hours before --until). RFC 3339, a date, or a
        /// duration ago such as 2h.
        #[arg(long, value_parser = parse::time, value_name = "TIME")]
        since: Option<String>,
        /// End of the window (default: now), in the same forms.
        #[arg(long, value_parser = parse::time, value_name = "TIME")]
        until: Option<String>,
    },
}

/// An audit row's state, for `--status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Status {
    /// Committed before the cluster call, not finished yet.
    Pending,
    /// The action succeeded.
    Succeeded,
    /// The action failed; nothing changed.
    Failed,
    /// Refused before any side effect.
    Rejected,
    /// The outcome is not known.
    Unknown,
    /// An approval request waiting for people.
    #[value(name = "awaiting_approval")]
    AwaitingApproval,
    /// An approved request (its execution is a row of its own).
    Approved,
    /// A denied request.
    Denied,
    /// An expired request.
    Expired,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Rejected => "rejected",
            Status::Unknown => "unknown",
            Status::AwaitingApproval => "awaiting_approval",
            Status::Approved => "approved",
            Status::Denied => "denied",
            Status::Expired => "expired",
        }
    }
}

/// `warden audit list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only rows of this requester.
    #[arg(long, value_name = "CLIENT")]
    pub requested_by: Option<String>,
    /// Only rows of this action type.
    #[arg(long, value_name = "ACTION")]
    pub action: Option<String>,
    /// Only rows whose target is in this namespace.
    #[arg(long)]
    pub namespace: Option<String>,
    /// Only rows in this state.
    #[arg(long, value_enum)]
    pub status: Option<Status>,
    /// Only rows created at or after this time: RFC 3339, a date, or a duration ago (2h).
    #[arg(long, value_parser = parse::time, value_name = "TIME")]
    pub since: Option<String>,
    /// Only rows created before this time, in the same forms.
    #[arg(long, value_parser = parse::time, value_name = "TIME")]
    pub until: Option<String>,
    /// Rows per page (1 to 500; default 50, or 500 with --all).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub limit: Option<u32>,
    /// Start after this position (the `nextCursor` of the page before).
    #[arg(long, conflicts_with = "all")]
    pub cursor: Option<String>,
    /// Follow every page to the last one.
    #[arg(long)]
    pub all: bool,
}

/// Runs an audit command.
pub async fn run(client: &Client, json: bool, command: AuditCommand) -> Result<Report, CliError> {
    match command {
        AuditCommand::List(args) => list(client, json, args).await,
        AuditCommand::Show { id } => {
            let answer = client
                .get(&["executor", "audit", &id.to_string()], &[])
                .await?;
            Ok(if json {
                Report::json(&answer)
            } else {
                Report::text(detail(&answer.value))
            })
        }
        AuditCommand::Stats { since, until } => {
            let query = [
                ("since", since.unwrap_or_default()),
                ("until", until.unwrap_or_default()),
            ];
            let answer = client.get(&["executor", "stats"], &query).await?;
            Ok(if json {
                Report::json(&answer)
            } else {
                Report::text(stats(&answer.value))
            })
        }
    }
}

/// A page as `--all` collects it: the rows kept as they came.
#[derive(Deserialize, Serialize)]
struct Page {
    items: Vec<Box<RawValue>>,
    #[serde(rename = "nextCursor")]
    next_cursor: Option<String>,
}

async fn list(client: &Client, json: bool, args: ListArgs) -> Result<Report, CliError> {
    let limit = args.limit.or(args.all.then_some(ALL_PAGE));
    let query = |cursor: Option<String>| {
        [
            ("requestedBy", args.requested_by.clone().unwrap_or_default()),
            ("actionType", args.action.clone().unwrap_or_default()),
            ("namespace", args.namespace.clone().unwrap_or_default()),
            (
                "status",
                args.status
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            ),
            ("since", args.since.clone().unwrap_or_default()),
            ("until", args.until.clone().unwrap_or_default()),
            ("limit", limit.map(|n| n.to_string()).unwrap_or_default()),
            ("cursor", cursor.unwrap_or_default()),
        ]
    };
    let path = ["executor", "audit"];
    let first = client.get(&path, &query(args.cursor.clone())).await?;
    if !args.all {
        let mut report = if json {
            Report::json(&first)
        } else {
            Report::text(list_table(&first.value))
        };
        if let Some(next) = first.value["nextCursor"].as_str()
            && !json
        {
            report.stderr =
                format!("more rows: --cursor {next} for the next page, or --all for every one\n");
        }
        return Ok(report);
    }
    let mut all = page(client, &first)?;
    while let Some(cursor) = all.next_cursor.take() {
        let answer = client.get(&path, &query(Some(cursor.clone()))).await?;
        let mut next = page(client, &answer)?;
        if next.next_cursor.as_deref() == Some(cursor.as_str()) {
            return Err(bad_answer(client, "a page named itself as the next one"));
        }
        all.items.append(&mut next.items);
        all.next_cursor = next.next_cursor;
    }
    let text = serde_json::to_string(&all)
        .map_err(|e| bad_answer(client, &format!("cannot join the pages: {e}")))?;
    Ok(if json {
        Report::text(super::json::pretty(&text))
    } else {
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| bad_answer(client, &format!("cannot read the rows: {e}")))?;
        Report::text(list_table(&value))
    })
}

fn page(client: &Client, answer: &Answer) -> Result<Page, CliError> {
    serde_json::from_str(&answer.text)
        .map_err(|e| bad_answer(client, &format!("not a page of audit rows: {e}")))
}

fn bad_answer(client: &Client, what: &str) -> CliError {
    CliError::BadAnswer {
        url: client.url().to_owned(),
        what: what.to_owned(),
    }
}

/// `{"items": [...]}` as a table.
fn list_table(value: &Value) -> String {
    let mut table = Table::new(&[
        ("ID", None),
        ("CREATED (UTC)", None),
        ("STATUS", None),
        ("DRY RUN", None),
        ("ACTION", Some(28)),
        ("TARGET", Some(48)),
        ("REQUESTED BY", Some(20)),
        ("MS", None),
        ("REASON", Some(40)),
    ]);
    for r in value["items"].as_array().into_iter().flatten() {
        table.row(vec![
            text(&r["id"]),
            time(&r["createdAt"]),
            text(&r["status"]),
            yes_no(&r["dryRun"]),
            text(&r["actionType"]),
            target(r, "namespace", "targetKind", "targetName"),
            text(&r["requestedBy"]),
            text(&r["durationMs"]),
            text(&r["reasonCode"]),
        ]);
    }
    table.render_or("no audit rows")
}

/// One audit row in full.
fn detail(r: &Value) -> String {
    let json = |v: &Value| match v {
        Value::Null => "-".to_owned(),
        v => v.to_string(),
    };
    let approved_by = r["approvedBy"]
        .as_array()
        .map(|a| a.iter().map(text).collect::<Vec<_>>().join(", "))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "-".to_owned());
    fields(&[
        ("Audit row", text(&r["id"])),
        ("Status", text(&r["status"])),
        ("Dry run", yes_no(&r["dryRun"])),
        ("Action", text(&r["actionType"])),
        ("Target", target(r, "namespace", "targetKind", "targetName")),
        ("Parameters", json(&r["actionParams"])),
        ("Requested by", text(&r["requestedBy"])),
        ("Reason code", text(&r["reasonCode"])),
        ("Error", text(&r["error"])),
        ("Result", json(&r["result"])),
        (
            "Duration",
            match r["durationMs"].as_i64() {
                Some(ms) => format!("{ms} ms"),
                None => "-".to_owned(),
            },
        ),
        ("Decision", text(&r["decisionId"])),
        ("Policy version", text(&r["policyVersion"])),
        ("Policy decision", json(&r["policyDecision"])),
        ("Approval", text(&r["approvalId"])),
        ("Approved by", approved_by),
        ("Grant", text(&r["grantId"])),
        ("Budget", text(&r["budgetKey"])),
        ("Client IP", text(&r["clientIp"])),
        ("Request id", text(&r["requestId"])),
        ("Signature form", text(&r["signatureForm"])),
        ("Created", time(&r["createdAt"])),
        ("Updated", time(&r["updatedAt"])),
    ])
}

/// A ratio as a percentage, `-` when the API gives `null`.
fn percent(v: &Value) -> String {
    v.as_f64()
        .map(|r| format!("{:.1}%", r * 100.0))
        .unwrap_or_else(|| "-".to_owned())
}

/// A number with `decimals` decimals, `-` when the API gives `null`.
fn number(v: &Value, decimals: usize) -> String {
    v.as_f64()
        .map(|n| format!("{n:.decimals$}"))
        .unwrap_or_else(|| "-".to_owned())
}

/// `/executor/stats` as a table: one line per population.
fn stats(s: &Value) -> String {
    let mut out = format!(
        "window {} to {} ({})\n\n",
        time(&s["since"]),
        time(&s["until"]),
        s["windowSeconds"]
            .as_f64()
            .map(|w| parse::human_seconds(w.max(0.0) as u64))
            .unwrap_or_else(|| "-".to_owned())
    );
    let mut table = Table::new(&[
        ("GROUP", Some(40)),
        ("TOTAL", None),
        ("EXECUTED", None),
        ("SUCCEEDED", None),
        ("FAILED", None),
        ("UNKNOWN", None),
        ("REJECTED", None),
        ("PENDING", None),
        ("PER MIN", None),
        ("SUCCESS", None),
        ("FAILURE", None),
        ("DENIAL", None),
        ("AVG MS", None),
    ]);
    let mut row = |group: String, f: &Value| {
        table.row(vec![
            group,
            text(&f["total"]),
            text(&f["executed"]),
            text(&f["succeeded"]),
            text(&f["failed"]),
            text(&f["unknown"]),
            text(&f["rejected"]),
            text(&f["pending"]),
            number(&f["executionsPerMinute"], 2),
            percent(&f["successRatio"]),
            percent(&f["failureRatio"]),
            percent(&f["denialRate"]),
            number(&f["averageDurationMs"], 1),
        ]);
    };
    row("all (real attempts)".to_owned(), s);
    for (key, label) in [("byNamespace", "namespace"), ("byType", "type")] {
        for (name, f) in s[key].as_object().into_iter().flatten() {
            let name = if name.is_empty() { "(none)" } else { name };
            row(format!("{label} {name}"), f);
        }
    }
    row("dry runs".to_owned(), &s["dryRun"]);
    out.push_str(&table.render());
    if let Some(note) = s["note"].as_str() {
        out.push_str(&format!("\nnote: {}\n", super::table::clean(note)));
    }
    out
}
