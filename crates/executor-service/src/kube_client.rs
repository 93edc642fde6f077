//! The Kubernetes client the executor acts through.
//!
//! One rule shapes it: **no request is ever sent twice**. kube 5 wraps every client built
//! from a `kube::Config` in a tower `RetryLayer` with `RetryPolicy::server_retry()`, which
//! re-sends requests answered 429, 503 or 504, body included, up to 15 times with
//! exponential backoff or after `Retry-After` (`kube::Config::default_retry`, `true` in every
//! constructor, `Config::infer` included). For a read that is merely slow; for a delete, an
//! eviction or a patch it means one audited attempt could act several times, or act after
//! the executor already gave up and reported a failure, and a 504 is exactly the answer
//! whose write may have landed. A PodDisruptionBudget's permanent 429 would also keep an
//! eviction retrying for minutes. So `default_retry` is set to `false` here, and the
//! executor reports the first answer it gets (see [`crate::actions::kube_error`]).
//!
//! What still retries, on purpose: hyper-util's pool re-sends a request only when a pooled
//! connection closed *before* the request was written ("unstarted request canceled"), which
//! cannot duplicate anything.
//!
//! Timeouts: the connect, read and write timeouts of the HTTP connector are set to the same
//! deadline as each action's own `tokio::time::timeout` (which is what normally fires first
//! and classifies the failure), so that no socket operation can outlive it. The read timeout
//! counts from each write (`reset_reader_on_write`), not from when a pooled connection went
//! idle, so a long-idle connection does not time out a fresh request.
//!
//! Finding the cluster ([`discover`]) follows one rule for the executor binary and for
//! `cargo run`; they differ only in what [`WithoutCluster`] allows when none is found.

use std::time::Duration;

use anyhow::Context as _;

/// The cluster the executor acts on, if any.
pub struct ClusterChoice {
    /// The client; `None` runs every action as a dry run answered by the executor.
    pub client: Option<kube::Client>,
    /// Where it points, for `cargo run`'s banner (`none` without a cluster).
    pub description: String,
}

/// Whether the executor may start without a cluster when no usable configuration is found
/// and `KUBECONFIG` is not set. A set but unusable `KUBECONFIG` is an error either way: it
/// says a cluster was meant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WithoutCluster {
    /// The executor binary: only when `EXECUTOR_DRY_RUN` is on (the value given here);
    /// otherwise it refuses to start, since a live executor with nothing to act on is a
    /// misconfiguration.
    IfDryRun(bool),
    /// `cargo run`: always; every action is then a dry run answered by the executor.
    Allowed,
}

/// Finds a cluster as the Kubernetes tools do (`KUBECONFIG`, else `~/.kube/config`, else
/// the in-cluster ServiceAccount) and builds its client, with `timeout` on every socket
/// operation and kube's retries turned off. When
/// none is usable, `without` decides between no cluster and an error naming `KUBECONFIG`.
pub async fn discover(without: WithoutCluster, timeout: Duration) -> anyhow::Result<ClusterChoice> {
    let kubeconfig = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty());
    let found = match infer().await {
        Ok(config) => {
            let description = config.cluster_url.to_string();
            build(config, timeout).map(|client| (client, description))
        }
        Err((kubeconfig_error, in_cluster_error)) => Err(anyhow::Error::new(NotFound::new(
            &in_cluster_error,
            &kubeconfig_error,
            kubeconfig.as_deref(),
        ))),
    };
    choose(found, without, kubeconfig.is_some())
}

/// `kube::Config::infer`, step by step, keeping each step's error: kube's own error joins
/// them into one line that repeats the innermost cause once per wrapping layer.
async fn infer()
-> Result<kube::Config, (kube::config::KubeconfigError, kube::config::InClusterError)> {
    let mut config = match kube::Config::from_kubeconfig(&Default::default()).await {
        Ok(config) => config,
        Err(kubeconfig) => {
            kube::Config::incluster().map_err(|in_cluster| (kubeconfig, in_cluster))?
        }
    };
    config.apply_debug_overrides();
    Ok(config)
}

/// No cluster configuration was found: one short cause per place looked at, in the order
/// a reader would check them.
#[derive(Debug)]
struct NotFound {
    /// `(place, cause)`.
    causes: Vec<(&'static str, String)>,
}

impl NotFound {
    fn new(
        in_cluster: &kube::config::InClusterError,
        kubeconfig: &kube::config::KubeconfigError,
        kubeconfig_var: Option<&std::ffi::OsStr>,
    ) -> NotFound {
        use kube::config::InClusterError as InCluster;
        let in_cluster = match in_cluster {
            InCluster::ReadEnvironmentVariable(_) => {
                "KUBERNETES_SERVICE_HOST/PORT not set (not running in a pod)".to_owned()
            }
            InCluster::ReadDefaultNamespace(e) | InCluster::ReadCertificateBundle(e) => format!(
                "no ServiceAccount files in /var/run/secrets/kubernetes.io/serviceaccount ({})",
                short_io(e)
            ),
            other => other.to_string(),
        };
        let file_cause = || short_kubeconfig(kubeconfig);
        let (from_var, home) = match kubeconfig_var {
            // A read error names the file of the list that failed; others need the value.
            Some(_) if matches!(kubeconfig, kube::config::KubeconfigError::ReadConfig(..)) => {
                (file_cause(), "not read, since KUBECONFIG is set".to_owned())
            }
            Some(value) => (
                format!("{}: {}", value.to_string_lossy(), file_cause()),
                "not read, since KUBECONFIG is set".to_owned(),
            ),
            None => ("not set".to_owned(), file_cause()),
        };
        NotFound {
            causes: vec![
                ("in-cluster ServiceAccount", in_cluster),
                ("KUBECONFIG", from_var),
                ("~/.kube/config", home),
            ],
        }
    }

