//! `warden approvals …` and `warden grants …` run as a person runs them: the built binary
//! against a real executor over HTTP (real Postgres, the fake cluster), asserting on what
//! it prints, how it exits, and what happened in the cluster.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_support;

use cli_support::{ALICE, BOB, CAROL, Executor, warden};
use sqlx::PgPool;
use warden_protocol::GrantScope;
use warden_test_support::Verb;

#[sqlx::test(migrator = "executor_service::store::postgres::MIGRATOR")]
async fn list_shows_pending_requests_as_a_table_and_as_the_apis_json(pool: PgPool) {
    // Arrange
    let executor = Executor::start(pool).await;
    let first = executor
        .request_approval("default", "api-pod-12345", 1, None)
        .await;
    let second = executor
        .request_approval("production", "web-1", 2, None)
        .await;

    // Act
    let table = executor.warden(ALICE, &["approvals", "list"]).await;
    let json = executor
        .warden(ALICE, &["approvals", "list", "--json"])
        .await;
    let filtered = executor
        .warden(ALICE, &["approvals", "list", "--namespace", "production"])
        .await;

    // Assert
    let text = table.ok();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("ID  "), "{text}");
    assert!(
        lines[0].contains("STATUS") && lines[0].contains("EXPIRES (UTC)"),
        "{text}"
    );
    // Newest first, aligned: every row's STATUS starts in the header's column.
    let column = lines[0].find("STATUS").unwrap();
    assert!(
        lines[1].starts_with(&second) && lines[2].starts_with(&first),
        "{text}"
    );
    assert_eq!(&lines[1][column..column + 7], "pending");
    assert!(
        lines[1].contains("production/pod/web-1") && lines[1].contains("0/2"),
        "{text}"
    );
    assert!(lines[2].contains("default/pod/api-pod-12345") && lines[2].contains("0/1"));
    assert!(lines[1].contains("Z "), "times in UTC: {text}");
    assert_eq!(
        json.json(),
        executor.api_get("/executor/approvals", ALICE).await
    );
    assert!(
        json.stdout
            .starts_with("{\n  \"approvals\": [\n    {\n      \"id\": ")
    );
    let filtered = filtered.ok();
    assert!(
        filtered.contains(&second) && !filtered.contains(&first),
        "{filtered}"
    );
}

#[sqlx::test(migrator = "executor_service::store::postgres::MIGRATOR")]
async fn show_prints_the_request_what_it_runs_and_its_votes(pool: PgPool) {
    // Arrange
    let executor = Executor::start(pool).await;
    let id = executor
        .request_approval("default", "api-pod-12345", 2, Some(GrantScope::Kind))
        .await;
    executor
        .warden(
            BOB,
            &["approvals", "approve", &id, "--comment", "looks right"],
        )
        .await
        .ok();

    // Act
    let shown = executor.warden(CAROL, &["approvals", "show", &id]).await;
    let json = executor
        .warden(CAROL, &["approvals", "show", &id, "--json"])
        .await;

    // Assert
    let text = shown.ok();
    for expected in [
        format!("Approval        {id}"),
        "Status          pending (1/2 approvals)".to_owned(),
        "Target          default/pod/api-pod-12345".to_owned(),
        "Rule            needs-sre".to_owned(),
        "Roles           sre".to_owned(),
        "Session grants  up to scope kind for 1h".to_owned(),
    ] {
        assert!(text.contains(&expected), "no {expected:?} in:\n{text}");
    }
    // The store decides the order of the keys (Postgres's jsonb sorts them by length).
    let params = text
        .lines()
        .find_map(|l| l.strip_prefix("Parameters      "))
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(params).unwrap(),
        serde_json::json!({"namespace": "default", "podName": "api-pod-12345"})
    );
    let vote = text.lines().find(|l| l.starts_with("bob ")).unwrap();
    assert!(
        vote.contains("approve") && vote.ends_with("looks right"),
        "{text}"
    );
    assert_eq!(
        json.json(),
        executor
            .api_get(&format!("/executor/approvals/{id}"), CAROL)
            .await
    );
}

#[sqlx::test(migrator = "executor_service::store::postgres::MIGRATOR")]
async fn approving_runs_the_action_once_and_a_second_approval_is_refused(pool: PgPool) {
    // Arrange
    let executor = Executor::start(pool).await;
    let id = executor
        .request_approval("default", "api-pod-12345", 1, None)
        .await;

    // Act
    let approved = executor
        .warden(ALICE, &["approvals", "approve", &id, "--comment", "go"])
        .await;
    let again = executor.warden(BOB, &["approvals", "approve", &id]).await;

    // Assert
    let text = approved.ok();
    assert!(
        text.starts_with(&format!(
            "approved {id}; restart_pod on default/pod/api-pod-12345 ran: succeeded\naudit row: "
        )),
        "{text}"
    );
    let mutations = executor.kube.mutations();
    assert_eq!(mutations.len(), 1, "{mutations:?}");
    assert_eq!(mutations[0].verb, Verb::Delete);
    assert_eq!(mutations[0].name, "api-pod-12345");
    assert_eq!(again.code, Some(1), "{again:?}");
    assert!(again.stdout.is_empty(), "{}", again.stdout);
    assert_eq!(
        again.stderr.trim(),
        "error: the request is already approved (code: approval_decided, HTTP 409)"
    );
    assert_eq!(executor.kube.mutations().len(), 1);
}

