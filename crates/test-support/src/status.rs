//! `metav1.Status` answers, shaped as kube-apiserver writes them.
//!
//! kube-rs turns any 4xx/5xx body that parses as a `Status` into `kube::Error::Api`, and
//! executors branch on its `code` and `reason`; a body that does not parse becomes a
//! reconstructed `Status` with the reason "Failed to parse error data". So every error the
//! fake answers goes through [`ApiError`], whose constructors copy the real server's
//! reasons, messages and `details`.

use http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};

use crate::objects::Kind;

/// The media type of every answer but pod logs.
const JSON: &str = "application/json";

/// The media type of pod logs (`GET …/pods/{name}/log`), as the kubelet answers them.
const TEXT: &str = "text/plain";

/// The body limit of kube-apiserver (3 MiB); larger bodies are refused with 413.
pub(crate) const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// A finished HTTP answer, kept as plain data so a delayed request can be produced on a
/// detached task and still be recorded when the client has already gone.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// HTTP status code.
    pub code: u16,
    /// The body: serialised JSON, or plain text for pod logs.
    pub body: Vec<u8>,
    /// `Content-Type` of the body.
    pub content_type: &'static str,
    /// Extra headers (`Retry-After`, `Warning`).
    pub headers: Vec<(&'static str, String)>,
}

impl Answer {
    /// `value` as JSON with status `code`.
    pub(crate) fn json(code: u16, value: &impl Serialize) -> Answer {
        // Serialising a `Value` or one of our derived structs cannot fail; an empty body
        // would surface as a parse error in the client, which is the honest symptom.
        let body = serde_json::to_vec(value).unwrap_or_default();
        Answer {
            code,
            body,
            content_type: JSON,
            headers: Vec::new(),
        }
    }

    /// `body` as `text/plain` with status `code` (pod logs; the bytes are sent as they are,
    /// so a cut through a UTF-8 sequence reaches the client as the real server sends it).
    pub(crate) fn text(code: u16, body: Vec<u8>) -> Answer {
        Answer {
            code,
            body,
            content_type: TEXT,
            headers: Vec::new(),
        }
    }

    /// Adds a header.
    pub(crate) fn with_header(mut self, name: &'static str, value: String) -> Answer {
        self.headers.push((name, value));
        self
    }

    /// Converts into an axum response.
    pub(crate) fn into_response(self) -> axum::response::Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut builder = axum::response::Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, self.content_type);
        for (name, value) in self.headers {
            builder = builder.header(name, value);
        }
        builder
            .body(axum::body::Body::from(self.body))
            .unwrap_or_else(|_| {
                let mut fallback = axum::response::Response::new(axum::body::Body::empty());
                *fallback.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                fallback
            })
    }
}

/// The wire shape of `metav1.Status`, fields in the order kube-apiserver writes them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusBody<'a> {
    kind: &'static str,
    api_version: &'static str,
    metadata: Value,
    status: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    message: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a Value>,
    code: u16,
}

/// A `Status` with `status: Success`, as answered by evictions (201) and by deletes of
/// resources that do not return the deleted object.
pub(crate) fn success(code: u16, details: Option<Value>) -> Answer {
    Answer::json(
        code,
        &StatusBody {
            kind: "Status",
            api_version: "v1",
            metadata: json!({}),
            status: "Success",
            message: "",
            reason: "",
            details: details.as_ref(),
            code,
        },
    )
}

/// What a request was about, for error messages and `details`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Target {
    /// The resource type, when the path named a known one.
    pub kind: Option<Kind>,
    /// A subresource (`scale`, `eviction`).
    pub subresource: Option<&'static str>,
    /// Namespace from the path.
    pub namespace: Option<String>,
    /// Object name from the path (empty for lists).
    pub name: String,
    /// RBAC verb of the request (`get`, `list`, `delete`, `patch`, `update`, `create`).
    pub verb: &'static str,
}

impl Target {
    /// `pods`, `deployments.apps`: how kube-apiserver names a resource in messages.
    fn qualified(&self) -> String {
        match self.kind {
            Some(kind) if kind.group().is_empty() => kind.plural().to_owned(),
            Some(kind) => format!("{}.{}", kind.plural(), kind.group()),
            None => "resource".to_owned(),
        }
    }

    /// `details` as the real server fills it for errors about one object.
    fn details(&self) -> Value {
        let mut details = serde_json::Map::new();
        if !self.name.is_empty() {
            details.insert("name".into(), json!(self.name));
        }
        if let Some(kind) = self.kind {
            if !kind.group().is_empty() {
                details.insert("group".into(), json!(kind.group()));
            }
            details.insert("kind".into(), json!(kind.plural()));
        }
        Value::Object(details)
    }
}

