//! Actions the executor can run, behind one trait, registered once at start-up.
//!
//! A new action is one file implementing [`Action`] and one line in
//! [`Registry::with_builtins`] (or a `register` call of your own): its parameter type (parsed
//! strictly, unknown fields refused), validation, the target it touches (bound against the
//! decision token's resource and checked against protected namespaces), its budget key, and
//! the cluster call.
//!
//! Besides the writes, three read-only actions ([`pod_logs`], [`events`],
//! [`workload_status`]) let an AI engine diagnose through the same checks, policy,
//! budgets and audit instead of holding cluster credentials of its own. Their answers carry
//! what was read; their audit rows keep only its size and SHA-256 ([`Action::audit`]).

pub mod events;
pub mod http;
pub mod kube_error;
pub mod pod_logs;
pub mod read;
pub mod restart_pod;
pub mod rollout_restart;
pub mod scale;
pub mod workload_status;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;

/// The object an action touches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Namespace.
    pub namespace: String,
    /// Normalised kind (`pod`, `deployment`, `statefulset`, ...), or `*` when a read
    /// covers objects of every kind (`list_events` without a known `kind`).
    pub kind: &'static str,
    /// Object name, or `*` when a read covers every name (`list_events` without `name`).
    /// A decision covers `*` only with a `*` of its own.
    pub name: String,
}

/// One Kubernetes API permission an action needs: an RBAC rule's apiGroup, resource (with
/// subresource, as RBAC names it) and verb.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Permission {
    /// API group, `""` for the core group.
    pub api_group: &'static str,
    /// Resource, e.g. `pods`, `pods/eviction`, `deployments/scale`.
    pub resource: &'static str,
    /// RBAC verb: `get`, `create`, `patch`, `delete`, ...
    pub verb: &'static str,
}

/// Limits that validation enforces, from configuration.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Highest replica count a scale may ask for (`EXECUTOR_MAX_REPLICAS`).
    pub max_replicas: i32,
}

/// What the cluster call needs.
#[derive(Clone)]
pub struct Cluster {
    /// The Kubernetes client (retries off: see [`crate::kube_client`]).
    pub client: kube::Client,
    /// Deadline for each API call (`EXECUTOR_KUBE_TIMEOUT_SECONDS`).
    pub timeout: Duration,
}

/// How a cluster call failed.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionFailure {
    /// `Failed` when nothing changed, `Unknown` when the request was sent and its outcome
    /// is not known (never for a read).
    pub outcome_unknown: bool,
    /// Stable reason code (`kube_not_found`, `kube_forbidden`, `kube_conflict`,
    /// `kube_invalid`, `kube_too_many_requests`, `kube_timeout`, `kube_unavailable`,
    /// `kube_error`, `precondition_failed`).
    pub code: &'static str,
    /// Human message (with an RBAC hint for Forbidden).
    pub message: String,
    /// The HTTP status the executor answers with.
    pub http_status: u16,
}

/// One kind of action.
#[async_trait::async_trait]
pub trait Action: Send + Sync + 'static {
    /// Parameter type; parsed from `actionParams` with unknown fields refused.
    type Params: DeserializeOwned + Send + Sync + 'static;

    /// The `actionType` on the wire.
    const NAME: &'static str;

    /// The budget this action draws on (`RATE_LIMIT_<KEY>_TTL` / `_MAX`).
    const BUDGET_KEY: &'static str;

    /// Every API permission [`run`](Self::run) may use, in any mode. The deployment's RBAC
    /// is checked against the union of these (`executor-service permissions`), and the
    /// tests check that an action never calls the API outside them.
    const PERMISSIONS: &'static [Permission];

    /// Checks values serde cannot (names, ranges). The message names the field.
    fn validate(params: &Self::Params, limits: &Limits) -> Result<(), String>;

    /// The object the action touches.
    fn target(params: &Self::Params) -> Target;

    /// Runs the action; with `dry_run`, as a server-side dry run (`dryRun=All`) that
    /// changes nothing. Returns what changed (a read: what it read, see [`read`]).
    async fn run(
        params: &Self::Params,
        cluster: &Cluster,
        dry_run: bool,
    ) -> Result<Value, ActionFailure>;

    /// What the audit row keeps of a successful [`run`](Self::run)'s result; the caller
    /// gets the result itself. By default the whole result: a write's result says what
    /// changed, which is what an audit trail is for. A read overrides it to keep the size,
    /// SHA-256 and counts of what it returned and not the content (logs and event messages
    /// may hold personal data or secrets a workload printed, and the audit store keeps rows
    /// far longer than anyone needs them).
    fn audit(result: &Value) -> Value {
        result.clone()
    }
}

/// An action whose parameters parsed and validated, ready to run.
#[async_trait::async_trait]
pub trait Prepared: Send + Sync {
    /// The object it touches.
    fn target(&self) -> &Target;
    /// Runs it.
    async fn run(&self, cluster: &Cluster, dry_run: bool) -> Result<Value, ActionFailure>;
    /// What the audit row keeps of `result`, a successful run's (see [`Action::audit`]);
    /// by default all of it.
    fn audit(&self, result: &Value) -> Value {
        result.clone()
    }
}