#[sqlx::test(migrator = "executor_service::store::postgres::MIGRATOR")]
async fn an_approved_action_that_fails_says_why_and_exits_1(pool: PgPool) {
    // Arrange: the pod is gone by the time people approve.
    let executor = Executor::start(pool).await;
    let id = executor
        .request_approval("default", "api-pod-12345", 1, None)
        .await;
    executor.kube.reset();

    // Act
    let approved = executor.warden(ALICE, &["approvals", "approve", &id]).await;

    // Assert
    assert_eq!(approved.code, Some(1), "{approved:?}");
    let first = approved.stdout.lines().next().unwrap();
    assert!(
        first.starts_with(&format!(
            "approved {id}; restart_pod on default/pod/api-pod-12345 ran and failed: "
        )),
        "{}",
        approved.stdout
    );
    assert!(first.contains("(code: "), "{first}");
    assert!(
        approved.stdout.contains("audit row: "),
        "{}",
        approved.stdout
    );
    assert!(executor.kube.mutations().is_empty());
}

#[sqlx::test(migrator = "executor_service::store::postgres::MIGRATOR")]
async fn a_request_for_two_people_runs_on_the_second_approval(pool: PgPool) {
    // Arrange
    let executor = Executor::start(pool).await;
    let id = executor
        .request_approval("production", "web-1", 2, None)
        .await;

    // Act
    let first = executor.warden(ALICE, &["approvals", "approve", &id]).await;
    let mutations_after_first = executor.kube.mutations().len();
    let second = executor
        .warden(BOB, &["approvals", "approve", &id, "--json"])
        .await;

    // Assert
    assert!(
        first
            .ok()
            .starts_with(&format!("recorded, 1 of 2 approvals for {id}")),
        "{}",
        first.stdout
    );
    assert_eq!(mutations_after_first, 0);
    let answer = second.json();
    assert_eq!(answer["execution"]["success"], true, "{answer}");
    assert_eq!(answer["approval"]["status"], "approved");
    assert_eq!(answer["approval"]["approvals"], 2);
    assert_eq!(executor.kube.mutations().len(), 1);
    assert!(!executor.kube.pod_exists("production", "web-1"));
}

#[sqlx::test(migrator = "executor_service::store::postgres::MIGRATOR")]
async fn denying_needs_a_comment_and_runs_nothing(pool: PgPool) {
    // Arrange
    let executor = Executor::start(pool).await;
    let id = executor
        .request_approval("default", "api-pod-12345", 1, None)
        .await;

    // Act
    let without_comment = executor.warden(ALICE, &["approvals", "deny", &id]).await;
    let denied = executor
        .warden(
            ALICE,
            &[
                "approvals",
                "deny",
                &id,
                "--comment",
                "not during the freeze",
            ],
        )
        .await;
    let listed = executor
        .warden(ALICE, &["approvals", "list", "--status", "denied"])
        .await;

    // Assert
    assert_eq!(without_comment.code, Some(2), "{without_comment:?}");
    assert!(
        without_comment.stderr.contains("--comment"),
        "{}",
        without_comment.stderr
    );
    assert_eq!(denied.ok(), format!("denied {id}: nothing ran\n"));
    assert!(listed.ok().contains(&id), "{}", listed.stdout);
    let shown = executor.warden(ALICE, &["approvals", "show", &id]).await;
    let vote = shown
        .ok()
        .lines()
        .find(|l| l.starts_with("alice "))
        .unwrap()
        .to_owned();
    assert!(
        vote.contains("deny") && vote.ends_with("not during the freeze"),
        "{vote}"
    );
    assert!(executor.kube.mutations().is_empty());
    assert!(executor.kube.pod_exists("default", "api-pod-12345"));
}

