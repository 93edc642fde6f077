//! The audit API (`GET /executor/audit`, `/executor/audit/{id}`, `/executor/stats`) on a
//! real Postgres: who may call it, that each filter returns exactly its rows, that paging
//! walks every row once, and that the figures equal the ones worked out by hand.
//!
//! Most tests read a fixed dataset of 22 rows written through the store's own methods
//! (`reject`, `begin`, `finish`) and then dated around [`t0`], so that times, ties and
//! windows are exact; the first tests write their rows through real execute requests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use common::*;
use executor_service::signature::SignatureForm;
use executor_service::store::AuditStatus::{Failed, Pending, Rejected, Succeeded, Unknown};
use executor_service::store::postgres::PgStore;
use executor_service::store::{
    Attempt, AuditStatus, AuditStore, Begin, Budget, Completion, Outcome,
};

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use warden_test_support::metrics::scrape;

const MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

const AI: Option<&str> = Some("ai-engine");
const OPS: Option<&str> = Some("ops-bot");
const RESTART: Option<&str> = Some("restart_pod");
const SCALE: Option<&str> = Some("scale_deployment");
const ROLLOUT: Option<&str> = Some("rollout_restart_deployment");
const DEFAULT: Option<&str> = Some("default");
const PROD: Option<&str> = Some("production");
const STAGING: Option<&str> = Some("staging");

/// One row of the dataset.
#[derive(Clone, Copy, Debug)]
struct Spec {
    requested_by: Option<&'static str>,
    action_type: Option<&'static str>,
    namespace: Option<&'static str>,
    status: AuditStatus,
    dry_run: bool,
    duration_ms: Option<u64>,
    /// Minutes before [`t0`].
    minutes_before: i64,
}

#[allow(clippy::too_many_arguments)]
const fn spec(
    requested_by: Option<&'static str>,
    action_type: Option<&'static str>,
    namespace: Option<&'static str>,
    status: AuditStatus,
    dry_run: bool,
    duration_ms: Option<u64>,
    minutes_before: i64,
) -> Spec {
    Spec {
        requested_by,
        action_type,
        namespace,
        status,
        dry_run,
        duration_ms,
        minutes_before,
    }
}

/// The dataset, rows numbered from one. The stats test's window is `[t0 - 60 min, t0)`:
/// rows 1–20 are in it; row 20 sits exactly on its start, row 21 exactly on its (excluded)
/// end. Rows 18 and 19 share one instant, so only their ids order them.
const DATASET: [Spec; 22] = [
    spec(AI, RESTART, DEFAULT, Succeeded, false, Some(100), 1),
    spec(AI, RESTART, DEFAULT, Succeeded, false, Some(200), 2),
    spec(AI, RESTART, PROD, Failed, false, Some(300), 3),
    spec(AI, SCALE, PROD, Succeeded, false, Some(400), 4),
    spec(AI, SCALE, PROD, Rejected, false, Some(10), 5),
    spec(OPS, SCALE, STAGING, Succeeded, false, Some(500), 6),
    spec(OPS, ROLLOUT, STAGING, Unknown, false, Some(1000), 7),
    spec(OPS, RESTART, None, Rejected, false, Some(5), 8),
    spec(None, None, None, Rejected, false, Some(1), 9),
    spec(AI, RESTART, DEFAULT, Rejected, false, Some(20), 10),
    spec(AI, RESTART, DEFAULT, Succeeded, true, Some(50), 11),
    spec(AI, SCALE, PROD, Succeeded, true, Some(70), 12),
    spec(OPS, RESTART, DEFAULT, Pending, false, None, 13),
    spec(OPS, RESTART, PROD, Succeeded, false, Some(600), 14),
    spec(AI, ROLLOUT, PROD, Failed, false, Some(700), 15),
    spec(AI, RESTART, STAGING, Succeeded, false, Some(800), 16),
    spec(OPS, SCALE, DEFAULT, Rejected, false, Some(30), 17),
    spec(AI, RESTART, DEFAULT, Succeeded, false, Some(900), 18),
    spec(AI, RESTART, DEFAULT, Succeeded, false, Some(1000), 18),
    spec(OPS, ROLLOUT, STAGING, Succeeded, false, Some(1100), 60),
    spec(AI, RESTART, DEFAULT, Succeeded, false, Some(5000), 0),
    spec(AI, RESTART, DEFAULT, Failed, false, Some(7000), 90),
];

