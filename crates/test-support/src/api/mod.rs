//! The Kubernetes API endpoints: routing by path, then one synchronous handler per verb.
//!
//! Routing is by path segments rather than by axum routes because the fake must answer
//! every path, including unknown ones and unsupported methods, with a `metav1.Status`
//! body as kube-apiserver does (axum's own 404/405 answers have empty bodies, which kube
//! reports as "Failed to parse error data").
//!
//! # Layout
//!
//! - `mod.rs`: [`Call`] (one request, read once), [`handle`] (route, then verb) and the
//!   lookup and mutation-log helpers every verb shares.
//! - `routes.rs`: [`Route`] and the path router; [`target`] for error messages.
//! - `verbs.rs`: get, list, create, delete, patch and replace of an object.
//! - `scale.rs`: the `/scale` subresource of deployments and stateful sets.
//! - `pods.rs`: pod eviction.
//! - `reads.rs`: pod logs and the Event list.
//! - `validation.rs`: the update of a stored object and the server's semantic checks.
//! - `discovery.rs`: `/version` and the discovery documents.

// Handlers return `ApiError` by value: the fake builds at most one per request, so its size
// costs nothing, and boxing it would clutter every handler for no gain.
#![allow(clippy::result_large_err)]

mod discovery;
mod pods;
mod reads;
mod routes;
mod scale;
mod validation;
mod verbs;

use std::collections::HashMap;

use http::Method;
use serde_json::Value;

pub(crate) use self::routes::target;
use self::routes::{Route, route};
use crate::objects::Kind;
use crate::state::{Key, Mutation, State, Verb};
use crate::status::{Answer, ApiError, Target};

/// The media types a create/update body may use, as the 415 message lists them.
const BODY_MEDIA_TYPES: &str =
    "application/json, application/yaml, application/vnd.kubernetes.protobuf";

/// One API request, read once and shared by recording, fault matching and handling.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// HTTP method.
    pub method: Method,
    /// Path without the query.
    pub path: String,
    /// The raw query string.
    pub raw_query: String,
    /// Decoded query parameters (the last value wins for repeated keys).
    pub query: HashMap<String, String>,
    /// `Content-Type`, if sent.
    pub content_type: Option<String>,
    /// `Host`, for discovery answers.
    pub host: String,
    /// The body as JSON: `None` when empty, `Err` with the parser's message when not JSON.
    pub json: Option<Result<Value, String>>,
}

impl Call {
    /// Reads the parts of a request.
    pub(crate) fn new(parts: &http::request::Parts, body: &[u8]) -> Call {
        let raw_query = parts.uri.query().unwrap_or_default().to_owned();
        let query = axum::extract::Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
            .map(|q| q.0)
            .unwrap_or_default();
        let header = |name: http::header::HeaderName| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let json = if body.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            Some(serde_json::from_slice(body).map_err(|e| e.to_string()))
        };
        Call {
            method: parts.method.clone(),
            path: parts.uri.path().to_owned(),
            raw_query,
            query,
            content_type: header(http::header::CONTENT_TYPE),
            host: header(http::header::HOST).unwrap_or_default(),
            json,
        }
    }

    /// The body as JSON, `Null` when absent or not JSON (for the request log).
    pub(crate) fn body_value(&self) -> Value {
        match &self.json {
            Some(Ok(value)) => value.clone(),
            _ => Value::Null,
        }
    }

    /// Whether the request asks for a dry run: `?dryRun=All` on any mutating verb, or
    /// `dryRun: ["All"]` in the DeleteOptions of a DELETE body or of an eviction's
    /// `deleteOptions` (the places kube-apiserver reads it from).
    pub(crate) fn is_dry_run(&self) -> bool {
        if self.method == Method::GET || self.method == Method::HEAD {
            return false;
        }
        let all = |v: Option<&Value>| {
            v.and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|x| x == "All"))
        };
        let body = match &self.json {
            Some(Ok(body)) => body,
            _ => &Value::Null,
        };
        self.query.get("dryRun").is_some_and(|v| v == "All")
            || (self.method == Method::DELETE && all(body.get("dryRun")))
            || (self.path.ends_with("/eviction")
                && all(body.get("deleteOptions").and_then(|o| o.get("dryRun"))))
    }

    /// The JSON body of a create, update or eviction, refusing other media types (415)
    /// and undecodable bodies (400).
    fn json_body(&self) -> Result<&Value, ApiError> {
        let media = self
            .content_type
            .as_deref()
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase());
        if media.as_deref().is_some_and(|m| m != "application/json") {
            return Err(ApiError::unsupported_media_type(BODY_MEDIA_TYPES));
        }
        match &self.json {
            Some(Ok(value)) if value.is_object() => Ok(value),
            Some(Ok(_)) => Err(ApiError::bad_request(
                "couldn't get version/kind; json parse error: the body is not a JSON object",
            )),
            Some(Err(e)) => Err(ApiError::bad_request(format!(
                "couldn't get version/kind; json parse error: {e}"
            ))),
            None => Err(ApiError::bad_request("the request body is empty")),
        }
    }
}

