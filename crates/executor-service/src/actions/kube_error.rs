//! How a failed Kubernetes call becomes an [`ActionFailure`]: a stable code, the HTTP status
//! the executor answers with, a message an operator can act on, and — the part that matters
//! most — whether the change may have happened anyway.
//!
//! # Status and code mapping
//!
//! Statuses the *caller* can act on keep their meaning (404: the target is gone, 409: the
//! object changed or a precondition failed, 429: try again later). Everything else is the
//! cluster's or the executor's own trouble and answers 502 (the upstream refused or failed),
//! 503 (the API server cannot be reached or is overloaded: retry later) or 504 (no answer
//! in time).
//!
//! | Kubernetes answer                       | code                     | HTTP | outcome            |
//! |-----------------------------------------|--------------------------|------|--------------------|
//! | 404 `NotFound`                          | `kube_not_found`         | 404  | known: no change   |
//! | 401 / 403 `Forbidden` (RBAC hint)       | `kube_forbidden`         | 502  | known: no change   |
//! | 409 `Conflict` / `AlreadyExists`        | `kube_conflict`          | 409  | known: no change   |
//! | 400 `BadRequest` / 422 `Invalid`        | `kube_invalid`           | 502  | known: no change   |
//! | 429 (on eviction: a PodDisruptionBudget) | `kube_too_many_requests` | 429 | known: no change   |
//! | 503                                     | `kube_unavailable`       | 503  | known: no change   |
//! | 500 and other 5xx                       | `kube_error`             | 502  | known: no change   |
//! | 502 / 504 `Timeout`, read               | `kube_unavailable` / `kube_timeout` | 503 / 504 | known |
//! | 502 / 504 `Timeout`, mutating call      | `kube_error` / `kube_timeout` | 502 / 504 | **unknown** |
//! | our deadline expires, read              | `kube_timeout`           | 504  | known: no change   |
//! | our deadline expires, mutating call     | `kube_timeout`           | 504  | **unknown**        |
//! | connection never made (refused, DNS, TLS, connect timeout) | `kube_unavailable` | 503 | known |
//! | any other transport error, read         | `kube_unavailable`       | 503  | known: no change   |
//! | any other transport error, mutating     | `kube_unavailable` (`kube_timeout` if a socket timed out) | 503 (504) | **unknown** |
//! | 2xx whose body cannot be read, mutating | `kube_error`             | 502  | **unknown**        |
//! | credentials could not be loaded         | `kube_forbidden`         | 502  | known: no change   |
//! | precondition of ours (`expectedReplicas`) | `precondition_failed`  | 409  | known: no change   |
//!
//! # Why "unknown" is decided this way (fail closed)
//!
//! An unknown outcome is audited as such and never retried, so calling something unknown
//! that in fact failed costs an operator a look; calling something failed that in fact
//! happened makes the audit lie and invites a blind retry. So for a call that changes the
//! cluster, only answers that prove the API server refused the request before acting
//! (a `Status` with a 4xx code, 500 or 503) and transport errors that prove the request was
//! never written (the connection could not be made) count as "nothing changed". A 504 or
//! `reason: Timeout` is Kubernetes saying the operation may still complete; a 502 is a proxy
//! that lost the answer; hyper's other errors do not say whether the request left.
//!
//! A 500 counts as "nothing changed": kube-apiserver answers `InternalError` when a
//! request fails inside it, and a storage write that succeeded is answered with the object.
//! The rare 500 from encoding the answer after a write is accepted as a known risk rather
//! than making every 500 an unknown outcome.
//!
//! "Read" in the table includes dry runs: a server-side dry run (`dryRun=All`) never
//! persists anything, so its failures are
//! always "known: nothing changed" — see [`KubeCall::mutating`].
//!
//! Messages carry the API server's own `Status.message` and transport error texts; never a
//! header, token or kubeconfig content (credential loading errors get a fixed text, as
//! exec-plugin output may hold secrets).

use std::future::Future;
use std::time::Duration;

use super::ActionFailure;

/// The call being made, for messages, RBAC hints and the "did it happen?" decision.
#[derive(Clone, Copy, Debug)]
pub struct KubeCall<'a> {
    /// RBAC verb the executor needs (`delete`, `create`, `get`, `patch`).
    pub verb: &'static str,
    /// RBAC resource, with subresource (`pods`, `pods/eviction`, `deployments/scale`).
    pub resource: &'static str,
    /// RBAC API group (`""` for the core group, `apps`).
    pub api_group: &'static str,
    /// Namespace of the object.
    pub namespace: &'a str,
    /// Name of the object.
    pub name: &'a str,
    /// Whether the call may change the cluster: a real write, not a read and not a dry run.
    /// Only such calls can have an unknown outcome.
    pub mutating: bool,
}