/// The dataset's reference instant.
fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2020-01-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A row of the dataset as written.
#[derive(Clone, Copy, Debug)]
struct Seeded {
    id: Uuid,
    created_at: DateTime<Utc>,
    spec: Spec,
}

/// Writes [`DATASET`] through the store's own methods, then dates each row.
async fn seed(pool: &PgPool) -> Vec<Seeded> {
    let store = PgStore::from_pool(pool.clone());
    let budget = Budget {
        key: "audit-api-test".into(),
        max: 100,
        ttl: Duration::from_secs(1),
    };
    let mut seeded = Vec::new();
    for spec in DATASET {
        let decision = Uuid::new_v4().to_string();
        let attempt = Attempt {
            id: Uuid::now_v7(),
            action_type: spec.action_type.map(str::to_owned),
            action_params: spec
                .namespace
                .map(|ns| json!({"namespace": ns, "podName": "web-1"})),
            requested_by: spec.requested_by.map(str::to_owned),
            decision_id: Some(decision.clone()),
            policy_version: Some("v1".into()),
            policy_decision: Some(json!({"allowed": true, "decisionId": decision})),
            namespace: spec.namespace.map(str::to_owned),
            target_kind: spec.namespace.map(|_| "pod".to_owned()),
            target_name: spec.namespace.map(|_| "web-1".to_owned()),
            signature_form: Some("python_default".into()),
            dry_run: spec.dry_run,
            client_ip: Some("10.0.0.7".into()),
            request_id: Some(format!("req-{decision}")),
            ..Attempt::default()
        };
        let duration = Duration::from_millis(spec.duration_ms.unwrap_or(0));
        if spec.status == Rejected {
            store
                .reject(&attempt, "bad_signature", "signature mismatch", duration)
                .await
                .unwrap();
        } else {
            assert_eq!(
                store.begin(&attempt, &budget).await.unwrap(),
                Begin::Started
            );
            if spec.status != Pending {
                let (reason, error) = ("kube_error".to_owned(), "the API said no".to_owned());
                let outcome = match spec.status {
                    Succeeded => Outcome::Succeeded {
                        result: json!({"pod": "web-1"}),
                    },
                    Failed => Outcome::Failed { reason, error },
                    _ => Outcome::Unknown { reason, error },
                };
                let completion = Completion { outcome, duration };
                store.finish(attempt.id, &completion).await.unwrap();
            }
        }
        let created_at = t0() - TimeDelta::minutes(spec.minutes_before);
        sqlx::query(r#"UPDATE action_audit_logs SET "createdAt" = $2 WHERE "id" = $1"#)
            .bind(attempt.id)
            .bind(created_at)
            .execute(pool)
            .await
            .unwrap();
        seeded.push(Seeded {
            id: attempt.id,
            created_at,
            spec,
        });
    }
    seeded
}

/// Ids of the rows `keep` selects, in the API's order: newest first, ties by id descending.
fn expected(rows: &[Seeded], keep: impl Fn(&Seeded) -> bool) -> Vec<String> {
    let mut kept: Vec<&Seeded> = rows.iter().filter(|r| keep(r)).collect();
    kept.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.id)));
    kept.iter().map(|r| r.id.to_string()).collect()
}

