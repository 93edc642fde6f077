//! The real `executor-service` binary at the HTTP edge: which client request ids are kept,
//! a body that stalls past its deadline, and a request that lacks its required members.
//! Each refusal must be audited with the id the answer names. Runs in dry-run mode on an
//! embedded SQLite store (no Postgres, no cluster).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::Row;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BIN: &str = env!("CARGO_BIN_EXE_executor-service");

/// A running executor on its own SQLite file; killed on drop.
struct Executor {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Executor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Executor {
    async fn start() -> Executor {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(BIN)
            .env_clear()
            .env("HOME", dir.path())
            .env("EXECUTOR_BIND", format!("127.0.0.1:{port}"))
            .env(
                "DATABASE_URL",
                format!("sqlite://{}/audit.db", dir.path().display()),
            )
            .env("JWT_SECRET", "0123456789abcdef0123456789abcdef")
            .env("POLICY_URL", "http://127.0.0.1:9")
            .env("EXECUTOR_DRY_RUN", "true")
            .env("EXECUTOR_REQUEST_TIMEOUT_SECONDS", "2")
            .env("RUST_LOG", "warn")
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let executor = Executor { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(Instant::now() < deadline, "executor-service did not listen");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        executor
    }

    /// Sends `head` (request line and headers, without the blank line) and `body`, then reads
    /// the answer until the server closes or `wait` passes.
    async fn raw(&self, head: &[u8], body: &[u8], wait: Duration) -> Raw {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).await.unwrap();
        stream.write_all(head).await.unwrap();
        stream.write_all(b"\r\n\r\n").await.unwrap();
        stream.write_all(body).await.unwrap();
        let mut data = Vec::new();
        let _ = tokio::time::timeout(wait, stream.read_to_end(&mut data)).await;
        Raw::parse(&data)
    }

    async fn post(&self, headers: &[u8], body: &str) -> Raw {
        let mut head = format!(
            "POST /executor/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}",
            body.len()
        )
        .into_bytes();
        head.extend_from_slice(headers);
        self.raw(&head, body.as_bytes(), Duration::from_secs(10))
            .await
    }

