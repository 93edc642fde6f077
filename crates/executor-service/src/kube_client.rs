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

use std::time::Duration;

use anyhow::Context as _;

/// A client from the environment: `KUBECONFIG` (or `~/.kube/config`), else the in-cluster
/// ServiceAccount, with `timeout` on every socket operation and kube's retries turned off.
pub async fn client_from_env(timeout: Duration) -> anyhow::Result<kube::Client> {
    let config = kube::Config::infer()
        .await
        .context("neither a kubeconfig nor an in-cluster ServiceAccount was found")?;
    build(config, timeout)
}

/// A client for the API server at `url` (tests and tools: a fake server, `kubectl proxy`),
/// without credentials, with the same timeouts and retries off.
pub fn client_for_url(url: &str, timeout: Duration) -> anyhow::Result<kube::Client> {
    let uri = url
        .parse()
        .with_context(|| format!("not a valid Kubernetes API URL: {url:?}"))?;
    build(kube::Config::new(uri), timeout)
}

/// A client from an already inferred `config` (to report where it points first), with the
/// same timeouts and retries off.
pub fn client_from_config(config: kube::Config, timeout: Duration) -> anyhow::Result<kube::Client> {
    build(config, timeout)
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
    use super::*;

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
