//! The policy in force, swapped atomically on reload.
//!
//! Readers take the current policy with one atomic load ([`arc_swap`]), so a reload never
//! blocks an evaluation and an evaluation always sees one whole policy. A file that fails
//! to load leaves the previous policy in force; the error is logged once per file content
//! and shown in `/readyz` until the file on disk is again the one in force.
//!
//! The store also keeps the revocation floor, `minIat`: the earliest `iat` of a decision
//! token still honoured, published beside the keys in the JWKS. It is kept in memory only
//! and is zero (nothing revoked) unless revoking mode is on (`POLICY_RELOAD_REVOKES=true`,
//! [`PolicyStore::revoking`]). Then it starts at the process's start-up (a restart revokes
//! every earlier token) and every successful reload that changes the policy raises it, as
//! does every SIGHUP that reloads, even when the file is unchanged: `kill -HUP` is the
//! local way to revoke every outstanding token. The floor is one second past the reload
//! (or past the previous floor, if later), and tokens issued after it carry an `iat` of at least the floor (see
//! [`PolicyStore::issued_at`]), so a token from the old policy never passes it and one
//! from the new policy always does.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};
use warden_policy::{Policy, PolicyErrors};

/// What a reload did.
#[derive(Debug)]
pub enum ReloadOutcome {
    /// The file content is the one in force (or the one that failed last time).
    Unchanged,
    /// A new policy is in force.
    Reloaded {
        /// Its version.
        version: String,
    },
    /// The file did not load; the previous policy stays in force.
    Failed(PolicyErrors),
}

/// The loaded policy and where it came from.
pub struct PolicyStore {
    path: PathBuf,
    current: ArcSwap<Policy>,
    /// Version and message of the last content that failed to load.
    last_failure: Mutex<Option<(String, String)>>,
    /// Reloads that replaced the policy / that failed, for `/metrics`.
    reloaded: AtomicU64,
    failed: AtomicU64,
    /// Whether reloads that change the policy revoke earlier tokens.
    revokes: bool,
    /// The earliest `iat` honoured, in seconds since the epoch; 0: no floor.
    min_iat: AtomicI64,
}

impl std::fmt::Debug for PolicyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyStore")
            .field("path", &self.path)
            .field("version", &self.current.load().version())
            .field("revokes", &self.revokes)
            .field("min_iat", &self.min_iat())
            .finish()
    }
}

impl PolicyStore {
    /// Loads the policy at `path`; at start-up a bad file is fatal.
    pub fn load(path: &Path) -> Result<Self, PolicyErrors> {
        let policy = Policy::load(path)?;
        Ok(PolicyStore {
            path: path.to_owned(),
            current: ArcSwap::from_pointee(policy),
            last_failure: Mutex::new(None),
            reloaded: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            revokes: false,
            min_iat: AtomicI64::new(0),
        })
    }

    /// Turns revoking mode (`POLICY_RELOAD_REVOKES`) on or off. On, the floor starts now:
    /// tokens issued before this process started are refused, and each reload that changes
    /// the policy (or a SIGHUP) raises the floor again.
    pub fn revoking(mut self, on: bool) -> Self {
        self.revokes = on;
        if on {
            let floor = self.raise_floor();
            tracing::info!(
                min_iat = floor,
                "POLICY_RELOAD_REVOKES=true: tokens issued before start-up are refused, and \
                 every policy change or SIGHUP revokes the tokens issued before it"
            );
        }
        self
    }

    /// Whether reloads revoke earlier tokens.
    pub fn revokes(&self) -> bool {
        self.revokes
    }

    /// The earliest `iat` (seconds since the epoch) a decision token may carry and still be
    /// honoured; 0 when nothing is revoked. Published in the JWKS as `minIat`.
    pub fn min_iat(&self) -> i64 {
        self.min_iat.load(Ordering::SeqCst)
    }

    /// The `iat` of a token issued at `now` (seconds since the epoch): `now`, or the floor
    /// `min_iat` if that is later, so that a token evaluated against the reloaded policy is
    /// never below its floor (the floor is up to a second ahead of the clock).
    ///
    /// Read `min_iat` and `now` *before* taking the policy ([`PolicyStore::current`]): a
    /// reload swaps the policy first and raises the floor after, so a token evaluated
    /// against the old policy then always carries an `iat` below the new floor.
    pub fn issued_at(now: i64, min_iat: i64) -> i64 {
        now.max(min_iat)
    }

