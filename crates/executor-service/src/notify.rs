//! Webhook notifications of approval requests: a JSON message to every configured URL
//! when a request is created, approved, denied or expires.
//!
//! The message is one JSON object that Slack's and Teams' incoming webhooks both accept:
//! `text` is a one-line summary for people; `event`, `approval` and `url` are the same
//! facts for machines. It never carries a token or a secret.
//!
//! Delivery runs in the background and never holds up the caller: each URL has its own
//! bounded queue and worker, so a slow or dead receiver only delays its own messages. A
//! message is retried on a network error, a 5xx or a 429, with growing pauses, and given
//! up on after the configured retries or at once on any other answer. The URLs are
//! secrets (a Slack webhook's path is its credential): logs name the host only.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::metrics::counter::Counter;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::config::ApprovalSettings;

/// Messages waiting for one receiver at most; past that, new ones are dropped (and
/// counted as failures) rather than let a dead receiver grow memory or block a request.
pub const QUEUE_CAPACITY: usize = 1024;

/// The pause before the first retry; it doubles with every further one.
const FIRST_PAUSE: Duration = Duration::from_millis(200);
/// The longest pause between two attempts, whatever a `Retry-After` asks for: a receiver
/// must not be able to park its worker.
const MAX_PAUSE: Duration = Duration::from_secs(5);
/// The most characters of one value shown in `text` (the JSON fields keep it whole).
const MAX_SHOWN_CHARS: usize = 200;

/// What happened to an approval request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The request was created and waits for operators.
    Created,
    /// Enough operators approved it (and it ran, unless it could not).
    Approved,
    /// An operator denied it.
    Denied,
    /// Nobody decided before it expired.
    Expired,
}

impl EventKind {
    /// The message's `event` field: `approval.created`, `approval.approved`, ...
    pub fn event_name(self) -> &'static str {
        match self {
            EventKind::Created => "approval.created",
            EventKind::Approved => "approval.approved",
            EventKind::Denied => "approval.denied",
            EventKind::Expired => "approval.expired",
        }
    }
}

/// The facts a message is made from (plain values; the caller fills them from its records).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalEvent {
    /// What happened.
    pub kind: EventKind,
    /// The approval request.
    pub approval_id: uuid::Uuid,
    /// The action waiting for approval, like `restart_pod`.
    pub action_type: String,
    /// The client that asked for the action (the AI engine).
    pub requested_by: String,
    /// The target's namespace.
    pub namespace: String,
    /// The target's kind, like `pod` or `deployment`.
    pub target_kind: String,
    /// The target's name.
    pub target_name: String,
    /// The policy rule that asked for an approval, if the decision named one.
    pub rule: Option<String>,
    /// How many distinct operators must approve.
    pub approvers_needed: u32,
    /// How many have approved so far.
    pub approvals: u32,
    /// The operators who decided (approved or denied), in order.
    pub decided_by: Vec<String>,
    /// The deciding operator's comment, if any.
    pub comment: Option<String>,
    /// When the request expires unanswered.
    pub expires_at: DateTime<Utc>,
    /// Whether the action runs as a dry run.
    pub dry_run: bool,
    /// For Approved: the execution's audit status (succeeded/failed/...), if it ran.
    pub execution_status: Option<String>,
}

/// Sends messages in the background. Cheap to clone.
///
/// The workers start on the first [`send`](Notifier::send) (or
/// [`flush`](Notifier::flush)) made inside a Tokio runtime, so a notifier can be built
/// anywhere. They stop once every clone is dropped and their queues are drained.
#[derive(Clone)]
pub struct Notifier(Arc<Inner>);

struct Inner {
    receivers: Vec<Receiver>,
    public_url: Option<Url>,
    /// The workers not yet spawned (taken on the first send inside a runtime).
    idle: Mutex<Option<Vec<Worker>>>,
    tally: Arc<Tally>,
}

/// One webhook URL as the sending side sees it.
struct Receiver {
    /// The URL's host, the only part of it that is logged.
    host: String,
    queue: mpsc::Sender<Arc<Message>>,
}

/// What every worker and the notifier share: the counters and the number of messages
/// still queued or in flight (one per message and URL).
struct Tally {
    delivered: Counter,
    failures: Counter,
    pending: watch::Sender<usize>,
}