/// Handles one API request against `state`.
pub(crate) fn handle(state: &mut State, call: &Call) -> Answer {
    let target = target(call);
    let dry_run = call.is_dry_run();
    let method = &call.method;
    let result = match route(&call.path) {
        Route::Version if method == Method::GET => Ok(discovery::version()),
        Route::Health if method == Method::GET => Ok(Answer::json(200, &"ok")),
        Route::CoreVersions if method == Method::GET => Ok(discovery::core_versions(&call.host)),
        Route::Groups if method == Method::GET => Ok(discovery::groups()),
        Route::AppsGroup if method == Method::GET => Ok(discovery::apps_group()),
        Route::Resources(group_version) if method == Method::GET => {
            Ok(discovery::resources(group_version))
        }
        Route::Collection { kind, namespace } => match *method {
            Method::GET => verbs::list(state, kind, namespace.as_deref(), call),
            Method::POST => match namespace {
                Some(namespace) => verbs::create(state, &target, kind, &namespace, call, dry_run),
                None => Err(ApiError::method_not_allowed()),
            },
            _ => Err(ApiError::method_not_allowed()),
        },
        Route::Object {
            kind,
            namespace,
            name,
        } => {
            let key = (kind, namespace, name);
            match *method {
                Method::GET => verbs::get(state, &target, &key),
                Method::DELETE => verbs::delete(state, &target, &key, call, dry_run),
                Method::PATCH => verbs::patch_object(state, &target, &key, call, dry_run),
                Method::PUT => verbs::replace_object(state, &target, &key, call, dry_run),
                _ => Err(ApiError::method_not_allowed()),
            }
        }
        Route::Scale {
            kind,
            namespace,
            name,
        } => {
            let key = (kind, namespace, name);
            match *method {
                Method::GET => {
                    verbs::get(state, &target, &key).map(|_| scale::scale_answer(state, &key))
                }
                Method::PATCH => scale::patch_scale(state, &target, &key, call, dry_run),
                Method::PUT => scale::replace_scale(state, &target, &key, call, dry_run),
                _ => Err(ApiError::method_not_allowed()),
            }
        }
        Route::Eviction { namespace, name } if method == Method::POST => {
            pods::evict(state, &target, &(Kind::Pod, namespace, name), call, dry_run)
        }
        Route::PodLog { namespace, name } if method == Method::GET => {
            reads::pod_log(state, &target, &namespace, &name, call)
        }
        Route::Events { namespace } if method == Method::GET => {
            reads::list_events(state, namespace.as_deref(), call)
        }
        Route::Unknown => Err(ApiError::no_such_path()),
        _ => Err(ApiError::method_not_allowed()),
    };
    result.unwrap_or_else(Answer::from)
}

/// The stored object at `key`: 404 when there is none.
fn stored<'s>(state: &'s State, target: &Target, key: &Key) -> Result<&'s Value, ApiError> {
    state
        .objects
        .get(key)
        .ok_or_else(|| ApiError::not_found(target))
}

/// Appends to the mutation log (under the same lock as the change itself).
fn record(state: &mut State, verb: Verb, key: &Key, detail: Value) {
    state.mutations.push(Mutation {
        verb,
        kind: key.0,
        namespace: key.1.clone(),
        name: key.2.clone(),
        detail,
    });
}
