//! Approval requests end to end on the executor's router: a `require_approval` decision
//! becomes a request (202), people approve or deny it, and the approval that completes it
//! runs the action exactly once, audited like any execute.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::approvals::{
    self, OPERATORS, approve, deny, extra_token, get, harness, operators_var, requirements, token,
};
use common::{Harness, execute_on};
use serde_json::json;
use sqlx::PgPool;

const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

#[sqlx::test(migrator = "MIGRATOR")]
async fn an_approval_decision_waits_and_the_approval_runs_it_once(pool: PgPool) {
    // Arrange
    let h = harness(pool).await;
    let body = h.restart_needing_approval("production", "web-1", requirements(1, 900, None));

    // Act
    let id = h.request_approval(&body).await;
    let before = h.mutations();
    let approved = approve(&h.state, &id, token("alice"), json!({"comment": "go"})).await;

    // Assert
    assert_eq!(before, 0, "nothing runs before the approval");
    assert_eq!(approved.status, 200, "{}", approved.body);
    let execution = &approved.body["execution"];
    assert_eq!(execution["success"], true, "{}", approved.body);
    assert_eq!(execution["approvalId"], id.as_str());
    assert_eq!(approved.body["approval"]["status"], "approved");
    assert_eq!(approved.body["approval"]["votes"][0]["approver"], "alice");
    assert_eq!(approved.body["approval"]["votes"][0]["comment"], "go");
    assert_eq!(h.mutations(), 1);
    assert!(
        h.kube.pod("production", "web-1").is_none(),
        "the pod was deleted"
    );
    let rows = h.rows().await;
    let statuses: Vec<&str> = rows.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(statuses, ["approved", "succeeded"]);
    let approved_by: Option<serde_json::Value> = sqlx::query_scalar(
        r#"SELECT "approvedBy" FROM action_audit_logs WHERE "status" = 'succeeded'"#,
    )
    .fetch_one(&h.pool)
    .await
    .unwrap();
    assert_eq!(approved_by, Some(json!(["alice"])));
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn the_decision_of_an_approval_request_cannot_also_be_executed(pool: PgPool) {
    // Arrange
    let h = harness(pool).await;
    let body = h.restart_needing_approval("production", "web-1", requirements(1, 900, None));
    let id = h.request_approval(&body).await;

    // Act
    let again = h.execute(&body).await;

    // Assert
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(again.body["code"], "replay");
    let listed = get(&h.state, "/executor/approvals", token("bob")).await;
    assert_eq!(listed.body["approvals"].as_array().unwrap().len(), 1);
    assert_eq!(listed.body["approvals"][0]["id"], id.as_str());
    assert_eq!(h.mutations(), 0);
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn two_approvers_means_two_distinct_people(pool: PgPool) {
    // Arrange
    let h = harness(pool).await;
    let body = h.restart_needing_approval("production", "web-1", requirements(2, 900, None));
    let id = h.request_approval(&body).await;

    // Act
    let first = approve(&h.state, &id, token("alice"), json!({})).await;
    let after_first = h.mutations();
    let twice = approve(&h.state, &id, token("alice"), json!({})).await;
    let second = approve(&h.state, &id, token("bob"), json!({"comment": "agreed"})).await;

    // Assert
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(first.body["execution"].is_null(), "{}", first.body);
    assert_eq!(first.body["approval"]["approvals"], 1);
    assert_eq!(first.body["approval"]["status"], "pending");
    assert_eq!(after_first, 0);
    assert_eq!(twice.status, 409, "{}", twice.body);
    assert_eq!(twice.body["code"], "already_voted");
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(second.body["execution"]["success"], true);
    assert_eq!(h.mutations(), 1);
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn the_requester_and_people_without_the_role_cannot_approve(pool: PgPool) {
    // Arrange
    let h = harness(pool).await;
    let body = h.restart_needing_approval("production", "web-1", requirements(1, 900, None));
    let id = h.request_approval(&body).await;

    // Act
    let own = approve(&h.state, &id, token("ai-engine"), json!({})).await;
    let viewer = approve(&h.state, &id, token("carol"), json!({})).await;
    let nobody = approve(
        &h.state,
        &id,
        "not-a-token-of-anyone-at-all-0123456789",
        json!({}),
    )
    .await;
    let hmac_secret = approve(&h.state, &id, common::SECRET, json!({})).await;

    // Assert
    assert_eq!(own.status, 403, "{}", own.body);
    assert_eq!(own.body["code"], "self_approval");
    assert_eq!(viewer.status, 403, "{}", viewer.body);
    assert_eq!(viewer.body["code"], "missing_role");
    assert_eq!(nobody.status, 401);
    assert_eq!(
        hmac_secret.status, 401,
        "the client's HMAC secret is no operator token"
    );
    let shown = get(
        &h.state,
        &format!("/executor/approvals/{id}"),
        token("alice"),
    )
    .await;
    assert_eq!(shown.body["status"], "pending");
    assert_eq!(shown.body["votes"], json!([]));
    assert_eq!(h.mutations(), 0);
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_denial_runs_nothing_and_closes_the_request(pool: PgPool) {
    // Arrange
    let h = harness(pool).await;
    let body = h.restart_needing_approval("production", "web-1", requirements(2, 900, None));
    let id = h.request_approval(&body).await;
    approve(&h.state, &id, token("alice"), json!({})).await;

    // Act
    let without_comment = approvals::deny(&h.state, &id, token("bob"), " ").await;
    let denied = deny(&h.state, &id, token("bob"), "wrong pod").await;
    let late = approve(&h.state, &id, token("ai-engine"), json!({})).await;

    // Assert
    assert_eq!(without_comment.status, 400, "{}", without_comment.body);
    assert_eq!(denied.status, 200, "{}", denied.body);
    assert_eq!(denied.body["approval"]["status"], "denied");
    let votes = &denied.body["approval"]["votes"];
    assert_eq!(votes[1]["approver"], "bob");
    assert_eq!(votes[1]["vote"], "deny");
    assert_eq!(votes[1]["comment"], "wrong pod");
    assert_eq!(late.status, 409, "{}", late.body);
    assert_eq!(late.body["code"], "approval_decided");
    assert_eq!(h.mutations(), 0);
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "denied");
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn an_unanswered_request_expires_and_never_runs(pool: PgPool) {
    // Arrange
    let h = harness(pool).await;
    let body = h.restart_needing_approval("production", "web-1", requirements(1, 1, None));
    let id = h.request_approval(&body).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // Act
    let late = approve(&h.state, &id, token("alice"), json!({})).await;
    let swept = executor_service::approvals::sweeper::sweep(&h.state).await;
    let swept_again = executor_service::approvals::sweeper::sweep(&h.state).await;
    let later = approve(&h.state, &id, token("alice"), json!({})).await;

    // Assert
    assert_eq!(late.status, 409, "{}", late.body);
    assert_eq!(late.body["code"], "approval_expired");
    assert_eq!((swept, swept_again), (1, 0));
    assert_eq!(later.body["code"], "approval_decided");
    let shown = get(
        &h.state,
        &format!("/executor/approvals/{id}"),
        token("alice"),
    )
    .await;
    assert_eq!(shown.body["status"], "expired");
    let rows = h.rows().await;
    assert_eq!(rows[0].status, "expired");
    assert_eq!(rows[0].reason_code.as_deref(), Some("approval_expired"));
    assert_eq!(h.mutations(), 0);
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn twenty_racing_approvals_on_three_executors_run_it_once(pool: PgPool) {
    // Arrange: twenty people, three replicas on one database.
    let people: Vec<(String, &str)> = (0..20).map(|i| (format!("op{i}"), "operator")).collect();
    let var = operators_var(&people);
    let h = Harness::new(pool, &[("EXECUTOR_OPERATORS", &var)]).await;
    let replicas = [
        h.state.clone(),
        h.replica(&[("EXECUTOR_OPERATORS", &var)]),
        h.replica(&[("EXECUTOR_OPERATORS", &var)]),
    ];
    let body = h.restart_needing_approval("production", "web-1", requirements(1, 900, None));
    let id = h.request_approval(&body).await;

    // Act
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (name, _)) in people.iter().enumerate() {
        let state = replicas[i % 3].clone();
        let (id, token) = (id.clone(), extra_token(name));
        tasks.spawn(async move { approve(&state, &id, &token, json!({})).await });
    }
    let answers = tasks.join_all().await;

    // Assert
    let ran: Vec<_> = answers
        .iter()
        .filter(|a| a.status == 200 && !a.body["execution"].is_null())
        .collect();
    assert_eq!(ran.len(), 1, "{answers:#?}");
    assert!(
        answers
            .iter()
            .filter(|a| a.status != 200)
            .all(|a| a.status == 409 && a.body["code"] == "approval_decided"),
        "{answers:#?}"
    );
    assert_eq!(h.mutations(), 1);
    let executions: i64 =
        sqlx::query_scalar(r#"SELECT count(*) FROM action_audit_logs WHERE "decisionId" = $1"#)
            .bind(format!("approval:{id}"))
            .fetch_one(&h.pool)
            .await
            .unwrap();
    assert_eq!(executions, 1);
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn the_requester_polls_its_own_request_with_its_secret(pool: PgPool) {
    // Arrange
    let h = harness(pool).await;
    let body = h.restart_needing_approval("production", "web-1", requirements(1, 900, None));
    let id = h.request_approval(&body).await;
    let path = format!("/executor/approvals/{id}");
    let signed = |client: &str, secret: &str| {
        let ts = chrono::Utc::now().timestamp();
        let text = executor_service::approvals::auth::signing_text(&path, ts);
        let mac = hmac_hex(secret, &text);
        axum::http::Request::get(path.as_str())
            .header("x-warden-client", client)
            .header("x-warden-timestamp", ts.to_string())
            .header("x-warden-signature", mac)
            .body(axum::body::Body::empty())
            .unwrap()
    };

    // Act
    let own = common::send(&h.state, signed("ai-engine", common::SECRET)).await;
    let forged = common::send(
        &h.state,
        signed("ai-engine", "another-secret-0123456789abcdef01234"),
    )
    .await;
    let other = common::send(&h.state, signed("other-engine", common::SECRET)).await;
    let vote = approvals::approve(&h.state, &id, common::SECRET, json!({})).await;

    // Assert
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.body["status"], "pending");
    assert_eq!(forged.status, 401, "{}", forged.body);
    assert_eq!(other.status, 404, "another client's request is not shown");
    assert_eq!(vote.status, 401);
    h.assert_invariant().await;
}

fn hmac_hex(secret: &str, text: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(text.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn without_operators_there_is_no_approval_api_and_no_request(pool: PgPool) {
    // Arrange
    let h = Harness::new(pool, &[]).await;
    let body = h.restart_needing_approval("production", "web-1", requirements(1, 900, None));

    // Act
    let listed = get(&h.state, "/executor/approvals", "anything").await;
    let executed = execute_on(&h.state, &body).await;

    // Assert
    assert_eq!(listed.status, 404);
    assert_eq!(executed.status, 403, "{}", executed.body);
    assert_eq!(executed.body["code"], "no_approvers");
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "rejected");
    assert_eq!(rows[0].reason_code.as_deref(), Some("no_approvers"));
    assert_eq!(OPERATORS.len(), 4);
}