    /// The causes on one line, for a log field.
    fn one_line(&self) -> String {
        self.causes
            .iter()
            .map(|(place, cause)| format!("{place}: {cause}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "looked in:")?;
        for (place, cause) in &self.causes {
            write!(f, "\n  {place}: {cause}")?;
        }
        Ok(())
    }
}

impl std::error::Error for NotFound {}

/// An I/O error without the `(os error N)` tail.
fn short_io(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => err.to_string(),
    }
}

/// A kubeconfig error, without the path the line already names when it is a read error.
fn short_kubeconfig(err: &kube::config::KubeconfigError) -> String {
    use kube::config::KubeconfigError as Kubeconfig;
    match err {
        Kubeconfig::ReadConfig(e, path) => format!("{}: {}", path.display(), short_io(e)),
        Kubeconfig::FindPath => "no home directory (HOME is not set)".to_owned(),
        other => other.to_string(),
    }
}

/// [`discover`]'s decision, given what was found.
fn choose(
    found: anyhow::Result<(kube::Client, String)>,
    without: WithoutCluster,
    kubeconfig_set: bool,
) -> anyhow::Result<ClusterChoice> {
    let err = match found {
        Ok((client, description)) => {
            return Ok(ClusterChoice {
                client: Some(client),
                description,
            });
        }
        Err(err) => err,
    };
    let allowed = match without {
        WithoutCluster::IfDryRun(dry_run) => dry_run,
        WithoutCluster::Allowed => true,
    };
    if kubeconfig_set || !allowed {
        let way_out = match (kubeconfig_set, without) {
            (true, WithoutCluster::Allowed) => {
                "fix KUBECONFIG, or unset it to run without a cluster"
            }
            (true, _) => {
                "fix KUBECONFIG, or unset it and set EXECUTOR_DRY_RUN=true to run without a cluster"
            }
            (false, _) => {
                "set KUBECONFIG to a cluster's kubeconfig, or EXECUTOR_DRY_RUN=true to run without a cluster"
            }
        };
        let separator = if err.is::<NotFound>() { "; " } else { ": " };
        return Err(anyhow::anyhow!(
            "KUBECONFIG: no usable Kubernetes configuration{separator}{err:#}\n{way_out}"
        ));
    }
    if without != WithoutCluster::Allowed {
        let looked_in = match err.downcast_ref::<NotFound>() {
            Some(not_found) => not_found.one_line(),
            None => format!("{err:#}"),
        };
        tracing::warn!(
            looked_in,
            "no Kubernetes cluster found; EXECUTOR_DRY_RUN=true, so running without one \
             (set KUBECONFIG to use a cluster)"
        );
    }
    Ok(ClusterChoice {
        client: None,
        description: "none".to_owned(),
    })
}

/// A client for the API server at `url` (tests and tools: a fake server, `kubectl proxy`),
/// without credentials, with the same timeouts and retries off.
pub fn client_for_url(url: &str, timeout: Duration) -> anyhow::Result<kube::Client> {
    let uri = url
        .parse()
        .with_context(|| format!("not a valid Kubernetes API URL: {url:?}"))?;
    build(kube::Config::new(uri), timeout)
}

/// Applies the executor's settings to `config` and builds the client.
fn build(mut config: kube::Config, timeout: Duration) -> anyhow::Result<kube::Client> {
    // Never re-send a request on 429/503/504: see the module docs.
    config.default_retry = false;
    config.connect_timeout = Some(timeout);
    config.read_timeout = Some(timeout);
    config.write_timeout = Some(timeout);
    config.reset_reader_on_write = true;
    kube::Client::try_from(config).context("cannot build the Kubernetes client")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn nothing_found() -> anyhow::Result<(kube::Client, String)> {
        Err(anyhow::anyhow!("no configuration"))
    }

    fn outcome(without: WithoutCluster, kubeconfig_set: bool) -> Result<String, String> {
        choose(nothing_found(), without, kubeconfig_set)
            .map(|choice| choice.description)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn without_a_configuration_only_dry_run_or_cargo_run_start() {
        assert_eq!(
            outcome(WithoutCluster::IfDryRun(true), false).as_deref(),
            Ok("none")
        );
        assert_eq!(
            outcome(WithoutCluster::Allowed, false).as_deref(),
            Ok("none")
        );
        let refused = outcome(WithoutCluster::IfDryRun(false), false).unwrap_err();
        assert!(refused.starts_with("KUBECONFIG: "), "{refused}");
    }

    #[test]
    fn an_unusable_kubeconfig_is_an_error_under_every_rule() {
        for without in [
            WithoutCluster::IfDryRun(true),
            WithoutCluster::IfDryRun(false),
            WithoutCluster::Allowed,
        ] {
            let err = outcome(without, true).unwrap_err();
            assert!(err.starts_with("KUBECONFIG: "), "{without:?}: {err}");
        }
    }

    #[tokio::test]
    async fn a_found_configuration_is_used_under_every_rule() {
        let client = client_for_url("http://127.0.0.1:1", Duration::from_secs(1)).unwrap();
        let choice = choose(
            Ok((client, "http://127.0.0.1:1/".to_owned())),
            WithoutCluster::IfDryRun(false),
            false,
        )
        .unwrap();
        assert!(choice.client.is_some());
        assert_eq!(choice.description, "http://127.0.0.1:1/");
    }

    #[tokio::test]
    async fn builds_for_a_plain_http_url() {
        assert!(client_for_url("http://127.0.0.1:1", Duration::from_secs(1)).is_ok());
    }

    #[tokio::test]
    async fn refuses_a_malformed_url() {
        let err = client_for_url("not a url", Duration::from_secs(1))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("not a valid Kubernetes API URL"), "{err}");
    }
}
