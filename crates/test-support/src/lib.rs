//! Test doubles for Warden: [`FakeKube`], a fake Kubernetes API server that a plain
//! `kube::Client` talks to over HTTP without knowing it is fake.
//!
//! It serves what Warden's executor uses (pods: get, list, delete, evict, and their logs;
//! deployments and statefulsets: get, list, patch, replace, and their `/scale` subresource;
//! the `core/v1` Event list with field selectors), with the real
//! API's shapes: `apiVersion`/`kind` on every object, server-managed metadata (`uid`, a
//! cluster-wide `resourceVersion` bumped on each change, `creationTimestamp`, `generation`
//! for apps objects), `?dryRun=All`, and errors as `metav1.Status` bodies with the real
//! reasons and messages. Tests seed objects, inject faults, and assert on the resulting
//! state, on the log of [`Mutation`]s and on the log of [`RecordedRequest`]s.
//!
//! # Usage
//!
//! ```
//! use k8s_openapi::api::apps::v1::Deployment;
//! use kube::api::{Api, Patch, PatchParams};
//! use warden_test_support::{FakeKube, Kind, Verb};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), kube::Error> {
//! // Arrange
//! let kube = FakeKube::start().await;
//! kube.add_deployment("production", "api", 3);
//! let deployments: Api<Deployment> =
//!     Api::namespaced(kube.client_without_retries(), "production");
//!
//! // Act
//! let patch = Patch::Merge(serde_json::json!({"spec": {"replicas": 5}}));
//! let scale = deployments.patch_scale("api", &PatchParams::default(), &patch).await?;
//!
//! // Assert: on the fake's state, not only on the answer.
//! assert_eq!(scale.spec.and_then(|s| s.replicas), Some(5));
//! assert_eq!(kube.replicas(Kind::Deployment, "production", "api"), Some(5));
//! assert_eq!(kube.mutations()[0].verb, Verb::Scale);
//! # Ok(())
//! # }
//! ```
//!
//! Out of process (system tests, load scripts), run the `fake-kube` binary:
//! `fake-kube --addr 127.0.0.1:0 --seed objects.json` prints `listening http://127.0.0.1:PORT`
//! as its first line and serves the admin API described in [`FakeKube`].
//!
//! # What kube 5 does with these answers (checked against this fake)
//!
//! - **Errors.** A 4xx/5xx whose body parses as a `Status` becomes
//!   `kube::Error::Api(Box<kube::core::Status>)` (the boxed `Status` has `code: u16`,
//!   `reason: String`, `message: String`, `status: Option<StatusSummary>`,
//!   `details: Option<StatusDetails>`, `metadata`); match with
//!   `Err(kube::Error::Api(s)) if s.code == 404` or `s.reason == "NotFound"`, or the helpers
//!   `s.is_not_found()`, `is_conflict()`, `is_forbidden()`, `is_invalid()`. A body that is
//!   not a `Status` is also `Error::Api`, with `reason: "Failed to parse error data"`.
//! - **Retries.** Every client built from a `kube::Config` (`Client::try_from`,
//!   `Config::infer`, ...) has `Config::default_retry == true`, which wraps it in a tower
//!   `RetryLayer` with `RetryPolicy::server_retry()`: requests answered **429, 503 or 504
//!   are re-sent up to 15 times** (16 attempts; not 3, which is `RetryPolicy::default()`,
//!   a policy the client builder does not use), with exponential backoff from 5 ms (each
//!   wait is the base times 1 to 3, jittered; the base doubles, capped at 1000 s), or after
//!   `Retry-After` seconds when the server asks for a longer wait. The body is re-sent too,
//!   so a DELETE, an eviction or a PATCH is repeated, and a transient 503 is invisible to
//!   the caller. A permanent error keeps one call busy for minutes: against this fake, a
//!   permanent 503 took 16 attempts over 302 s before `Error::Api` surfaced, and a
//!   PodDisruptionBudget refusal (429 without `Retry-After`) behaves the same. To turn
//!   retries off, set `config.default_retry = false` before
//!   `kube::Client::try_from(config)` (or use [`FakeKube::client_without_retries`]); the
//!   first answer is then final. Transport errors (timeouts, refused connections)
//!   are never retried by this layer.
//! - **Delete.** `Api::delete` sends `{}` (or `{"dryRun":["All"]}`) as the body and returns
//!   `Either::Left(pod)` for the deleted object, `Either::Right(status)` for a Success
//!   `Status`; pods answer the object unless [`DeleteAnswer::Status`] is set.
//!   `DeleteParams { dry_run: true, .. }` travels in the body, not the query.
//! - **Evict.** `Api::<Pod>::evict` parses the answer as a `Status` (the real server
//!   answers 201 `{"status":"Success","code":201}`). Beware: kube 5 sends
//!   `EvictParams::delete_options` under the key `"delete_options"`, which a real server
//!   drops as an unknown field (with a `Warning` header), so a dry run or a precondition
//!   put there never reaches the server; use `EvictParams::post_options.dry_run`
//!   (`?dryRun=All`) instead. The fake behaves the same way.
//!
//! # Fidelity limits (on purpose)
//!
//! No controllers run: status reports every rollout as finished at once, scaling creates
//! no pods, and a deleted pod is gone at once (the answer still carries
//! `deletionTimestamp`) and is not recreated. No watches, no authentication or RBAC (use a
//! 403 [`Fault`]), no other resource types (Events can be listed, not read one by one or
//! written through the API; logs are never followed), label selectors with `=`, `==`, `!=` and
//! existence only. Strategic merge patch and apply are approximations described in the
//! `patch` module; an apply to a missing object is a 404, not a create.
//!
//! # Layout
//!
//! - `lib.rs`: [`FakeKube`], the handle tests hold: start, clients, seeding, inspection.
//! - `server.rs`: the router and request pipeline (record, match a fault, handle) and the
//!   `/_fake/` admin API.
//! - `api/`: the Kubernetes endpoints. `mod.rs`: the request and the dispatch by route and
//!   verb; `routes.rs`: routing by path segments; `verbs.rs`: get, list, create, delete,
//!   patch, replace; `scale.rs`: the `/scale` subresource; `pods.rs`: eviction;
//!   `reads.rs`: pod logs and the Event list;
//!   `validation.rs`: updates and the server's semantic checks; `discovery.rs`: `/version`
//!   and discovery.
//! - `objects.rs`: [`Kind`], seeded object templates, typed validation, the Scale view.
//! - `patch.rs`: merge, strategic merge, JSON patch and apply.
//! - `status.rs`: `metav1.Status` answers with the real server's reasons and messages.
//! - `state.rs`: the locked state, [`Mutation`], [`RecordedRequest`], [`Options`].
//! - `fault.rs`: [`Fault`].
//! - `reads.rs`: seeding log lines and Events.
//! - `bin/fake-kube.rs`: the standalone server.
//! - `router.rs`: in-process requests through an axum router, answers as JSON
//!   ([`router::Answer`]).
//! - `metrics.rs`: scraping a router's `/metrics` and reading samples.
//! - `claims.rs`: [`claims::ClaimsBuilder`], decision claims with valid defaults.
//! - `process.rs`: a free loopback port for a binary under test.
//! - `logs.rs`: [`logs::LogCapture`], log events captured for a test to read.

