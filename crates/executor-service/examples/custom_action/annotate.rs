//! `annotate_deployment`: writes a note on a Deployment (`warden.dev/note`), for people
//! reading the cluster during an incident. Budget `annotate`; RBAC `patch` on `deployments`.
//!
//! `{"namespace", "deploymentName", "note"}`.

use executor_service::actions::{Action, ActionFailure, Cluster, Limits, Permission, Target};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use serde::Deserialize;
use serde_json::{Value, json};

/// The annotation written.
pub const NOTE: &str = "warden.dev/note";

/// The action.
pub struct AnnotateDeployment;

/// Its `actionParams` (unknown fields refused).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AnnotateParams {
    /// Namespace.
    pub namespace: String,
    /// Deployment name.
    pub deployment_name: String,
    /// The note, at most 256 characters, no control characters.
    pub note: String,
}

#[async_trait::async_trait]
impl Action for AnnotateDeployment {
    type Params = AnnotateParams;
    const NAME: &'static str = "annotate_deployment";
    const BUDGET_KEY: &'static str = "annotate";
    const PERMISSIONS: &'static [Permission] = &[Permission {
        api_group: "apps",
        resource: "deployments",
        verb: "patch",
    }];

    fn validate(params: &AnnotateParams, _limits: &Limits) -> Result<(), String> {
        if !warden_protocol::is_dns1123_label(&params.namespace) {
            return Err("actionParams.namespace: not a namespace name".into());
        }
        if !warden_protocol::is_dns1123_subdomain(&params.deployment_name) {
            return Err("actionParams.deploymentName: not a Deployment name".into());
        }
        if params.note.is_empty()
            || params.note.chars().count() > 256
            || params.note.chars().any(char::is_control)
        {
            return Err("actionParams.note: 1 to 256 characters, no control characters".into());
        }
        Ok(())
    }

    fn target(params: &AnnotateParams) -> Target {
        Target {
            namespace: params.namespace.clone(),
            kind: "deployment",
            name: params.deployment_name.clone(),
        }
    }

    async fn run(
        params: &AnnotateParams,
        cluster: &Cluster,
        dry_run: bool,
    ) -> Result<Value, ActionFailure> {
        let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), &params.namespace);
        let patch = json!({"metadata": {"annotations": {NOTE: params.note}}});
        let pp = PatchParams {
            dry_run,
            ..PatchParams::default()
        };
        let patch = Patch::Strategic(&patch);
        let call = api.patch(&params.deployment_name, &pp, &patch);
        match tokio::time::timeout(cluster.timeout, call).await {
            Ok(Ok(_)) => Ok(
                json!({"deployment": params.deployment_name, "note": params.note, "dryRun": dry_run}),
            ),
            // A timeout means the patch may have landed: the outcome is unknown, never retried.
            Err(_) => Err(ActionFailure {
                outcome_unknown: true,
                code: "kube_timeout",
                message: "the patch timed out; it may have been applied".into(),
                http_status: 504,
            }),
            Ok(Err(err)) => Err(ActionFailure {
                outcome_unknown: false,
                code: "kube_error",
                message: format!("the patch failed: {err}"),
                http_status: 502,
            }),
        }
    }
}
