//! `list_events`: the recent `core/v1` Events of a namespace, optionally about one object,
//! newest first, budget `read`.
//!
//! `{"namespace", "kind"?, "name"?}`: `kind` and `name` filter on the Event's
//! `involvedObject` with a field selector (`involvedObject.kind=Pod,involvedObject.name=x`).
//! `kind` is a Kubernetes kind in any case or a known plural or short name (`pod`, `Pods`,
//! `po` are `Pod`; `deploy` is `Deployment`); another alphanumeric kind (`Rollout`) is sent
//! as written. `name` is a DNS-1123 subdomain.
//!
//! **What the decision must cover.** The action reads the events *about* its target, so
//! the target is the involved object: `namespace/pod/web-1` with kind and name,
//! `namespace/pod/*` with a kind only, `namespace/*/web-1` with a name only and
//! `namespace/*/*` with neither (as for a kind Warden does not know): a decision for one
//! pod does not cover the events of the whole namespace.
//!
//! **Caps.** One list call of at most [`SCAN_LIMIT`] Events (the API server's `limit`);
//! they are sorted newest first by when they were last seen and the first [`MAX_EVENTS`]
//! are returned, each message cut to [`MAX_MESSAGE_CHARS`] characters. `truncated` says
//! some were left out: more than [`MAX_EVENTS`] matched, or more than [`SCAN_LIMIT`]
//! exist, in which case the newest may not be among those scanned (narrow with kind and
//! name).
//!
//! The result: `{"namespace", "kind", "name", "events": [{"type", "reason", "message",
//! "count", "firstTimestamp", "lastTimestamp", "involvedObject": {"kind", "name",
//! "namespace"}}], "count", "matched", "truncated", "dryRun": false}`. `lastTimestamp` is
//! when the event was last seen (`series.lastObservedTime`, else `lastTimestamp`, else
//! `eventTime`, else its creation), `firstTimestamp` when first seen (`firstTimestamp`,
//! else `eventTime`), `count` its `series.count` or `count` (1 when neither). The audit row
//! keeps the counts and `bytes` / `sha256` of the `events` array as compact JSON, never
//! the messages (see [`super::read`]).
//!
//! RBAC: `list` on `events` in the core group.

use k8s_openapi::api::core::v1::Event;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams};
use serde::Deserialize;
use serde_json::{Value, json};

use super::kube_error::{self, KubeCall};
use super::read::{self, is_dry_run, json_digest, keep, would_read};
use super::restart_pod::{ObjectOnly, validate_name, validate_namespace};
use super::{Action, ActionFailure, Cluster, Limits, Permission, Target};

/// Most Events returned.
pub const MAX_EVENTS: usize = 100;
/// Most Events asked of the API server (its `limit`).
pub const SCAN_LIMIT: u32 = 1000;
/// Longest message returned, in characters.
pub const MAX_MESSAGE_CHARS: usize = 1024;

/// Kinds known by their policy spelling (lower-case singular, as decision tokens carry
/// it) and their API spelling (as `involvedObject.kind` carries it).
const KINDS: &[(&str, &str)] = &[
    ("pod", "Pod"),
    ("deployment", "Deployment"),
    ("statefulset", "StatefulSet"),
    ("daemonset", "DaemonSet"),
    ("replicaset", "ReplicaSet"),
    ("job", "Job"),
    ("cronjob", "CronJob"),
    ("service", "Service"),
    ("configmap", "ConfigMap"),
    ("node", "Node"),
    ("namespace", "Namespace"),
    ("persistentvolumeclaim", "PersistentVolumeClaim"),
    ("horizontalpodautoscaler", "HorizontalPodAutoscaler"),
    ("ingress", "Ingress"),
];

/// The `list_events` action.
#[derive(Debug)]
pub struct ListEvents;

/// `actionParams` of `list_events`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListEventsParams {
    /// Namespace (a DNS-1123 label).
    pub namespace: String,
    /// Kind of the involved object (`Pod`, `deployment`, `sts`, ...).
    #[serde(default)]
    pub kind: Option<String>,
    /// Name of the involved object (a DNS-1123 subdomain).
    #[serde(default)]
    pub name: Option<String>,
}

impl ListEventsParams {
    /// (policy kind, API kind) of `kind`: `("*", as written)` for a kind Warden does not
    /// know.
    fn kinds(&self) -> Option<(&'static str, String)> {
        let kind = self.kind.as_deref()?;
        let normal = warden_protocol::normalize_kind(kind);
        Some(
            KINDS
                .iter()
                .find(|(policy, api)| {
                    policy.eq_ignore_ascii_case(normal) || api.eq_ignore_ascii_case(kind)
                })
                .map_or(("*", kind.to_owned()), |(policy, api)| {
                    (*policy, (*api).to_owned())
                }),
        )
    }

    fn field_selector(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some((_, api_kind)) = self.kinds() {
            parts.push(format!("involvedObject.kind={api_kind}"));
        }
        if let Some(name) = &self.name {
            parts.push(format!("involvedObject.name={name}"));
        }
        (!parts.is_empty()).then(|| parts.join(","))
    }
}

