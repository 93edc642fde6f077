//! `GET /openapi.json`: generated from the code, and kept in step with the copy committed in
//! `openapi/executor-service.json` (what clients and reviewers read). After an API change:
//! `UPDATE_OPENAPI=1 cargo test -p executor-service --test openapi`, then commit the file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use executor_service::AppState;
use executor_service::actions::Registry;
use executor_service::store::postgres::PgStore;
use executor_service::token::DecisionVerifier;
use policy_service::keys::DecisionSigner;
use serde_json::Value;

use common::{config, get_on};

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../openapi/executor-service.json")
}

/// An executor whose store and cluster are never reached: the document needs neither.
async fn document() -> Value {
    let signer = DecisionSigner::ephemeral();
    let jwks = serde_json::from_value(serde_json::to_value(signer.jwks()).unwrap()).unwrap();
    let state = AppState::new(
        config(&[]),
        Arc::new(
            PgStore::connect("postgres://unused@127.0.0.1:9/none", 1)
                .await
                .unwrap(),
        ),
        DecisionVerifier::from_jwks(&jwks, Duration::from_secs(1)),
        Registry::with_builtins(),
        executor_service::kube_client::client_for_url("http://127.0.0.1:9", Duration::from_secs(1))
            .unwrap(),
    );
    let answer = get_on(&state, "/openapi.json", None).await;
    assert_eq!(answer.status, 200);
    answer.body
}

#[tokio::test]
async fn the_served_document_matches_the_committed_copy() {
    // Act
    let served = document().await;

    // Assert
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        let text = serde_json::to_string_pretty(&served).unwrap() + "\n";
        std::fs::write(committed_path(), text).unwrap();
        return;
    }
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(committed_path()).expect("openapi/executor-service.json"),
    )
    .unwrap();
    assert!(
        committed == served,
        "openapi/executor-service.json is out of date: run \
         `UPDATE_OPENAPI=1 cargo test -p executor-service --test openapi` and commit it"
    );
}

#[tokio::test]
async fn every_route_and_wire_type_is_documented() {
    // Act
    let doc = document().await;

    // Assert
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/executor/execute",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not documented");
    }
    let request = &doc["components"]["schemas"]["ExecuteRequest"];
    assert_eq!(
        request["required"],
        serde_json::json!([
            "actionType",
            "actionParams",
            "requestedBy",
            "policyDecision",
            "signature"
        ])
    );
    assert!(doc["components"]["schemas"]["ExecuteResponse"].is_object());
}