impl KubeCall<'_> {
    /// `pod prod/api-1`: the singular of the resource (every resource the actions touch
    /// forms its plural with an `s`).
    fn object(&self) -> String {
        let plural = self.resource.split('/').next().unwrap_or(self.resource);
        let kind = plural.strip_suffix('s').unwrap_or(plural);
        format!("{kind} {}/{}", self.namespace, self.name)
    }

    fn rbac_hint(&self) -> String {
        let group = if self.api_group.is_empty() {
            "the core API group (\"\")".to_owned()
        } else {
            format!("API group `{}`", self.api_group)
        };
        format!(
            "grant `{}` on `{}` in {group}, namespace `{}`, to the executor's ServiceAccount \
             (a Role and RoleBinding)",
            self.verb, self.resource, self.namespace
        )
    }

    fn unchanged(&self) -> &'static str {
        if self.mutating {
            "; nothing was changed"
        } else {
            ""
        }
    }
}

/// Runs `call` under `timeout` and maps any failure (see the module docs).
///
/// The deadline is ours rather than only the HTTP client's so that a stalled connection,
/// a slow TLS handshake and a slow answer all end at the same, configured time.
pub async fn call<T, F>(op: &KubeCall<'_>, timeout: Duration, call: F) -> Result<T, ActionFailure>
where
    F: Future<Output = Result<T, kube::Error>>,
{
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(from_kube(op, &err)),
        Err(_elapsed) => Err(timed_out(op, timeout)),
    }
}

/// Our own deadline expired before an answer came.
pub fn timed_out(op: &KubeCall<'_>, timeout: Duration) -> ActionFailure {
    let secs = timeout.as_secs_f64();
    if op.mutating {
        ActionFailure {
            outcome_unknown: true,
            code: "kube_timeout",
            message: format!(
                "no answer from the Kubernetes API within {secs}s to `{}` {}: the change may \
                 or may not have happened; check the object before trying again",
                op.verb,
                op.object()
            ),
            http_status: 504,
        }
    } else {
        ActionFailure {
            outcome_unknown: false,
            code: "kube_timeout",
            message: format!(
                "no answer from the Kubernetes API within {secs}s to `{}` {}; nothing was \
                 changed",
                op.verb,
                op.object()
            ),
            http_status: 504,
        }
    }
}

/// Maps a `kube::Error` from `op` (see the module docs for the table).
pub fn from_kube(op: &KubeCall<'_>, err: &kube::Error) -> ActionFailure {
    match err {
        kube::Error::Api(status) => from_status(op, status),
        kube::Error::HyperError(_) | kube::Error::Service(_) => from_transport(op, err),
        // The API server answered 2xx (errors become `Api` first), so a write went through
        // but its answer could not be read.
        kube::Error::SerdeError(_) | kube::Error::FromUtf8(_) | kube::Error::ReadEvents(_) => {
            ActionFailure {
                outcome_unknown: op.mutating,
                code: "kube_error",
                message: format!(
                    "the Kubernetes API accepted `{}` {} but its answer could not be read \
                     ({err}){}",
                    op.verb,
                    op.object(),
                    if op.mutating {
                        ": the change has probably happened; check the object before trying again"
                    } else {
                        ""
                    }
                ),
                http_status: 502,
            }
        }
        kube::Error::Auth(_) => ActionFailure {
            outcome_unknown: false,
            code: "kube_forbidden",
            message: format!(
                "could not load credentials for the Kubernetes API before `{}` {}; check the \
                 executor's kubeconfig or ServiceAccount token{}",
                op.verb,
                op.object(),
                op.unchanged()
            ),
            http_status: 502,
        },
        // Request building and configuration errors happen before anything is sent.
        other => ActionFailure {
            outcome_unknown: false,
            code: "kube_error",
            message: format!(
                "could not send `{}` {} to the Kubernetes API: {other}{}",
                op.verb,
                op.object(),
                op.unchanged()
            ),
            http_status: 502,
        },
    }
}

