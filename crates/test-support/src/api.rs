//! The Kubernetes API endpoints: routing by path, then one synchronous handler per verb.
//!
//! Routing is by path segments rather than by axum routes because the fake must answer
//! every path, including unknown ones and unsupported methods, with a `metav1.Status`
//! body as kube-apiserver does (axum's own 404/405 answers have empty bodies, which kube
//! reports as "Failed to parse error data").

// Handlers return `ApiError` by value: the fake builds at most one per request, so its size
// costs nothing, and boxing it would clutter every handler for no gain.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use http::Method;
use serde_json::{Value, json};

use crate::objects::{
    Kind, at, check_typed, converge_status, matches_selector, parse_selector, scale_of,
    spec_replicas, str_at,
};
use crate::patch::{self, PATCH_MEDIA_TYPES, PatchError, PatchType};
use crate::state::{DeleteAnswer, Key, Mutation, State, Verb, now};
use crate::status::{self, Answer, ApiError, Target};

/// The media types a create/update body may use, as the 415 message lists them.
const BODY_MEDIA_TYPES: &str =
    "application/json, application/yaml, application/vnd.kubernetes.protobuf";

/// The Kubernetes version the fake claims to be (`k8s-openapi`'s `latest`).
const VERSION: (&str, &str) = ("1", "37");

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

/// Where a path points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/version`.
    Version,
    /// `/healthz`, `/livez`, `/readyz`.
    Health,
    /// `/api`.
    CoreVersions,
    /// `/apis`.
    Groups,
    /// `/apis/apps`.
    AppsGroup,
    /// `/api/v1` or `/apis/apps/v1`.
    Resources(&'static str),
    /// A list (all namespaces when `namespace` is `None`).
    Collection {
        kind: Kind,
        namespace: Option<String>,
    },
    /// One object.
    Object {
        kind: Kind,
        namespace: String,
        name: String,
    },
    /// The `/scale` subresource of an apps object.
    Scale {
        kind: Kind,
        namespace: String,
        name: String,
    },
    /// `/api/v1/namespaces/{ns}/pods/{name}/eviction`.
    Eviction { namespace: String, name: String },
    /// Anything else.
    Unknown,
}

/// Routes a path.
pub(crate) fn route(path: &str) -> Route {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    // Resource names are only valid under their own group.
    let core = |plural: &str| (plural == "pods").then_some(Kind::Pod);
    let apps = |plural: &str| Kind::from_plural(plural).filter(|k| k.group() == "apps");
    match segments.as_slice() {
        ["version"] => Route::Version,
        ["healthz" | "livez" | "readyz"] => Route::Health,
        ["api"] => Route::CoreVersions,
        ["apis"] => Route::Groups,
        ["apis", "apps"] => Route::AppsGroup,
        ["api", "v1"] => Route::Resources("v1"),
        ["apis", "apps", "v1"] => Route::Resources("apps/v1"),
        ["api", "v1", plural] => match core(plural) {
            Some(kind) => Route::Collection {
                kind,
                namespace: None,
            },
            None => Route::Unknown,
        },
        ["apis", "apps", "v1", plural] => match apps(plural) {
            Some(kind) => Route::Collection {
                kind,
                namespace: None,
            },
            None => Route::Unknown,
        },
        ["api", "v1", "namespaces", ns, rest @ ..] => namespaced(core, ns, rest),
        ["apis", "apps", "v1", "namespaces", ns, rest @ ..] => namespaced(apps, ns, rest),
        _ => Route::Unknown,
    }
}

