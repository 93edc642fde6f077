//! The server loop on a real port: requests are served with the peer address, a client
//! that never finishes its request head is cut off, and shutdown drains in-flight requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

const HEADER_TIMEOUT: Duration = Duration::from_millis(300);

/// A router with `/peer` (echoes the peer address) and `/slow` (answers after 300 ms),
/// served until the returned sender fires; the join handle resolves when serving ended.
async fn start() -> (
    SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let router = Router::new()
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "done"
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(warden_service_kit::serve::serve_with(
        listener,
        router,
        HEADER_TIMEOUT,
        async move {
            let _ = stopped.await;
        },
    ));
    (addr, stop, server)
}

/// Sends `GET path` on a fresh connection and reads the whole answer.
async fn get_text(addr: SocketAddr, path: &str) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    (stream, answer)
}

#[tokio::test]
async fn requests_carry_the_peer_address() {
    // Arrange
    let (addr, _stop, _server) = start().await;

    // Act
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let local = stream.local_addr().unwrap();
    stream
        .write_all(b"GET /peer HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();

    // Assert
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with(&local.to_string()), "{answer}");
}

#[tokio::test]
async fn an_unfinished_request_head_is_cut_off() {
    // Arrange
    let (addr, _stop, _server) = start().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();

    // Act: half a request head, then nothing.
    stream.write_all(b"GET /peer HTTP/1.1\r\nho").await.unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;

    // Assert: the server closed the connection (an answer, if any, is a 408).
    assert!(read.is_ok(), "the connection was still open after 5 s");
    let text = String::from_utf8_lossy(&rest);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
    assert!(started.elapsed() >= HEADER_TIMEOUT);
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    // Arrange
    let (addr, _stop, _server) = start().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();

    // Act: one request on a keep-alive connection, then silence.
    stream
        .write_all(b"GET /peer HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    let mut everything = Vec::new();
    let read =
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut everything)).await;

    // Assert
    assert!(read.is_ok(), "the idle connection was still open after 5 s");
    assert!(String::from_utf8_lossy(&everything).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn shutdown_drains_a_request_in_flight() {
    // Arrange
    let (addr, stop, server) = start().await;
    let in_flight = tokio::spawn(get_text(addr, "/slow"));
    tokio::time::sleep(Duration::from_millis(100)).await;

    // Act
    stop.send(()).unwrap();
    let (_, answer) = in_flight.await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(5), server).await;

    // Assert
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("done"), "{answer}");
    assert!(ended.is_ok(), "serve did not return after shutdown");
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
}
