//! `get_workload_status`: the rollout status of a Deployment or StatefulSet, budget `read`.
//!
//! `{"namespace", "kind": "deployment" | "statefulset", "name"}`.
//!
//! The result: `{"kind", "namespace", "name", "generation", "observedGeneration",
//! "replicas", "readyReplicas", "updatedReplicas", "availableReplicas", "currentReplicas"
//! (statefulsets), "conditions": [{"type", "status", "reason", "message",
//! "lastTransitionTime"}], "revision", "updateRevision" (statefulsets), "rolloutComplete",
//! "dryRun": false}`. `replicas` is the desired count (`spec.replicas`, 1 when unset);
//! the other counts are the controller's (0 when it omits them). `revision` is the
//! Deployment's `deployment.kubernetes.io/revision` annotation or the StatefulSet's
//! `status.currentRevision` (`null` until the controller sets it). `rolloutComplete` is
//! the test `kubectl rollout status` makes: the controller has seen the latest generation
//! and every desired replica runs the new template and is available (Deployment: no old
//! replicas left; StatefulSet: ready, and the current revision is the update revision).
//!
//! Only these status fields are returned, never the object: its pod template may carry
//! environment values. The audit row keeps the counts, `rolloutComplete`, and `bytes` /
//! `sha256` of the whole result as compact JSON (see [`super::read`]).
//!
//! RBAC: `get` on `deployments` and `statefulsets` in `apps`.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::Api;
use serde::Deserialize;
use serde_json::{Value, json};

use super::kube_error::{self, KubeCall};
use super::read::{self, is_dry_run, json_digest, keep, would_read};
use super::restart_pod::{ObjectOnly, validate_name, validate_namespace};
use super::{Action, ActionFailure, Cluster, Limits, Permission, Target};

/// The annotation the Deployment controller numbers each rollout with.
pub const DEPLOYMENT_REVISION: &str = "deployment.kubernetes.io/revision";

/// The `get_workload_status` action.
#[derive(Debug)]
pub struct GetWorkloadStatus;

/// Which workload.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    /// An `apps/v1` Deployment.
    Deployment,
    /// An `apps/v1` StatefulSet.
    StatefulSet,
}

impl WorkloadKind {
    fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deployment",
            WorkloadKind::StatefulSet => "statefulset",
        }
    }

    fn resource(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deployments",
            WorkloadKind::StatefulSet => "statefulsets",
        }
    }
}

/// `actionParams` of `get_workload_status`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkloadStatusParams {
    /// Namespace (a DNS-1123 label).
    pub namespace: String,
    /// `deployment` or `statefulset`.
    pub kind: WorkloadKind,
    /// Name (a DNS-1123 subdomain).
    pub name: String,
}

#[async_trait::async_trait]
impl Action for GetWorkloadStatus {
    type Params = ObjectOnly<WorkloadStatusParams>;

    const NAME: &'static str = "get_workload_status";

    const BUDGET_KEY: &'static str = read::BUDGET_KEY;
    const PERMISSIONS: &'static [Permission] = &[
        Permission {
            api_group: "apps",
            resource: "deployments",
            verb: "get",
        },
        Permission {
            api_group: "apps",
            resource: "statefulsets",
            verb: "get",
        },
    ];

    fn validate(params: &Self::Params, _limits: &Limits) -> Result<(), String> {
        validate_namespace(&params.namespace)?;
        validate_name("actionParams.name", &params.name)
    }

    fn target(params: &Self::Params) -> Target {
        Target {
            namespace: params.namespace.clone(),
            kind: params.kind.as_str(),
            name: params.name.clone(),
        }
    }

    async fn run(
        params: &Self::Params,
        cluster: &Cluster,
        dry_run: bool,
    ) -> Result<Value, ActionFailure> {
        let about = json!({
            "kind": params.kind.as_str(),
            "namespace": params.namespace,
            "name": params.name,
        });
        if dry_run {
            let path = format!(
                "/apis/apps/v1/namespaces/{}/{}/{}",
                params.namespace,
                params.kind.resource(),
                params.name
            );
            return Ok(would_read(path, json!({}), about));
        }
        let op = KubeCall {
            verb: "get",
            resource: params.kind.resource(),
            api_group: "apps",
            namespace: &params.namespace,
            name: &params.name,
            mutating: false,
        };
        let client = cluster.client.clone();
        let status = match params.kind {
            WorkloadKind::Deployment => {
                let api: Api<Deployment> = Api::namespaced(client, &params.namespace);
                let d = kube_error::call(&op, cluster.timeout, api.get(&params.name)).await?;
                deployment_status(&d)
            }
            WorkloadKind::StatefulSet => {
                let api: Api<StatefulSet> = Api::namespaced(client, &params.namespace);
                let s = kube_error::call(&op, cluster.timeout, api.get(&params.name)).await?;
                statefulset_status(&s)
            }
        };
        let mut result = about;
        if let (Some(map), Value::Object(status)) = (result.as_object_mut(), status) {
            map.extend(status);
        }
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
                "kind",
                "namespace",
                "name",
                "replicas",
                "readyReplicas",
                "updatedReplicas",
                "availableReplicas",
                "rolloutComplete",
                "dryRun",
            ],
        );
        if let Value::Object(d) = json_digest(result) {
            row.extend(d);
        }
        Value::Object(row)
    }
}