/// The namespaced part of a route, once the group prefix has been read.
fn namespaced(resolve: impl Fn(&str) -> Option<Kind>, ns: &str, rest: &[&str]) -> Route {
    let (namespace, kind) = match rest.first().map(|p| resolve(p)) {
        Some(Some(kind)) => (ns.to_owned(), kind),
        _ => return Route::Unknown,
    };
    match rest {
        [_] => Route::Collection {
            kind,
            namespace: Some(namespace),
        },
        [_, name] => Route::Object {
            kind,
            namespace,
            name: (*name).to_owned(),
        },
        [_, name, "scale"] if kind.is_scalable() => Route::Scale {
            kind,
            namespace,
            name: (*name).to_owned(),
        },
        [_, name, "eviction"] if kind == Kind::Pod => Route::Eviction {
            namespace,
            name: (*name).to_owned(),
        },
        _ => Route::Unknown,
    }
}

/// What the request is about, for error messages (including injected faults).
pub(crate) fn target(call: &Call) -> Target {
    let verb = match call.method {
        Method::DELETE => "delete",
        Method::PATCH => "patch",
        Method::PUT => "update",
        Method::POST => "create",
        _ => "get",
    };
    match route(&call.path) {
        Route::Collection { kind, namespace } => Target {
            kind: Some(kind),
            subresource: None,
            namespace,
            name: String::new(),
            verb: if verb == "get" { "list" } else { verb },
        },
        Route::Object {
            kind,
            namespace,
            name,
        } => Target {
            kind: Some(kind),
            subresource: None,
            namespace: Some(namespace),
            name,
            verb,
        },
        Route::Scale {
            kind,
            namespace,
            name,
        } => Target {
            kind: Some(kind),
            subresource: Some("scale"),
            namespace: Some(namespace),
            name,
            verb,
        },
        Route::Eviction { namespace, name } => Target {
            kind: Some(Kind::Pod),
            subresource: Some("eviction"),
            namespace: Some(namespace),
            name,
            verb,
        },
        _ => Target {
            verb,
            ..Target::default()
        },
    }
}

/// Handles one API request against `state`.
pub(crate) fn handle(state: &mut State, call: &Call) -> Answer {
    let target = target(call);
    let dry_run = call.is_dry_run();
    let method = &call.method;
    let result = match route(&call.path) {
        Route::Version if method == Method::GET => Ok(version()),
        Route::Health if method == Method::GET => Ok(Answer::json(200, &"ok")),
        Route::CoreVersions if method == Method::GET => Ok(core_versions(&call.host)),
        Route::Groups if method == Method::GET => Ok(groups()),
        Route::AppsGroup if method == Method::GET => Ok(apps_group()),
        Route::Resources(group_version) if method == Method::GET => Ok(resources(group_version)),
        Route::Collection { kind, namespace } => match *method {
            Method::GET => list(state, kind, namespace.as_deref(), call),
            Method::POST => match namespace {
                Some(namespace) => create(state, &target, kind, &namespace, call, dry_run),
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
                Method::GET => get(state, &target, &key),
                Method::DELETE => delete(state, &target, &key, call, dry_run),
                Method::PATCH => patch_object(state, &target, &key, call, dry_run),
                Method::PUT => replace_object(state, &target, &key, call, dry_run),
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
                Method::GET => get(state, &target, &key).map(|_| scale_answer(state, &key)),
                Method::PATCH => patch_scale(state, &target, &key, call, dry_run),
                Method::PUT => replace_scale(state, &target, &key, call, dry_run),
                _ => Err(ApiError::method_not_allowed()),
            }
        }
        Route::Eviction { namespace, name } if method == Method::POST => {
            evict(state, &target, &(Kind::Pod, namespace, name), call, dry_run)
        }
        Route::Unknown => Err(ApiError::no_such_path()),
        _ => Err(ApiError::method_not_allowed()),
    };
    result.unwrap_or_else(Answer::from)
}

fn get(state: &State, target: &Target, key: &Key) -> Result<Answer, ApiError> {
    state
        .objects
        .get(key)
        .map(|object| Answer::json(200, object))
        .ok_or_else(|| ApiError::not_found(target))
}

fn scale_answer(state: &State, key: &Key) -> Answer {
    match state.objects.get(key) {
        Some(object) => Answer::json(200, &scale_of(object)),
        None => ApiError::internal("the object vanished while it was read").into(),
    }
}

