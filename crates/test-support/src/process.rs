//! Helpers for tests that run a real binary on a real port.

use std::net::{Ipv4Addr, TcpListener};

/// A loopback port that was free a moment ago, for a child process to bind.
///
/// The port is released before returning, so another process may take it first; tests
/// that start a server on it fail loudly (the server does not come up) rather than wrongly.
///
/// # Panics
///
/// When no loopback port can be bound.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}
