//! `restart_pod`: make a pod's controller replace it.
//!
//! `{"namespace", "podName", "mode"?: "delete" | "evict"}`, budget `restart`.
//!
//! - `delete` (the default, what clients in the field expect): `DELETE` the pod with its
//!   default grace period. Like `kubectl delete pod`, this ignores PodDisruptionBudgets.
//! - `evict`: `POST .../pods/{name}/eviction` (`policy/v1`), like `kubectl drain`, so the
//!   API server refuses when a PodDisruptionBudget would be violated. That refusal is a 429
//!   from Kubernetes and is answered 429 `kube_too_many_requests` (retry later: the budget
//!   frees up as replacement pods become ready), with nothing changed.
//!
//! A bare pod with no controller is not recreated by anything; that is the caller's policy
//! to judge, not something the executor can see without extra permissions.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::Eviction;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{DeleteOptions, ObjectMeta};
use kube::api::{Api, DeleteParams, PostParams};
use kube::core::Status;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use warden_protocol::{is_dns1123_label, is_dns1123_subdomain};

use super::kube_error::{self, KubeCall};
use super::{Action, ActionFailure, Cluster, Limits, Permission, Target};

/// The `restart_pod` action.
#[derive(Debug)]
pub struct RestartPod;

/// How the pod is removed.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RestartMode {
    /// `DELETE` the pod (ignores PodDisruptionBudgets, as `kubectl delete pod` does).
    #[default]
    Delete,
    /// Evict it through the Eviction API, so PodDisruptionBudgets hold.
    Evict,
}

impl RestartMode {
    fn as_str(self) -> &'static str {
        match self {
            RestartMode::Delete => "delete",
            RestartMode::Evict => "evict",
        }
    }
}

/// `actionParams` of `restart_pod`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RestartPodParams {
    /// Namespace of the pod (a DNS-1123 label).
    pub namespace: String,
    /// Name of the pod (a DNS-1123 subdomain).
    pub pod_name: String,
    /// `delete` (default) or `evict`.
    #[serde(default)]
    pub mode: RestartMode,
}

#[async_trait::async_trait]
impl Action for RestartPod {
    type Params = ObjectOnly<RestartPodParams>;

    const NAME: &'static str = "restart_pod";

    const BUDGET_KEY: &'static str = "restart";
    const PERMISSIONS: &'static [Permission] = &[
        Permission {
            api_group: "",
            resource: "pods",
            verb: "delete",
        },
        Permission {
            api_group: "",
            resource: "pods/eviction",
            verb: "create",
        },
    ];

    fn validate(params: &Self::Params, _limits: &Limits) -> Result<(), String> {
        validate_namespace(&params.namespace)?;
        validate_name("actionParams.podName", &params.pod_name)
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
        let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &params.namespace);
        let uid = match params.mode {
            RestartMode::Delete => delete(&pods, params, cluster, dry_run).await?,
            RestartMode::Evict => evict(&pods, params, cluster, dry_run).await?,
        };
        Ok(json!({
            "pod": params.pod_name,
            "namespace": params.namespace,
            "mode": params.mode.as_str(),
            "uid": uid,
            "dryRun": dry_run,
        }))
    }
}

/// Deletes the pod; returns the deleted pod's uid when the answer names it.
async fn delete(
    pods: &Api<Pod>,
    params: &RestartPodParams,
    cluster: &Cluster,
    dry_run: bool,
) -> Result<Option<String>, ActionFailure> {
    let op = KubeCall {
        verb: "delete",
        resource: "pods",
        api_group: "",
        namespace: &params.namespace,
        name: &params.pod_name,
        mutating: !dry_run,
    };
    let dp = DeleteParams {
        dry_run,
        ..DeleteParams::default()
    };
    let answer = kube_error::call(&op, cluster.timeout, pods.delete(&params.pod_name, &dp)).await?;
    // A pod with a grace period comes back as the Pod (now terminating); one deleted at once
    // comes back as a Status whose details may carry the uid.
    // (`either` is not a dependency of ours, so its method rather than a `match`.)
    Ok(answer.either(
        |pod| pod.metadata.uid,
        |status| status.details.map(|d| d.uid).filter(|uid| !uid.is_empty()),
    ))
}

/// Evicts the pod through the Eviction API. The answer (a `Status`) names no uid.
async fn evict(
    pods: &Api<Pod>,
    params: &RestartPodParams,
    cluster: &Cluster,
    dry_run: bool,
) -> Result<Option<String>, ActionFailure> {
    let op = KubeCall {
        verb: "create",
        resource: "pods/eviction",
        api_group: "",
        namespace: &params.namespace,
        name: &params.pod_name,
        mutating: !dry_run,
    };
    // Built by hand rather than with `Api::evict`: kube 5 serialises the delete options of an
    // eviction under the key `delete_options`, which the API server ignores as unknown, so a
    // dry run placed there would evict for real. Here the dry run travels both as the
    // `dryRun=All` query parameter (which the API server copies into the eviction) and in a
    // correctly named `deleteOptions`.
    let eviction = Eviction {
        metadata: ObjectMeta {
            name: Some(params.pod_name.clone()),
            namespace: Some(params.namespace.clone()),
            ..ObjectMeta::default()
        },
        delete_options: dry_run.then(|| DeleteOptions {
            dry_run: Some(vec!["All".to_owned()]),
            ..DeleteOptions::default()
        }),
    };
    let pp = PostParams {
        dry_run,
        ..PostParams::default()
    };
    let _: Status = kube_error::call(
        &op,
        cluster.timeout,
        pods.create_subresource("eviction", &params.pod_name, &pp, &eviction),
    )
    .await?;
    Ok(None)
}

// ---------------------------------------------------------------------------------------
// Shared by the parameters of every built-in action (`scale` and `rollout_restart` use them).
// ---------------------------------------------------------------------------------------

/// Parameters accepted only as a JSON object.
///
/// Serde's derived `Deserialize` for a struct also accepts a JSON array and fills the
/// fields by position, so `"actionParams": ["prod", "api-1"]` would restart pod `api-1`.
/// No client sends that, and a shape the contract does not describe must be refused, not
/// guessed at. Derefs to the parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectOnly<T>(pub T);

impl<T> std::ops::Deref for ObjectOnly<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapOnly<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for MapOnly<T> {
            type Value = T;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                // The map access is the caller's, so `serde_path_to_error` still sees the
                // path of a bad field inside.
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }

        deserializer
            .deserialize_map(MapOnly(PhantomData))
            .map(ObjectOnly)
    }
}

/// `actionParams.namespace` must be a DNS-1123 label.
pub(crate) fn validate_namespace(namespace: &str) -> Result<(), String> {
    if is_dns1123_label(namespace) {
        Ok(())
    } else {
        Err(format!(
            "actionParams.namespace: must be a DNS-1123 label (lowercase letters, digits and \
             '-', starting and ending with a letter or digit, at most 63 characters), got {:?}",
            shorten(namespace)
        ))
    }
}

/// An object name (`field` is its path) must be a DNS-1123 subdomain.
pub(crate) fn validate_name(field: &str, name: &str) -> Result<(), String> {
    if is_dns1123_subdomain(name) {
        Ok(())
    } else {
        Err(format!(
            "{field}: must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', \
             starting and ending with a letter or digit, at most 253 characters), got {:?}",
            shorten(name)
        ))
    }
}

/// Echoes at most 64 characters of a refused value: enough to recognise it, not enough to
/// fill an error answer or audit row.
fn shorten(value: &str) -> String {
    match value.char_indices().nth(64) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    }
}