impl Tally {
    fn done(&self) {
        self.pending.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// One serialised message, with what its log lines may name.
struct Message {
    body: String,
    approval_id: uuid::Uuid,
    event: &'static str,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Hosts only: a webhook URL's path is its secret.
        let hosts: Vec<&str> = self.0.receivers.iter().map(|r| r.host.as_str()).collect();
        f.debug_struct("Notifier")
            .field("hosts", &hosts)
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// A notifier for `settings.webhook_urls`, each attempt bounded by
    /// `settings.webhook_timeout` and retried `settings.webhook_retries` times. Without
    /// URLs, [`send`](Notifier::send) does nothing.
    pub fn new(settings: &ApprovalSettings) -> Notifier {
        let tally = Arc::new(Tally {
            delivered: Counter::default(),
            failures: Counter::default(),
            pending: watch::Sender::new(0),
        });
        let client = http_client(settings.webhook_timeout);
        let mut receivers = Vec::with_capacity(settings.webhook_urls.len());
        let mut workers = Vec::with_capacity(settings.webhook_urls.len());
        for url in &settings.webhook_urls {
            let host = host_of(url);
            let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
            receivers.push(Receiver {
                host: host.clone(),
                queue: tx,
            });
            workers.push(Worker {
                url: url.clone(),
                host,
                queue: rx,
                client: client.clone(),
                retries: settings.webhook_retries,
                tally: Arc::clone(&tally),
            });
        }
        Notifier(Arc::new(Inner {
            receivers,
            public_url: settings.public_url.clone(),
            idle: Mutex::new(Some(workers)),
            tally,
        }))
    }

    /// Never blocks and never fails: queues the message to every URL and returns. A full
    /// queue drops the message for that URL, counted as a failure and logged.
    pub fn send(&self, event: ApprovalEvent) {
        if self.0.receivers.is_empty() {
            return;
        }
        self.start_workers();
        let message = match render(&event, self.0.public_url.as_ref(), Utc::now()) {
            Ok(body) => Arc::new(Message {
                body,
                approval_id: event.approval_id,
                event: event.kind.event_name(),
            }),
            Err(err) => {
                // Plain strings and numbers always serialise; counted all the same.
                tracing::error!(error = %err, approval_id = %event.approval_id, "cannot serialise an approval notification");
                self.0.tally.failures.inc_by(self.0.receivers.len() as u64);
                return;
            }
        };
        for receiver in &self.0.receivers {
            self.0.tally.pending.send_modify(|n| *n += 1);
            if let Err(err) = receiver.queue.try_send(Arc::clone(&message)) {
                self.0.tally.done();
                self.0.tally.failures.inc();
                let why = match err {
                    mpsc::error::TrySendError::Full(_) => "its queue is full",
                    mpsc::error::TrySendError::Closed(_) => "its worker has stopped",
                };
                tracing::warn!(
                    host = %receiver.host,
                    approval_id = %message.approval_id,
                    event = message.event,
                    "approval notification dropped: {why}"
                );
            }
        }
    }

    /// Messages accepted (2xx) by a receiver, one per message and URL. A clone sharing
    /// the count, for the metrics registry.
    pub fn delivered(&self) -> Counter {
        self.0.tally.delivered.clone()
    }

    /// Messages given up on (after all retries, refused, or dropped from a full queue),
    /// one per message and URL. A clone sharing the count, for the metrics registry.
    pub fn failures(&self) -> Counter {
        self.0.tally.failures.clone()
    }

    /// Waits until every queued message was delivered or given up (for graceful shutdown
    /// and tests), at most `timeout`. `true` if nothing is left.
    pub async fn flush(&self, timeout: Duration) -> bool {
        self.start_workers();
        let mut pending = self.0.tally.pending.subscribe();
        tokio::time::timeout(timeout, pending.wait_for(|n| *n == 0))
            .await
            .is_ok_and(|waited| waited.is_ok())
    }

    /// Spawns the workers on the current runtime, once. Outside a runtime the messages
    /// wait in their queues until a later call finds one.
    fn start_workers(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut idle = self.0.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(workers) = idle.take() {
            for worker in workers {
                runtime.spawn(worker.run());
            }
        }
    }
}

/// The HTTP client of every worker. Redirects are not followed: a receiver that moved is
/// a configuration to fix, not a reason to post the message to wherever it points.
fn http_client(timeout: Duration) -> Option<reqwest::Client> {
    match reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => Some(client),
        Err(err) => {
            tracing::error!(error = %err.without_url(), "cannot build the webhook HTTP client: approval notifications fail");
            None
        }
    }
}

/// The part of a webhook URL that may be logged.
fn host_of(url: &Url) -> String {
    url.host_str().unwrap_or("?").to_owned()
}

/// Delivers one URL's messages in order, one at a time.
struct Worker {
    url: Url,
    host: String,
    queue: mpsc::Receiver<Arc<Message>>,
    /// `None` when the client could not be built: every message fails.
    client: Option<reqwest::Client>,
    retries: u32,
    tally: Arc<Tally>,
}

/// Why an attempt failed, in words that never contain the URL.
enum Failure {
    /// Worth another attempt, perhaps after the receiver's `Retry-After`.
    Retry(String, Option<Duration>),
    /// The receiver refused the message; another attempt would be refused too.
    GiveUp(String),
}

impl Worker {
    async fn run(mut self) {
        while let Some(message) = self.queue.recv().await {
            if self.deliver(&message).await {
                self.tally.delivered.inc();
            } else {
                self.tally.failures.inc();
            }
            self.tally.done();
        }
    }