mod api;
pub mod claims;
mod fault;
pub mod logs;
pub mod metrics;
mod objects;
mod patch;
pub mod process;
mod reads;
pub mod router;
mod server;
mod state;
mod status;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use fault::Fault;
pub use objects::{Kind, SeedError};
pub use state::{DeleteAnswer, Mutation, Options, RecordedRequest, Verb};

use objects::{Seed, parse_seeds, template};
use state::Shared;

/// A running fake Kubernetes API server; a cheap-to-clone handle.
///
/// The server runs on a task of the Tokio runtime that started it, until
/// [`FakeKube::shutdown`] or until the last clone is dropped.
///
/// # Admin API
///
/// For use from another process, the server also answers under `/_fake/` (never recorded,
/// never faulted); bodies and answers are JSON:
///
/// | request | effect |
/// |---|---|
/// | `POST /_fake/objects` | seed objects (same format as [`FakeKube::add_objects`]); `201 {"added": n}` |
/// | `GET /_fake/objects` | `{"items": [...]}`, every stored object |
/// | `POST /_fake/faults` | inject a [`Fault`] or an array of them (camelCase, `delayMs`); `201 {"added": n}` |
/// | `GET /_fake/faults` | the active faults, with their remaining `times` |
/// | `DELETE /_fake/faults` | clear every fault; `204` |
/// | `GET /_fake/mutations` | `[Mutation, ...]` in order |
/// | `GET /_fake/requests` | `[RecordedRequest, ...]` in arrival order (the latest 100 000) |
/// | `POST /_fake/blocked-evictions` | `{"namespace": "ns", "name": "pod"}`: evictions of it answer 429; `204` |
/// | `DELETE /_fake/blocked-evictions` | unblock every pod; `204` |
/// | `GET`/`PUT /_fake/options` | [`Options`], e.g. `{"deleteAnswer": "status"}` |
/// | `POST /_fake/logs` | `{"namespace", "pod", "container", "text", "ageSeconds"?}`: append log lines (see [`FakeKube::add_pod_log`]); `204` |
/// | `POST /_fake/events` | `{"namespace", "event": {...}}`: store an Event (see [`FakeKube::add_event`]); `201 {"name": "..."}` |
/// | `POST /_fake/reset` | forget objects, logs, events, faults, blocks, options and both logs; `204` |
///
/// Admin errors are `{"error": "..."}` with status 400 or 404.
#[derive(Clone)]
pub struct FakeKube {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    addr: SocketAddr,
    uri: http::Uri,
    /// Tells the server task to stop; sent on shutdown or when the last handle drops.
    shutdown: Mutex<Option<oneshot::Sender<()>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let sender = self
            .shutdown
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(sender) = sender {
            let _ = sender.send(());
        }
    }
}

