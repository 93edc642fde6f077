//! Webhook notifications of approval requests, over real HTTP to local receivers: the
//! message shape of each event, the link, escaping, retries, giving up, and that nothing
//! ever holds up the caller.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use warden_test_support::logs::LogCapture;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use chrono::{DateTime, Utc};
use executor_service::config::ApprovalSettings;
use executor_service::notify::{ApprovalEvent, EventKind, Notifier};
use reqwest::Url;
use serde_json::{Value, json};

/// Long enough for any test here; a flush that needs it has failed anyway.
const FLUSH: Duration = Duration::from_secs(10);

/// A local webhook receiver: answers each post with the next scripted status (200 once
/// the script is used up, or `then` forever) and records what it was sent.
#[derive(Clone)]
struct Receiver {
    url: Url,
    posts: Arc<Mutex<Vec<Value>>>,
}

#[derive(Clone, Default)]
struct Script {
    statuses: Arc<Mutex<VecDeque<u16>>>,
    then: u16,
    delay: Duration,
    posts: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    /// A receiver answering `statuses` in turn, then `then` to every later post, each
    /// after `delay`.
    async fn start(statuses: &[u16], then: u16, delay: Duration) -> Receiver {
        let script = Script {
            statuses: Arc::new(Mutex::new(statuses.iter().copied().collect())),
            then,
            delay,
            posts: Arc::default(),
        };
        let posts = script.posts.clone();
        let app = Router::new()
            .route("/hook/T000/B000/secret-path", post(receive))
            .with_state(script);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            url: format!("http://{addr}/hook/T000/B000/secret-path")
                .parse()
                .unwrap(),
            posts,
        }
    }

    /// A receiver that accepts everything at once.
    async fn accepting() -> Receiver {
        Receiver::start(&[], 200, Duration::ZERO).await
    }

    fn posts(&self) -> Vec<Value> {
        self.posts.lock().unwrap().clone()
    }
}

async fn receive(State(script): State<Script>, body: axum::Json<Value>) -> StatusCode {
    script.posts.lock().unwrap().push(body.0);
    tokio::time::sleep(script.delay).await;
    let status = script
        .statuses
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(script.then);
    StatusCode::from_u16(status).unwrap()
}

/// Settings sending to `urls`, with short deadlines so that the tests stay quick.
fn settings(urls: &[&Url], public_url: Option<&str>, retries: u32) -> ApprovalSettings {
    ApprovalSettings {
        webhook_urls: urls.iter().map(|u| (*u).clone()).collect(),
        public_url: public_url.map(|u| u.parse().unwrap()),
        webhook_timeout: Duration::from_millis(500),
        webhook_retries: retries,
        ..ApprovalSettings::default()
    }
}

/// An event as the approvals API would fill it, expiring `at`.
fn event(kind: EventKind, at: DateTime<Utc>) -> ApprovalEvent {
    ApprovalEvent {
        kind,
        approval_id: uuid::Uuid::parse_str("0192f0c5-7d1e-7a3b-9c4d-5e6f708192a3").unwrap(),
        action_type: "restart_pod".into(),
        requested_by: "ai-engine".into(),
        namespace: "production".into(),
        target_kind: "pod".into(),
        target_name: "api-1".into(),
        rule: Some("approve-medium-severity".into()),
        approvers_needed: 1,
        approvals: 0,
        decided_by: Vec::new(),
        comment: None,
        expires_at: at,
        dry_run: false,
        execution_status: None,
    }
}

/// Later today (UTC), so the summary shows the time alone; a test starting in the last
/// minutes before midnight gets the date too and reads it from `expected_clock`.
fn soon() -> DateTime<Utc> {
    Utc::now() + chrono::Duration::minutes(10)
}

fn expected_clock(at: DateTime<Utc>) -> String {
    if at.date_naive() == Utc::now().date_naive() {
        at.format("%H:%M UTC").to_string()
    } else {
        at.format("%Y-%m-%d %H:%M UTC").to_string()
    }
}

/// Sends `event` to one accepting receiver and returns the one message it got.
async fn deliver_one(event: ApprovalEvent, public_url: Option<&str>) -> Value {
    let receiver = Receiver::accepting().await;
    let notifier = Notifier::new(&settings(&[&receiver.url], public_url, 0));
    notifier.send(event);
    assert!(notifier.flush(FLUSH).await);
    let posts = receiver.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    posts.into_iter().next().unwrap()
}

