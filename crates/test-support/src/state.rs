//! Everything the fake remembers: objects, faults, and the history tests assert on.
//!
//! One `std::sync::Mutex` guards it all. Handlers are synchronous and never hold the lock
//! across an `.await`, so a state change and its entry in the mutation log happen under one
//! lock: the log order is the order the changes were applied.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::fault::Fault;
use crate::objects::{Kind, Seed, converge_status};

/// How many requests the log keeps before dropping the oldest, so a load test cannot
/// grow the fake without bound.
pub(crate) const REQUEST_LOG_LIMIT: usize = 100_000;

/// What kind of change a [`Mutation`] was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Verb {
    /// `DELETE` of a pod.
    Delete,
    /// `POST .../pods/{name}/eviction` that removed the pod.
    Evict,
    /// `PATCH`/`PUT` of a `/scale` subresource.
    Scale,
    /// `PATCH` of an object (not of its `/scale`).
    Patch,
    /// `PUT` of a whole object.
    Replace,
    /// `POST` of a new object.
    Create,
}

/// One applied, non-dry-run mutating request, in the order they were applied.
///
/// There is one entry per successful request, including a patch or scale that left the
/// object as it was (`detail.changed == false`): an executor audits requests, so the
/// invariant "one succeeded audit row per mutation" needs a 1:1 log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mutation {
    /// What was done.
    pub verb: Verb,
    /// The type of the object it was done to.
    pub kind: Kind,
    /// The object's namespace.
    pub namespace: String,
    /// The object's name.
    pub name: String,
    /// Verb-specific facts: `uid` and `options` for `Delete`; `uid` and `deleteOptions`
    /// for `Evict`; `from`, `to` and `changed` for `Scale`; `contentType`, `patch`,
    /// `changed` and `generation` for `Patch`; `changed` and `generation` for `Replace`;
    /// `uid` for `Create`.
    pub detail: Value,
}

/// One request the Kubernetes API endpoints received (the admin API is not recorded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedRequest {
    /// Arrival order, from 1; keeps increasing across [`crate::FakeKube::reset`].
    pub seq: u64,
    /// HTTP method, upper case (`GET`, `PATCH`, ...).
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// The raw query string, empty when there was none.
    pub query: String,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body parsed as JSON; `Null` when empty or not JSON.
    pub body: Value,
    /// Whether the request asked for a server-side dry run (`?dryRun=All`, or `dryRun`
    /// in the delete options of a DELETE or an eviction body).
    pub dry_run: bool,
    /// The status code answered; `None` while the request is still being handled (it is
    /// recorded on arrival, so a delayed request shows up before it is answered).
    pub status: Option<u16>,
    /// Whether an injected [`Fault`] matched this request.
    pub faulted: bool,
}

/// How `DELETE` of a pod answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeleteAnswer {
    /// The deleted Pod, with `deletionTimestamp` set (what kube-apiserver does for pods);
    /// kube's `Api::delete` returns `Either::Left(pod)`.
    #[default]
    Object,
    /// A `Status` with `status: Success` (what it does for types that do not return the
    /// deleted object); kube's `Api::delete` returns `Either::Right(status)`.
    Status,
}

/// Per-server behaviour switches, settable at runtime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Options {
    /// How pod deletes answer.
    pub delete_answer: DeleteAnswer,
}

/// The key objects are stored under.
pub(crate) type Key = (Kind, String, String);

/// One line a container wrote, with when it wrote it (for `sinceSeconds`).
#[derive(Debug, Clone)]
pub(crate) struct LogLine {
    /// When the line was written.
    pub at: chrono::DateTime<chrono::Utc>,
    /// The line, without its newline.
    pub text: String,
}

/// The fake cluster's memory.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Every object, by kind, namespace and name.
    pub objects: BTreeMap<Key, Value>,
    /// The cluster-wide revision (etcd's), stamped as `resourceVersion` on every change.
    /// Never reset, so a client never sees a resourceVersion go backwards.
    pub revision: u64,
    /// Pods whose eviction a PodDisruptionBudget refuses.
    pub blocked_evictions: BTreeSet<(String, String)>,
    /// Active faults, in injection order.
    pub faults: Vec<Fault>,
    /// Applied changes.
    pub mutations: Vec<Mutation>,
    /// Recent requests, oldest first.
    pub requests: VecDeque<RecordedRequest>,
    /// Last `seq` handed out.
    pub last_seq: u64,
    /// Behaviour switches.
    pub options: Options,
    /// Container logs by (namespace, pod, container), in the order they were written.
    pub logs: BTreeMap<(String, String, String), Vec<LogLine>>,
    /// `core/v1` Events by (namespace, name), as a list answers them (in key order).
    pub events: BTreeMap<(String, String), Value>,
}

impl State {
    /// The next `resourceVersion`.
    pub(crate) fn next_revision(&mut self) -> String {
        self.revision += 1;
        self.revision.to_string()
    }

    /// Stores a seed, stamping server-managed metadata; replaces an existing object.
    pub(crate) fn insert_seed(&mut self, seed: Seed) {
        let Seed {
            kind,
            namespace,
            name,
            mut object,
        } = seed;
        let revision = self.next_revision();
        let metadata = &mut object["metadata"];
        if metadata.get("uid").and_then(Value::as_str).is_none() {
            metadata["uid"] = json!(uuid::Uuid::new_v4().to_string());
        }
        if metadata
            .get("creationTimestamp")
            .and_then(Value::as_str)
            .is_none()
        {
            metadata["creationTimestamp"] = json!(now());
        }
        metadata["resourceVersion"] = json!(revision);
        if kind.is_scalable() {
            if metadata.get("generation").and_then(Value::as_i64).is_none() {
                metadata["generation"] = json!(1);
            }
            converge_status(kind, &mut object);
        }
        self.objects.insert((kind, namespace, name), object);
    }

    /// Appends a request to the log, dropping the oldest beyond the limit.
    pub(crate) fn record_arrival(&mut self, mut request: RecordedRequest) -> u64 {
        self.last_seq += 1;
        request.seq = self.last_seq;
        if self.requests.len() >= REQUEST_LOG_LIMIT {
            self.requests.pop_front();
        }
        self.requests.push_back(request);
        self.last_seq
    }

    /// Fills in the status a recorded request was answered with.
    pub(crate) fn record_answer(&mut self, seq: u64, status: u16) {
        // Newest first: the request is almost always among the last few.
        if let Some(request) = self.requests.iter_mut().rev().find(|r| r.seq == seq) {
            request.status = Some(status);
        }
    }

    /// Takes one use of the first fault matching the request, if any.
    pub(crate) fn take_fault(&mut self, method: &str, path: &str) -> Option<Fault> {
        let fault = self.faults.iter_mut().find(|f| f.matches(method, path))?;
        if let Some(times) = fault.times.as_mut() {
            *times -= 1;
        }
        let taken = fault.clone();
        self.faults.retain(|f| f.times != Some(0));
        Some(taken)
    }

    /// Forgets objects, faults, blocks, history and options (not the revision counter).
    pub(crate) fn reset(&mut self) {
        *self = State {
            revision: self.revision,
            last_seq: self.last_seq,
            ..State::default()
        };
    }
}

/// The state behind its lock, shared by the server task and every handle.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    state: Mutex<State>,
}

impl Shared {
    /// Locks the state. A panic while holding the lock (a failed assertion in a test
    /// thread, say) must not wedge the server for the other tests, so poisoning is ignored:
    /// every handler leaves the state consistent before it can panic.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Now, as Kubernetes writes timestamps (RFC 3339, seconds, `Z`).
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
