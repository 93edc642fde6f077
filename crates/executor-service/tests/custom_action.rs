//! The extension point, shown: the example's `annotate_deployment` (examples/custom_action)
//! registered beside the built-ins runs through every check, the budget and the audit, and
//! against the fake API server; `permissions` includes what it needs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../examples/custom_action/annotate.rs"]
#[allow(dead_code)]
mod annotate;
mod common;

use std::sync::Arc;
use std::time::Duration;

use executor_service::AppState;
use executor_service::actions::Registry;
use executor_service::config::{self, Config};
use executor_service::signature::SignatureForm;
use executor_service::store::postgres::PgStore;
use executor_service::token::DecisionVerifier;
use policy_service::keys::DecisionSigner;
use serde_json::json;
use sqlx::PgPool;
use warden_test_support::FakeKube;
use warden_test_support::claims::ClaimsBuilder;

const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

fn registry() -> Registry {
    Registry::with_builtins().register::<annotate::AnnotateDeployment>()
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_registered_action_runs_through_every_check_and_is_audited(pool: PgPool) {
    // Arrange
    let kube = FakeKube::start().await;
    kube.add_deployment("production", "api", 3);
    let signer = DecisionSigner::ephemeral();
    let jwks = serde_json::from_value(serde_json::to_value(signer.jwks()).unwrap()).unwrap();
    let keys = config::budget_keys(&registry());
    let env = [
        ("DATABASE_URL", "postgres://unused"),
        ("JWT_SECRET", common::SECRET),
        ("RATE_LIMIT_ANNOTATE_MAX", "1"),
    ];
    let config = Config::from_lookup(
        |name| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        },
        &keys,
    )
    .unwrap();
    let client =
        executor_service::kube_client::client_for_url(&kube.url(), Duration::from_secs(2)).unwrap();
    let state = AppState::new(
        config,
        Arc::new(PgStore::from_pool(pool.clone())),
        DecisionVerifier::from_jwks(&jwks, Duration::from_secs(5)),
        registry(),
        client,
    );
    let body = |note: &str| {
        let claims = ClaimsBuilder::new()
            .action("annotate_deployment")
            .resource("production/deployment/api")
            .build();
        let decision = json!({
            "allowed": true, "decision": "allow", "decisionId": claims.jti,
            "token": signer.sign(&claims).unwrap(),
        });
        common::signed_body(
            "annotate_deployment",
            json!({"namespace": "production", "deploymentName": "api", "note": note}),
            "ai-engine",
            decision,
            SignatureForm::JsInsertion,
            common::SECRET,
        )
    };

    // Act
    let invalid = common::execute_on(&state, &body("bad\u{7}note")).await;
    let ran = common::execute_on(&state, &body("paged: p95 latency")).await;
    let over_budget = common::execute_on(&state, &body("again")).await;

    // Assert
    assert_eq!(invalid.status, 400, "{}", invalid.body);
    assert_eq!(invalid.body["field"], "actionParams.note");
    assert_eq!(ran.status, 200, "{}", ran.body);
    let deployment = kube.deployment("production", "api").unwrap();
    assert_eq!(
        deployment["metadata"]["annotations"][annotate::NOTE],
        "paged: p95 latency"
    );
    assert_eq!(over_budget.status, 429, "{}", over_budget.body);
    let statuses: Vec<String> =
        sqlx::query_scalar(r#"SELECT "status" FROM action_audit_logs ORDER BY "createdAt""#)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(statuses, ["rejected", "succeeded", "rejected"]);
    let rules = registry().policy_rules();
    let deployments = rules
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resources"] == json!(["deployments"]))
        .unwrap();
    assert!(
        deployments["verbs"]
            .as_array()
            .unwrap()
            .contains(&json!("patch"))
    );
}
