//! The HTTP side: the router, the request pipeline (record → fault → handle) and the
//! `/_fake/` admin API.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::api::{self, Call};
use crate::fault::Fault;
use crate::objects::parse_seeds;
use crate::state::{Options, RecordedRequest, Shared};
use crate::status::{Answer, ApiError, MAX_BODY_BYTES};

/// The whole server: the admin API under `/_fake/`, the Kubernetes API everywhere else.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let admin = Router::new()
        .route("/objects", post(seed_objects).get(list_objects))
        .route(
            "/faults",
            post(add_faults).get(list_faults).delete(clear_faults),
        )
        .route("/mutations", get(list_mutations))
        .route("/requests", get(list_requests))
        .route(
            "/blocked-evictions",
            post(block_eviction).delete(unblock_evictions),
        )
        .route("/options", get(get_options).put(set_options))
        .route("/logs", post(add_log))
        .route("/events", post(add_event))
        .route("/reset", post(reset));
    Router::new()
        .nest("/_fake", admin)
        .fallback(kubernetes)
        .with_state(shared)
}

/// Every Kubernetes API request: recorded on arrival, matched against the faults, then
/// handled.
async fn kubernetes(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if parts.uri.path().starts_with("/_fake") {
        return admin_error(StatusCode::NOT_FOUND, "no such admin endpoint");
    }
    let (call, too_large) = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => (Call::new(&parts, &bytes), false),
        Err(_) => (Call::new(&parts, &[]), true),
    };
    let (seq, fault) = {
        let mut state = shared.lock();
        let seq = state.record_arrival(RecordedRequest {
            seq: 0,
            method: call.method.as_str().to_owned(),
            path: call.path.clone(),
            query: call.raw_query.clone(),
            content_type: call.content_type.clone(),
            body: call.body_value(),
            dry_run: call.is_dry_run(),
            status: None,
            faulted: false,
        });
        let fault = state.take_fault(call.method.as_str(), &call.path);
        if fault.is_some()
            && let Some(request) = state.requests.back_mut()
            && request.seq == seq
        {
            request.faulted = true;
        }
        (seq, fault)
    };
    if too_large {
        let answer = Answer::from(ApiError::too_large());
        shared.lock().record_answer(seq, answer.code);
        return answer.into_response();
    }
    let answer = match fault.as_ref().and_then(|f| f.delay) {
        Some(delay) => {
            // A detached task: when the client times out, hyper drops this future, but a
            // slow real server still finishes the write, and so must the fake.
            let shared = Arc::clone(&shared);
            let task = tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                respond(&shared, &call, fault.as_ref(), seq)
            });
            task.await
                .unwrap_or_else(|_| ApiError::internal("the delayed handler panicked").into())
        }
        None => respond(&shared, &call, fault.as_ref(), seq),
    };
    answer.into_response()
}

/// The answer for a request once any delay is over, recorded in the request log.
fn respond(shared: &Shared, call: &Call, fault: Option<&Fault>, seq: u64) -> Answer {
    let mut state = shared.lock();
    let answer = match fault {
        Some(
            fault @ Fault {
                status: Some(code), ..
            },
        ) => {
            if fault.apply_mutation {
                // The change lands; the client is told it failed.
                let _ = api::handle(&mut state, call);
            }
            ApiError::for_fault(*code, &api::target(call))
                .with_retry_after(fault.retry_after_seconds)
                .into_answer()
        }
        _ => api::handle(&mut state, call),
    };
    state.record_answer(seq, answer.code);
    answer
}

/// An admin API error: plain JSON, not a Kubernetes Status (this API is the fake's own).
fn admin_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": message}))).into_response()
}

/// Reads an admin body as JSON; the error is the message of a 400.
fn admin_json(body: &Bytes) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))
}