#[sqlx::test(migrator = "executor_service::store::postgres::MIGRATOR")]
async fn a_grant_made_with_an_approval_is_listed_and_revoked(pool: PgPool) {
    // Arrange
    let executor = Executor::start(pool).await;
    let id = executor
        .request_approval("default", "api-pod-12345", 1, Some(GrantScope::Namespace))
        .await;
    let approved = executor
        .warden(
            ALICE,
            &[
                "approvals",
                "approve",
                &id,
                "--grant-scope",
                "namespace",
                "--grant-ttl",
                "30m",
            ],
        )
        .await;
    let grant_line = approved
        .ok()
        .lines()
        .find(|l| l.starts_with("session grant "))
        .unwrap_or_else(|| panic!("{}", approved.stdout))
        .to_owned();
    let grant = grant_line["session grant ".len()..][..36].to_owned();

    // Act
    let listed = executor.warden(BOB, &["grants", "list", "--active"]).await;
    let json = executor.warden(BOB, &["grants", "list", "--json"]).await;
    let api = executor.api_get("/executor/grants", BOB).await;
    let revoked = executor.warden(BOB, &["grants", "revoke", &grant]).await;
    let active_after = executor.warden(BOB, &["grants", "list", "--active"]).await;
    let all_after = executor.warden(BOB, &["grants", "list"]).await;
    let revoked_again = executor.warden(BOB, &["grants", "revoke", &grant]).await;

    // Assert
    let row = listed.ok().lines().nth(1).unwrap().to_owned();
    assert!(row.starts_with(&grant), "{}", listed.stdout);
    for cell in [
        "active",
        "restart_pod",
        "ai-engine",
        "namespace",
        "default",
        "alice",
    ] {
        assert!(row.contains(cell), "no {cell} in {row}");
    }
    assert_eq!(json.json(), api);
    assert!(
        revoked
            .ok()
            .starts_with(&format!("revoked grant {grant}: restart_pod by ai-engine")),
        "{}",
        revoked.stdout
    );
    assert!(
        revoked.stdout.contains("Revoked by  bob"),
        "{}",
        revoked.stdout
    );
    assert_eq!(active_after.ok(), "no session grants\n");
    assert!(all_after.ok().lines().nth(1).unwrap().contains("revoked"));
    assert_eq!(revoked_again.code, Some(1));
    assert!(
        revoked_again
            .stderr
            .contains("(code: grant_inactive, HTTP 409)"),
        "{}",
        revoked_again.stderr
    );
}

#[sqlx::test(migrator = "executor_service::store::postgres::MIGRATOR")]
async fn refusals_print_the_apis_error_and_code_and_never_the_token(pool: PgPool) {
    // Arrange
    let executor = Executor::start(pool).await;
    let id = executor
        .request_approval("default", "api-pod-12345", 1, None)
        .await;
    let wrong = "not-an-operator-token-0123456789";

    // Act
    let unknown_token = executor.warden(wrong, &["approvals", "list"]).await;
    let missing_role = executor.warden(CAROL, &["approvals", "approve", &id]).await;
    let too_wide = executor
        .warden(
            ALICE,
            &[
                "approvals",
                "approve",
                &id,
                "--grant-scope",
                "object",
                "--grant-ttl",
                "1h",
            ],
        )
        .await;
    let no_token = warden(&[("WARDEN_URL", &executor.url)], &["approvals", "list"]).await;

    // Assert
    assert_eq!(unknown_token.code, Some(1));
    assert!(
        unknown_token
            .stderr
            .contains("(code: invalid_credentials, HTTP 401)")
    );
    assert!(unknown_token.stderr.contains("hint: set WARDEN_TOKEN"));
    assert!(!unknown_token.stderr.contains(wrong) && !unknown_token.stdout.contains(wrong));
    assert_eq!(missing_role.code, Some(1));
    assert!(
        missing_role
            .stderr
            .contains("needs one of the roles [sre] (code: missing_role, HTTP 403)"),
        "{}",
        missing_role.stderr
    );
    assert_eq!(too_wide.code, Some(1));
    assert!(
        too_wide.stderr.contains("grant_not_allowed"),
        "{}",
        too_wide.stderr
    );
    assert_eq!(no_token.code, Some(2));
    assert!(
        no_token.stderr.contains("set WARDEN_TOKEN"),
        "{}",
        no_token.stderr
    );
    assert!(executor.kube.mutations().is_empty());
}

#[tokio::test]
async fn an_unreachable_executor_is_named_and_exits_1() {
    // Arrange
    let port = warden_test_support::process::free_port();
    let url = format!("http://127.0.0.1:{port}");

    // Act
    let ran = warden(
        &[("WARDEN_TOKEN", ALICE)],
        &["approvals", "list", "--url", &url],
    )
    .await;

    // Assert
    assert_eq!(ran.code, Some(1), "{ran:?}");
    assert!(
        ran.stderr
            .starts_with(&format!("error: cannot reach the executor at {url}: ")),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains(ALICE));
}

#[test]
fn every_subcommand_has_help_and_the_token_is_never_shown() {
    for args in [
        &["approvals", "--help"][..],
        &["approvals", "approve", "--help"],
        &["grants", "revoke", "--help"],
        &["audit", "list", "--help"],
    ] {
        let ran = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(args)
            .env_clear()
            .env("WARDEN_TOKEN", ALICE)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&ran.stdout);
        assert_eq!(ran.status.code(), Some(0), "{args:?}");
        assert!(stdout.contains("WARDEN_TOKEN"), "{args:?}: {stdout}");
        assert!(!stdout.contains(ALICE), "{args:?}: {stdout}");
    }
}
