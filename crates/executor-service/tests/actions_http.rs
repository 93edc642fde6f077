//! Declarative HTTP actions end to end: a receiver on 127.0.0.1 records what it gets, and
//! each outcome (success, 5xx, timeout, redirect, oversized, dry run, refused URLs, another
//! URL's decision) is checked at the receiver, in the answer and in the audit row.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use executor_service::AppState;
use executor_service::actions::Registry;
use executor_service::actions::http::spec;
use executor_service::config::{self, Config};
use executor_service::signature::SignatureForm;
use executor_service::store::postgres::PgStore;
use executor_service::token::DecisionVerifier;
use policy_service::keys::DecisionSigner;
use serde_json::{Value, json};
use sqlx::PgPool;
use warden_test_support::FakeKube;
use warden_test_support::claims::ClaimsBuilder;

const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");
const SECRET_TOKEN: &str = "s3cr3t-ticket-token-value";

/// What the receiver got: (path, authorization header, body).
type Seen = Arc<Mutex<Vec<(String, Option<String>, String)>>>;

async fn receive(State(seen): State<Seen>, uri: Uri, headers: HeaderMap, body: String) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    seen.lock()
        .unwrap()
        .push((uri.path().to_owned(), auth, body));
    match uri.path() {
        "/v1/tickets" => (StatusCode::CREATED, axum::Json(json!({"ticket": 42}))).into_response(),
        "/v1/broken" => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        "/v1/slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            StatusCode::OK.into_response()
        }
        "/v1/moved" => Redirect::temporary("http://169.254.169.254/latest").into_response(),
        "/v1/big" => "x".repeat(10_000).into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

struct Setup {
    state: AppState,
    signer: DecisionSigner,
    seen: Seen,
    port: u16,
    closed: u16,
    pool: PgPool,
    _kube: FakeKube,
}

async fn setup(pool: PgPool) -> Setup {
    let seen: Seen = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new().fallback(receive).with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    // A port with nothing listening on it, for a refused connection.
    let closed = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let file = format!(
        r#"actions:
  - name: call_closed
    description: an allowed endpoint where nothing listens
    method: POST
    url: http://127.0.0.1:{closed}/v1/tickets
    allow: ["http://127.0.0.1:{closed}/v1/"]
    allowPrivate: true
  - name: call_api
    description: the test receiver
    method: POST
    urlParam: url
    allow: ["http://127.0.0.1:{port}/v1/"]
    allowPrivate: true
    headers: {{Authorization: "Bearer ${{TICKETS_TOKEN}}"}}
    params:
      url: {{type: string, required: true}}
      ticket: {{type: object}}
    bodyParam: ticket
    timeoutSeconds: 1
    maxResponseBytes: 1000
  - name: call_by_name
    description: a name that resolves to loopback, without allowPrivate
    method: GET
    urlParam: url
    allow: ["http://localhost:{port}/v1/"]
    params:
      url: {{type: string, required: true}}
"#
    );
    let env = |name: &str| (name == "TICKETS_TOKEN").then(|| SECRET_TOKEN.to_owned());
    let specs = spec::parse(&file, "actions.yaml", &env).unwrap();
    let registry = Registry::with_builtins().with_http_actions(specs);
    let keys = config::budget_keys(&registry);
    let vars = [
        ("DATABASE_URL", "postgres://unused"),
        ("JWT_SECRET", common::SECRET),
    ];
    let config = Config::from_lookup(
        |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        },
        &keys,
    )
    .unwrap();
    let kube = FakeKube::start().await;
    let client =
        executor_service::kube_client::client_for_url(&kube.url(), Duration::from_secs(2)).unwrap();
    let signer = DecisionSigner::ephemeral();
    let jwks = serde_json::from_value(serde_json::to_value(signer.jwks()).unwrap()).unwrap();
    let state = AppState::new(
        config,
        Arc::new(PgStore::from_pool(pool.clone())),
        DecisionVerifier::from_jwks(&jwks, Duration::from_secs(5)),
        registry,
        client,
    );
    Setup {
        state,
        signer,
        seen,
        port,
        closed,
        pool,
        _kube: kube,
    }
}