fn generations(metadata: &ObjectMeta, observed: Option<i64>) -> (i64, i64, bool) {
    let generation = metadata.generation.unwrap_or(0);
    let observed = observed.unwrap_or(0);
    (generation, observed, observed >= generation)
}

/// One status condition as the answer shows it (Deployments and StatefulSets spell them
/// alike, as different types).
fn condition(
    kind: impl serde::Serialize,
    status: impl serde::Serialize,
    reason: impl serde::Serialize,
    message: impl serde::Serialize,
    last_transition: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
) -> Value {
    json!({
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": last_transition.map(|t| t.0.to_string()),
    })
}

fn deployment_status(d: &Deployment) -> Value {
    let spec_replicas = d.spec.replicas.unwrap_or(1);
    let status = d.status.clone().unwrap_or_default();
    let (generation, observed, seen) = generations(&d.metadata, status.observed_generation);
    let replicas = status.replicas.unwrap_or(0);
    let ready = status.ready_replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let conditions: Vec<Value> = status
        .conditions
        .unwrap_or_default()
        .into_iter()
        .map(|c| {
            condition(
                c.type_,
                c.status,
                c.reason,
                c.message,
                c.last_transition_time,
            )
        })
        .collect();
    let revision = d
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DEPLOYMENT_REVISION))
        .cloned();
    json!({
        "generation": generation,
        "observedGeneration": observed,
        "replicas": spec_replicas,
        "readyReplicas": ready,
        "updatedReplicas": updated,
        "availableReplicas": available,
        "conditions": conditions,
        "revision": revision,
        // kubectl's test: all updated, no old replicas left, all updated ones available.
        "rolloutComplete": seen && updated >= spec_replicas && replicas <= updated
            && available >= updated,
    })
}

fn statefulset_status(s: &StatefulSet) -> Value {
    let spec_replicas = s.spec.replicas.unwrap_or(1);
    let status = s.status.clone().unwrap_or_default();
    let (generation, observed, seen) = generations(&s.metadata, status.observed_generation);
    let ready = status.ready_replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let current = status.current_replicas.unwrap_or(0);
    let conditions: Vec<Value> = status
        .conditions
        .unwrap_or_default()
        .into_iter()
        .map(|c| {
            condition(
                c.type_,
                c.status,
                c.reason,
                c.message,
                c.last_transition_time,
            )
        })
        .collect();
    let same_revision =
        status.update_revision.is_none() || status.current_revision == status.update_revision;
    json!({
        "generation": generation,
        "observedGeneration": observed,
        "replicas": spec_replicas,
        "readyReplicas": ready,
        "updatedReplicas": updated,
        "availableReplicas": available,
        "currentReplicas": current,
        "conditions": conditions,
        "revision": status.current_revision,
        "updateRevision": status.update_revision,
        // kubectl's test for a RollingUpdate: all updated and ready, and every pod on the
        // update revision.
        "rolloutComplete": seen && updated >= spec_replicas && ready >= spec_replicas
            && same_revision,
    })
}