/// An error answer: a `metav1.Status` with `status: Failure`.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    /// HTTP status code, also written as `code` in the body.
    pub code: u16,
    /// `reason` (`NotFound`, `Conflict`, ...); empty when the real server leaves it empty.
    pub reason: &'static str,
    /// Human-readable `message`.
    pub message: String,
    /// `details`, when the real server writes them.
    pub details: Option<Value>,
    /// Seconds for a `Retry-After` header (and `details.retryAfterSeconds`).
    pub retry_after: Option<u32>,
    /// `Warning` headers (RFC 7234 style, as kube-apiserver writes them).
    pub warnings: Vec<String>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
            retry_after: None,
            warnings: Vec::new(),
        }
    }

    fn with_details(mut self, details: Value) -> ApiError {
        self.details = Some(details);
        self
    }

    /// Sets `Retry-After`, mirrored into `details.retryAfterSeconds` as the real server does.
    pub(crate) fn with_retry_after(mut self, seconds: Option<u32>) -> ApiError {
        if let Some(seconds) = seconds {
            self.retry_after = Some(seconds);
            let mut details = self.details.take().unwrap_or_else(|| json!({}));
            details["retryAfterSeconds"] = json!(seconds);
            self.details = Some(details);
        }
        self
    }

    /// 404 for a named object: `pods "x" not found`.
    pub(crate) fn not_found(target: &Target) -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            format!("{} \"{}\" not found", target.qualified(), target.name),
        )
        .with_details(target.details())
    }

    /// 404 for a path the server does not serve.
    pub(crate) fn no_such_path() -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(json!({}))
    }

    /// 403 as RBAC writes it.
    pub(crate) fn forbidden(target: &Target) -> ApiError {
        let resource = match (target.kind, target.subresource) {
            (Some(kind), Some(sub)) => format!("{}/{}", kind.plural(), sub),
            (Some(kind), None) => kind.plural().to_owned(),
            (None, _) => "resource".to_owned(),
        };
        let group = target.kind.map(Kind::group).unwrap_or_default();
        let scope = match &target.namespace {
            Some(ns) => format!(" in the namespace \"{ns}\""),
            None => " at the cluster scope".to_owned(),
        };
        let subject = "User \"system:serviceaccount:warden:warden-executor\"";
        let prefix = if target.name.is_empty() {
            format!("{} is forbidden", target.qualified())
        } else {
            format!("{} \"{}\" is forbidden", target.qualified(), target.name)
        };
        ApiError::new(
            403,
            "Forbidden",
            format!(
                "{prefix}: {subject} cannot {} resource \"{resource}\" in API group \"{group}\"{scope}",
                target.verb
            ),
        )
        .with_details(target.details())
    }

    /// 409 for a stale `resourceVersion`.
    pub(crate) fn conflict(target: &Target) -> ApiError {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{}\": the object has been modified; \
                 please apply your changes to the latest version and try again",
                target.qualified(),
                target.name
            ),
        )
        .with_details(target.details())
    }

    /// 409 for a failed delete precondition (`uid` or `resourceVersion`).
    pub(crate) fn precondition_failed(target: &Target, message: String) -> ApiError {
        ApiError::new(409, "Conflict", format!("Precondition failed: {message}"))
            .with_details(target.details())
    }

    /// 422 with one field error: `Deployment.apps "x" is invalid: spec.replicas: ...`.
    pub(crate) fn invalid(target: &Target, field: &str, detail: &str) -> ApiError {
        let kind = target.kind.map(Kind::kind_name).unwrap_or("Object");
        let group = target.kind.map(Kind::group).unwrap_or_default();
        let qualified_kind = if group.is_empty() {
            kind.to_owned()
        } else {
            format!("{kind}.{group}")
        };
        let mut details = json!({
            "name": target.name,
            "kind": kind,
            "causes": [{"reason": "FieldValueInvalid", "message": detail, "field": field}],
        });
        if !group.is_empty() {
            details["group"] = json!(group);
        }
        ApiError::new(
            422,
            "Invalid",
            format!(
                "{qualified_kind} \"{}\" is invalid: {field}: {detail}",
                target.name
            ),
        )
        .with_details(details)
    }

    /// 422 for a Scale: `Scale.autoscaling "x" is invalid: spec.replicas: ...`.
    pub(crate) fn invalid_scale(name: &str, field: &str, detail: &str) -> ApiError {
        ApiError::new(
            422,
            "Invalid",
            format!("Scale.autoscaling \"{name}\" is invalid: {field}: {detail}"),
        )
        .with_details(json!({
            "name": name,
            "group": "autoscaling",
            "kind": "Scale",
            "causes": [{"reason": "FieldValueInvalid", "message": detail, "field": field}],
        }))
    }

    /// 422 for a patch that decodes but cannot be applied (a failed JSON-patch `test`).
    pub(crate) fn unprocessable(message: String) -> ApiError {
        ApiError::new(422, "Invalid", message)
    }

    /// 400 for an undecodable body or a body that contradicts the URL.
    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    /// 405 for a verb the resource does not support.
    pub(crate) fn method_not_allowed() -> ApiError {
        ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
        .with_details(json!({}))
    }

    /// 413 for a body over [`MAX_BODY_BYTES`].
    pub(crate) fn too_large() -> ApiError {
        ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {MAX_BODY_BYTES}"),
        )
    }

    /// 415 for a body in a media type the endpoint does not decode.
    pub(crate) fn unsupported_media_type(accepted: &str) -> ApiError {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {accepted}"
            ),
        )
    }

    /// 429 as a PodDisruptionBudget refusal of an eviction is written: no `Retry-After`
    /// (the real server passes 0 seconds), a `DisruptionBudget` cause.
    pub(crate) fn disruption_budget() -> ApiError {
        ApiError::new(
            429,
            "TooManyRequests",
            "Cannot evict pod as it would violate the pod's disruption budget.",
        )
        .with_details(json!({"causes": [{
            "reason": "DisruptionBudget",
            "message": "The disruption budget fake-kube-pdb needs 1 healthy pods and has 1 currently",
        }]}))
    }

    /// 500 with the message wrapped as the real server wraps internal errors.
    pub(crate) fn internal(message: &str) -> ApiError {
        ApiError::new(
            500,
            "InternalError",
            format!("Internal error occurred: {message}"),
        )
        .with_details(json!({"causes": [{"message": message}]}))
    }

    /// The answer for an injected fault with status `code`, phrased for `target`.
    pub(crate) fn for_fault(code: u16, target: &Target) -> ApiError {
        match code {
            400 => ApiError::bad_request("the request was refused by an injected fault"),
            401 => ApiError::new(401, "Unauthorized", "Unauthorized"),
            403 => ApiError::forbidden(target),
            404 => ApiError::not_found(target),
            405 => ApiError::method_not_allowed(),
            409 => ApiError::conflict(target),
            410 => ApiError::new(
                410,
                "Expired",
                "too old resource version: 1 (2)",
            ),
            413 => ApiError::too_large(),
            415 => ApiError::unsupported_media_type("application/json"),
            422 => ApiError::invalid(
                target,
                "metadata.annotations",
                "Invalid value: \"fake-kube\": refused by an injected fault",
            ),
            429 if target.subresource == Some("eviction") => ApiError::disruption_budget(),
            429 => ApiError::new(
                429,
                "TooManyRequests",
                "Too many requests, please try again later.",
            )
            .with_details(json!({})),
            500 => ApiError::internal("an injected fault"),
            503 => ApiError::new(
                503,
                "ServiceUnavailable",
                "the server is currently unable to handle the request",
            )
            .with_details(json!({})),
            504 => ApiError::new(
                504,
                "Timeout",
                "Timeout: request did not complete within requested timeout - context deadline exceeded",
            )
            .with_details(json!({})),
            other => ApiError::new(
                other,
                "",
                format!(
                    "an error on the server (\"fake-kube injected {other}\") has prevented the request from succeeding"
                ),
            )
            .with_details(json!({"causes": [{"reason": "UnexpectedServerResponse", "message": "fake-kube"}]})),
        }
    }

    /// The `Status` body and headers of this error.
    pub(crate) fn into_answer(self) -> Answer {
        let mut answer = Answer::json(
            self.code,
            &StatusBody {
                kind: "Status",
                api_version: "v1",
                metadata: json!({}),
                status: "Failure",
                message: &self.message,
                reason: self.reason,
                details: self.details.as_ref(),
                code: self.code,
            },
        );
        if let Some(seconds) = self.retry_after {
            answer = answer.with_header("retry-after", seconds.to_string());
        }
        for warning in self.warnings {
            answer = answer.with_header("warning", warning);
        }
        answer
    }
}

impl From<ApiError> for Answer {
    fn from(error: ApiError) -> Answer {
        error.into_answer()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn not_found_has_the_real_servers_shape() {
        let target = Target {
            kind: Some(Kind::Pod),
            namespace: Some("default".into()),
            name: "x".into(),
            verb: "get",
            ..Target::default()
        };
        let answer = ApiError::not_found(&target).into_answer();
        let body: Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(
            body,
            json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
                   "message":"pods \"x\" not found","reason":"NotFound",
                   "details":{"name":"x","kind":"pods"},"code":404})
        );
        let text = String::from_utf8(answer.body).unwrap();
        assert!(
            text.starts_with(r#"{"kind":"Status","apiVersion":"v1""#),
            "{text}"
        );
    }

    #[test]
    fn apps_resources_are_qualified_with_their_group() {
        let target = Target {
            kind: Some(Kind::Deployment),
            name: "api".into(),
            ..Target::default()
        };
        assert_eq!(
            ApiError::not_found(&target).message,
            "deployments.apps \"api\" not found"
        );
    }
}