fn list(
    state: &State,
    kind: Kind,
    namespace: Option<&str>,
    call: &Call,
) -> Result<Answer, ApiError> {
    if call
        .query
        .get("watch")
        .is_some_and(|w| w == "true" || w == "1")
    {
        return Err(ApiError::bad_request("fake-kube does not serve watches"));
    }
    let labels = match call.query.get("labelSelector") {
        Some(text) => parse_selector(text).ok_or_else(|| {
            ApiError::bad_request(format!(
                "unable to parse requirement: {text:?}: fake-kube evaluates only =, ==, != and existence"
            ))
        })?,
        None => Vec::new(),
    };
    let mut fields = Vec::new();
    if let Some(text) = call.query.get("fieldSelector") {
        for part in text.split(',').filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some((field @ ("metadata.name" | "metadata.namespace"), value)) => {
                    fields.push((
                        field.trim_start_matches("metadata."),
                        value.trim_start_matches('='),
                    ));
                }
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "{part:?} is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
                    )));
                }
            }
        }
    }
    let items: Vec<Value> = state
        .objects
        .iter()
        .filter(|((k, ns, _), _)| *k == kind && namespace.is_none_or(|n| n == ns))
        .map(|(_, object)| object)
        .filter(|object| matches_selector(object, &labels))
        .filter(|object| {
            fields
                .iter()
                .all(|(field, value)| str_at(object, &["metadata", field]) == Some(*value))
        })
        .map(|object| {
            // Items of a real list carry no apiVersion/kind; the list does.
            let mut item = object.clone();
            if let Some(map) = item.as_object_mut() {
                map.remove("apiVersion");
                map.remove("kind");
            }
            item
        })
        .collect();
    Ok(Answer::json(
        200,
        &json!({
            "kind": format!("{}List", kind.kind_name()),
            "apiVersion": kind.api_version(),
            "metadata": {"resourceVersion": state.revision.to_string()},
            "items": items,
        }),
    ))
}