    /// Raises the floor to one second past now, or past the floor in force if that is
    /// later, and returns it. Seconds are the resolution of `iat`, so a token issued
    /// earlier in this same second is revoked too; and since tokens issued since the last
    /// raise may carry the old floor as their `iat`, the floor must pass it.
    fn raise_floor(&self) -> i64 {
        let next = |old: i64| {
            old.saturating_add(1)
                .max(chrono::Utc::now().timestamp().saturating_add(1))
        };
        // The closure always returns `Some`, so this never fails.
        let _ = self
            .min_iat
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |old| Some(next(old)));
        self.min_iat()
    }

    /// The policy in force. Cheap: one atomic load, no lock.
    pub fn current(&self) -> arc_swap::Guard<Arc<Policy>> {
        self.current.load()
    }

    /// The file the policy comes from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The error of the last reload that failed, if the failing content is still on disk
    /// and has not been replaced by a good one.
    pub fn last_failure(&self) -> Option<String> {
        self.lock_failure()
            .as_ref()
            .map(|(_, message)| message.clone())
    }

    /// How many reloads replaced the policy and how many failed, since start-up.
    pub fn reload_counts(&self) -> (u64, u64) {
        (
            self.reloaded.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }

    fn lock_failure(&self) -> std::sync::MutexGuard<'_, Option<(String, String)>> {
        // A poisoned lock only means a panic elsewhere while holding a String; the data is fine.
        self.last_failure.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reloads the file if its content changed. `force` reloads even when unchanged (SIGHUP).
    /// In revoking mode a successful reload that changes the policy, or any forced one,
    /// raises the floor ([`PolicyStore::min_iat`]).
    pub fn reload(&self, force: bool) -> ReloadOutcome {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(err) => {
                let message = format!("cannot read {}: {err}", self.path.display());
                return self.fail("unreadable".into(), message.clone(), || {
                    PolicyErrors(vec![warden_policy::PolicyError {
                        file: self.path.display().to_string(),
                        line: None,
                        column: None,
                        rule: None,
                        message,
                    }])
                });
            }
        };
        let version = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        let previous = self.current.load().version().to_owned();
        if !force {
            if version == previous {
                // The file on disk is the one in force again (restored after a failed edit,
                // say): whatever failed before no longer describes it.
                *self.lock_failure() = None;
                return ReloadOutcome::Unchanged;
            }
            let failed_before = self
                .lock_failure()
                .as_ref()
                .is_some_and(|(v, _)| *v == version);
            if failed_before {
                return ReloadOutcome::Unchanged;
            }
        }
        let source = String::from_utf8_lossy(&bytes);
        match Policy::parse(&source, &self.path.display().to_string()) {
            Ok(policy) => {
                let version = policy.version().to_owned();
                self.current.store(Arc::new(policy));
                // After the swap, never before: see `issued_at`.
                if self.revokes && (force || version != previous) {
                    self.raise_floor();
                }
                *self.lock_failure() = None;
                self.reloaded.fetch_add(1, Ordering::Relaxed);
                ReloadOutcome::Reloaded { version }
            }
            Err(errors) => {
                let message = errors.to_string();
                self.fail(version, message, || errors)
            }
        }
    }

    fn fail(
        &self,
        version: String,
        message: String,
        errors: impl FnOnce() -> PolicyErrors,
    ) -> ReloadOutcome {
        *self.lock_failure() = Some((version, message));
        self.failed.fetch_add(1, Ordering::Relaxed);
        ReloadOutcome::Failed(errors())
    }

    /// Reloads and logs the outcome; the form used by the watcher and SIGHUP.
    pub fn reload_and_log(&self, force: bool) {
        let floor = self.min_iat();
        match self.reload(force) {
            ReloadOutcome::Unchanged => {}
            ReloadOutcome::Reloaded { version } => {
                tracing::info!(policy_version = %version, file = %self.path.display(), "policy reloaded");
                if self.min_iat() > floor {
                    tracing::warn!(
                        min_iat = self.min_iat(),
                        "revoking reload: the executor refuses every token issued before it"
                    );
                }
            }
            ReloadOutcome::Failed(errors) => {
                tracing::error!(
                    file = %self.path.display(),
                    errors = %errors,
                    in_force = %self.current.load().version(),
                    "policy reload failed; keeping the previous policy"
                );
            }
        }
    }
}

/// Watches the policy file: polls its content every `interval` (zero: never) and reloads on
/// SIGHUP, until `shutdown` resolves. Polling content rather than using inotify also catches
/// the symlink swap Kubernetes does when a ConfigMap changes.
pub async fn watch(
    store: Arc<PolicyStore>,
    interval: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut hangup = hangup_signal();
    let mut ticker = (!interval.is_zero()).then(|| {
        let mut t = tokio::time::interval(interval);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = async { match ticker.as_mut() { Some(t) => { t.tick().await; } None => std::future::pending::<()>().await } } => {
                let store = store.clone();
                // File I/O and parsing are blocking; keep them off the request workers.
                let _ = tokio::task::spawn_blocking(move || store.reload_and_log(false)).await;
            }
            Some(()) = async { match hangup.as_mut() { Some(s) => s.recv().await, None => std::future::pending().await } } => {
                tracing::info!("SIGHUP: reloading the policy");
                let store = store.clone();
                let _ = tokio::task::spawn_blocking(move || store.reload_and_log(true)).await;
            }
        }
    }
}

fn hangup_signal() -> Option<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}
