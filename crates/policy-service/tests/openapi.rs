//! `GET /openapi.json`: generated from the code, and kept in step with the copy committed in
//! `openapi/policy-service.json` (what clients and reviewers read). After an API change:
//! `UPDATE_OPENAPI=1 cargo test -p policy-service --test openapi`, then commit the file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use common::*;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../openapi/policy-service.json")
}

#[tokio::test]
async fn the_served_document_matches_the_committed_copy() {
    // Arrange
    let state = state(false);

    // Act
    let answer = get(&state, "/openapi.json").await;

    // Assert
    assert_eq!(answer.status, 200);
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        let text = serde_json::to_string_pretty(&answer.body).unwrap() + "\n";
        std::fs::write(committed_path(), text).unwrap();
        return;
    }
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(committed_path()).expect("openapi/policy-service.json"),
    )
    .unwrap();
    assert!(
        committed == answer.body,
        "openapi/policy-service.json is out of date: run \
         `UPDATE_OPENAPI=1 cargo test -p policy-service --test openapi` and commit it"
    );
}

#[tokio::test]
async fn every_route_and_wire_type_is_documented() {
    // Arrange
    let state = state(false);

    // Act
    let doc = get(&state, "/openapi.json").await.body;

    // Assert
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/v1/policy/evaluate",
        "/.well-known/jwks.json",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not documented");
    }
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["PolicyRequest"]["required"],
        serde_json::json!(["action", "resource"])
    );
    for name in ["PolicyDecision", "ErrorBody", "RuleTrace", "DecisionKind"] {
        assert!(schemas[name].is_object(), "{name} missing");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
}