fn create(
    state: &mut State,
    target: &Target,
    kind: Kind,
    namespace: &str,
    call: &Call,
    dry_run: bool,
) -> Result<Answer, ApiError> {
    let mut object = call.json_body()?.clone();
    match str_at(&object, &["metadata", "namespace"]) {
        Some(ns) if ns != namespace => {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        _ => object["metadata"]["namespace"] = json!(namespace),
    }
    let name = match (
        str_at(&object, &["metadata", "name"]),
        str_at(&object, &["metadata", "generateName"]),
    ) {
        (Some(name), _) if !name.is_empty() => name.to_owned(),
        (_, Some(prefix)) if !prefix.is_empty() => {
            let suffix = uuid::Uuid::new_v4().simple().to_string();
            format!("{prefix}{}", &suffix[..5])
        }
        _ => {
            let target = Target {
                name: String::new(),
                ..target.clone()
            };
            return Err(ApiError::invalid(
                &target,
                "metadata.name",
                "Required value: name or generateName is required",
            ));
        }
    };
    object["metadata"]["name"] = json!(name);
    let target = Target {
        name: name.clone(),
        ..target.clone()
    };
    check_typed(kind, &object).map_err(|e| undecodable(kind, &e))?;
    validate(kind, &target, None, &object)?;
    let key = (kind, namespace.to_owned(), name);
    if state.objects.contains_key(&key) {
        let mut error = ApiError::conflict(&target);
        error.reason = "AlreadyExists";
        error.message = format!("{} \"{}\" already exists", qualified(kind), target.name);
        return Err(error);
    }
    let metadata = &mut object["metadata"];
    metadata["uid"] = json!(uuid::Uuid::new_v4().to_string());
    metadata["creationTimestamp"] = json!(now());
    if let Some(map) = metadata.as_object_mut() {
        map.remove("resourceVersion");
    }
    if kind.is_scalable() {
        metadata["generation"] = json!(1);
        converge_status(kind, &mut object);
    }
    if !dry_run {
        object["metadata"]["resourceVersion"] = json!(state.next_revision());
        state.objects.insert(key.clone(), object.clone());
        record(
            state,
            Verb::Create,
            &key,
            json!({"uid": object["metadata"]["uid"]}),
        );
    }
    Ok(Answer::json(201, &object))
}

fn delete(
    state: &mut State,
    target: &Target,
    key: &Key,
    call: &Call,
    dry_run: bool,
) -> Result<Answer, ApiError> {
    let options = match &call.json {
        None => json!({}),
        Some(Ok(options)) => options.clone(),
        Some(Err(e)) => {
            return Err(ApiError::bad_request(format!(
                "couldn't decode DeleteOptions: {e}"
            )));
        }
    };
    let current = state
        .objects
        .get(key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(target))?;
    check_preconditions(target, &current, options.get("preconditions"))?;
    let uid = current["metadata"]["uid"].clone();
    let mut deleted = current;
    deleted["metadata"]["deletionTimestamp"] = json!(now());
    if key.0 == Kind::Pod {
        let grace = options
            .get("gracePeriodSeconds")
            .or_else(|| at(&deleted, &["spec", "terminationGracePeriodSeconds"]))
            .cloned()
            .unwrap_or(json!(30));
        deleted["metadata"]["deletionGracePeriodSeconds"] = grace;
    }
    if !dry_run {
        state.objects.remove(key);
        deleted["metadata"]["resourceVersion"] = json!(state.next_revision());
        record(
            state,
            Verb::Delete,
            key,
            json!({"uid": uid, "options": options}),
        );
    }
    // Pods answer with the deleted object; other types a Success Status, as on a real
    // server, unless the test asked pods to answer a Status too.
    let as_object = key.0 == Kind::Pod && state.options.delete_answer == DeleteAnswer::Object;
    if as_object {
        return Ok(Answer::json(200, &deleted));
    }
    let mut details = json!({"name": key.2, "kind": key.0.plural(), "uid": uid});
    if !key.0.group().is_empty() {
        details["group"] = json!(key.0.group());
    }
    Ok(status::success(200, Some(details)))
}

fn evict(
    state: &mut State,
    target: &Target,
    key: &Key,
    call: &Call,
    dry_run: bool,
) -> Result<Answer, ApiError> {
    let body = call.json_body()?;
    if let Some(kind) = body.get("kind").and_then(Value::as_str)
        && kind != "Eviction"
    {
        return Err(ApiError::bad_request(format!(
            "the object provided is unrecognized (must be of type Eviction): {kind}"
        )));
    }
    if let Some(version) = body.get("apiVersion").and_then(Value::as_str)
        && !matches!(version, "policy/v1" | "policy/v1beta1")
    {
        return Err(ApiError::bad_request(format!(
            "no kind \"Eviction\" is registered for version {version:?}"
        )));
    }
    if let Some(name) = str_at(body, &["metadata", "name"])
        && name != key.2
    {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Eviction object",
        ));
    }
    // Like kube-apiserver (fieldValidation=Warn), unknown fields are dropped with a
    // warning. This matters: kube 5 sends EvictParams.delete_options as "delete_options",
    // which the real server ignores, so its dryRun never reaches the server.
    let warnings: Vec<String> = body
        .as_object()
        .into_iter()
        .flat_map(|map| map.keys())
        .filter(|k| {
            !matches!(
                k.as_str(),
                "apiVersion" | "kind" | "metadata" | "deleteOptions"
            )
        })
        .map(|k| format!("299 - \"unknown field \\\"{k}\\\"\""))
        .collect();
    let with_warnings = |mut error: ApiError| {
        error.warnings.extend(warnings.iter().cloned());
        error
    };
    let current = state
        .objects
        .get(key)
        .cloned()
        .ok_or_else(|| with_warnings(ApiError::not_found(target)))?;
    check_preconditions(
        target,
        &current,
        body.get("deleteOptions")
            .and_then(|o| o.get("preconditions")),
    )
    .map_err(with_warnings)?;
    if state
        .blocked_evictions
        .contains(&(key.1.clone(), key.2.clone()))
    {
        return Err(with_warnings(ApiError::disruption_budget()));
    }
    if !dry_run {
        state.objects.remove(key);
        state.next_revision();
        record(
            state,
            Verb::Evict,
            key,
            json!({"uid": current["metadata"]["uid"], "deleteOptions": body.get("deleteOptions")}),
        );
    }
    let mut answer = status::success(201, None);
    for warning in warnings {
        answer = answer.with_header("warning", warning);
    }
    Ok(answer)
}

