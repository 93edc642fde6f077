//! `scale_deployment` and `scale_statefulset`: set the replica count through the `scale`
//! subresource, budget `scale`.
//!
//! `{"namespace", "deploymentName" | "statefulSetName", "replicas", "expectedReplicas"?}`.
//!
//! The live `scale` is read first, which gives the `previousReplicas` the result and the
//! audit row report. With `expectedReplicas` the caller says what it believes the count is
//! now (the AI engine decided on a picture of the cluster that may be stale): if the live
//! `spec.replicas` differs, the action is refused with `precondition_failed` (409) and
//! nothing is written. The check is made atomic by sending the `resourceVersion` that was
//! read along with the merge patch, so a change between read and write is refused by the
//! API server with a 409 `kube_conflict` instead of being overwritten.
//!
//! Only the `scale` subresource is touched (RBAC: `get` and `patch` on
//! `deployments/scale` or `statefulsets/scale` in `apps`), never the whole object.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use kube::api::{Api, Patch, PatchParams};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::kube_error::{self, KubeCall};
use super::restart_pod::{ObjectOnly, validate_name, validate_namespace};
use super::{Action, ActionFailure, Cluster, Limits, Permission, Target};

/// Shown as the field manager of the change in the object's `managedFields`.
pub(crate) const FIELD_MANAGER: &str = "warden-executor";

/// The `scale_deployment` action.
#[derive(Debug)]
pub struct ScaleDeployment;

/// The `scale_statefulset` action.
#[derive(Debug)]
pub struct ScaleStatefulSet;

/// `actionParams` of `scale_deployment`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScaleDeploymentParams {
    /// Namespace (a DNS-1123 label).
    pub namespace: String,
    /// Deployment name (a DNS-1123 subdomain).
    pub deployment_name: String,
    /// Desired replicas, `0..=EXECUTOR_MAX_REPLICAS` (an integer: `3.5` and `"3"` are refused).
    pub replicas: i32,
    /// When given, the live replica count must equal it or nothing is changed.
    #[serde(default)]
    pub expected_replicas: Option<i32>,
}

/// `actionParams` of `scale_statefulset`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScaleStatefulSetParams {
    /// Namespace (a DNS-1123 label).
    pub namespace: String,
    /// StatefulSet name (a DNS-1123 subdomain).
    pub stateful_set_name: String,
    /// Desired replicas, `0..=EXECUTOR_MAX_REPLICAS` (an integer: `3.5` and `"3"` are refused).
    pub replicas: i32,
    /// When given, the live replica count must equal it or nothing is changed.
    #[serde(default)]
    pub expected_replicas: Option<i32>,
}

#[async_trait::async_trait]
impl Action for ScaleDeployment {
    type Params = ObjectOnly<ScaleDeploymentParams>;

    const NAME: &'static str = "scale_deployment";

    const BUDGET_KEY: &'static str = "scale";
    const PERMISSIONS: &'static [Permission] = &[
        Permission {
            api_group: "apps",
            resource: "deployments/scale",
            verb: "get",
        },
        Permission {
            api_group: "apps",
            resource: "deployments/scale",
            verb: "patch",
        },
    ];

    fn validate(params: &Self::Params, limits: &Limits) -> Result<(), String> {
        validate_scale(
            &params.namespace,
            ("actionParams.deploymentName", &params.deployment_name),
            params.replicas,
            params.expected_replicas,
            limits,
        )
    }

    fn target(params: &Self::Params) -> Target {
        Target {
            namespace: params.namespace.clone(),
            kind: "deployment",
            name: params.deployment_name.clone(),
        }
    }

    async fn run(
        params: &Self::Params,
        cluster: &Cluster,
        dry_run: bool,
    ) -> Result<Value, ActionFailure> {
        let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), &params.namespace);
        let request = ScaleRequest {
            kind: "Deployment",
            resource: "deployments/scale",
            namespace: &params.namespace,
            name: &params.deployment_name,
            replicas: params.replicas,
            expected: params.expected_replicas,
        };
        scale(&api, &request, cluster, dry_run).await
    }
}

#[async_trait::async_trait]
impl Action for ScaleStatefulSet {
    type Params = ObjectOnly<ScaleStatefulSetParams>;

    const NAME: &'static str = "scale_statefulset";