#[async_trait::async_trait]
impl Action for ListEvents {
    type Params = ObjectOnly<ListEventsParams>;

    const NAME: &'static str = "list_events";

    const BUDGET_KEY: &'static str = read::BUDGET_KEY;
    const PERMISSIONS: &'static [Permission] = &[Permission {
        api_group: "",
        resource: "events",
        verb: "list",
    }];

    fn validate(params: &Self::Params, _limits: &Limits) -> Result<(), String> {
        validate_namespace(&params.namespace)?;
        if let Some(kind) = &params.kind {
            // Alphanumeric only: the value goes into a field selector, where `,` `=` and
            // `\` would mean something.
            let valid = (1..=63).contains(&kind.len())
                && kind.starts_with(|c: char| c.is_ascii_alphabetic())
                && kind.chars().all(|c| c.is_ascii_alphanumeric());
            if !valid {
                return Err(format!(
                    "actionParams.kind: must be a Kubernetes kind (letters and digits, starting \
                     with a letter, at most 63), got {:?}",
                    kind.chars().take(64).collect::<String>()
                ));
            }
        }
        match &params.name {
            Some(name) => validate_name("actionParams.name", name),
            None => Ok(()),
        }
    }

    fn target(params: &Self::Params) -> Target {
        Target {
            namespace: params.namespace.clone(),
            kind: params.kinds().map_or("*", |(policy, _)| policy),
            name: params.name.clone().unwrap_or_else(|| "*".to_owned()),
        }
    }

    async fn run(
        params: &Self::Params,
        cluster: &Cluster,
        dry_run: bool,
    ) -> Result<Value, ActionFailure> {
        let about = json!({
            "namespace": params.namespace,
            "kind": params.kinds().map(|(_, api)| api),
            "name": params.name,
        });
        let selector = params.field_selector();
        if dry_run {
            let path = format!("/api/v1/namespaces/{}/events", params.namespace);
            let query = json!({"fieldSelector": selector, "limit": SCAN_LIMIT});
            return Ok(would_read(path, query, about));
        }
        let api: Api<Event> = Api::namespaced(cluster.client.clone(), &params.namespace);
        let mut lp = ListParams::default().limit(SCAN_LIMIT);
        if let Some(selector) = &selector {
            lp = lp.fields(selector);
        }
        let op = KubeCall {
            verb: "list",
            resource: "events",
            api_group: "",
            namespace: &params.namespace,
            name: "*",
            mutating: false,
        };
        let list = kube_error::call(&op, cluster.timeout, api.list(&lp)).await?;
        let more_exist = list
            .metadata
            .continue_
            .as_deref()
            .is_some_and(|c| !c.is_empty());
        let mut seen: Vec<(Option<Timestamp>, Value)> = list.items.iter().map(summary).collect();
        // Newest first; an event with no time at all (`None`) last.
        seen.sort_by(|(a, _), (b, _)| b.cmp(a));
        let matched = seen.len();
        let events: Vec<Value> = seen.into_iter().take(MAX_EVENTS).map(|(_, e)| e).collect();
        let mut result = about;
        result["count"] = json!(events.len());
        result["matched"] = json!(matched);
        result["truncated"] = json!(more_exist || matched > MAX_EVENTS);
        result["events"] = Value::Array(events);
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
                "namespace",
                "kind",
                "name",
                "count",
                "matched",
                "truncated",
                "dryRun",
            ],
        );
        if let Value::Object(d) = json_digest(result.get("events").unwrap_or(&Value::Null)) {
            row.extend(d);
        }
        Value::Object(row)
    }
}

/// The fields of an Event that say what happened (see the module docs), and when it was
/// last seen (to sort by).
fn summary(event: &Event) -> (Option<Timestamp>, Value) {
    let series = event.series.as_ref();
    let last_seen = series
        .and_then(|s| s.last_observed_time.as_ref())
        .map(|t| t.0)
        .or_else(|| event.last_timestamp.as_ref().map(|t| t.0))
        .or_else(|| event.event_time.as_ref().map(|t| t.0))
        .or_else(|| event.metadata.creation_timestamp.as_ref().map(|t| t.0));
    let first_seen = event
        .first_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| event.event_time.as_ref().map(|t| t.0));
    let count = series.and_then(|s| s.count).or(event.count).unwrap_or(1);
    let message: Option<String> = event
        .message
        .as_ref()
        .map(|m| m.chars().take(MAX_MESSAGE_CHARS).collect());
    let involved = &event.involved_object;
    let summary = json!({
        "type": event.type_,
        "reason": event.reason,
        "message": message,
        "count": count,
        "firstTimestamp": first_seen.map(|t| t.to_string()),
        "lastTimestamp": last_seen.map(|t| t.to_string()),
        "involvedObject": {
            "kind": involved.kind,
            "name": involved.name,
            "namespace": involved.namespace,
        },
    });
    (last_seen, summary)
}
