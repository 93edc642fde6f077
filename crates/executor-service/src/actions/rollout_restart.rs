//! `rollout_restart_deployment`: a rolling restart, exactly as `kubectl rollout restart`
//! does it, budget `rollout_restart`.
//!
//! `{"namespace", "deploymentName"}`.
//!
//! A strategic-merge patch sets the pod template annotation
//! `kubectl.kubernetes.io/restartedAt` to the current time (RFC 3339, UTC, whole seconds);
//! the changed template makes the Deployment controller roll out new pods under its
//! `maxUnavailable` / `maxSurge` rules. kubectl's annotation is used on purpose, not the
//! `kube.kubernetes.io/restartedAt` that `kube::Api::restart` writes: operators and
//! dashboards already know kubectl's, and a later `kubectl rollout restart` overwrites the
//! same key instead of leaving two.
//!
//! Two restarts within the same second write the same value, and the second one changes
//! nothing: the same as kubectl, and harmless (a rollout is already under way).
//!
//! RBAC: `patch` on `deployments` in `apps`.

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use serde::Deserialize;
use serde_json::{Value, json};

use super::kube_error::{self, KubeCall};
use super::restart_pod::{ObjectOnly, validate_name, validate_namespace};
use super::scale::FIELD_MANAGER;
use super::{Action, ActionFailure, Cluster, Limits, Permission, Target};

/// The pod template annotation `kubectl rollout restart` sets.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// The `rollout_restart_deployment` action.
#[derive(Debug)]
pub struct RolloutRestartDeployment;

/// `actionParams` of `rollout_restart_deployment`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RolloutRestartParams {
    /// Namespace (a DNS-1123 label).
    pub namespace: String,
    /// Deployment name (a DNS-1123 subdomain).
    pub deployment_name: String,
}

#[async_trait::async_trait]
impl Action for RolloutRestartDeployment {
    type Params = ObjectOnly<RolloutRestartParams>;

    const NAME: &'static str = "rollout_restart_deployment";

    const BUDGET_KEY: &'static str = "rollout_restart";
    const PERMISSIONS: &'static [Permission] = &[Permission {
        api_group: "apps",
        resource: "deployments",
        verb: "patch",
    }];

    fn validate(params: &Self::Params, _limits: &Limits) -> Result<(), String> {
        validate_namespace(&params.namespace)?;
        validate_name("actionParams.deploymentName", &params.deployment_name)
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
        let restarted_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let patch = json!({
            "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: restarted_at}}}}
        });
        let mut pp = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        if dry_run {
            pp = pp.dry_run();
        }
        let op = KubeCall {
            verb: "patch",
            resource: "deployments",
            api_group: "apps",
            namespace: &params.namespace,
            name: &params.deployment_name,
            mutating: !dry_run,
        };
        let deployment = kube_error::call(
            &op,
            cluster.timeout,
            api.patch(&params.deployment_name, &pp, &Patch::Strategic(&patch)),
        )
        .await?;
        Ok(json!({
            "deployment": params.deployment_name,
            "namespace": params.namespace,
            "restartedAt": restarted_at,
            // The generation the rollout will be observed at (`status.observedGeneration`).
            "generation": deployment.metadata.generation,
            "dryRun": dry_run,
        }))
    }
}