fn patch_object(
    state: &mut State,
    target: &Target,
    key: &Key,
    call: &Call,
    dry_run: bool,
) -> Result<Answer, ApiError> {
    let (patch_type, patch) = read_patch(call)?;
    let current = state
        .objects
        .get(key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(target))?;
    let candidate = patch::apply(patch_type, &current, patch).map_err(patch_error)?;
    let (stored, changed) = update(state, target, key, &current, candidate, dry_run)?;
    if !dry_run {
        record(
            state,
            Verb::Patch,
            key,
            json!({
                "contentType": call.content_type,
                "patch": patch,
                "changed": changed,
                "generation": stored["metadata"]["generation"],
            }),
        );
    }
    Ok(Answer::json(200, &stored))
}

fn replace_object(
    state: &mut State,
    target: &Target,
    key: &Key,
    call: &Call,
    dry_run: bool,
) -> Result<Answer, ApiError> {
    let candidate = call.json_body()?.clone();
    let current = state
        .objects
        .get(key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(target))?;
    let (stored, changed) = update(state, target, key, &current, candidate, dry_run)?;
    if !dry_run {
        record(
            state,
            Verb::Replace,
            key,
            json!({"changed": changed, "generation": stored["metadata"]["generation"]}),
        );
    }
    Ok(Answer::json(200, &stored))
}

fn patch_scale(
    state: &mut State,
    target: &Target,
    key: &Key,
    call: &Call,
    dry_run: bool,
) -> Result<Answer, ApiError> {
    let (patch_type, patch) = read_patch(call)?;
    let current = state
        .objects
        .get(key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(target))?;
    let scale = patch::apply(patch_type, &scale_of(&current), patch).map_err(patch_error)?;
    set_scale(state, target, key, &current, &scale, dry_run)
}

fn replace_scale(
    state: &mut State,
    target: &Target,
    key: &Key,
    call: &Call,
    dry_run: bool,
) -> Result<Answer, ApiError> {
    let scale = call.json_body()?.clone();
    let current = state
        .objects
        .get(key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(target))?;
    set_scale(state, target, key, &current, &scale, dry_run)
}

/// Writes the `spec.replicas` of a (patched or replaced) Scale into its object.
fn set_scale(
    state: &mut State,
    target: &Target,
    key: &Key,
    current: &Value,
    scale: &Value,
    dry_run: bool,
) -> Result<Answer, ApiError> {
    serde_json::from_value::<k8s_openapi::api::autoscaling::v1::Scale>(scale.clone()).map_err(
        |e| {
            ApiError::bad_request(format!(
                "Scale in version \"v1\" cannot be handled as a Scale: {e}"
            ))
        },
    )?;
    if let Some(name) = str_at(scale, &["metadata", "name"])
        && name != key.2
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({name}) does not match the name on the URL ({})",
            key.2
        )));
    }
    if let Some(version) = str_at(scale, &["metadata", "resourceVersion"])
        && Some(version) != str_at(current, &["metadata", "resourceVersion"])
    {
        return Err(ApiError::conflict(target));
    }
    // Go decodes a missing replicas as 0, and so does the real server.
    let replicas = at(scale, &["spec", "replicas"])
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if replicas < 0 {
        return Err(ApiError::invalid_scale(
            &key.2,
            "spec.replicas",
            &format!("Invalid value: {replicas}: must be greater than or equal to 0"),
        ));
    }
    let from = spec_replicas(current);
    let mut candidate = current.clone();
    candidate["spec"]["replicas"] = json!(replicas);
    let (stored, changed) = update(state, target, key, current, candidate, dry_run)?;
    if !dry_run {
        record(
            state,
            Verb::Scale,
            key,
            json!({"from": from, "to": replicas, "changed": changed}),
        );
    }
    Ok(Answer::json(200, &scale_of(&stored)))
}