fn from_status(op: &KubeCall<'_>, status: &kube::core::Status) -> ActionFailure {
    // `code` is 0 when the body parsed as a Status without one; the reason still tells.
    let code = match (status.code, status.reason.as_str()) {
        (0, "NotFound") => 404,
        (0, "Unauthorized") => 401,
        (0, "Forbidden") => 403,
        (0, "Conflict" | "AlreadyExists") => 409,
        (0, "Invalid") => 422,
        (0, "BadRequest") => 400,
        (0, "TooManyRequests") => 429,
        (0, "ServiceUnavailable") => 503,
        (0, "Timeout") => 504,
        (code, _) => code,
    };
    let server = if status.message.is_empty() {
        if status.reason.is_empty() {
            format!("HTTP {code}")
        } else {
            status.reason.clone()
        }
    } else {
        status.message.clone()
    };
    let what = format!("`{}` {}", op.verb, op.object());
    let failure = |code: &'static str, http_status: u16, message: String| ActionFailure {
        outcome_unknown: false,
        code,
        message,
        http_status,
    };
    match code {
        404 => failure(
            "kube_not_found",
            404,
            format!(
                "{} does not exist ({server}){}",
                op.object(),
                op.unchanged()
            ),
        ),
        401 => failure(
            "kube_forbidden",
            502,
            format!(
                "the Kubernetes API rejected the executor's credentials for {what} ({server}); \
                 check its kubeconfig or ServiceAccount token{}",
                op.unchanged()
            ),
        ),
        403 => failure(
            "kube_forbidden",
            502,
            format!(
                "the Kubernetes API forbids {what} ({server}); {}{}",
                op.rbac_hint(),
                op.unchanged()
            ),
        ),
        409 => failure(
            "kube_conflict",
            409,
            format!(
                "conflict on {what}: the object changed meanwhile ({server}){}",
                op.unchanged()
            ),
        ),
        400 | 422 => failure(
            "kube_invalid",
            502,
            format!(
                "the Kubernetes API refused {what} as invalid ({server}){}",
                op.unchanged()
            ),
        ),
        429 if op.resource == "pods/eviction" && is_disruption_budget(status) => failure(
            "kube_too_many_requests",
            429,
            format!(
                "eviction of {} blocked by a PodDisruptionBudget ({server}); try again when \
                 enough of its peers are ready{}",
                op.object(),
                op.unchanged()
            ),
        ),
        429 => failure(
            "kube_too_many_requests",
            429,
            format!(
                "the Kubernetes API is throttling requests ({server}); try again later{}",
                op.unchanged()
            ),
        ),
        503 => failure(
            "kube_unavailable",
            503,
            format!(
                "the Kubernetes API is unavailable for {what} ({server}){}",
                op.unchanged()
            ),
        ),
        // A gateway timeout (or Kubernetes' own `Timeout`, code 504) means the operation
        // may still complete.
        504 => ActionFailure {
            outcome_unknown: op.mutating,
            code: "kube_timeout",
            message: if op.mutating {
                format!(
                    "the Kubernetes API timed out on {what} ({server}): the change may or may \
                     not have happened; check the object before trying again"
                )
            } else {
                format!("the Kubernetes API timed out on {what} ({server}); nothing was changed")
            },
            http_status: 504,
        },
        // A proxy in front of the API server lost the upstream's answer: a write may have
        // landed.
        502 if op.mutating => ActionFailure {
            outcome_unknown: true,
            code: "kube_error",
            message: format!(
                "a proxy in front of the Kubernetes API failed during {what} ({server}): the \
                 change may or may not have happened; check the object before trying again"
            ),
            http_status: 502,
        },
        502 => failure(
            "kube_unavailable",
            503,
            format!("the Kubernetes API is unreachable behind its proxy for {what} ({server})"),
        ),
        _ => failure(
            "kube_error",
            502,
            format!(
                "the Kubernetes API failed {what} with HTTP {code} ({server}){}",
                op.unchanged()
            ),
        ),
    }
}

/// Whether a 429 is a PodDisruptionBudget refusing an eviction (the API server names the
/// cause `DisruptionBudget`) rather than API priority-and-fairness throttling.
fn is_disruption_budget(status: &kube::core::Status) -> bool {
    status
        .details
        .as_ref()
        .is_some_and(|d| d.causes.iter().any(|c| c.reason == "DisruptionBudget"))
        || status.message.contains("disruption budget")
}