const LINK: &str =
    "https://warden.example.com/executor/approvals/0192f0c5-7d1e-7a3b-9c4d-5e6f708192a3";

#[tokio::test]
async fn a_created_request_says_what_who_which_rule_until_when_and_links_to_it() {
    let at = soon();
    let created = event(EventKind::Created, at);

    let message = deliver_one(created.clone(), Some("https://warden.example.com")).await;

    assert_eq!(
        message["text"],
        format!(
            "Approval needed: restart_pod on production/pod/api-1 requested by ai-engine \
             (rule approve-medium-severity), expires {} — {LINK}",
            expected_clock(at)
        )
    );
    assert_eq!(message["event"], "approval.created");
    assert_eq!(message["url"], LINK);
    assert_eq!(message["approval"], serde_json::to_value(&created).unwrap());
    assert_eq!(message["approval"]["kind"], "created");
    assert_eq!(
        message["approval"]["approvalId"],
        "0192f0c5-7d1e-7a3b-9c4d-5e6f708192a3"
    );
    assert_eq!(message["approval"]["targetName"], "api-1");
    assert_eq!(message["approval"]["approversNeeded"], 1);
    assert!(message["approval"]["expiresAt"].is_string());
    let keys: Vec<&String> = message.as_object().unwrap().keys().collect();
    assert_eq!(
        keys.len(),
        4,
        "only text, event, approval and url: {keys:?}"
    );
}

#[tokio::test]
async fn approved_denied_and_expired_messages_name_the_decision() {
    let mut approved = event(EventKind::Approved, soon());
    approved.approvers_needed = 2;
    approved.approvals = 2;
    approved.decided_by = vec!["alice".into(), "bob".into()];
    approved.comment = Some("checked the dashboards".into());
    approved.execution_status = Some("succeeded".into());
    let mut denied = event(EventKind::Denied, soon());
    denied.decided_by = vec!["carol".into()];
    denied.comment = Some("not during the sale".into());
    let mut expired = event(EventKind::Expired, soon());
    expired.approvers_needed = 2;
    expired.approvals = 1;
    expired.dry_run = true;

    let approved_message = deliver_one(approved.clone(), None).await;
    let denied_message = deliver_one(denied.clone(), None).await;
    let expired_message = deliver_one(expired.clone(), None).await;

    assert_eq!(approved_message["event"], "approval.approved");
    assert_eq!(
        approved_message["text"],
        "Approved by alice, bob: restart_pod on production/pod/api-1 requested by ai-engine, \
         execution succeeded (comment: checked the dashboards)"
    );
    assert_eq!(
        approved_message["approval"],
        serde_json::to_value(&approved).unwrap()
    );
    assert_eq!(
        approved_message["approval"]["decidedBy"],
        json!(["alice", "bob"])
    );
    assert_eq!(approved_message["approval"]["executionStatus"], "succeeded");
    assert_eq!(denied_message["event"], "approval.denied");
    assert_eq!(
        denied_message["text"],
        "Denied by carol: restart_pod on production/pod/api-1 requested by ai-engine \
         (comment: not during the sale)"
    );
    assert_eq!(denied_message["approval"]["comment"], "not during the sale");
    assert_eq!(expired_message["event"], "approval.expired");
    assert_eq!(
        expired_message["text"],
        "[dry run] Expired without a decision: restart_pod on production/pod/api-1 \
         requested by ai-engine (1 of 2 approvals)"
    );
    assert_eq!(expired_message["approval"]["dryRun"], true);
    for message in [&approved_message, &denied_message, &expired_message] {
        assert!(
            message.get("url").is_none(),
            "no public URL, no link: {message}"
        );
    }
}

