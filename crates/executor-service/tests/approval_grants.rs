//! Session grants: approving with a grant lets later `require_approval` decisions of the
//! same requester and action inside its scope run at once, and nothing else.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::Harness;
use common::approvals::{approval_claims, approve, delete, get, harness, requirements, token};
use serde_json::{Value, json};
use sqlx::PgPool;
use warden_protocol::GrantScope;

const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// Restarts `namespace/pod/name` by `subject` on an approval decision whose rule admits
/// sessions up to `session`.
fn restart(
    h: &Harness,
    namespace: &str,
    name: &str,
    subject: &str,
    session: Option<GrantScope>,
) -> String {
    let claims = approval_claims(
        "restart_pod",
        &format!("{namespace}/pod/{name}"),
        subject,
        requirements(1, 900, session),
    );
    common::signed_body(
        "restart_pod",
        json!({"namespace": namespace, "podName": name}),
        subject,
        h.approval_decision(&claims),
        executor_service::signature::SignatureForm::JsInsertion,
        common::SECRET,
    )
}

/// Approves a first restart with a grant of `scope` for `ttl` seconds; returns the grant.
async fn grant(h: &Harness, scope: &str, ttl: u64) -> Value {
    h.kube.add_pod("production", "seed");
    let id = h
        .request_approval(&restart(
            h,
            "production",
            "seed",
            "ai-engine",
            Some(GrantScope::Namespace),
        ))
        .await;
    let answer = approve(
        &h.state,
        &id,
        token("alice"),
        json!({"comment": "this incident", "grant": {"scope": scope, "ttlSeconds": ttl}}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["execution"]["success"], true, "{}", answer.body);
    answer.body["grant"].clone()
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_namespace_grant_covers_its_namespace_and_nothing_wider(pool: PgPool) {
    // Arrange
    let h = harness(pool).await;
    h.kube.add_pod("production", "web-2");
    h.kube.add_pod("staging", "web-3");
    let grant = grant(&h, "namespace", 3600).await;

    // Act
    let covered = h
        .execute(&restart(
            &h,
            "production",
            "web-2",
            "ai-engine",
            Some(GrantScope::Namespace),
        ))
        .await;
    let other_namespace = h
        .execute(&restart(
            &h,
            "staging",
            "web-3",
            "ai-engine",
            Some(GrantScope::Namespace),
        ))
        .await;
    let other_requester = h
        .execute(&restart(
            &h,
            "production",
            "web-1",
            "other-engine",
            Some(GrantScope::Namespace),
        ))
        .await;
    let rule_without_sessions = h
        .execute(&restart(&h, "production", "web-1", "ai-engine", None))
        .await;
    let narrower_rule = h
        .execute(&restart(
            &h,
            "production",
            "web-1",
            "ai-engine",
            Some(GrantScope::Kind),
        ))
        .await;

    // Assert
    assert_eq!(
        grant["description"].as_str().unwrap(),
        format!(
            "restart_pod by ai-engine in namespace production until {}",
            chrono::DateTime::parse_from_rfc3339(grant["expiresAt"].as_str().unwrap())
                .unwrap()
                .format("%H:%M UTC")
        )
    );
    assert_eq!(covered.status, 200, "{}", covered.body);
    assert_eq!(covered.body["grantId"], grant["id"]);
    assert_eq!(other_namespace.status, 202);
    assert_eq!(other_requester.status, 202);
    assert_eq!(
        rule_without_sessions.status, 202,
        "a rule without sessions is never covered"
    );
    assert_eq!(
        narrower_rule.status, 202,
        "a namespace grant exceeds a rule that admits only kinds"
    );
    let grant_rows: i64 = sqlx::query_scalar(r#"SELECT count(*) FROM action_audit_logs WHERE "grantId" IS NOT NULL AND "status" = 'succeeded'"#)
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(grant_rows, 1);
    assert_eq!(h.mutations(), 2, "the seed restart and the covered one");
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn object_and_kind_grants_cover_only_their_object_or_kind(pool: PgPool) {
    // Arrange
    let h = harness(pool).await;
    h.kube.add_pod("production", "seed");
    let object = grant(&h, "object", 3600).await;
    h.kube.add_pod("production", "seed");
    h.kube.add_pod("production", "web-2");

    // Act
    let same_object = h
        .execute(&restart(
            &h,
            "production",
            "seed",
            "ai-engine",
            Some(GrantScope::Namespace),
        ))
        .await;
    let other_object = h
        .execute(&restart(
            &h,
            "production",
            "web-2",
            "ai-engine",
            Some(GrantScope::Namespace),
        ))
        .await;
    let scale_claims = approval_claims(
        "scale_deployment",
        "production/deployment/api-deployment",
        "ai-engine",
        requirements(1, 900, Some(GrantScope::Namespace)),
    );
    let other_action = h
        .execute(&h.request_with(
            "scale_deployment",
            json!({"namespace": "production", "deploymentName": "api-deployment", "replicas": 2}),
            h.approval_decision(&scale_claims),
        ))
        .await;

    // Assert
    assert_eq!(object["scope"], "object");
    assert_eq!(object["targetName"], "seed");
    assert_eq!(same_object.status, 200, "{}", same_object.body);
    assert_eq!(other_object.status, 202);
    assert_eq!(
        other_action.status, 202,
        "a restart grant does not cover scaling"
    );
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_grant_ends_when_revoked_or_when_its_ttl_runs_out(pool: PgPool) {
    // Arrange
    let h = harness(pool).await;
    h.kube.add_pod("production", "web-2");
    let revoked = grant(&h, "namespace", 3600).await;
    let id = revoked["id"].as_str().unwrap();

    // Act
    let revoke = delete(&h.state, &format!("/executor/grants/{id}"), token("bob")).await;
    let revoke_again = delete(&h.state, &format!("/executor/grants/{id}"), token("bob")).await;
    let after_revoke = h
        .execute(&restart(
            &h,
            "production",
            "web-2",
            "ai-engine",
            Some(GrantScope::Namespace),
        ))
        .await;
    let short = grant(&h, "namespace", 1).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let after_ttl = h
        .execute(&restart(
            &h,
            "production",
            "web-2",
            "ai-engine",
            Some(GrantScope::Namespace),
        ))
        .await;
    let active = get(&h.state, "/executor/grants?active=true", token("alice")).await;
    let all = get(&h.state, "/executor/grants", token("alice")).await;

    // Assert
    assert_eq!(revoke.status, 200, "{}", revoke.body);
    assert_eq!(revoke.body["revokedBy"], "bob");
    assert_eq!(revoke.body["active"], false);
    assert_eq!(revoke_again.status, 409);
    assert_eq!(revoke_again.body["code"], "grant_inactive");
    assert_eq!(after_revoke.status, 202);
    assert_eq!(short["scope"], "namespace");
    assert_eq!(after_ttl.status, 202);
    assert_eq!(active.body["grants"], json!([]));
    assert_eq!(all.body["grants"].as_array().unwrap().len(), 2);
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_grant_never_goes_beyond_the_rule(pool: PgPool) {
    // Arrange
    let h = harness(pool).await;
    let kind_rule = h
        .request_approval(&restart(
            &h,
            "production",
            "web-1",
            "ai-engine",
            Some(GrantScope::Kind),
        ))
        .await;

    // Act
    let too_wide = approve(
        &h.state,
        &kind_rule,
        token("alice"),
        json!({"grant": {"scope": "namespace", "ttlSeconds": 60}}),
    )
    .await;
    let too_long = approve(
        &h.state,
        &kind_rule,
        token("alice"),
        json!({"grant": {"scope": "kind", "ttlSeconds": 7200}}),
    )
    .await;
    let no_sessions = h
        .request_approval(&restart(&h, "production", "web-1", "ai-engine", None))
        .await;
    let refused = approve(
        &h.state,
        &no_sessions,
        token("alice"),
        json!({"grant": {"scope": "object", "ttlSeconds": 60}}),
    )
    .await;
    let unknown_member = approve(&h.state, &kind_rule, token("alice"), json!({"grnat": {}})).await;

    // Assert
    assert_eq!(too_wide.status, 403, "{}", too_wide.body);
    assert_eq!(too_wide.body["code"], "grant_too_wide");
    assert_eq!(too_long.status, 400, "{}", too_long.body);
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body["code"], "grant_not_allowed");
    assert_eq!(unknown_member.status, 400, "{}", unknown_member.body);
    assert_eq!(h.mutations(), 0, "no refused grant approved anything");
    h.assert_invariant().await;
}
