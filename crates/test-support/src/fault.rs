//! Injected faults: errors and slowness on chosen requests.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A fault to inject into the Kubernetes API (never into `/_fake/`).
///
/// Faults are matched before the normal handler, in the order they were injected; the
/// first that matches and still has uses left applies. Build one with struct update
/// syntax:
///
/// ```
/// use std::time::Duration;
/// use warden_test_support::Fault;
///
/// // The first PATCH to any /scale answers 409 Conflict; later ones succeed.
/// let conflict = Fault {
///     method: Some("PATCH".into()),
///     path_contains: Some("/scale".into()),
///     status: Some(409),
///     times: Some(1),
///     ..Fault::default()
/// };
/// // Every DELETE of this pod is applied 4 s late (the client may have given up by then).
/// let slow = Fault {
///     method: Some("DELETE".into()),
///     path_contains: Some("pods/api-pod-12345".into()),
///     delay: Some(Duration::from_secs(4)),
///     ..Fault::default()
/// };
/// # let _ = (conflict, slow);
/// ```
///
/// Over the admin API (`POST /_fake/faults`) the same fault is JSON with camelCase names
/// and the delay in milliseconds: `{"method": "DELETE", "pathContains": "pods/x",
/// "delayMs": 4000, "status": 504, "times": 1, "applyMutation": true}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Fault {
    /// Only requests with this HTTP method (any case); `None` matches every method.
    pub method: Option<String>,
    /// Only requests whose path (without the query) contains this text; `None` matches
    /// every path.
    pub path_contains: Option<String>,
    /// Answer this status with a `metav1.Status` body phrased as the real server phrases
    /// it (403 Forbidden, 404 NotFound, 409 Conflict, 422 Invalid, 429 TooManyRequests,
    /// 500 InternalError, 503 ServiceUnavailable, 504 Timeout, ...). `None`: handle the
    /// request normally (after `delay`).
    pub status: Option<u16>,
    /// Wait this long before handling (or failing) the request. The wait and the handling
    /// run on a detached task, so the change still lands when the client has timed out
    /// and gone away, as it does on a slow real API server.
    #[serde(rename = "delayMs", with = "millis")]
    pub delay: Option<Duration>,
    /// How many requests this fault applies to; `None` means every matching request.
    pub times: Option<usize>,
    /// With `status`: run the normal handler first, so the change happens, and answer the
    /// error anyway: a 504 or a dropped answer after the write landed. Without `status`
    /// the handler always runs, so this has no effect.
    pub apply_mutation: bool,
    /// With `status`: send `Retry-After: N` (and `details.retryAfterSeconds`). kube's
    /// default retry policy waits at least this long before re-sending a 429/503/504.
    pub retry_after_seconds: Option<u32>,
}

impl Fault {
    /// Whether this fault applies to a request with `method` and `path`.
    pub(crate) fn matches(&self, method: &str, path: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| path.contains(p))
            && self.times != Some(0)
    }
}

/// `Option<Duration>` as whole milliseconds, the unit a load script or shell test writes.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => s.serialize_some(&u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn faults_read_camel_case_json_with_the_delay_in_milliseconds() {
        let fault: Fault = serde_json::from_value(json!({
            "method": "delete", "pathContains": "/pods/x", "delayMs": 1500, "applyMutation": true
        }))
        .unwrap();
        assert_eq!(fault.delay, Some(Duration::from_millis(1500)));
        assert!(fault.apply_mutation);
        assert!(fault.matches("DELETE", "/api/v1/namespaces/a/pods/x"));
        assert!(!fault.matches("GET", "/api/v1/namespaces/a/pods/x"));
        assert_eq!(serde_json::to_value(&fault).unwrap()["delayMs"], 1500);
    }

    #[test]
    fn an_exhausted_fault_matches_nothing() {
        let fault = Fault {
            times: Some(0),
            ..Fault::default()
        };
        assert!(!fault.matches("GET", "/"));
    }
}