    /// Posts `message` until it is accepted, refused or out of retries.
    async fn deliver(&self, message: &Message) -> bool {
        let Some(client) = &self.client else {
            tracing::warn!(host = %self.host, approval_id = %message.approval_id, event = message.event, "approval notification not sent: no HTTP client");
            return false;
        };
        let mut attempt: u32 = 0;
        loop {
            let failure = match self.attempt(client, message).await {
                Ok(()) => return true,
                Err(failure) => failure,
            };
            let (why, retry_after) = match failure {
                Failure::Retry(why, retry_after) => (why, retry_after),
                Failure::GiveUp(why) => {
                    tracing::warn!(host = %self.host, approval_id = %message.approval_id, event = message.event, "approval notification refused ({why}); not retried");
                    return false;
                }
            };
            if attempt >= self.retries {
                tracing::warn!(host = %self.host, approval_id = %message.approval_id, event = message.event, attempts = attempt + 1, "approval notification given up ({why})");
                return false;
            }
            tracing::debug!(host = %self.host, approval_id = %message.approval_id, attempt = attempt + 1, "approval notification failed ({why}); retrying");
            tokio::time::sleep(pause(attempt, retry_after)).await;
            attempt += 1;
        }
    }

    async fn attempt(&self, client: &reqwest::Client, message: &Message) -> Result<(), Failure> {
        let answer = client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(message.body.clone())
            .send()
            .await;
        let response = match answer {
            Ok(response) => response,
            Err(err) => return Err(Failure::Retry(network_failure(err), None)),
        };
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            return Err(Failure::Retry(
                format!("HTTP {}", status.as_u16()),
                retry_after,
            ));
        }
        Err(Failure::GiveUp(format!("HTTP {}", status.as_u16())))
    }
}

/// A network error in words. Not the error's own text: reqwest puts the URL in it.
fn network_failure(err: reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".to_owned()
    } else if err.is_connect() {
        "cannot connect".to_owned()
    } else {
        format!("request failed: {}", err.without_url())
    }
}

/// The pause after failed attempt `attempt` (0-based): the receiver's `Retry-After` if
/// it gave one, else 200 ms × 2^attempt; never more than [`MAX_PAUSE`].
fn pause(attempt: u32, retry_after: Option<Duration>) -> Duration {
    let backoff = FIRST_PAUSE.saturating_mul(2u32.saturating_pow(attempt.min(16)));
    retry_after.unwrap_or(backoff).min(MAX_PAUSE)
}

/// The message on the wire.
#[derive(Serialize)]
struct Wire<'a> {
    text: String,
    event: &'static str,
    approval: &'a ApprovalEvent,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

/// The JSON message for `event`, with a link under `public_url` if there is one. `now`
/// decides whether the expiry needs its date.
fn render(
    event: &ApprovalEvent,
    public_url: Option<&Url>,
    now: DateTime<Utc>,
) -> Result<String, serde_json::Error> {
    let link = public_url.and_then(|base| approval_link(base, event.approval_id));
    let wire = Wire {
        text: summary(event, link.as_ref(), now),
        event: event.kind.event_name(),
        approval: event,
        url: link.map(String::from),
    };
    serde_json::to_string(&wire)
}

/// `<public_url>/executor/approvals/<id>`, keeping any path prefix of `public_url`
/// whether or not it ends in `/`.
fn approval_link(public_url: &Url, id: uuid::Uuid) -> Option<Url> {
    let mut link = public_url.clone();
    link.set_query(None);
    link.set_fragment(None);
    link.path_segments_mut()
        .ok()?
        .pop_if_empty()
        .push("executor")
        .push("approvals")
        .push(&id.to_string());
    Some(link)
}

