//! A table of bad HTTP inputs: each gets a 4xx with a JSON error, never a 5xx.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use axum::http::{Request, header};
use common::*;
use policy_service::app;
use warden_test_support::router;

struct Case {
    name: &'static str,
    request: Request<Body>,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
}

fn post(content_type: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut builder = Request::post("/api/v1/policy/evaluate");
    if let Some(ct) = content_type {
        builder = builder.header(header::CONTENT_TYPE, ct);
    }
    builder.body(body.into()).unwrap()
}

fn json(body: &str) -> Request<Body> {
    post(Some("application/json"), body.to_owned())
}

fn cases() -> Vec<Case> {
    let big = format!(
        r#"{{"action":"restart_pod","resource":"pod:x","type":"{}"}}"#,
        "a".repeat(70 * 1024)
    );
    let deep = format!(
        r#"{{"action":"restart_pod","resource":"pod:x","context":{{"metadata":{{"x":{}1{}}}}}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    vec![
        Case {
            name: "no content type",
            request: post(None, r#"{"action":"a","resource":"pod:x"}"#),
            status: 415,
            code: "unsupported_media_type",
            field: None,
        },
        Case {
            name: "text/plain",
            request: post(Some("text/plain"), r#"{"action":"a","resource":"pod:x"}"#),
            status: 415,
            code: "unsupported_media_type",
            field: None,
        },
        Case {
            name: "form",
            request: post(Some("application/x-www-form-urlencoded"), "action=a"),
            status: 415,
            code: "unsupported_media_type",
            field: None,
        },
        Case {
            name: "over 64 KiB",
            request: json(&big),
            status: 413,
            code: "payload_too_large",
            field: None,
        },
        Case {
            name: "empty body",
            request: json(""),
            status: 400,
            code: "invalid_json",
            field: None,
        },
        Case {
            name: "truncated",
            request: json(r#"{"action":"restart_pod""#),
            status: 400,
            code: "invalid_json",
            field: None,
        },
        Case {
            name: "trailing garbage",
            request: json(r#"{"action":"restart_pod","resource":"pod:x"} {}"#),
            status: 400,
            code: "invalid_json",
            field: None,
        },
        Case {
            name: "array body",
            request: json("[]"),
            status: 400,
            code: "invalid_json",
            field: None,
        },
        Case {
            name: "invalid UTF-8",
            request: post(
                Some("application/json"),
                vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'],
            ),
            status: 400,
            code: "invalid_json",
            field: None,
        },
        Case {
            name: "deep nesting",
            request: json(&deep),
            status: 400,
            code: "invalid_json",
            field: None,
        },
        Case {
            name: "missing action",
            request: json(r#"{"resource":"pod:x"}"#),
            status: 400,
            code: "invalid_json",
            field: None,
        },
        Case {
            name: "missing resource",
            request: json(r#"{"action":"restart_pod"}"#),
            status: 400,
            code: "invalid_json",
            field: None,
        },
        Case {
            name: "action not a string",
            request: json(r#"{"action":5,"resource":"pod:x"}"#),
            status: 400,
            code: "invalid_json",
            field: Some("action"),
        },
        Case {
            name: "userId not a string",
            request: json(
                r#"{"action":"restart_pod","resource":"pod:x","context":{"userId":["a"]}}"#,
            ),
            status: 400,
            code: "invalid_json",
            field: Some("context.userId"),
        },
        Case {
            name: "metadata not an object",
            request: json(
                r#"{"action":"restart_pod","resource":"pod:x","context":{"metadata":"high"}}"#,
            ),
            status: 400,
            code: "invalid_json",
            field: Some("context.metadata"),
        },
        Case {
            name: "type not a string",
            request: json(r#"{"action":"restart_pod","resource":"pod:x","type":{}}"#),
            status: 400,
            code: "invalid_json",
            field: Some("type"),
        },
        Case {
            name: "empty action",
            request: json(r#"{"action":"","resource":"pod:x"}"#),
            status: 400,
            code: "invalid_field",
            field: Some("action"),
        },
        Case {
            name: "action with spaces",
            request: json(r#"{"action":"rm -rf","resource":"pod:x"}"#),
            status: 400,
            code: "invalid_field",
            field: Some("action"),
        },
        Case {
            name: "resource in no form",
            request: json(r#"{"action":"restart_pod","resource":"api-pod"}"#),
            status: 400,
            code: "invalid_field",
            field: Some("resource"),
        },
        Case {
            name: "resource with bad name",
            request: json(r#"{"action":"restart_pod","resource":"default/pod/API_POD"}"#),
            status: 400,
            code: "invalid_field",
            field: Some("resource"),
        },
        Case {
            name: "resource with four parts",
            request: json(r#"{"action":"restart_pod","resource":"a/b/c/d"}"#),
            status: 400,
            code: "invalid_field",
            field: Some("resource"),
        },
        Case {
            name: "bad explain flag",
            request: router::post_json(
                "/api/v1/policy/evaluate?explain=yes-please",
                r#"{"action":"restart_pod","resource":"pod:x"}"#,
            ),
            status: 400,
            code: "invalid_query",
            field: None,
        },
        Case {
            name: "GET on evaluate",
            request: router::get("/api/v1/policy/evaluate"),
            status: 405,
            code: "method_not_allowed",
            field: None,
        },
        Case {
            name: "unknown path",
            request: router::get("/api/v1/nothing"),
            status: 404,
            code: "not_found",
            field: None,
        },
    ]
}

#[tokio::test]
async fn every_bad_input_gets_a_4xx_json_error() {
    let state = state(false);
    for case in cases() {
        // Act
        let answer = send(app(state.clone()), case.request).await;

        // Assert
        assert_eq!(
            answer.status.as_u16(),
            case.status,
            "{}: {}",
            case.name,
            answer.body
        );
        assert_eq!(
            answer.body["code"], case.code,
            "{}: {}",
            case.name, answer.body
        );
        assert!(
            answer.body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{}",
            case.name
        );
        let expected_field = case
            .field
            .map_or(serde_json::Value::Null, serde_json::Value::from);
        assert_eq!(
            answer.body["field"], expected_field,
            "{}: {}",
            case.name, answer.body
        );
    }
}

#[tokio::test]
async fn content_type_with_charset_and_json_suffix_is_accepted() {
    let state = state(false);
    for ct in [
        "application/json; charset=utf-8",
        "application/vnd.warden+json",
        "Application/JSON",
    ] {
        let request = post(Some(ct), seed_request().to_string());
        let answer = send(app(state.clone()), request).await;
        assert_eq!(answer.status, 200, "{ct}: {}", answer.body);
    }
}

#[tokio::test]
async fn the_request_id_is_echoed_or_generated() {
    let state = state(false);
    let request = Request::get("/healthz")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .unwrap();
    let answer = send(app(state.clone()), request).await;
    assert_eq!(answer.headers["x-request-id"], "abc-123");
    let answer = send(app(state), router::get("/healthz")).await;
    assert!(!answer.headers["x-request-id"].is_empty());
}
