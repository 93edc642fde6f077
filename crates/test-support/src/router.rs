//! In-process HTTP for router tests: send one request through an axum [`Router`] with
//! `tower::ServiceExt::oneshot` and read the answer back as JSON.

use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// An answer: status, headers and JSON body (`Value::Null` when the body is empty).
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: StatusCode,
    /// Every header of the answer.
    pub headers: HeaderMap,
    /// The body parsed as JSON; `Value::Null` for an empty body.
    pub body: Value,
}

/// Sends `request` through `router` and reads the whole answer.
///
/// # Panics
///
/// When the router fails (an axum router never does) or the body is neither empty nor
/// JSON: every answer of Warden's routes is JSON, so anything else is a test failure.
pub async fn send(router: Router, request: Request<Body>) -> Answer {
    let (status, headers, bytes) = send_raw(router, request).await;
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
    };
    Answer {
        status,
        headers,
        body,
    }
}

/// Sends `request` through `router` and returns the status, headers and body bytes, for
/// answers that are not JSON (metrics text, documents).
///
/// # Panics
///
/// When the router or the body stream fails.
pub async fn send_raw(router: Router, request: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let response = match router.oneshot(request).await {
        Ok(response) => response,
        Err(infallible) => match infallible {},
    };
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = match response.into_body().collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(e) => panic!("the answer's body failed: {e}"),
    };
    (status, headers, bytes)
}

/// `GET uri` with an empty body.
pub fn get(uri: &str) -> Request<Body> {
    build(Request::get(uri).body(Body::empty()))
}

/// `GET uri` with `Authorization: Bearer <token>` when `token` is given.
pub fn get_with_bearer(uri: &str, token: Option<&str>) -> Request<Body> {
    build(bearer(Request::get(uri), token).body(Body::empty()))
}

/// `POST uri` with `body` as `application/json`.
pub fn post_json(uri: &str, body: impl Into<Body>) -> Request<Body> {
    post_json_with_bearer(uri, body, None)
}

/// `POST uri` with `body` as `application/json` and `Authorization: Bearer <token>` when
/// `token` is given.
pub fn post_json_with_bearer(
    uri: &str,
    body: impl Into<Body>,
    token: Option<&str>,
) -> Request<Body> {
    let builder = Request::post(uri).header(header::CONTENT_TYPE, "application/json");
    build(bearer(builder, token).body(body.into()))
}

/// Adds `Authorization: Bearer <token>` to `builder` when `token` is given.
pub fn bearer(builder: http::request::Builder, token: Option<&str>) -> http::request::Builder {
    match token {
        Some(token) => builder.header(header::AUTHORIZATION, format!("Bearer {token}")),
        None => builder,
    }
}

fn build(request: Result<Request<Body>, http::Error>) -> Request<Body> {
    request.unwrap_or_else(|e| panic!("not a valid request: {e}"))
}