/// The one-line summary for people. Every value in it passes through [`shown`]: the names
/// come from an AI and the comments from people, and neither may add a link, a mention
/// or a line of its own.
fn summary(event: &ApprovalEvent, link: Option<&Url>, now: DateTime<Utc>) -> String {
    let subject = format!(
        "{} on {}/{}/{} requested by {}",
        shown(&event.action_type),
        shown(&event.namespace),
        shown(&event.target_kind),
        shown(&event.target_name),
        shown(&event.requested_by),
    );
    let deciders = event
        .decided_by
        .iter()
        .map(|name| shown(name))
        .collect::<Vec<_>>()
        .join(", ");
    let by = if deciders.is_empty() {
        String::new()
    } else {
        format!(" by {deciders}")
    };
    let mut text = String::new();
    if event.dry_run {
        text.push_str("[dry run] ");
    }
    match event.kind {
        EventKind::Created => {
            text.push_str(&format!("Approval needed: {subject}"));
            if let Some(rule) = &event.rule {
                text.push_str(&format!(" (rule {})", shown(rule)));
            }
            if event.approvers_needed > 1 {
                text.push_str(&format!(", {} approvals needed", event.approvers_needed));
            }
            text.push_str(&format!(", expires {}", clock(event.expires_at, now)));
        }
        EventKind::Approved => {
            text.push_str(&format!("Approved{by}: {subject}"));
            if let Some(status) = &event.execution_status {
                text.push_str(&format!(", execution {}", shown(status)));
            }
        }
        EventKind::Denied => text.push_str(&format!("Denied{by}: {subject}")),
        EventKind::Expired => text.push_str(&format!(
            "Expired without a decision: {subject} ({} of {} approvals)",
            event.approvals, event.approvers_needed
        )),
    }
    if let Some(comment) = event.comment.as_deref().filter(|c| !c.trim().is_empty()) {
        text.push_str(&format!(" (comment: {})", shown(comment)));
    }
    if let Some(link) = link {
        text.push_str(&format!(" — {}", shown(link.as_str())));
    }
    text
}

/// `14:05 UTC`, with the date in front when it is not today's.
fn clock(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if at.date_naive() == now.date_naive() {
        at.format("%H:%M UTC").to_string()
    } else {
        at.format("%Y-%m-%d %H:%M UTC").to_string()
    }
}

/// `value` as it may appear in `text`: without control characters or invisible
/// formatting ones (bidirectional overrides, zero-width), cut to [`MAX_SHOWN_CHARS`],
/// and with Slack's `&`, `<` and `>` escaped so that it cannot open a `<link|...>` or a
/// `<!channel>` mention.
fn shown(value: &str) -> String {
    let mut kept = value.chars().filter(|c| !c.is_control() && !invisible(*c));
    let mut out = String::with_capacity(value.len().min(MAX_SHOWN_CHARS * 2));
    for c in kept.by_ref().take(MAX_SHOWN_CHARS) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    if kept.next().is_some() {
        out.push('…');
    }
    out
}

/// Characters that change how text around them reads without showing themselves.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_pause_grows_and_is_capped() {
        assert_eq!(pause(0, None), Duration::from_millis(200));
        assert_eq!(pause(2, None), Duration::from_millis(800));
        assert_eq!(pause(30, None), MAX_PAUSE);
        assert_eq!(pause(0, Some(Duration::from_secs(3600))), MAX_PAUSE);
    }

    #[test]
    fn shown_values_are_cut_and_escaped() {
        let long = "a".repeat(MAX_SHOWN_CHARS + 5);

        assert_eq!(shown("a\u{202E}b\u{7}c"), "abc");
        assert_eq!(shown("<!here>&"), "&lt;!here&gt;&amp;");
        assert_eq!(shown(&long).chars().count(), MAX_SHOWN_CHARS + 1);
    }

    #[test]
    fn the_expiry_has_a_date_only_when_not_today() {
        let now: DateTime<Utc> = "2030-05-01T10:00:00Z".parse().unwrap();
        let today: DateTime<Utc> = "2030-05-01T14:05:59Z".parse().unwrap();
        let tomorrow: DateTime<Utc> = "2030-05-02T00:10:00Z".parse().unwrap();

        assert_eq!(clock(today, now), "14:05 UTC");
        assert_eq!(clock(tomorrow, now), "2030-05-02 00:10 UTC");
    }
}