/// Ids of an answer's items.
fn ids(answer: &Answer) -> Vec<String> {
    answer.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {}", answer.body))
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn audit_api(pool: PgPool) -> Harness {
    Harness::new(pool, &[("EXECUTOR_ADMIN_TOKEN", ADMIN_TOKEN)]).await
}

/// Restarts `default/api-pod-12345` through the executor; the restart must succeed.
async fn restart_api_pod(h: &Harness) -> Answer {
    let ran = h
        .execute(&h.request(
            "restart_pod",
            json!({"namespace": "default", "podName": "api-pod-12345"}),
            "default/pod/api-pod-12345",
        ))
        .await;
    assert_eq!(ran.status, 200, "{}", ran.body);
    ran
}

fn close(actual: &Value, expected: f64) -> bool {
    actual.as_f64().is_some_and(|a| (a - expected).abs() < 1e-9)
}

// ---------------------------------------------------------------------------------------
// Rows written by real requests
// ---------------------------------------------------------------------------------------

#[sqlx::test(migrator = "MIGRATIONS")]
async fn executed_and_refused_requests_show_up_as_written(pool: PgPool) {
    // Arrange: one restart that runs, one request with a bad signature.
    let h = audit_api(pool).await;
    let ran = restart_api_pod(&h).await;
    let claims = h.claims("restart_pod", "default/pod/api-pod-12345", "ai-engine");
    let forged = signed_body(
        "restart_pod",
        json!({"namespace": "default", "podName": "api-pod-12345"}),
        "ai-engine",
        h.decision(&claims),
        SignatureForm::JsInsertion,
        "not-the-secret-0123456789abcdef-0123456789",
    );
    let refused = h.execute(&forged).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    h.assert_invariant().await;

    // Act
    let page = h.admin_get("/executor/audit").await;
    let one = h
        .admin_get(&format!(
            "/executor/audit/{}",
            ran.body["auditId"].as_str().unwrap()
        ))
        .await;

    // Assert
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        ids(&page),
        [
            refused.body["auditId"].as_str().unwrap(),
            ran.body["auditId"].as_str().unwrap()
        ]
    );
    assert!(page.body["nextCursor"].is_null());
    let denied = &page.body["items"][0];
    assert_eq!(denied["status"], "rejected");
    assert_eq!(denied["reasonCode"], "bad_signature");
    assert_eq!(one.status, 200, "{}", one.body);
    let record = &one.body;
    assert_eq!(record["status"], "succeeded");
    assert_eq!(record["actionType"], "restart_pod");
    assert_eq!(record["requestedBy"], "ai-engine");
    assert_eq!(record["namespace"], "default");
    assert_eq!(record["targetName"], "api-pod-12345");
    assert_eq!(record["signatureForm"], "js_insertion");
    assert_eq!(record["budgetKey"], "restart");
    assert_eq!(record["dryRun"], false);
    assert!(record["durationMs"].is_i64(), "{record}");
    assert!(record["requestId"].is_string(), "{record}");
    assert!(record["policyDecision"].get("token").is_none());
    assert_eq!(record, &page.body["items"][1]);
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn a_request_with_nul_characters_is_audited_and_found_by_filter(pool: PgPool) {
    // Arrange: JSON allows "\u0000"; Postgres text and jsonb do not (found by Schemathesis:
    // the refusal went unaudited, and the filter answered 503).
    let h = audit_api(pool).await;
    let body = r#"{"actionType": "restart\u0000pod", "actionParams": {"pod\u0000": "\u0000"},
                   "requestedBy": "ai\u0000engine", "policyDecision": {"note": "\u0000"},
                   "signature": "00"}"#;

    // Act
    let refused = h.execute(body).await;
    let found = h.admin_get("/executor/audit?requestedBy=ai%00engine").await;

    // Assert
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.body["code"], "unknown_action");
    let id = refused.body["auditId"]
        .as_str()
        .unwrap_or_else(|| panic!("not audited: {}", refused.body));
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(ids(&found), [id]);
    let record = &found.body["items"][0];
    assert_eq!(record["actionType"], "restart\u{FFFD}pod");
    assert_eq!(record["requestedBy"], "ai\u{FFFD}engine");
    assert_eq!(record["actionParams"], json!({"pod\u{FFFD}": "\u{FFFD}"}));
    assert_eq!(record["policyDecision"], json!({"note": "\u{FFFD}"}));
    assert_eq!(
        record["error"],
        "unknown actionType `restart\u{FFFD}pod`; known actions: get_pod_logs, \
         get_workload_status, list_events, restart_pod, rollout_restart_deployment, \
         scale_deployment, scale_statefulset"
    );
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn extreme_numbers_sent_in_a_request_read_back_from_the_audit_log(pool: PgPool) {
    // Arrange: Postgres prints a jsonb number as plain digits (f64::MAX as 309 of them);
    // reading such a row back failed and every page holding it answered 503 (found by
    // Schemathesis).
    let h = audit_api(pool).await;
    let body = r#"{"actionType": "nope", "actionParams": {"n": -1.7976931348623157e308},
                   "requestedBy": "ai-engine", "policyDecision": {"tiny": 5e-324, "big": 1e308},
                   "signature": "00"}"#;
    let refused = h.execute(body).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let id = refused.body["auditId"].as_str().unwrap().to_owned();

    // Act
    let page = h.admin_get("/executor/audit").await;
    let one = h.admin_get(&format!("/executor/audit/{id}")).await;

    // Assert
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(ids(&page), [id]);
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(one.body["actionParams"], json!({"n": -f64::MAX}));
    assert_eq!(
        one.body["policyDecision"],
        json!({"tiny": 5e-324, "big": 1e308})
    );
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn stats_default_to_the_last_24_hours(pool: PgPool) {
    // Arrange
    let h = audit_api(pool).await;
    restart_api_pod(&h).await;
    let unknown = h
        .execute(&h.request(
            "no_such_action",
            json!({"namespace": "default"}),
            "default/pod/x",
        ))
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    h.assert_invariant().await;

    // Act
    let stats = h.admin_get("/executor/stats").await;

    // Assert
    assert_eq!(stats.status, 200, "{}", stats.body);
    let body = &stats.body;
    assert_eq!(body["windowSeconds"], 86_400.0);
    assert_eq!(body["total"], 2);
    assert_eq!(body["succeeded"], 1);
    assert_eq!(body["rejected"], 1);
    assert_eq!(body["successRatio"], 1.0);
    assert_eq!(body["denialRate"], 0.5);
    assert_eq!(body["byNamespace"]["default"]["succeeded"], 1);
    assert_eq!(body["byType"]["restart_pod"]["total"], 1);
    assert_eq!(body["byType"]["no_such_action"]["rejected"], 1);
}