    /// The audit row `id`, as `(status, reasonCode, requestId, clientIp)`.
    async fn row(&self, id: &str) -> (String, String, Option<String>, Option<String>) {
        let url = format!("sqlite://{}/audit.db", self.dir.path().display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let row = sqlx::query(
            r#"SELECT "status", "reasonCode", "requestId", "clientIp" FROM action_audit_logs WHERE "id" = ?"#,
        )
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
        (
            row.get("status"),
            row.get("reasonCode"),
            row.get("requestId"),
            row.get("clientIp"),
        )
    }
}

/// An HTTP answer read off the wire.
struct Raw {
    status: u16,
    head: String,
    body: Value,
}

impl Raw {
    fn parse(data: &[u8]) -> Raw {
        let split = data
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no HTTP answer: {:?}", String::from_utf8_lossy(data)));
        let head = String::from_utf8_lossy(&data[..split]).into_owned();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let body = serde_json::from_slice(&data[split + 4..]).unwrap_or(Value::Null);
        Raw { status, head, body }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

#[tokio::test]
async fn a_short_request_id_is_kept_in_the_answer_and_the_audit_row() {
    // Arrange
    let executor = Executor::start().await;

    // Act
    let answer = executor
        .post(b"\r\nX-Request-Id: incident-42/step.3", "{}")
        .await;

    // Assert
    assert_eq!(answer.status, 400);
    assert_eq!(answer.header("x-request-id"), Some("incident-42/step.3"));
    assert_eq!(answer.header("x-request-id-replaced"), None);
    let (_, _, request_id, _) = executor.row(answer.body["auditId"].as_str().unwrap()).await;
    assert_eq!(request_id.as_deref(), Some("incident-42/step.3"));
}

#[tokio::test]
async fn an_oversized_or_non_utf8_request_id_is_replaced_and_never_stored() {
    // Arrange
    let executor = Executor::start().await;
    let huge = format!("\r\nX-Request-Id: {}", "r".repeat(64 * 1024));
    let cases: [(&str, Vec<u8>); 4] = [
        ("64 KiB", huge.into_bytes()),
        (
            "129 characters",
            format!("\r\nX-Request-Id: {}", "r".repeat(129)).into_bytes(),
        ),
        (
            "a byte that is not UTF-8",
            b"\r\nX-Request-Id: abc\xffdef".to_vec(),
        ),
        (
            "two ids",
            b"\r\nX-Request-Id: one\r\nX-Request-Id: two".to_vec(),
        ),
    ];

    for (label, headers) in cases {
        // Act
        let answer = executor.post(&headers, "{}").await;

        // Assert
        assert_eq!(answer.status, 400, "{label}");
        assert_eq!(
            answer.header("x-request-id-replaced"),
            Some("true"),
            "{label}"
        );
        let echoed = answer
            .header("x-request-id")
            .expect("an id is always answered");
        assert!(
            uuid::Uuid::parse_str(echoed).is_ok(),
            "{label}: a generated id, got {echoed}"
        );
        let (_, _, stored, _) = executor.row(answer.body["auditId"].as_str().unwrap()).await;
        assert_eq!(
            stored.as_deref(),
            Some(echoed),
            "{label}: the row has the answer's id"
        );
    }
}

#[tokio::test]
async fn a_body_that_stalls_is_refused_with_408_and_audited() {
    // Arrange
    let executor = Executor::start().await;
    let head = b"POST /executor/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 500\r\nX-Request-Id: stalled-body";
    let first_bytes = [b' '; 100];

    // Act: 100 of the 500 announced bytes, then nothing.
    let answer = executor
        .raw(head, &first_bytes, Duration::from_secs(10))
        .await;

    // Assert
    assert_eq!(answer.status, 408, "{}", answer.body);
    assert_eq!(answer.body["code"], "timeout");
    let audit_id = answer.body["auditId"]
        .as_str()
        .expect("the refusal is audited");
    let (status, reason, request_id, client_ip) = executor.row(audit_id).await;
    assert_eq!(status, "rejected");
    assert_eq!(reason, "timeout");
    assert_eq!(request_id.as_deref(), Some("stalled-body"));
    assert_eq!(client_ip.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn a_request_without_its_decision_parts_names_every_missing_member() {
    // Arrange
    let executor = Executor::start().await;
    let naive = r#"{"actionType":"restart_pod","actionParams":{"namespace":"default","podName":"api-1"},"requestedBy":"ai-engine"}"#;

    // Act
    let answer = executor.post(b"", naive).await;

    // Assert
    assert_eq!(answer.status, 400);
    assert_eq!(answer.body["code"], "invalid_request");
    assert_eq!(answer.body["field"], "policyDecision");
    let message = answer.body["error"].as_str().unwrap();
    assert!(
        message.starts_with("missing fields: policyDecision, signature."),
        "{message}"
    );
    assert!(
        message.contains("POST /api/v1/policy/evaluate"),
        "{message}"
    );
    let (status, reason, _, _) = executor.row(answer.body["auditId"].as_str().unwrap()).await;
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("rejected", "invalid_request")
    );
}

#[tokio::test]
async fn an_unknown_action_lists_the_known_ones() {
    // Arrange
    let executor = Executor::start().await;
    let body = r#"{"actionType":"restart_pods","actionParams":{},"requestedBy":"ai-engine","policyDecision":{},"signature":"00"}"#;

    // Act
    let answer = executor.post(b"", body).await;

    // Assert
    assert_eq!(answer.status, 400);
    assert_eq!(answer.body["code"], "unknown_action");
    let message = answer.body["error"].as_str().unwrap();
    assert!(
        message.contains("unknown actionType `restart_pods`"),
        "{message}"
    );
    for known in [
        "restart_pod",
        "scale_deployment",
        "rollout_restart_deployment",
        "scale_statefulset",
    ] {
        assert!(message.contains(known), "{message} lists {known}");
    }
}