#[tokio::test]
async fn the_link_keeps_a_path_prefix_with_or_without_a_trailing_slash() {
    let id = "0192f0c5-7d1e-7a3b-9c4d-5e6f708192a3";

    let bare = deliver_one(event(EventKind::Created, soon()), Some("https://w.example")).await;
    let slash = deliver_one(
        event(EventKind::Created, soon()),
        Some("https://w.example/"),
    )
    .await;
    let prefix = deliver_one(
        event(EventKind::Created, soon()),
        Some("https://w.example/warden"),
    )
    .await;
    let prefix_slash = deliver_one(
        event(EventKind::Created, soon()),
        Some("https://w.example/warden/"),
    )
    .await;

    assert_eq!(
        bare["url"],
        format!("https://w.example/executor/approvals/{id}")
    );
    assert_eq!(
        slash["url"],
        format!("https://w.example/executor/approvals/{id}")
    );
    let with_prefix = format!("https://w.example/warden/executor/approvals/{id}");
    assert_eq!(prefix["url"], with_prefix);
    assert_eq!(prefix_slash["url"], with_prefix);
    assert!(prefix["text"].as_str().unwrap().ends_with(&with_prefix));
}

#[tokio::test]
async fn names_and_comments_cannot_inject_links_mentions_or_lines_into_the_text() {
    let mut denied = event(EventKind::Denied, soon());
    denied.target_name = "api-1 <https://evil.example|click here>".into();
    denied.requested_by = "ai\n<!channel> & co\u{202E}".into();
    denied.decided_by = vec!["<@U12345>".into()];
    denied.comment = Some("line one\r\nline two\u{0007}".into());

    let message = deliver_one(denied.clone(), None).await;

    let text = message["text"].as_str().unwrap();
    assert_eq!(
        text,
        "Denied by &lt;@U12345&gt;: restart_pod on production/pod/\
         api-1 &lt;https://evil.example|click here&gt; requested by ai&lt;!channel&gt; &amp; co \
         (comment: line oneline two)"
    );
    assert!(!text.contains('<') && !text.contains('>'), "{text}");
    assert!(!text.chars().any(char::is_control), "{text}");
    // The machine-readable fields carry the values exactly, as JSON strings.
    assert_eq!(message["approval"]["targetName"], denied.target_name);
    assert_eq!(message["approval"]["requestedBy"], denied.requested_by);
    assert_eq!(
        message["approval"]["comment"],
        "line one\r\nline two\u{0007}"
    );
}

#[tokio::test]
async fn a_receiver_failing_twice_gets_three_posts_and_one_delivery() {
    let receiver = Receiver::start(&[500, 500], 200, Duration::ZERO).await;
    let notifier = Notifier::new(&settings(&[&receiver.url], None, 3));

    notifier.send(event(EventKind::Created, soon()));
    let flushed = notifier.flush(FLUSH).await;

    assert!(flushed);
    let posts = receiver.posts();
    assert_eq!(posts.len(), 3);
    assert!(
        posts.iter().all(|p| p == &posts[0]),
        "the same message each time"
    );
    assert_eq!(notifier.delivered().get(), 1);
    assert_eq!(notifier.failures().get(), 0);
}

#[tokio::test]
async fn a_receiver_answering_429_is_retried_and_other_4xx_are_not() {
    let busy = Receiver::start(&[429], 200, Duration::ZERO).await;
    let gone = Receiver::start(&[], 404, Duration::ZERO).await;
    let notifier = Notifier::new(&settings(&[&busy.url, &gone.url], None, 3));

    notifier.send(event(EventKind::Created, soon()));
    let flushed = notifier.flush(FLUSH).await;

    assert!(flushed);
    assert_eq!(busy.posts().len(), 2);
    assert_eq!(gone.posts().len(), 1, "a 404 is not retried");
    assert_eq!(notifier.delivered().get(), 1);
    assert_eq!(notifier.failures().get(), 1);
}

#[tokio::test]
async fn a_receiver_always_failing_is_given_up_after_the_retries() {
    let receiver = Receiver::start(&[], 500, Duration::ZERO).await;
    let notifier = Notifier::new(&settings(&[&receiver.url], None, 2));

    notifier.send(event(EventKind::Created, soon()));
    let flushed = notifier.flush(FLUSH).await;

    assert!(flushed);
    assert_eq!(receiver.posts().len(), 3, "one attempt and two retries");
    assert_eq!(notifier.delivered().get(), 0);
    assert_eq!(notifier.failures().get(), 1);
}