async fn seed_objects(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let document = match admin_json(&body) {
        Ok(document) => document,
        Err(message) => return admin_error(StatusCode::BAD_REQUEST, &message),
    };
    match parse_seeds(document) {
        Ok(seeds) => {
            let added = seeds.len();
            let mut state = shared.lock();
            for seed in seeds {
                state.insert_seed(seed);
            }
            (StatusCode::CREATED, axum::Json(json!({"added": added}))).into_response()
        }
        Err(e) => admin_error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

async fn list_objects(State(shared): State<Arc<Shared>>) -> Response {
    let items: Vec<Value> = shared.lock().objects.values().cloned().collect();
    axum::Json(json!({"items": items})).into_response()
}

async fn add_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let document = match admin_json(&body) {
        Ok(document) => document,
        Err(message) => return admin_error(StatusCode::BAD_REQUEST, &message),
    };
    let faults: Result<Vec<Fault>, _> = match document {
        Value::Array(_) => serde_json::from_value(document),
        single => serde_json::from_value(single).map(|f| vec![f]),
    };
    match faults {
        Ok(faults) => {
            let added = faults.len();
            shared.lock().faults.extend(faults);
            (StatusCode::CREATED, axum::Json(json!({"added": added}))).into_response()
        }
        Err(e) => admin_error(StatusCode::BAD_REQUEST, &format!("not a fault: {e}")),
    }
}

async fn list_faults(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(shared.lock().faults.clone()).into_response()
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.lock().faults.clear();
    StatusCode::NO_CONTENT
}

async fn list_mutations(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(shared.lock().mutations.clone()).into_response()
}

async fn list_requests(State(shared): State<Arc<Shared>>) -> Response {
    let requests: Vec<RecordedRequest> = shared.lock().requests.iter().cloned().collect();
    axum::Json(requests).into_response()
}

async fn block_eviction(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let document = match admin_json(&body) {
        Ok(document) => document,
        Err(message) => return admin_error(StatusCode::BAD_REQUEST, &message),
    };
    let namespace = document
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or("default");
    let Some(name) = document.get("name").and_then(Value::as_str) else {
        return admin_error(
            StatusCode::BAD_REQUEST,
            "expected {\"namespace\": \"...\", \"name\": \"<pod>\"}",
        );
    };
    shared
        .lock()
        .blocked_evictions
        .insert((namespace.to_owned(), name.to_owned()));
    StatusCode::NO_CONTENT.into_response()
}

async fn add_log(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let document = match admin_json(&body) {
        Ok(document) => document,
        Err(message) => return admin_error(StatusCode::BAD_REQUEST, &message),
    };
    let text = |key: &str| document.get(key).and_then(Value::as_str);
    let (Some(pod), Some(container), Some(lines)) = (text("pod"), text("container"), text("text"))
    else {
        return admin_error(
            StatusCode::BAD_REQUEST,
            "expected {\"namespace\", \"pod\", \"container\", \"text\", \"ageSeconds\"?}",
        );
    };
    let namespace = text("namespace").unwrap_or("default");
    let age = document
        .get("ageSeconds")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let mut state = shared.lock();
    crate::reads::append_log(
        &mut state,
        (namespace, pod, container),
        std::time::Duration::from_secs(age),
        lines,
    );
    StatusCode::NO_CONTENT.into_response()
}

async fn add_event(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let document = match admin_json(&body) {
        Ok(document) => document,
        Err(message) => return admin_error(StatusCode::BAD_REQUEST, &message),
    };
    let namespace = document
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or("default")
        .to_owned();
    let event = document.get("event").cloned().unwrap_or(Value::Null);
    match crate::reads::insert_event(&mut shared.lock(), &namespace, event) {
        Ok(name) => (StatusCode::CREATED, axum::Json(json!({"name": name}))).into_response(),
        Err(e) => admin_error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

async fn unblock_evictions(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.lock().blocked_evictions.clear();
    StatusCode::NO_CONTENT
}

async fn get_options(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(shared.lock().options).into_response()
}

async fn set_options(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Options>(&body) {
        Ok(options) => {
            shared.lock().options = options;
            axum::Json(options).into_response()
        }
        Err(e) => admin_error(StatusCode::BAD_REQUEST, &format!("not options: {e}")),
    }
}

async fn reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.lock().reset();
    StatusCode::NO_CONTENT
}
