//! Start-up: from a configuration to a bound, ready executor, and serving until stopped.
//!
//! [`Application::build`] does everything that can fail before the first request (the
//! audit store opens and migrates, the port binds), so a bad setting stops the process
//! before it listens; [`Application::run_until_stopped`] then serves until SIGTERM or
//! Ctrl-C. The binary ([`run`]), `cargo run` and tests build it the same way.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::actions::Registry;
use crate::config::Config;
use crate::kube_client::{self, WithoutCluster};
use crate::store::{self, AuditStore};
use crate::token::DecisionVerifier;
use crate::{AppState, app};

/// The executor, bound and ready to serve.
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    state: AppState,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("local_addr", &self.local_addr)
            .field("state", &self.state)
            .finish()
    }
}

impl Application {
    /// Everything before serving: opens the audit store, loads the policy service's keys,
    /// reconciles interrupted rows and binds `EXECUTOR_BIND`, for the actions of
    /// `registry`. `client: None` runs without a cluster (see [`AppState::without_cluster`]).
    pub async fn build(
        config: Config,
        registry: Registry,
        client: Option<kube::Client>,
    ) -> anyhow::Result<Application> {
        let store = open_store(&config).await?;
        let refresh = crate::token::KeyRefresh {
            every: config.jwks_refresh,
            max_age: config.jwks_max_age,
        };
        let verifier =
            DecisionVerifier::from_policy_url(&config.policy_url, config.token_leeway, refresh)
                .await;
        let bind = config.bind;
        if config.admin_token.is_none() {
            tracing::info!(
                "EXECUTOR_ADMIN_TOKEN is not set: the audit API (/executor/audit, /executor/stats) is off"
            );
        }
        let state = match client {
            Some(client) => AppState::new(config, store, verifier, registry, client),
            None => {
                tracing::warn!(
                    "no Kubernetes cluster configured: every action is a dry run answered by the executor; nothing is sent anywhere"
                );
                AppState::without_cluster(config, store, verifier, registry)
            }
        };
        if state.config().dry_run && state.cluster().is_some() {
            tracing::warn!(
                "EXECUTOR_DRY_RUN=true: every action is a server-side dry run; nothing changes"
            );
        }
        reconcile(&state).await;
        let listener = TcpListener::bind(bind)
            .await
            .map_err(|e| anyhow::anyhow!("EXECUTOR_BIND: cannot listen on {bind}: {e}"))?;
        let local_addr = listener.local_addr()?;
        tracing::info!(address = %local_addr, "executor listening");
        Ok(Application {
            listener,
            local_addr,
            state,
        })
    }

    /// An application around a state built elsewhere (tests that bring their own store,
    /// verifier or cluster), serving on `listener`.
    pub fn from_state(listener: TcpListener, state: AppState) -> std::io::Result<Application> {
        let local_addr = listener.local_addr()?;
        Ok(Application {
            listener,
            local_addr,
            state,
        })
    }

    /// The address it listens on (the port chosen when `EXECUTOR_BIND` asked for port 0).
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

    /// Serves until `shutdown` resolves, then drains open requests. Also reconciles
    /// interrupted rows and prunes the throttle while running.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let housekeeping = tokio::spawn(housekeeping(self.state.clone()));
        let sweeper = tokio::spawn(crate::approvals::sweeper::run(self.state.clone()));
        let notifier = self.state.notifier().clone();
        // The server loop puts each request's peer address in its extensions, as
        // `ConnectInfo<SocketAddr>` (the throttle and the audit row use it).
        let result = warden_service_kit::serve(self.listener, app(self.state), shutdown).await;
        housekeeping.abort();
        sweeper.abort();
        // Messages already queued get a moment to leave.
        notifier.flush(Duration::from_secs(5)).await;
        result
    }
}

/// The `executor-service` binary: finds the cluster, builds, and serves until SIGTERM or
/// Ctrl-C.
///
/// Without a usable Kubernetes configuration the executor refuses to start, unless
/// `EXECUTOR_DRY_RUN=true` and `KUBECONFIG` is not set: then it runs without a cluster
/// (every attempt checked, audited and answered as a dry run; `/readyz` says
/// `"cluster": "none"`), which is how `docker compose up` works before a kubeconfig is
/// mounted. A set but unusable `KUBECONFIG` is always an error.
pub async fn run(config: Config, registry: Registry) -> anyhow::Result<()> {
    let cluster = kube_client::discover(
        WithoutCluster::IfDryRun(config.dry_run),
        config.kube_timeout,
    )
    .await?;
    Application::build(config, registry, cluster.client)
        .await?
        .run_until_stopped()
        .await?;
    Ok(())
}

/// Opens the audit store `DATABASE_URL` names and applies its migrations: Postgres
/// (`postgres://`, the production store) or an embedded SQLite file (`sqlite:`, for a
/// single node).
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn AuditStore>> {
    store::diagnose::check_scheme(&config.database_url).map_err(anyhow::Error::msg)?;
    if store::sqlite::is_sqlite_url(&config.database_url) {
        let store = store::sqlite::SqliteStore::open(&config.database_url)
            .await
            .map_err(|e| anyhow::anyhow!("DATABASE_URL: {e:#}"))?;
        return Ok(Arc::new(store));
    }
    let options: sqlx::postgres::PgConnectOptions = config
        .database_url
        .parse()
        .map_err(|_| anyhow::anyhow!("DATABASE_URL is not a valid Postgres URL"))?;
    // One direct connection first: the pool would only say that it timed out.
    store::diagnose::probe(&options)
        .await
        .map_err(anyhow::Error::msg)?;
    let store = store::postgres::PgStore::connect_with(options, config.database_max_connections);
    store
        .migrate()
        .await
        .map_err(|e| anyhow::anyhow!("DATABASE_URL: migrations failed: {e}"))?;
    Ok(Arc::new(store))
}

/// Rows left `pending` longer than this were interrupted (the executor died mid-action).
fn interrupted_after(config: &Config) -> Duration {
    config.kube_timeout * 3 + Duration::from_secs(60)
}

/// Marks rows an earlier process left `pending` as unknown: at start-up and every minute.
async fn reconcile(state: &AppState) {
    match state
        .store()
        .reconcile_pending(interrupted_after(state.config()))
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::warn!(rows = n, "marked interrupted pending audit rows as unknown"),
        Err(err) => tracing::warn!(error = %err, "could not reconcile pending audit rows"),
    }
}

async fn housekeeping(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        state.throttle().retain_recent();
        reconcile(&state).await;
    }
}