#[tokio::test]
async fn an_unreachable_or_slow_receiver_neither_blocks_send_nor_delays_the_others() {
    // Nothing listens on a port that was just freed: connections are refused.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        Url::parse(&format!("http://{addr}/hook")).unwrap()
    };
    let slow = Receiver::start(&[], 200, Duration::from_secs(30)).await;
    let fine = Receiver::accepting().await;
    let notifier = Notifier::new(&settings(&[&closed, &slow.url, &fine.url], None, 1));

    let started = Instant::now();
    for _ in 0..50 {
        notifier.send(event(EventKind::Created, soon()));
    }
    let send_took = started.elapsed();
    let mut waited = Duration::ZERO;
    while fine.posts().len() < 50 && waited < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += Duration::from_millis(20);
    }

    assert!(
        send_took < Duration::from_millis(200),
        "send took {send_took:?}"
    );
    assert_eq!(
        fine.posts().len(),
        50,
        "the good receiver got every message in time"
    );
    assert!(
        !notifier.flush(Duration::from_millis(50)).await,
        "the slow receiver's messages are still pending"
    );
}

#[tokio::test]
async fn without_urls_send_does_nothing() {
    let notifier = Notifier::new(&ApprovalSettings::default());

    notifier.send(event(EventKind::Created, soon()));
    let flushed = notifier.flush(Duration::from_millis(100)).await;

    assert!(flushed);
    assert_eq!(notifier.delivered().get(), 0);
    assert_eq!(notifier.failures().get(), 0);
}

#[tokio::test]
async fn every_url_receives_every_message() {
    let first = Receiver::accepting().await;
    let second = Receiver::accepting().await;
    let notifier = Notifier::new(&settings(&[&first.url, &second.url], None, 0));

    notifier.send(event(EventKind::Created, soon()));
    notifier.send(event(EventKind::Approved, soon()));
    let flushed = notifier.flush(FLUSH).await;

    assert!(flushed);
    for receiver in [&first, &second] {
        let events: Vec<Value> = receiver
            .posts()
            .iter()
            .map(|p| p["event"].clone())
            .collect();
        assert_eq!(
            events,
            [json!("approval.created"), json!("approval.approved")]
        );
    }
    assert_eq!(notifier.delivered().get(), 4);
}

#[tokio::test]
async fn a_full_queue_drops_and_counts_instead_of_blocking() {
    // The receiver holds the first post for a while, so the queue behind it fills up.
    let slow = Receiver::start(&[], 200, Duration::from_secs(30)).await;
    let notifier = Notifier::new(&settings(&[&slow.url], None, 0));
    let extra = 10;

    let started = Instant::now();
    for _ in 0..executor_service::notify::QUEUE_CAPACITY + 1 + extra {
        notifier.send(event(EventKind::Created, soon()));
    }
    let send_took = started.elapsed();

    assert!(
        send_took < Duration::from_secs(2),
        "send took {send_took:?}"
    );
    // One is in flight (or still queued) and the queue holds the capacity; the rest
    // were dropped. The worker may not have taken the first one yet: then one more drops.
    let failures = notifier.failures().get();
    assert!(
        failures == extra as u64 || failures == extra as u64 + 1,
        "{failures}"
    );
}

#[tokio::test]
async fn failures_are_logged_with_the_host_only() {
    let failing = Receiver::start(&[], 500, Duration::ZERO).await;
    let refusing = Receiver::start(&[], 403, Duration::ZERO).await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        Url::parse(&format!("http://{addr}/hook/T000/B000/secret-path")).unwrap()
    };
    let notifier = Notifier::new(&settings(&[&failing.url, &refusing.url, &closed], None, 1));
    let capture = LogCapture::default();
    // The test runtime has one thread, so the workers log to this subscriber too.
    let _guard = tracing::subscriber::set_default(capture.clone());

    notifier.send(event(EventKind::Created, soon()));
    let flushed = notifier.flush(FLUSH).await;

    assert!(flushed);
    assert_eq!(notifier.failures().get(), 3);
    let logs = capture.text();
    assert!(logs.contains("host=127.0.0.1"), "{logs}");
    assert!(
        logs.contains("HTTP 500") && logs.contains("HTTP 403"),
        "{logs}"
    );
    assert!(logs.contains("cannot connect"), "{logs}");
    assert!(
        !logs.contains("secret-path") && !logs.contains("/hook"),
        "{logs}"
    );
}