    const BUDGET_KEY: &'static str = "scale";
    const PERMISSIONS: &'static [Permission] = &[
        Permission {
            api_group: "apps",
            resource: "statefulsets/scale",
            verb: "get",
        },
        Permission {
            api_group: "apps",
            resource: "statefulsets/scale",
            verb: "patch",
        },
    ];

    fn validate(params: &Self::Params, limits: &Limits) -> Result<(), String> {
        validate_scale(
            &params.namespace,
            ("actionParams.statefulSetName", &params.stateful_set_name),
            params.replicas,
            params.expected_replicas,
            limits,
        )
    }

    fn target(params: &Self::Params) -> Target {
        Target {
            namespace: params.namespace.clone(),
            kind: "statefulset",
            name: params.stateful_set_name.clone(),
        }
    }

    async fn run(
        params: &Self::Params,
        cluster: &Cluster,
        dry_run: bool,
    ) -> Result<Value, ActionFailure> {
        let api: Api<StatefulSet> = Api::namespaced(cluster.client.clone(), &params.namespace);
        let request = ScaleRequest {
            kind: "StatefulSet",
            resource: "statefulsets/scale",
            namespace: &params.namespace,
            name: &params.stateful_set_name,
            replicas: params.replicas,
            expected: params.expected_replicas,
        };
        scale(&api, &request, cluster, dry_run).await
    }
}

fn validate_scale(
    namespace: &str,
    (name_field, name): (&str, &str),
    replicas: i32,
    expected: Option<i32>,
    limits: &Limits,
) -> Result<(), String> {
    validate_namespace(namespace)?;
    validate_name(name_field, name)?;
    if !(0..=limits.max_replicas).contains(&replicas) {
        return Err(format!(
            "actionParams.replicas: must be between 0 and {}, got {replicas}",
            limits.max_replicas
        ));
    }
    // Not capped by `max_replicas`: it describes the live state, which may be above the cap
    // (scaling down from there is the point).
    if let Some(expected) = expected
        && expected < 0
    {
        return Err(format!(
            "actionParams.expectedReplicas: must be 0 or more, got {expected}"
        ));
    }
    Ok(())
}

/// What to scale, independent of the workload kind.
struct ScaleRequest<'a> {
    kind: &'static str,
    resource: &'static str,
    namespace: &'a str,
    name: &'a str,
    replicas: i32,
    expected: Option<i32>,
}

async fn scale<K>(
    api: &Api<K>,
    req: &ScaleRequest<'_>,
    cluster: &Cluster,
    dry_run: bool,
) -> Result<Value, ActionFailure>
where
    K: Clone + DeserializeOwned,
{
    let read = KubeCall {
        verb: "get",
        resource: req.resource,
        api_group: "apps",
        namespace: req.namespace,
        name: req.name,
        mutating: false,
    };
    let live = kube_error::call(&read, cluster.timeout, api.get_scale(req.name)).await?;
    // `autoscaling/v1` omits `replicas` when it is 0.
    let previous = live.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);

    if let Some(expected) = req.expected
        && expected != previous
    {
        return Err(ActionFailure {
            outcome_unknown: false,
            code: "precondition_failed",
            message: format!(
                "{} {}/{} has {previous} replicas, not the expected {expected}; nothing was \
                 changed",
                req.kind, req.namespace, req.name
            ),
            http_status: 409,
        });
    }

    // With a precondition, pin the write to the version that was checked: if the count
    // changes in between, the API server answers 409 instead of us overwriting it.
    let resource_version = req
        .expected
        .and(live.metadata.resource_version.as_deref())
        .filter(|rv| !rv.is_empty());
    let patch = match resource_version {
        Some(rv) => {
            json!({"metadata": {"resourceVersion": rv}, "spec": {"replicas": req.replicas}})
        }
        None => json!({"spec": {"replicas": req.replicas}}),
    };
    let mut pp = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    if dry_run {
        pp = pp.dry_run();
    }
    let write = KubeCall {
        verb: "patch",
        mutating: !dry_run,
        ..read
    };
    kube_error::call(
        &write,
        cluster.timeout,
        api.patch_scale(req.name, &pp, &Patch::Merge(&patch)),
    )
    .await?;

    Ok(json!({
        "kind": req.kind,
        "name": req.name,
        "namespace": req.namespace,
        "previousReplicas": previous,
        "replicas": req.replicas,
        "dryRun": dry_run,
    }))
}