/// Why `actionParams` were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidParams {
    /// The field at fault (`actionParams.replicas`), when known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// The type-erased face of an [`Action`] kept in the registry.
pub trait Registered: Send + Sync {
    /// The budget key.
    fn budget_key(&self) -> &'static str;
    /// The API permissions it needs.
    fn permissions(&self) -> &'static [Permission];
    /// Parses and validates `params`.
    fn prepare(&self, params: &Value, limits: &Limits) -> Result<Box<dyn Prepared>, InvalidParams>;
}

struct Entry<A: Action>(std::marker::PhantomData<fn() -> A>);

struct PreparedAction<A: Action> {
    params: A::Params,
    target: Target,
}

#[async_trait::async_trait]
impl<A: Action> Prepared for PreparedAction<A> {
    fn target(&self) -> &Target {
        &self.target
    }

    async fn run(&self, cluster: &Cluster, dry_run: bool) -> Result<Value, ActionFailure> {
        A::run(&self.params, cluster, dry_run).await
    }

    fn audit(&self, result: &Value) -> Value {
        A::audit(result)
    }
}

impl<A: Action> Registered for Entry<A> {
    fn budget_key(&self) -> &'static str {
        A::BUDGET_KEY
    }

    fn permissions(&self) -> &'static [Permission] {
        A::PERMISSIONS
    }

    fn prepare(&self, params: &Value, limits: &Limits) -> Result<Box<dyn Prepared>, InvalidParams> {
        let params: A::Params = serde_path_to_error::deserialize(params).map_err(|err| {
            let path = err.path().to_string();
            let field = if path == "." {
                "actionParams".to_owned()
            } else {
                format!("actionParams.{path}")
            };
            InvalidParams {
                message: format!("{field}: {}", err.into_inner()),
                field: Some(field),
            }
        })?;
        A::validate(&params, limits).map_err(|message| InvalidParams {
            field: message
                .split_once(':')
                .map(|(f, _)| f.to_owned())
                .filter(|f| f.starts_with("actionParams")),
            message,
        })?;
        let target = A::target(&params);
        Ok(Box::new(PreparedAction::<A> { params, target }))
    }
}

/// The actions this executor knows, by `actionType`.
#[derive(Clone, Default)]
pub struct Registry {
    actions: HashMap<&'static str, Arc<dyn Registered>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The built-in actions.
    pub fn with_builtins() -> Self {
        Self::new()
            .register::<restart_pod::RestartPod>()
            .register::<scale::ScaleDeployment>()
            .register::<scale::ScaleStatefulSet>()
            .register::<rollout_restart::RolloutRestartDeployment>()
            .register::<pod_logs::GetPodLogs>()
            .register::<events::ListEvents>()
            .register::<workload_status::GetWorkloadStatus>()
    }

    /// Adds `A` (replacing an action of the same name).
    pub fn register<A: Action>(mut self) -> Self {
        self.actions
            .insert(A::NAME, Arc::new(Entry::<A>(std::marker::PhantomData)));
        self
    }

    /// Adds the declarative HTTP actions `specs` (see [`http`]).
    pub fn with_http_actions(mut self, specs: Vec<http::spec::HttpActionSpec>) -> Self {
        for spec in specs {
            let (name, action) = http::HttpAction::new(spec);
            self.actions.insert(name, Arc::new(action));
        }
        self
    }

    /// The action called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Registered>> {
        self.actions.get(name)
    }

    /// Names and budget keys of every registered action, sorted by name.
    pub fn names(&self) -> Vec<(&'static str, &'static str)> {
        let mut names: Vec<_> = self
            .actions
            .iter()
            .map(|(name, a)| (*name, a.budget_key()))
            .collect();
        names.sort();
        names
    }

    /// The API permissions of every registered action, deduplicated and sorted.
    pub fn permissions(&self) -> Vec<Permission> {
        let set: std::collections::BTreeSet<Permission> = self
            .actions
            .values()
            .flat_map(|a| a.permissions().iter().copied())
            .collect();
        set.into_iter().collect()
    }

    /// [`permissions`](Self::permissions) as Kubernetes RBAC `PolicyRule`s, one per
    /// (apiGroup, resource) with its verbs sorted: what `executor-service permissions`
    /// prints and what the deployment's Role must grant, no more.
    pub fn policy_rules(&self) -> Value {
        let mut rules: std::collections::BTreeMap<(&str, &str), Vec<&str>> = Default::default();
        for p in self.permissions() {
            rules
                .entry((p.api_group, p.resource))
                .or_default()
                .push(p.verb);
        }
        Value::Array(
            rules
                .into_iter()
                .map(|((group, resource), verbs)| {
                    serde_json::json!({"apiGroups": [group], "resources": [resource], "verbs": verbs})
                })
                .collect(),
        )
    }
}