/// The flavour and body of a PATCH: 415 for other media types, 400 for a body that is not
/// JSON, 422 for an apply without `fieldManager`.
fn read_patch(call: &Call) -> Result<(PatchType, &Value), ApiError> {
    let patch_type = PatchType::from_content_type(call.content_type.as_deref())
        .ok_or_else(|| ApiError::unsupported_media_type(PATCH_MEDIA_TYPES))?;
    if patch_type == PatchType::Apply && call.query.get("fieldManager").is_none_or(|f| f.is_empty())
    {
        let target = Target {
            name: String::new(),
            ..Target::default()
        };
        let mut error = ApiError::invalid(
            &target,
            "fieldManager",
            "Required value: is required for apply patch",
        );
        error.message = "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".into();
        return Err(error);
    }
    match &call.json {
        Some(Ok(patch)) => Ok((patch_type, patch)),
        Some(Err(e)) => Err(ApiError::bad_request(format!("error decoding patch: {e}"))),
        None => Err(ApiError::bad_request(
            "error decoding patch: the body is empty",
        )),
    }
}

fn patch_error(error: PatchError) -> ApiError {
    match error {
        PatchError::Malformed(m) => ApiError::bad_request(format!("error decoding patch: {m}")),
        PatchError::NotApplicable(m) => ApiError::unprocessable(format!(
            "the server rejected our request due to an error in our request: {m}"
        )),
    }
}

/// Validates `candidate` as the next version of `current` and stores it (unless
/// `dry_run`). Returns what a client would read back and whether anything changed.
///
/// Server-managed fields are the server's: `uid`, `creationTimestamp`, `generation` and
/// `status` are taken from `current`, except that a differing `uid` or `resourceVersion`
/// in the candidate is a failed precondition (409), as on the real server.
fn update(
    state: &mut State,
    target: &Target,
    key: &Key,
    current: &Value,
    mut candidate: Value,
    dry_run: bool,
) -> Result<(Value, bool), ApiError> {
    let kind = key.0;
    if !candidate.is_object()
        || !candidate["metadata"].is_object() && !candidate["metadata"].is_null()
    {
        return Err(undecodable(kind, "the object has no metadata"));
    }
    match str_at(&candidate, &["metadata", "name"]) {
        Some(name) if name != key.2 => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({name}) does not match the name on the URL ({})",
                key.2
            )));
        }
        _ => candidate["metadata"]["name"] = json!(key.2),
    }
    match str_at(&candidate, &["metadata", "namespace"]) {
        Some(ns) if ns != key.1 => {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        _ => candidate["metadata"]["namespace"] = json!(key.1),
    }
    let uid = str_at(current, &["metadata", "uid"]);
    if let Some(sent) = str_at(&candidate, &["metadata", "uid"])
        && Some(sent) != uid
    {
        return Err(ApiError::precondition_failed(
            target,
            format!(
                "UID in precondition: {sent}, UID in object meta: {}",
                uid.unwrap_or_default()
            ),
        ));
    }
    if let Some(sent) = str_at(&candidate, &["metadata", "resourceVersion"])
        && Some(sent) != str_at(current, &["metadata", "resourceVersion"])
    {
        return Err(ApiError::conflict(target));
    }
    for field in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "generation",
        "deletionTimestamp",
    ] {
        match current["metadata"].get(field) {
            Some(value) => candidate["metadata"][field] = value.clone(),
            None => {
                if let Some(map) = candidate["metadata"].as_object_mut() {
                    map.remove(field);
                }
            }
        }
    }
    match current.get("status") {
        Some(status) => candidate["status"] = status.clone(),
        None => {
            if let Some(map) = candidate.as_object_mut() {
                map.remove("status");
            }
        }
    }
    for field in ["apiVersion", "kind"] {
        if candidate.get(field).is_none() {
            candidate[field] = current[field].clone();
        }
    }
    check_typed(kind, &candidate).map_err(|e| undecodable(kind, &e))?;
    validate(kind, target, Some(current), &candidate)?;
    if candidate == *current {
        return Ok((candidate, false));
    }
    if kind.is_scalable() && candidate.get("spec") != current.get("spec") {
        let generation = at(current, &["metadata", "generation"])
            .and_then(Value::as_i64)
            .unwrap_or(1);
        candidate["metadata"]["generation"] = json!(generation + 1);
    }
    converge_status(kind, &mut candidate);
    if !dry_run {
        candidate["metadata"]["resourceVersion"] = json!(state.next_revision());
        state.objects.insert(key.clone(), candidate.clone());
    }
    Ok((candidate, true))
}

