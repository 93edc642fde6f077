//! The HTTP server loop both services run, in place of `axum::serve`.
//!
//! Why not `axum::serve`: it builds hyper's connection without a timer, and without a timer
//! hyper applies no header-read timeout. A client that opens connections and sends its
//! request head a byte at a time (or nothing at all) would then hold each connection, and
//! its task, for ever. Here every HTTP/1 connection has [`HEADER_READ_TIMEOUT`] to deliver
//! a complete request head — the first one and each next one on a kept-alive connection —
//! or it is closed. Slow *bodies* are bounded by each service's request deadline
//! ([`crate::with_request_layers`]).
//!
//! HTTP/1.1 only: what the services' clients speak, and no HTTP/2 attack surface to bound.
//!
//! Each request carries the peer address as `axum::extract::ConnectInfo<SocketAddr>`, as
//! `into_make_service_with_connect_info` provides it. Shutdown is graceful: the listener
//! closes, open connections finish their in-flight requests, then the call returns.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower::ServiceExt as _;

/// Time a client has to send a complete request head (also the idle limit of a kept-alive
/// connection between requests).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` resolves, then drains open requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, router, HEADER_READ_TIMEOUT, shutdown).await
}

/// [`serve`] with another header-read timeout (tests).
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request.map(axum::body::Body::new))
        });
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // Errors here are the client's (reset, timeout, bad framing): nothing to report.
            if let Err(err) = connection.await {
                tracing::debug!(peer = %peer, error = %err, "connection closed with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: draining open requests");
    graceful.shutdown().await;
    Ok(())
}
