//! `warden audit list|show|stats` run as a person runs them: the built binary against a
//! real executor over HTTP (real Postgres, the fake cluster) with its admin token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_support;

use cli_support::{ADMIN_TOKEN, ALICE, Executor};
use serde_json::Value;
use sqlx::PgPool;
use warden_test_support::claims::ClaimsBuilder;

/// One allowed restart that ran, and one approval request that waits: two audit rows.
async fn two_rows(executor: &Executor) -> (String, String) {
    let (status, ran) = executor
        .execute("default", "api-pod-67890", ClaimsBuilder::new())
        .await;
    assert_eq!(status, 200, "{ran}");
    let approval = executor
        .request_approval("production", "web-1", 1, None)
        .await;
    (ran["auditId"].as_str().unwrap().to_owned(), approval)
}

#[sqlx::test(migrator = "executor_service::store::postgres::MIGRATOR")]
async fn list_shows_rows_newest_first_and_filters_them(pool: PgPool) {
    // Arrange
    let executor = Executor::start(pool).await;
    let (ran, _) = two_rows(&executor).await;

    // Act
    let table = executor.warden(ADMIN_TOKEN, &["audit", "list"]).await;
    let json = executor
        .warden(ADMIN_TOKEN, &["audit", "list", "--json"])
        .await;
    let api = executor.api_get("/executor/audit", ADMIN_TOKEN).await;
    let waiting = executor
        .warden(
            ADMIN_TOKEN,
            &["audit", "list", "--status", "awaiting_approval"],
        )
        .await;
    let recent = executor
        .warden(
            ADMIN_TOKEN,
            &[
                "audit",
                "list",
                "--since",
                "1h",
                "--action",
                "restart_pod",
                "--namespace",
                "default",
            ],
        )
        .await;
    let future = executor
        .warden(ADMIN_TOKEN, &["audit", "list", "--since", "2999-01-01"])
        .await;

    // Assert
    let text = table.ok();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("ID  ") && lines[0].contains("CREATED (UTC)"),
        "{text}"
    );
    assert!(lines[1].contains("awaiting_approval") && lines[1].contains("production/pod/web-1"));
    assert!(lines[2].starts_with(&ran), "{text}");
    assert!(lines[2].contains("succeeded") && lines[2].contains("default/pod/api-pod-67890"));
    assert_eq!(json.json(), api);
    assert!(
        json.stdout
            .starts_with("{\n  \"items\": [\n    {\n      \"id\": ")
    );
    let waiting = waiting.ok();
    assert_eq!(waiting.lines().count(), 2, "{waiting}");
    assert!(waiting.contains("web-1"), "{waiting}");
    let recent = recent.ok();
    assert_eq!(recent.lines().count(), 2, "{recent}");
    assert!(recent.contains(&ran), "{recent}");
    assert_eq!(future.ok(), "no audit rows\n");
}

