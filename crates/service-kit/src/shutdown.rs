//! When a service stops: SIGTERM (what Kubernetes and `docker stop` send) or Ctrl-C.

/// Resolves on SIGTERM or Ctrl-C. A signal that cannot be watched (no such signal on this
/// platform) is simply never awaited: the other one still stops the service.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
