//! `get_pod_logs`: the recent log of one container, capped, budget `read`.
//!
//! `{"namespace", "podName", "container"?, "tailLines"?, "sinceSeconds"?, "limitBytes"?}`:
//! `tailLines` 1..=10000 (the last lines), `sinceSeconds` 1..=604800 (lines written in the
//! last seconds), `limitBytes` 1..=1048576, default 65536 (the cap on what is returned).
//! Without `container`, the pod's only container (the API server refuses a pod with more,
//! naming them: `kube_invalid`).
//!
//! The result: `{"pod", "namespace", "container", "text", "bytes", "lines", "truncated",
//! "limitBytes", "dryRun": false}`. `text` is the log, at most `limitBytes` bytes of UTF-8
//! (a character cut by the cap is dropped; bytes that are not UTF-8 become U+FFFD);
//! `truncated` says the log went on past the cap. To know that, the API server is asked
//! for one byte more than the cap, and the executor reads no more than that from the
//! stream whatever the server sends. The audit row keeps `bytes`, `lines`, `truncated`
//! and `sha256`, the SHA-256 of `text` as UTF-8, never the text (see [`super::read`]).
//!
//! RBAC: `get` on `pods/log` in the core group.

use std::time::Instant;

use futures::AsyncReadExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use serde::Deserialize;
use serde_json::{Value, json};

use super::kube_error::{self, KubeCall};
use super::read::{self, digest, is_dry_run, keep, would_read};
use super::restart_pod::{ObjectOnly, validate_name, validate_namespace};
use super::{Action, ActionFailure, Cluster, Limits, Permission, Target};

/// `limitBytes` when none is given: 64 KiB.
pub const DEFAULT_LIMIT_BYTES: i64 = 64 * 1024;
/// Largest `limitBytes`: 1 MiB.
pub const MAX_LIMIT_BYTES: i64 = 1024 * 1024;
/// Largest `tailLines`.
pub const MAX_TAIL_LINES: i64 = 10_000;
/// Largest `sinceSeconds`: a week.
pub const MAX_SINCE_SECONDS: i64 = 7 * 24 * 3600;

/// The `get_pod_logs` action.
#[derive(Debug)]
pub struct GetPodLogs;

/// `actionParams` of `get_pod_logs`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PodLogsParams {
    /// Namespace of the pod (a DNS-1123 label).
    pub namespace: String,
    /// Name of the pod (a DNS-1123 subdomain).
    pub pod_name: String,
    /// Container (a DNS-1123 label); the pod's only container when absent.
    #[serde(default)]
    pub container: Option<String>,
    /// How many lines from the end, 1..=10000.
    #[serde(default)]
    pub tail_lines: Option<i64>,
    /// Only lines from the last this many seconds, 1..=604800.
    #[serde(default)]
    pub since_seconds: Option<i64>,
    /// Cap on the bytes returned, 1..=1048576 (default 65536).
    #[serde(default)]
    pub limit_bytes: Option<i64>,
}

impl PodLogsParams {
    fn limit(&self) -> i64 {
        self.limit_bytes.unwrap_or(DEFAULT_LIMIT_BYTES)
    }

    /// The query sent: one byte more than the cap, to tell a log that fits from one cut.
    fn log_params(&self) -> LogParams {
        LogParams {
            container: self.container.clone(),
            tail_lines: self.tail_lines,
            since_seconds: self.since_seconds,
            limit_bytes: Some(self.limit() + 1),
            ..LogParams::default()
        }
    }
}

#[async_trait::async_trait]
impl Action for GetPodLogs {
    type Params = ObjectOnly<PodLogsParams>;

    const NAME: &'static str = "get_pod_logs";