// ---------------------------------------------------------------------------------------
// Access
// ---------------------------------------------------------------------------------------

#[sqlx::test(migrator = "MIGRATIONS")]
async fn the_audit_api_refuses_without_the_admin_token(pool: PgPool) {
    // Arrange
    let h = audit_api(pool).await;
    let rows = seed(&h.pool).await;
    let one = format!("/executor/audit/{}", rows[0].id);

    for path in ["/executor/audit", one.as_str(), "/executor/stats"] {
        // Act
        let missing = get_on(&h.state, path, None).await;
        let wrong = get_on(&h.state, path, Some(&ADMIN_TOKEN.replace('0', "1"))).await;
        let prefix = get_on(&h.state, path, Some(&ADMIN_TOKEN[..32])).await;
        let basic = send(
            &h.state,
            axum::http::Request::get(path)
                .header("authorization", format!("Basic {ADMIN_TOKEN}"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;

        // Assert
        assert_eq!(missing.status, 401, "{path}: {}", missing.body);
        assert_eq!(missing.body["code"], "admin_token_missing");
        assert!(
            missing.headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer"),
        );
        for refused in [&wrong, &prefix] {
            assert_eq!(refused.status, 401, "{path}: {}", refused.body);
            assert_eq!(refused.body["code"], "admin_token_invalid");
            assert!(
                refused.headers["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .contains(r#"error="invalid_token""#),
            );
            assert!(refused.body.get("items").is_none());
        }
        assert_eq!(basic.status, 401, "{path}");
        assert_eq!(basic.body["code"], "admin_token_missing");
        assert_eq!(h.admin_get(path).await.status, 200, "{path}");
    }
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn without_an_admin_token_configured_the_endpoints_are_off(pool: PgPool) {
    // Arrange
    let h = Harness::new(pool, &[]).await;
    let rows = seed(&h.pool).await;
    let one = format!("/executor/audit/{}", rows[0].id);

    for path in ["/executor/audit", one.as_str(), "/executor/stats"] {
        // Act
        let answer = h.admin_get(path).await;

        // Assert
        assert_eq!(answer.status, 404, "{path}: {}", answer.body);
        assert_eq!(answer.body["code"], "not_found");
        assert_eq!(answer.body["success"], false);
    }
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn reading_the_audit_log_writes_no_audit_row(pool: PgPool) {
    // Arrange
    let h = audit_api(pool).await;
    let rows = seed(&h.pool).await;

    // Act
    h.admin_get("/executor/audit").await;
    h.admin_get("/executor/stats").await;
    get_on(&h.state, "/executor/audit", None).await;
    h.admin_get("/executor/audit?limit=0").await;

    // Assert
    assert_eq!(h.rows().await.len(), rows.len());
}

// ---------------------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------------------

#[sqlx::test(migrator = "MIGRATIONS")]
async fn each_filter_returns_exactly_the_matching_rows(pool: PgPool) {
    // Arrange
    let h = audit_api(pool).await;
    let rows = seed(&h.pool).await;
    type Keep = Box<dyn Fn(&Seeded) -> bool>;
    let cases: Vec<(&str, Keep)> = vec![
        ("", Box::new(|_| true)),
        (
            "requestedBy=ops-bot",
            Box::new(|r| r.spec.requested_by == OPS),
        ),
        (
            "actionType=scale_deployment",
            Box::new(|r| r.spec.action_type == SCALE),
        ),
        (
            "namespace=production",
            Box::new(|r| r.spec.namespace == PROD),
        ),
        ("status=rejected", Box::new(|r| r.spec.status == Rejected)),
        ("status=pending", Box::new(|r| r.spec.status == Pending)),
        ("status=unknown", Box::new(|r| r.spec.status == Unknown)),
        (
            "requestedBy=ai-engine&namespace=default&status=succeeded",
            Box::new(|r| {
                r.spec.requested_by == AI
                    && r.spec.namespace == DEFAULT
                    && r.spec.status == Succeeded
            }),
        ),
        (
            "actionType=restart_pod&requestedBy=ops-bot",
            Box::new(|r| r.spec.action_type == RESTART && r.spec.requested_by == OPS),
        ),
        ("requestedBy=nobody", Box::new(|_| false)),
    ];

    for (filter, keep) in cases {
        // Act
        let answer = h
            .admin_get(&format!("/executor/audit?limit=500&{filter}"))
            .await;

        // Assert
        assert_eq!(answer.status, 200, "{filter}: {}", answer.body);
        let want = expected(&rows, keep);
        assert_eq!(ids(&answer), want, "{filter}");
        assert!(answer.body["nextCursor"].is_null(), "{filter}");
    }
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn since_is_inclusive_and_until_exclusive(pool: PgPool) {
    // Arrange
    let h = audit_api(pool).await;
    let rows = seed(&h.pool).await;
    let since = t0() - TimeDelta::minutes(60);
    let until = t0();

    // Act
    let window = h
        .admin_get(&format!(
            "/executor/audit?limit=500&since={}&until={}",
            rfc3339(since),
            rfc3339(until)
        ))
        .await;
    let from = h
        .admin_get(&format!(
            "/executor/audit?limit=500&since={}",
            rfc3339(t0() - TimeDelta::minutes(18))
        ))
        .await;
    // The same instant as an offset, `+` escaped as the docs say.
    let before = h
        .admin_get("/executor/audit?limit=500&until=2020-01-01T13:00:00%2B01:00")
        .await;

    // Assert
    assert_eq!(window.status, 200, "{}", window.body);
    assert_eq!(
        ids(&window),
        expected(&rows, |r| r.created_at >= since && r.created_at < until)
    );
    assert_eq!(ids(&window).len(), 20);
    assert_eq!(ids(&from), expected(&rows, |r| r.spec.minutes_before <= 18));
    assert_eq!(ids(&before), expected(&rows, |r| r.spec.minutes_before > 0));
}

// ---------------------------------------------------------------------------------------
// Paging
// ---------------------------------------------------------------------------------------

/// Follows `nextCursor` from the first page to the last; returns the pages' ids.
async fn walk(h: &Harness, query: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let params: Vec<String> = [query.to_owned()]
            .into_iter()
            .chain(cursor.iter().map(|c| format!("cursor={c}")))
            .filter(|p| !p.is_empty())
            .collect();
        let path = match params.as_slice() {
            [] => "/executor/audit".to_owned(),
            _ => format!("/executor/audit?{}", params.join("&")),
        };
        let answer = h.admin_get(&path).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        pages.push(ids(&answer));
        match answer.body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return pages,
        }
        assert!(pages.len() <= 100, "paging does not end");
    }
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn paging_walks_every_row_exactly_once(pool: PgPool) {
    // Arrange
    let h = audit_api(pool).await;
    let rows = seed(&h.pool).await;
    let all = expected(&rows, |_| true);

    // 19 ends a page between the two rows of one instant; 11 and 22 fill the last page
    // exactly; 1 and 3 leave a short last page.
    for limit in [1_usize, 3, 11, 19, 22, 500] {
        // Act
        let pages = walk(&h, &format!("limit={limit}")).await;

        // Assert
        let walked: Vec<String> = pages.concat();
        assert_eq!(walked, all, "limit={limit}");
        assert_eq!(pages.len(), all.len().div_ceil(limit), "limit={limit}");
        assert!(
            pages.iter().all(|p| !p.is_empty() && p.len() <= limit),
            "limit={limit}"
        );
    }
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn paging_keeps_the_filters(pool: PgPool) {
    // Arrange
    let h = audit_api(pool).await;
    let rows = seed(&h.pool).await;

    // Act
    let pages = walk(&h, "requestedBy=ai-engine&status=succeeded&limit=2").await;

    // Assert
    assert_eq!(
        pages.concat(),
        expected(&rows, |r| r.spec.requested_by == AI
            && r.spec.status == Succeeded)
    );
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn the_default_page_is_50_rows(pool: PgPool) {
    // Arrange: the dataset three times (66 rows, each instant three or six times over).
    let h = audit_api(pool).await;
    let mut rows = Vec::new();
    for _ in 0..3 {
        rows.extend(seed(&h.pool).await);
    }

    // Act
    let pages = walk(&h, "").await;

    // Assert
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [50, 16]);
    assert_eq!(pages.concat(), expected(&rows, |_| true));
}

// ---------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------

#[sqlx::test(migrator = "MIGRATIONS")]
async fn bad_parameters_are_refused_naming_the_field(pool: PgPool) {
    // Arrange
    let h = audit_api(pool).await;
    seed(&h.pool).await;
    let cases = [
        ("/executor/audit?limit=0", "limit"),
        ("/executor/audit?limit=501", "limit"),
        ("/executor/audit?limit=-1", "limit"),
        ("/executor/audit?limit=ten", "limit"),
        ("/executor/audit?status=done", "status"),
        ("/executor/audit?status=Succeeded", "status"),
        ("/executor/audit?since=yesterday", "since"),
        ("/executor/audit?until=2026-01-01", "until"),
        // `+` in a query string is a space: the offset must be written %2B.
        ("/executor/audit?since=2026-01-01T00:00:00+01:00", "since"),
        (
            "/executor/audit?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
            "since",
        ),
        ("/executor/audit?cursor=not-a-cursor", "cursor"),
        ("/executor/audit?cursor=bm90IGEgY3Vyc29y", "cursor"),
        ("/executor/audit?requested_by=ai-engine", "requested_by"),
        ("/executor/audit?namespace=", "namespace"),
        ("/executor/audit?namespace=a&namespace=b", "namespace"),
        ("/executor/audit/not-a-uuid", "id"),
        ("/executor/stats?since=noon", "since"),
        ("/executor/stats?limit=3", "limit"),
        (
            "/executor/stats?since=2026-01-01T00:00:00Z&until=2026-01-01T00:00:00Z",
            "since",
        ),
    ];

    for (path, field) in cases {
        // Act
        let answer = h.admin_get(path).await;

        // Assert
        assert_eq!(answer.status, 400, "{path}: {}", answer.body);
        assert_eq!(answer.body["code"], "invalid_query", "{path}");
        assert_eq!(answer.body["field"], field, "{path}: {}", answer.body);
        assert!(answer.body["error"].is_string());
    }
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn a_cursor_from_another_filter_is_still_a_position(pool: PgPool) {
    // Arrange: the cursor after the 5 newest rows of all.
    let h = audit_api(pool).await;
    let rows = seed(&h.pool).await;
    let first = h.admin_get("/executor/audit?limit=5").await;
    let cursor = first.body["nextCursor"].as_str().unwrap();
    let last = position_of_last(&first);

    // Act
    let next = h
        .admin_get(&format!(
            "/executor/audit?limit=500&status=succeeded&cursor={cursor}"
        ))
        .await;

    // Assert: the succeeded rows strictly after the fifth row.
    assert_eq!(next.status, 200, "{}", next.body);
    assert_eq!(
        ids(&next),
        expected(&rows, |r| r.spec.status == Succeeded
            && (r.created_at, r.id) < last)
    );
}

/// `("createdAt", id)` of a page's last item.
fn position_of_last(page: &Answer) -> (DateTime<Utc>, Uuid) {
    let item = page.body["items"].as_array().unwrap().last().unwrap();
    (
        DateTime::parse_from_rfc3339(item["createdAt"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc),
        item["id"].as_str().unwrap().parse().unwrap(),
    )
}

// ---------------------------------------------------------------------------------------
// One record
// ---------------------------------------------------------------------------------------

#[sqlx::test(migrator = "MIGRATIONS")]
async fn a_record_is_found_by_its_id(pool: PgPool) {
    // Arrange
    let h = audit_api(pool).await;
    let rows = seed(&h.pool).await;
    let pending = rows.iter().find(|r| r.spec.status == Pending).unwrap();

    // Act
    let found = h
        .admin_get(&format!("/executor/audit/{}", pending.id))
        .await;
    let missing = h
        .admin_get(&format!("/executor/audit/{}", Uuid::now_v7()))
        .await;

    // Assert
    assert_eq!(found.status, 200, "{}", found.body);
    let record = &found.body;
    assert_eq!(record["id"], pending.id.to_string());
    assert_eq!(record["status"], "pending");
    assert_eq!(record["requestedBy"], "ops-bot");
    assert_eq!(record["budgetKey"], "audit-api-test");
    assert!(record["durationMs"].is_null());
    assert!(record["result"].is_null());
    assert_eq!(
        DateTime::parse_from_rfc3339(record["createdAt"].as_str().unwrap()).unwrap(),
        pending.created_at
    );
    let keys: Vec<&str> = record
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 25, "every column: {keys:?}");
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert_eq!(missing.body["code"], "audit_record_not_found");
}

// ---------------------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------------------

#[sqlx::test(migrator = "MIGRATIONS")]
async fn stats_equal_the_figures_worked_out_by_hand(pool: PgPool) {
    // Arrange: the window [t0 - 60 min, t0) holds rows 1–20; 11 and 12 are dry runs.
    let h = audit_api(pool).await;
    seed(&h.pool).await;
    let path = format!(
        "/executor/stats?since={}&until={}",
        rfc3339(t0() - TimeDelta::minutes(60)),
        rfc3339(t0())
    );

    // Act
    let answer = h.admin_get(&path).await;

    // Assert
    assert_eq!(answer.status, 200, "{}", answer.body);
    let s = &answer.body;
    assert_eq!(s["since"], "2020-01-01T11:00:00Z");
    assert_eq!(s["until"], "2020-01-01T12:00:00Z");
    assert_eq!(s["windowSeconds"], 3600.0);
    // Real attempts: succeeded 1,2,4,6,14,16,18,19,20; failed 3,15; unknown 7;
    // rejected 5,8,9,10,17; pending 13.
    assert_eq!(s["total"], 18);
    assert_eq!(s["executed"], 12);
    assert_eq!(s["succeeded"], 9);
    assert_eq!(s["failed"], 2);
    assert_eq!(s["unknown"], 1);
    assert_eq!(s["rejected"], 5);
    assert_eq!(s["pending"], 1);
    assert_eq!(s["executionsPerMinute"], 0.2);
    assert_eq!(s["successRatio"], 0.75);
    assert!(close(&s["failureRatio"], 2.0 / 12.0));
    assert!(close(&s["denialRate"], 5.0 / 18.0));
    // 100+200+300+400+500+1000+600+700+800+900+1000+1100 over 12 executed rows.
    assert!(close(&s["averageDurationMs"], 7600.0 / 12.0));

    let default = &s["byNamespace"]["default"];
    assert_eq!(default["total"], 7);
    assert_eq!(default["executed"], 4);
    assert_eq!(default["rejected"], 2);
    assert_eq!(default["pending"], 1);
    assert_eq!(default["successRatio"], 1.0);
    assert_eq!(default["failureRatio"], 0.0);
    assert!(close(&default["denialRate"], 2.0 / 7.0));
    assert_eq!(default["averageDurationMs"], 550.0);
    let production = &s["byNamespace"]["production"];
    assert_eq!(production["total"], 5);
    assert_eq!(production["successRatio"], 0.5);
    assert_eq!(production["failureRatio"], 0.5);
    assert_eq!(production["denialRate"], 0.2);
    assert_eq!(production["averageDurationMs"], 500.0);
    let staging = &s["byNamespace"]["staging"];
    assert_eq!(staging["total"], 4);
    assert_eq!(staging["unknown"], 1);
    assert_eq!(staging["successRatio"], 0.75);
    assert_eq!(staging["denialRate"], 0.0);
    assert_eq!(staging["averageDurationMs"], 850.0);
    assert_eq!(staging["executionsPerMinute"], 4.0 / 60.0);
    let unbound = &s["byNamespace"][""];
    assert_eq!(unbound["total"], 2);
    assert_eq!(unbound["denialRate"], 1.0);
    assert!(unbound["successRatio"].is_null());
    assert!(unbound["averageDurationMs"].is_null());
    assert_eq!(s["byNamespace"].as_object().unwrap().len(), 4);

    let restart = &s["byType"]["restart_pod"];
    assert_eq!(restart["total"], 10);
    assert_eq!(restart["executed"], 7);
    assert_eq!(restart["succeeded"], 6);
    assert_eq!(restart["rejected"], 2);
    assert!(close(&restart["averageDurationMs"], 3900.0 / 7.0));
    let scale = &s["byType"]["scale_deployment"];
    assert_eq!(scale["total"], 4);
    assert_eq!(scale["denialRate"], 0.5);
    assert_eq!(scale["averageDurationMs"], 450.0);
    let rollout = &s["byType"]["rollout_restart_deployment"];
    assert_eq!(rollout["total"], 3);
    assert!(close(&rollout["successRatio"], 1.0 / 3.0));
    assert!(close(&rollout["averageDurationMs"], 2800.0 / 3.0));
    assert_eq!(s["byType"][""]["rejected"], 1);
    assert_eq!(s["byType"].as_object().unwrap().len(), 4);

    let dry = &s["dryRun"];
    assert_eq!(dry["total"], 2);
    assert_eq!(dry["succeeded"], 2);
    assert_eq!(dry["averageDurationMs"], 60.0);
    assert!(dry.get("byNamespace").is_none());
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn since_alone_reaches_until_now(pool: PgPool) {
    // Arrange
    let h = audit_api(pool).await;
    seed(&h.pool).await;

    // Act: from row 20's instant to now covers rows 1–21.
    let answer = h
        .admin_get(&format!(
            "/executor/stats?since={}",
            rfc3339(t0() - TimeDelta::minutes(60))
        ))
        .await;

    // Assert
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["total"], 19);
    assert_eq!(answer.body["dryRun"]["total"], 2);
}

// ---------------------------------------------------------------------------------------
// Store outage
// ---------------------------------------------------------------------------------------

#[sqlx::test(migrator = "MIGRATIONS")]
async fn an_unreachable_store_answers_503(pool: PgPool) {
    // Arrange: the executor's store points at a port where nothing listens.
    let h = audit_api(pool).await;
    let dead = Arc::new(
        PgStore::connect("postgres://nobody@127.0.0.1:9/none", 1)
            .await
            .unwrap(),
    );
    let state = h.state_with_store_and(dead, &[("EXECUTOR_ADMIN_TOKEN", ADMIN_TOKEN)]);

    for path in ["/executor/audit", "/executor/stats"] {
        // Act
        let answer = get_on(&state, path, Some(ADMIN_TOKEN)).await;

        // Assert
        assert_eq!(answer.status, 503, "{path}: {}", answer.body);
        assert_eq!(answer.body["code"], "store_unavailable");
    }
    let text = scrape(executor_service::app(state)).await;
    for operation in ["list", "stats"] {
        assert!(
            text.contains(&format!(
                r#"warden_executor_audit_store_errors_total{{operation="{operation}"}} 1"#
            )),
            "{text}"
        );
    }
}