impl Setup {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A signed call of `action` with `params`, on a decision for resource `resource`.
    fn body(&self, action: &str, params: Value, resource: &str, dry_run: bool) -> String {
        let claims = ClaimsBuilder::new()
            .action(action)
            .resource(resource)
            .build();
        let decision = json!({"allowed": true, "decision": "allow", "decisionId": claims.jti,
                              "token": self.signer.sign(&claims).unwrap()});
        let body = common::signed_body(
            action,
            params,
            "ai-engine",
            decision,
            SignatureForm::JsInsertion,
            common::SECRET,
        );
        if dry_run {
            body.replacen('{', r#"{"dryRun":true,"#, 1)
        } else {
            body
        }
    }

    async fn call(&self, path: &str, dry_run: bool) -> common::Answer {
        let url = self.url(path);
        let body = self.body(
            "call_api",
            json!({"url": url, "ticket": {"title": "disk full"}}),
            &format!("url:{url}"),
            dry_run,
        );
        common::execute_on(&self.state, &body).await
    }

    fn received(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    async fn last_row(&self) -> Value {
        sqlx::query_scalar(
            r#"SELECT to_jsonb(a) FROM action_audit_logs a ORDER BY "createdAt" DESC LIMIT 1"#,
        )
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_call_reaches_the_endpoint_with_its_secret_header_and_is_audited_without_it(
    pool: PgPool,
) {
    // Arrange
    let s = setup(pool).await;

    let logs = warden_test_support::logs::LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.clone());

    // Act
    let answer = s.call("/v1/tickets", false).await;
    let missing = s.call("/v1/missing", false).await;

    // Assert
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        missing.status, 502,
        "a 4xx of the endpoint: {}",
        missing.body
    );
    assert_eq!(missing.body["code"], "http_status");
    assert!(logs.text().contains("action executed"), "{}", logs.text());
    assert!(
        !logs.text().contains(SECRET_TOKEN),
        "the secret is not logged"
    );
    assert_eq!(answer.body["result"]["status"], 201);
    assert_eq!(answer.body["result"]["output"], json!({"ticket": 42}));
    let seen = s.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[0].1.as_deref(),
        Some(format!("Bearer {SECRET_TOKEN}").as_str())
    );
    assert_eq!(
        serde_json::from_str::<Value>(&seen[0].2).unwrap(),
        json!({"title": "disk full"})
    );
    let row: Value = sqlx::query_scalar(
        r#"SELECT to_jsonb(a) FROM action_audit_logs a WHERE "status" = 'succeeded'"#,
    )
    .fetch_one(&s.pool)
    .await
    .unwrap();
    assert_eq!(row["targetKind"], "url");
    assert!(!row.to_string().contains(SECRET_TOKEN), "{row}");
    assert_eq!(row["result"]["status"], 201);
    assert_eq!(row["result"]["bytes"], answer.body["result"]["bytes"]);
    assert!(
        row["result"].get("output").is_none(),
        "the body stays out of the audit row: {row}"
    );
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn failures_timeouts_redirects_and_big_answers_are_told_apart(pool: PgPool) {
    // Arrange
    let s = setup(pool).await;

    // Act
    let broken = s.call("/v1/broken", false).await;
    let broken_row = s.last_row().await;
    let slow = s.call("/v1/slow", false).await;
    let slow_row = s.last_row().await;
    let moved = s.call("/v1/moved", false).await;
    let claims = ClaimsBuilder::new()
        .action("call_closed")
        .resource(format!("url:http://127.0.0.1:{}/v1/tickets", s.closed))
        .build();
    let decision = json!({"allowed": true, "decision": "allow", "decisionId": claims.jti,
                          "token": s.signer.sign(&claims).unwrap()});
    let refused = common::execute_on(
        &s.state,
        &common::signed_body(
            "call_closed",
            json!({}),
            "ai-engine",
            decision,
            SignatureForm::JsInsertion,
            common::SECRET,
        ),
    )
    .await;
    let refused_row = s.last_row().await;
    let big = s.call("/v1/big", false).await;

    // Assert
    assert_eq!(broken.status, 502, "{}", broken.body);
    assert_eq!(broken.body["code"], "http_status");
    assert_eq!(broken_row["status"], "failed");
    assert_eq!(slow.status, 504, "{}", slow.body);
    assert_eq!(slow_row["status"], "unknown", "a timeout may have landed");
    assert_eq!(moved.body["code"], "http_redirect", "{}", moved.body);
    assert_eq!(refused.status, 502, "{}", refused.body);
    assert_eq!(refused.body["code"], "http_unreachable");
    assert_eq!(
        refused_row["status"], "failed",
        "nothing was sent: a known outcome"
    );
    assert_eq!(big.status, 200, "{}", big.body);
    assert_eq!(big.body["result"]["truncated"], true);
    assert_eq!(big.body["result"]["bytes"], 1000);
    let paths: Vec<String> = s.seen.lock().unwrap().iter().map(|r| r.0.clone()).collect();
    assert_eq!(
        paths,
        ["/v1/broken", "/v1/slow", "/v1/moved", "/v1/big"],
        "nothing retried or followed"
    );
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_dry_run_sends_nothing_and_hides_the_secret(pool: PgPool) {
    // Arrange
    let s = setup(pool).await;

    // Act
    let answer = s.call("/v1/tickets", true).await;

    // Assert
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body["result"]["headers"]["Authorization"],
        "<redacted>"
    );
    assert!(!answer.body.to_string().contains(SECRET_TOKEN));
    assert_eq!(s.received(), 0);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn urls_outside_the_allowlist_are_refused_before_any_byte_is_sent(pool: PgPool) {
    // Arrange
    let s = setup(pool).await;
    let port = s.port;
    let bypasses = [
        format!("http://127.0.0.1:{port}/v10/tickets"),
        format!("http://127.0.0.1:{port}/v1/%2e%2e/admin"),
        format!("http://127.0.0.1:{port}@evil.example/v1/"),
        format!("http://2130706433:{port}/v1/tickets"),
        format!("http://0177.0.0.1:{port}/v1/tickets"),
        format!("http://[::ffff:127.0.0.1]:{port}/v1/tickets"),
        format!("https://127.0.0.1:{port}/v1/tickets"),
        format!("http://127.0.0.1:{}/v1/tickets", port + 1),
        "http://169.254.169.254/latest/meta-data".to_owned(),
    ];

    // Act
    let mut answers = Vec::new();
    for url in &bypasses {
        let body = s.body(
            "call_api",
            json!({"url": url}),
            &format!("url:http://127.0.0.1:{port}/v1/tickets"),
            false,
        );
        answers.push(common::execute_on(&s.state, &body).await);
    }
    let by_name = s.body(
        "call_by_name",
        json!({"url": format!("http://localhost:{port}/v1/tickets")}),
        &format!("url:http://localhost:{port}/v1/tickets"),
        false,
    );
    let blocked = common::execute_on(&s.state, &by_name).await;

    // Assert
    for (url, answer) in bypasses.iter().zip(&answers) {
        assert_eq!(answer.status, 400, "{url}: {}", answer.body);
        assert_eq!(answer.body["field"], "actionParams.url", "{url}");
    }
    assert_eq!(blocked.status, 403, "{}", blocked.body);
    assert_eq!(blocked.body["code"], "url_blocked_address");
    assert_eq!(s.received(), 0, "no request reached the receiver");
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_decision_for_one_url_does_not_call_another(pool: PgPool) {
    // Arrange
    let s = setup(pool).await;
    let allowed = s.url("/v1/tickets");
    let other = s.url("/v1/broken");

    // Act
    let body = s.body(
        "call_api",
        json!({"url": other}),
        &format!("url:{allowed}"),
        false,
    );
    let answer = common::execute_on(&s.state, &body).await;

    // Assert
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(answer.body["code"], "token_binding");
    assert_eq!(s.received(), 0);
}

#[test]
fn a_bad_actions_file_names_every_problem_with_its_line() {
    // Arrange
    let file = r#"actions:
  - name: Call-Api
    method: FETCH
    urlParam: url
    allow: ["https://api.internal.example.com/v1/"]
    headers: {X-Token: "${MISSING}"}
  - name: restart_pod
    method: GET
    url: https://elsewhere.example.com/
    allow: ["https://api.internal.example.com/v1/"]
"#;

    // Act
    let errors = spec::parse(file, "actions.yaml", &|_| None).unwrap_err();

    // Assert
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let joined = text.join("\n");
    assert!(
        joined.contains("actions.yaml:2:5: action `Call-Api`: `name` must be"),
        "{joined}"
    );
    assert!(joined.contains("method `FETCH`"), "{joined}");
    assert!(
        joined.contains("`urlParam` `url` must be declared"),
        "{joined}"
    );
    assert!(
        joined.contains("environment variable MISSING is not set"),
        "{joined}"
    );
    assert!(
        joined.contains("actions.yaml:7:5: action `restart_pod`: `name` is a built-in action"),
        "{joined}"
    );
    assert!(
        joined.contains("`url` is not allowed by `allow`"),
        "{joined}"
    );
}

#[test]
fn the_shipped_example_file_is_valid() {
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../actions.example.yaml"
    ))
    .unwrap();

    let specs = spec::parse(&source, "actions.example.yaml", &|_| Some("token".into())).unwrap();

    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["call_api", "notify_admin"]);
}