fn from_transport(op: &KubeCall<'_>, err: &kube::Error) -> ActionFailure {
    let detail = error_chain(err);
    if !op.mutating || never_sent(err) {
        return ActionFailure {
            outcome_unknown: false,
            code: "kube_unavailable",
            message: format!(
                "cannot reach the Kubernetes API for `{}` {} ({detail}){}",
                op.verb,
                op.object(),
                op.unchanged()
            ),
            http_status: 503,
        };
    }
    let code = if timed_out_in_transport(err) {
        "kube_timeout"
    } else {
        "kube_unavailable"
    };
    ActionFailure {
        outcome_unknown: true,
        code,
        message: format!(
            "the connection to the Kubernetes API failed during `{}` {} ({detail}): the change \
             may or may not have happened; check the object before trying again",
            op.verb,
            op.object()
        ),
        http_status: if code == "kube_timeout" { 504 } else { 503 },
    }
}

/// Whether a transport error proves that no byte of the request reached the server.
///
/// hyper-util wraps every failure to open a connection (refused, DNS, TLS handshake,
/// connect timeout) in an error displayed as `client error (Connect)`; the type is not ours
/// to name, so the text is matched. A refused connection is also recognised by its
/// `io::ErrorKind`. Anything else (a reset, an early close, a read timeout) may happen after
/// the request was written, so it does not count.
fn never_sent(err: &kube::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.to_string().starts_with("client error (Connect)") {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::AddrNotAvailable
            )
        {
            return true;
        }
        source = e.source();
    }
    false
}

fn timed_out_in_transport(err: &kube::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// `outer: inner: innermost`, without repeating a text its source already says, capped so a
/// hostile or verbose peer cannot flood the audit row.
fn error_chain(err: &kube::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    let mut joined = parts.join(": ");
    if joined.len() > 300 {
        let mut cut = 300;
        while !joined.is_char_boundary(cut) {
            cut -= 1;
        }
        joined.truncate(cut);
        joined.push('…');
    }
    joined
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(mutating: bool) -> KubeCall<'static> {
        KubeCall {
            verb: "delete",
            resource: "pods",
            api_group: "",
            namespace: "prod",
            name: "api-1",
            mutating,
        }
    }

    fn api(code: u16, reason: &str) -> kube::Error {
        let mut status = kube::core::Status::failure("boom", reason);
        status.code = code;
        kube::Error::Api(Box::new(status))
    }

    #[test]
    fn status_codes_map_to_stable_codes_and_known_outcomes() {
        let table = [
            (404, "NotFound", "kube_not_found", 404),
            (403, "Forbidden", "kube_forbidden", 502),
            (401, "Unauthorized", "kube_forbidden", 502),
            (409, "Conflict", "kube_conflict", 409),
            (422, "Invalid", "kube_invalid", 502),
            (400, "BadRequest", "kube_invalid", 502),
            (429, "TooManyRequests", "kube_too_many_requests", 429),
            (500, "InternalError", "kube_error", 502),
            (503, "ServiceUnavailable", "kube_unavailable", 503),
            (0, "NotFound", "kube_not_found", 404),
        ];
        for (code, reason, want, http) in table {
            let f = from_kube(&op(true), &api(code, reason));
            assert_eq!(
                (f.code, f.http_status, f.outcome_unknown),
                (want, http, false),
                "{code}"
            );
        }
    }

    #[test]
    fn gateway_timeout_on_a_write_is_unknown_but_on_a_read_is_not() {
        let write = from_kube(&op(true), &api(504, "Timeout"));
        assert!(write.outcome_unknown);
        assert_eq!(write.code, "kube_timeout");
        let read = from_kube(&op(false), &api(504, "Timeout"));
        assert!(!read.outcome_unknown);
    }

    #[test]
    fn forbidden_names_verb_resource_and_namespace() {
        let f = from_kube(&op(true), &api(403, "Forbidden"));
        assert!(
            f.message.contains("grant `delete` on `pods`"),
            "{}",
            f.message
        );
        assert!(f.message.contains("namespace `prod`"), "{}", f.message);
    }

    #[test]
    fn our_deadline_on_a_write_is_unknown() {
        let f = timed_out(&op(true), Duration::from_millis(250));
        assert!(f.outcome_unknown);
        assert_eq!((f.code, f.http_status), ("kube_timeout", 504));
        assert!(!timed_out(&op(false), Duration::from_secs(1)).outcome_unknown);
    }

    #[test]
    fn refused_connection_is_known_even_for_a_write() {
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let f = from_kube(&op(true), &kube::Error::Service(Box::new(io)));
        assert_eq!((f.code, f.outcome_unknown), ("kube_unavailable", false));
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let f = from_kube(&op(true), &kube::Error::Service(Box::new(reset)));
        assert_eq!((f.code, f.outcome_unknown), ("kube_unavailable", true));
    }
}