    const BUDGET_KEY: &'static str = read::BUDGET_KEY;
    const PERMISSIONS: &'static [Permission] = &[Permission {
        api_group: "",
        resource: "pods/log",
        verb: "get",
    }];

    fn validate(params: &Self::Params, _limits: &Limits) -> Result<(), String> {
        validate_namespace(&params.namespace)?;
        validate_name("actionParams.podName", &params.pod_name)?;
        if let Some(container) = &params.container
            && !warden_protocol::is_dns1123_label(container)
        {
            return Err(format!(
                "actionParams.container: must be a DNS-1123 label (a container name), got {:?}",
                container.chars().take(64).collect::<String>()
            ));
        }
        in_range("actionParams.tailLines", params.tail_lines, MAX_TAIL_LINES)?;
        in_range(
            "actionParams.sinceSeconds",
            params.since_seconds,
            MAX_SINCE_SECONDS,
        )?;
        in_range(
            "actionParams.limitBytes",
            params.limit_bytes,
            MAX_LIMIT_BYTES,
        )
    }

    fn target(params: &Self::Params) -> Target {
        Target {
            namespace: params.namespace.clone(),
            kind: "pod",
            name: params.pod_name.clone(),
        }
    }

    async fn run(
        params: &Self::Params,
        cluster: &Cluster,
        dry_run: bool,
    ) -> Result<Value, ActionFailure> {
        let about = json!({
            "pod": params.pod_name,
            "namespace": params.namespace,
            "container": params.container,
        });
        if dry_run {
            let lp = params.log_params();
            let query = json!({
                "container": lp.container,
                "tailLines": lp.tail_lines,
                "sinceSeconds": lp.since_seconds,
                "limitBytes": lp.limit_bytes,
            });
            let path = format!(
                "/api/v1/namespaces/{}/pods/{}/log",
                params.namespace, params.pod_name
            );
            return Ok(would_read(path, query, about));
        }
        let limit = usize::try_from(params.limit()).unwrap_or(usize::MAX);
        let (text, truncated) = read_log(params, cluster, limit).await?;
        let lines = text.lines().count();
        let mut result = about;
        result["text"] = json!(text);
        result["bytes"] = json!(text.len());
        result["lines"] = json!(lines);
        result["truncated"] = json!(truncated);
        result["limitBytes"] = json!(params.limit());
        result["dryRun"] = json!(false);
        Ok(result)
    }

    fn audit(result: &Value) -> Value {
        if is_dry_run(result) {
            return result.clone();
        }
        let mut row = keep(
            result,
            &[
                "pod",
                "namespace",
                "container",
                "lines",
                "truncated",
                "limitBytes",
                "dryRun",
            ],
        );
        let text = result.get("text").and_then(Value::as_str).unwrap_or("");
        if let Value::Object(d) = digest(text.as_bytes()) {
            row.extend(d);
        }
        Value::Object(row)
    }
}

/// `value`, when given, must be in `1..=max`.
fn in_range(field: &str, value: Option<i64>, max: i64) -> Result<(), String> {
    match value {
        Some(v) if !(1..=max).contains(&v) => {
            Err(format!("{field}: must be between 1 and {max}, got {v}"))
        }
        _ => Ok(()),
    }
}

/// Reads at most `limit + 1` bytes of the log within the deadline; returns the text (at
/// most `limit` bytes) and whether there was more.
async fn read_log(
    params: &PodLogsParams,
    cluster: &Cluster,
    limit: usize,
) -> Result<(String, bool), ActionFailure> {
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &params.namespace);
    let op = KubeCall {
        verb: "get",
        resource: "pods/log",
        api_group: "",
        namespace: &params.namespace,
        name: &params.pod_name,
        mutating: false,
    };
    let started = Instant::now();
    let lp = params.log_params();
    let stream =
        kube_error::call(&op, cluster.timeout, pods.log_stream(&params.pod_name, &lp)).await?;
    let mut bytes = Vec::new();
    let wanted = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let remaining = cluster.timeout.saturating_sub(started.elapsed());
    let mut capped = Box::pin(stream).take(wanted);
    let body = capped.read_to_end(&mut bytes);
    match tokio::time::timeout(remaining, body).await {
        Ok(Ok(_)) => {}
        Ok(Err(err)) => {
            return Err(ActionFailure {
                outcome_unknown: false,
                code: "kube_unavailable",
                message: format!(
                    "the log of pod {}/{} could not be read to the end: {err}",
                    params.namespace, params.pod_name
                ),
                http_status: 503,
            });
        }
        Err(_elapsed) => return Err(kube_error::timed_out(&op, cluster.timeout)),
    }
    let truncated = bytes.len() > limit;
    if truncated {
        bytes.truncate(limit);
        drop_partial_char(&mut bytes);
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
    };
    Ok((text, truncated))
}

/// Drops the first bytes of a multi-byte UTF-8 character that the cap cut off.
fn drop_partial_char(bytes: &mut Vec<u8>) {
    let len = bytes.len();
    // The last character starts at the last byte that is not a continuation (10xxxxxx).
    let Some((start, lead)) = bytes
        .iter()
        .enumerate()
        .rev()
        .take(4)
        .find(|(_, b)| **b & 0xC0 != 0x80)
        .map(|(i, b)| (i, *b))
    else {
        return;
    };
    let needed = match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    };
    if start + needed > len {
        bytes.truncate(start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_character_cut_by_the_cap_is_dropped() {
        let mut cut = "ab\u{20ac}".as_bytes()[..4].to_vec(); // the euro sign is 3 bytes
        drop_partial_char(&mut cut);
        assert_eq!(cut, b"ab");

        let mut whole = "ab\u{20ac}".as_bytes().to_vec();
        drop_partial_char(&mut whole);
        assert_eq!(whole, "ab\u{20ac}".as_bytes());

        let mut ascii = b"abc".to_vec();
        drop_partial_char(&mut ascii);
        assert_eq!(ascii, b"abc");
    }
}