/// The semantic checks of the real server's validation (422), for the fields a workload
/// repair touches.
fn validate(
    kind: Kind,
    target: &Target,
    current: Option<&Value>,
    candidate: &Value,
) -> Result<(), ApiError> {
    if kind == Kind::Pod {
        if let Some(current) = current {
            // Pods are immutable but for a few fields; container images are the one a
            // repair might touch.
            let mut before = current["spec"].clone();
            let mut after = candidate["spec"].clone();
            for spec in [&mut before, &mut after] {
                if let Some(containers) = spec.get_mut("containers").and_then(Value::as_array_mut) {
                    for container in containers {
                        container["image"] = Value::Null;
                    }
                }
            }
            if before != after {
                return Err(ApiError::invalid(
                    target,
                    "spec",
                    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`, \
                     `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, \
                     `spec.tolerations` (only additions to existing tolerations) or \
                     `spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
                ));
            }
        }
        return Ok(());
    }
    let replicas = at(candidate, &["spec", "replicas"]).and_then(Value::as_i64);
    if let Some(replicas) = replicas
        && replicas < 0
    {
        return Err(ApiError::invalid(
            target,
            "spec.replicas",
            &format!("Invalid value: {replicas}: must be greater than or equal to 0"),
        ));
    }
    let selector = at(candidate, &["spec", "selector"]);
    if let Some(current) = current
        && selector != at(current, &["spec", "selector"])
    {
        return Err(ApiError::invalid(
            target,
            "spec.selector",
            &format!(
                "Invalid value: {}: field is immutable",
                selector.cloned().unwrap_or(Value::Null)
            ),
        ));
    }
    if let Some(Value::Object(match_labels)) = selector.and_then(|s| s.get("matchLabels")) {
        let labels = at(candidate, &["spec", "template", "metadata", "labels"]);
        let matched = match_labels
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
        if !matched {
            return Err(ApiError::invalid(
                target,
                "spec.template.metadata.labels",
                &format!(
                    "Invalid value: {}: `selector` does not match template `labels`",
                    labels.cloned().unwrap_or(Value::Null)
                ),
            ));
        }
    }
    Ok(())
}

/// DeleteOptions `preconditions` (`uid`, `resourceVersion`): 409 when they do not hold.
fn check_preconditions(
    target: &Target,
    current: &Value,
    preconditions: Option<&Value>,
) -> Result<(), ApiError> {
    let Some(preconditions) = preconditions else {
        return Ok(());
    };
    for (field, label) in [("uid", "UID"), ("resourceVersion", "ResourceVersion")] {
        if let Some(expected) = preconditions.get(field).and_then(Value::as_str) {
            let actual = str_at(current, &["metadata", field]).unwrap_or_default();
            if expected != actual {
                return Err(ApiError::precondition_failed(
                    target,
                    format!(
                        "{label} in precondition: {expected}, {label} in object meta: {actual}"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// 400 for a body that does not decode as the kind, phrased as the real decoder does.
fn undecodable(kind: Kind, reason: &str) -> ApiError {
    let name = kind.kind_name();
    ApiError::bad_request(format!(
        "{name} in version \"v1\" cannot be handled as a {name}: {reason}"
    ))
}

fn qualified(kind: Kind) -> String {
    if kind.group().is_empty() {
        kind.plural().to_owned()
    } else {
        format!("{}.{}", kind.plural(), kind.group())
    }
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

fn version() -> Answer {
    let (major, minor) = VERSION;
    Answer::json(
        200,
        &json!({
            "major": major,
            "minor": minor,
            "gitVersion": format!("v{major}.{minor}.0-fake-kube"),
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z",
            "goVersion": "go1.25.0",
            "compiler": "gc",
            "platform": "linux/amd64",
        }),
    )
}

fn core_versions(host: &str) -> Answer {
    Answer::json(
        200,
        &json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
        }),
    )
}

fn apps_group_value() -> Value {
    let version = json!({"groupVersion": "apps/v1", "version": "v1"});
    json!({"name": "apps", "versions": [version], "preferredVersion": version})
}

fn groups() -> Answer {
    Answer::json(
        200,
        &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [apps_group_value()]}),
    )
}

fn apps_group() -> Answer {
    let mut group = apps_group_value();
    group["kind"] = json!("APIGroup");
    group["apiVersion"] = json!("v1");
    Answer::json(200, &group)
}

fn resources(group_version: &str) -> Answer {
    let verbs = json!(["create", "delete", "get", "list", "patch", "update"]);
    let resource = |kind: Kind, short: &str| {
        json!({
            "name": kind.plural(),
            "singularName": kind.kind_name().to_ascii_lowercase(),
            "namespaced": true,
            "kind": kind.kind_name(),
            "verbs": verbs,
            "shortNames": [short],
        })
    };
    let scale = |kind: Kind| {
        json!({
            "name": format!("{}/scale", kind.plural()),
            "singularName": "",
            "namespaced": true,
            "group": "autoscaling",
            "version": "v1",
            "kind": "Scale",
            "verbs": ["get", "patch", "update"],
        })
    };
    let list = if group_version == "v1" {
        vec![
            resource(Kind::Pod, "po"),
            json!({
                "name": "pods/eviction",
                "singularName": "",
                "namespaced": true,
                "group": "policy",
                "version": "v1",
                "kind": "Eviction",
                "verbs": ["create"],
            }),
        ]
    } else {
        vec![
            resource(Kind::Deployment, "deploy"),
            scale(Kind::Deployment),
            resource(Kind::StatefulSet, "sts"),
            scale(Kind::StatefulSet),
        ]
    };
    Answer::json(
        200,
        &json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": group_version,
            "resources": list,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_route_to_their_resources() {
        assert_eq!(
            route("/api/v1/namespaces/a/pods/b/eviction"),
            Route::Eviction {
                namespace: "a".into(),
                name: "b".into()
            }
        );
        assert_eq!(
            route("/apis/apps/v1/namespaces/a/statefulsets/db/scale"),
            Route::Scale {
                kind: Kind::StatefulSet,
                namespace: "a".into(),
                name: "db".into()
            }
        );
        assert_eq!(
            route("/apis/apps/v1/deployments"),
            Route::Collection {
                kind: Kind::Deployment,
                namespace: None
            }
        );
        assert_eq!(route("/api/v1/namespaces/a/deployments/x"), Route::Unknown);
        assert_eq!(route("/apis/apps/v1/namespaces/a/pods/x"), Route::Unknown);
        assert_eq!(route("/api/v1/namespaces/a/pods/x/scale"), Route::Unknown);
    }
}