impl std::fmt::Debug for FakeKube {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeKube")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl FakeKube {
    /// Starts a server on `127.0.0.1` and a free port.
    ///
    /// # Panics
    ///
    /// If no loopback port can be bound, which leaves a test nothing to do but fail.
    pub async fn start() -> FakeKube {
        match FakeKube::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await {
            Ok(fake) => fake,
            Err(e) => panic!("cannot start the fake Kubernetes API server on 127.0.0.1: {e}"),
        }
    }

    /// Starts a server on `addr` (port 0 picks a free one).
    ///
    /// # Errors
    ///
    /// When `addr` cannot be bound.
    pub async fn start_on(addr: SocketAddr) -> io::Result<FakeKube> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let uri: http::Uri = format!("http://{addr}").parse().map_err(io::Error::other)?;
        let shared = Arc::new(Shared::default());
        let (sender, receiver) = oneshot::channel::<()>();
        let app = server::router(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let stop = async {
                let _ = receiver.await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::error!(error = %e, "the fake Kubernetes API server stopped");
            }
        });
        tracing::debug!(%addr, "fake Kubernetes API server listening");
        Ok(FakeKube {
            inner: Arc::new(Inner {
                shared,
                addr,
                uri,
                shutdown: Mutex::new(Some(sender)),
                task: Mutex::new(Some(task)),
            }),
        })
    }

    /// Stops accepting connections and waits for in-flight requests (delayed ones
    /// included) to finish. Other clones then point at a closed port.
    pub async fn shutdown(&self) {
        let sender = lock(&self.inner.shutdown).take();
        if let Some(sender) = sender {
            let _ = sender.send(());
        }
        let task = lock(&self.inner.task).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// A `kube::Config` for the server (no credentials, namespace `default`, kube's
    /// defaults otherwise, retries included), to adjust before building a client.
    pub fn config(&self) -> kube::Config {
        kube::Config::new(self.inner.uri.clone())
    }

    /// A client with kube's defaults: `Client::try_from(Config::new(url))`. Note that it
    /// re-sends 429/503/504 answers (see the crate docs).
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime (kube spawns the client's buffer task).
    pub fn client(&self) -> kube::Client {
        build_client(self.config())
    }

    /// A client with `default_retry = false`: every answer, 429/503/504 included, is
    /// final, as an executor that must never repeat an action wants.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub fn client_without_retries(&self) -> kube::Client {
        let mut config = self.config();
        config.default_retry = false;
        build_client(config)
    }

    /// A kubeconfig (YAML) whose current context points at the server, namespace
    /// `default`, no credentials.
    pub fn kubeconfig_yaml(&self) -> String {
        format!(
            "apiVersion: v1\n\
             kind: Config\n\
             clusters:\n\
             - name: fake-kube\n  cluster:\n    server: {url}\n\
             contexts:\n\
             - name: fake-kube\n  context:\n    cluster: fake-kube\n    user: fake-kube\n    namespace: default\n\
             current-context: fake-kube\n\
             users:\n\
             - name: fake-kube\n  user: {{}}\n\
             preferences: {{}}\n",
            url = self.url()
        )
    }

    /// Writes [`FakeKube::kubeconfig_yaml`] to `dir/kubeconfig` and returns its path, for
    /// `KUBECONFIG`, `Kubeconfig::read_from` or `Config::infer`.
    ///
    /// # Errors
    ///
    /// When the file cannot be written.
    pub fn write_kubeconfig(&self, dir: &Path) -> io::Result<PathBuf> {
        let path = dir.join("kubeconfig");
        std::fs::write(&path, self.kubeconfig_yaml())?;
        Ok(path)
    }

    /// Seeds (or replaces) a running pod labelled `app: <name>`.
    pub fn add_pod(&self, namespace: &str, name: &str) {
        self.seed(Kind::Pod, namespace, name, 0);
    }

    /// Seeds (or replaces) a deployment selecting `app: <name>`, settled at `replicas`.
    pub fn add_deployment(&self, namespace: &str, name: &str, replicas: i32) {
        self.seed(Kind::Deployment, namespace, name, replicas);
    }

    /// Seeds (or replaces) a statefulset selecting `app: <name>`, settled at `replicas`.
    pub fn add_statefulset(&self, namespace: &str, name: &str, replicas: i32) {
        self.seed(Kind::StatefulSet, namespace, name, replicas);
    }

    fn seed(&self, kind: Kind, namespace: &str, name: &str, replicas: i32) {
        self.inner.shared.lock().insert_seed(Seed {
            kind,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            object: template(kind, namespace, name, replicas),
        });
    }

    /// Seeds (or replaces) objects: one object, an array, or `{"items": [...]}`. Each is a
    /// full Pod, Deployment or StatefulSet (server-managed metadata is filled in), or the
    /// shorthand `{"kind": "Deployment", "namespace": "prod", "name": "api", "replicas": 3}`.
    /// Returns how many were added; nothing is added when one is invalid.
    ///
    /// # Errors
    ///
    /// When the document is not one of those shapes or an object is not valid for its kind.
    pub fn add_objects(&self, document: Value) -> Result<usize, SeedError> {
        let seeds = parse_seeds(document)?;
        let added = seeds.len();
        let mut state = self.inner.shared.lock();
        for seed in seeds {
            state.insert_seed(seed);
        }
        Ok(added)
    }

    /// Seeds the objects of a JSON file (see [`FakeKube::add_objects`]).
    ///
    /// # Errors
    ///
    /// When the file cannot be read, is not JSON, or holds an invalid object.
    pub fn add_objects_from_file(&self, path: &Path) -> Result<usize, SeedError> {
        let text = std::fs::read_to_string(path)?;
        self.add_objects(serde_json::from_str(&text)?)
    }

    /// Appends the lines of `text` to the log of `container` in pod `namespace/pod`, as
    /// written `age` ago (`sinceSeconds` compares with that). `GET …/pods/{pod}/log`
    /// answers them in the order they were added, each ending in a newline, after
    /// `sinceSeconds`, then `tailLines`, then `limitBytes` (a byte cut, which may split a
    /// UTF-8 sequence, as the real server's does). The pod must exist when the log is read,
    /// and `container` must be one of its containers (seeded pods have one, `app`).
    pub fn add_pod_log(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        age: std::time::Duration,
        text: &str,
    ) {
        let mut state = self.inner.shared.lock();
        reads::append_log(&mut state, (namespace, pod, container), age, text);
    }

    /// Stores a `core/v1` Event in `namespace` and returns its name. `event` needs only
    /// `involvedObject.name`; the rest is filled in (kind `Pod`, type `Normal`, reason
    /// `Unknown`, count 1, `lastTimestamp` now, `firstTimestamp` the last one, a generated
    /// name and the server-managed metadata). Lists answer Events in name order, as etcd
    /// does, not by time.
    ///
    /// # Errors
    ///
    /// When `event` is not an object, has no `involvedObject.name`, or is not a valid Event.
    pub fn add_event(&self, namespace: &str, event: Value) -> Result<String, SeedError> {
        reads::insert_event(&mut self.inner.shared.lock(), namespace, event)
    }

    /// Replaces the `status` of a stored deployment or statefulset, as its controller
    /// reporting a rollout in progress would; returns whether the object exists. The next
    /// write to the object converges the status again.
    pub fn set_status(&self, kind: Kind, namespace: &str, name: &str, status: Value) -> bool {
        let mut state = self.inner.shared.lock();
        match state
            .objects
            .get_mut(&(kind, namespace.to_owned(), name.to_owned()))
        {
            Some(object) => {
                object["status"] = status;
                true
            }
            None => false,
        }
    }

    /// Makes evictions of this pod answer 429 TooManyRequests with the real server's
    /// PodDisruptionBudget message, as if a budget allowed no disruption.
    pub fn block_evictions(&self, namespace: &str, pod: &str) {
        self.inner
            .shared
            .lock()
            .blocked_evictions
            .insert((namespace.to_owned(), pod.to_owned()));
    }

    /// Lets evictions of this pod through again.
    pub fn unblock_evictions(&self, namespace: &str, pod: &str) {
        self.inner
            .shared
            .lock()
            .blocked_evictions
            .remove(&(namespace.to_owned(), pod.to_owned()));
    }

    /// Whether the pod exists.
    pub fn pod_exists(&self, namespace: &str, name: &str) -> bool {
        self.object(Kind::Pod, namespace, name).is_some()
    }

    /// `spec.replicas` of a deployment or statefulset; `None` when it does not exist (or
    /// for pods).
    pub fn replicas(&self, kind: Kind, namespace: &str, name: &str) -> Option<i32> {
        if !kind.is_scalable() {
            return None;
        }
        let object = self.object(kind, namespace, name)?;
        i32::try_from(objects::spec_replicas(&object)).ok()
    }

    /// The stored object as JSON, exactly as a GET would answer it.
    pub fn object(&self, kind: Kind, namespace: &str, name: &str) -> Option<Value> {
        self.inner
            .shared
            .lock()
            .objects
            .get(&(kind, namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    /// The stored pod as JSON.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<Value> {
        self.object(Kind::Pod, namespace, name)
    }

    /// The stored deployment as JSON (to check annotations, generation, ...).
    pub fn deployment(&self, namespace: &str, name: &str) -> Option<Value> {
        self.object(Kind::Deployment, namespace, name)
    }

    /// The stored statefulset as JSON.
    pub fn statefulset(&self, namespace: &str, name: &str) -> Option<Value> {
        self.object(Kind::StatefulSet, namespace, name)
    }

    /// Every applied, non-dry-run change, in order (see [`Mutation`]).
    pub fn mutations(&self) -> Vec<Mutation> {
        self.inner.shared.lock().mutations.clone()
    }

    /// Every Kubernetes API request received, in arrival order, including dry runs,
    /// failures and requests still in flight (the latest 100 000 are kept).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner.shared.lock().requests.iter().cloned().collect()
    }

    /// Adds a fault after the existing ones (the first matching fault wins).
    pub fn inject(&self, fault: Fault) {
        self.inner.shared.lock().faults.push(fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.inner.shared.lock().faults.clear();
    }

    /// Chooses how pod deletes answer (the deleted Pod, or a Success `Status`).
    pub fn set_delete_answer(&self, answer: DeleteAnswer) {
        self.inner.shared.lock().options.delete_answer = answer;
    }

    /// Forgets objects, container logs, events, faults, eviction blocks, options and both
    /// logs. Resource versions keep increasing, as a client may still hold old ones.
    pub fn reset(&self) {
        self.inner.shared.lock().reset();
    }
}

fn build_client(config: kube::Config) -> kube::Client {
    match kube::Client::try_from(config) {
        Ok(client) => client,
        Err(e) => panic!("cannot build a kube client for the fake API server: {e}"),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
