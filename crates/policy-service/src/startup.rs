//! Start-up: from a configuration to a bound, ready service, and serving until stopped.
//!
//! [`Application::build`] does everything that can fail before the first request (the
//! policy loads, the signing key reads, the port binds), so a bad setting stops the
//! process before it listens; [`Application::run_until_stopped`] then serves until SIGTERM
//! or Ctrl-C. Tests and `cargo run` build it the same way, on port 0 if they like.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::{AppState, app, store};

/// The policy service, bound and ready to serve.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    state: AppState,
    reload_interval: Duration,
}

impl Application {
    /// Loads the policy and the signing key named by `config`, says at start-up what mode
    /// the service runs in, and binds `POLICY_BIND`.
    pub async fn build(config: &Config) -> anyhow::Result<Application> {
        let state = AppState::from_config(config)?;
        announce(config, &state);
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|e| anyhow::anyhow!("POLICY_BIND: cannot listen on {}: {e}", config.bind))?;
        let local_addr = listener.local_addr()?;
        tracing::info!(address = %local_addr, "policy service listening");
        Ok(Application {
            listener,
            local_addr,
            state,
            reload_interval: config.reload_interval,
        })
    }

    /// An application around a state built elsewhere (tests that bring their own policy
    /// store or signer), serving on `listener` and polling the policy file every
    /// `reload_interval`.
    pub fn from_state(
        listener: TcpListener,
        state: AppState,
        reload_interval: Duration,
    ) -> std::io::Result<Application> {
        let local_addr = listener.local_addr()?;
        Ok(Application {
            listener,
            local_addr,
            state,
            reload_interval,
        })
    }

    /// The address it listens on (the port chosen when `POLICY_BIND` asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    /// The state its handlers share.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGTERM or Ctrl-C, then drains open requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(warden_service_kit::shutdown_signal()).await
    }

    /// Serves until `shutdown` resolves, then drains open requests. The policy watcher
    /// (file changes and SIGHUP) runs for as long as the server does.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let watcher = tokio::spawn(store::watch(
            self.state.policy().clone(),
            self.reload_interval,
            wait_for(stop_rx.clone()),
        ));
        let result = warden_service_kit::serve(self.listener, app(self.state), shutdown).await;
        let _ = stop_tx.send(true);
        let _ = watcher.await;
        result
    }
}

async fn wait_for(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

fn announce(config: &Config, state: &AppState) {
    let policy = state.policy().current();
    tracing::info!(
        file = %config.policy_file.display(),
        policy_version = %policy.version(),
        rules = policy.rule_count(),
        "policy loaded"
    );
    match state.api_keys() {
        Some(keys) => tracing::info!(
            identities = ?keys.identities().collect::<Vec<_>>(),
            "API keys configured: callers are authenticated"
        ),
        None => tracing::warn!(
            "DEVELOPMENT MODE: POLICY_API_KEYS is not set. Anyone who can reach this port can \
             claim any userId and role. Set POLICY_API_KEYS before exposing the service."
        ),
    }
    if state.signer().is_ephemeral() {
        tracing::warn!(
            kid = %state.signer().kid(),
            "DECISION_SIGNING_KEY_FILE is not set: using an ephemeral signing key; tokens stop \
             verifying when this process exits and replicas cannot share it"
        );
    }
}