#[sqlx::test(migrator = "executor_service::store::postgres::MIGRATOR")]
async fn pages_are_followed_with_all_or_one_by_one_with_the_cursor(pool: PgPool) {
    // Arrange
    let executor = Executor::start(pool).await;
    two_rows(&executor).await;
    executor
        .request_approval("default", "api-pod-12345", 1, None)
        .await;

    // Act
    let first = executor
        .warden(ADMIN_TOKEN, &["audit", "list", "--limit", "2"])
        .await;
    let every = executor
        .warden(
            ADMIN_TOKEN,
            &["audit", "list", "--all", "--limit", "1", "--json"],
        )
        .await;
    let every_table = executor
        .warden(ADMIN_TOKEN, &["audit", "list", "--all", "--limit", "2"])
        .await;

    // Assert
    assert_eq!(first.ok().lines().count(), 3, "{}", first.stdout);
    let cursor = first
        .stderr
        .strip_prefix("more rows: --cursor ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("{}", first.stderr))
        .to_owned();
    let rest = executor
        .warden(
            ADMIN_TOKEN,
            &["audit", "list", "--limit", "2", "--cursor", &cursor],
        )
        .await;
    assert_eq!(rest.ok().lines().count(), 2, "{}", rest.stdout);
    assert!(rest.stderr.is_empty(), "{}", rest.stderr);
    let every = every.json();
    let api = executor.api_get("/executor/audit", ADMIN_TOKEN).await;
    assert_eq!(every["items"], api["items"]);
    assert_eq!(every["nextCursor"], Value::Null);
    assert_eq!(
        every_table.ok().lines().count(),
        4,
        "{}",
        every_table.stdout
    );
    assert!(every_table.stderr.is_empty());
}

#[sqlx::test(migrator = "executor_service::store::postgres::MIGRATOR")]
async fn show_prints_one_row_and_its_approval(pool: PgPool) {
    // Arrange
    let executor = Executor::start(pool).await;
    let id = executor
        .request_approval("default", "api-pod-12345", 1, None)
        .await;
    let approved = executor
        .warden(ALICE, &["approvals", "approve", &id, "--json"])
        .await
        .json();
    let audit_id = approved["execution"]["auditId"]
        .as_str()
        .unwrap()
        .to_owned();

    // Act
    let shown = executor
        .warden(ADMIN_TOKEN, &["audit", "show", &audit_id])
        .await;
    let json = executor
        .warden(ADMIN_TOKEN, &["audit", "show", &audit_id, "--json"])
        .await;
    let missing = executor
        .warden(
            ADMIN_TOKEN,
            &["audit", "show", "00000000-0000-7000-8000-000000000000"],
        )
        .await;

    // Assert
    let text = shown.ok();
    for expected in [
        format!("Audit row        {audit_id}"),
        "Status           succeeded".to_owned(),
        "Target           default/pod/api-pod-12345".to_owned(),
        format!("Approval         {id}"),
        "Approved by      alice".to_owned(),
        format!("Decision         approval:{id}"),
    ] {
        assert!(text.contains(&expected), "no {expected:?} in:\n{text}");
    }
    assert_eq!(
        json.json(),
        executor
            .api_get(&format!("/executor/audit/{audit_id}"), ADMIN_TOKEN)
            .await
    );
    assert_eq!(missing.code, Some(1));
    assert!(
        missing
            .stderr
            .contains("(code: audit_record_not_found, HTTP 404)"),
        "{}",
        missing.stderr
    );
}

#[sqlx::test(migrator = "executor_service::store::postgres::MIGRATOR")]
async fn stats_show_the_figures_in_total_by_namespace_and_by_type(pool: PgPool) {
    // Arrange
    let executor = Executor::start(pool).await;
    two_rows(&executor).await;
    let expired = ClaimsBuilder::new().issued_at(chrono::Utc::now().timestamp() - 600);
    let (status, _) = executor.execute("default", "api-pod-12345", expired).await;
    assert_eq!(status, 403, "an expired decision is refused");

    // Act
    let table = executor
        .warden(ADMIN_TOKEN, &["audit", "stats", "--since", "1h"])
        .await;
    let json = executor
        .warden(ADMIN_TOKEN, &["audit", "stats", "--json"])
        .await;

    // Assert
    let text = table.ok();
    assert!(text.starts_with("window "), "{text}");
    assert!(text.contains("(1h)"), "{text}");
    let row = |group: &str| -> Vec<String> {
        text.lines()
            .find(|l| l.starts_with(group))
            .unwrap_or_else(|| panic!("no {group} in:\n{text}"))[group.len()..]
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    // TOTAL EXECUTED SUCCEEDED FAILED UNKNOWN REJECTED PENDING PER-MIN SUCCESS FAILURE
    // DENIAL AVG-MS. Approval requests are not attempts: they count nowhere.
    let all = row("all (real attempts)");
    assert_eq!(&all[..6], ["2", "1", "1", "0", "0", "1"], "{text}");
    assert_eq!(&all[8..11], ["100.0%", "0.0%", "50.0%"], "{text}");
    assert_eq!(row("namespace default")[..3], ["2", "1", "1"]);
    assert_eq!(row("type restart_pod")[0], "2");
    assert_eq!(row("dry runs")[0], "0");
    let stats = json.json();
    assert_eq!(stats["total"], 2);
    assert_eq!(stats["byType"]["restart_pod"]["succeeded"], 1);
}

#[sqlx::test(migrator = "executor_service::store::postgres::MIGRATOR")]
async fn an_operator_token_is_not_the_admin_token(pool: PgPool) {
    // Arrange
    let executor = Executor::start(pool).await;

    // Act
    let ran = executor.warden(ALICE, &["audit", "list"]).await;
    let bad_since = executor
        .warden(ADMIN_TOKEN, &["audit", "list", "--since", "yesterday"])
        .await;

    // Assert
    assert_eq!(ran.code, Some(1));
    assert!(
        ran.stderr.contains("(code: admin_token_invalid, HTTP 401)"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("hint: the audit commands need"),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains(ALICE));
    assert_eq!(bad_since.code, Some(2));
    assert!(
        bad_since.stderr.contains("is not a time"),
        "{}",
        bad_since.stderr
    );
}
