//! Per-client request throttling at the HTTP layer (`EXECUTOR_REQUESTS_PER_SECOND`).
//!
//! Keyed by the peer address, not by `requestedBy`: the body's requester is unauthenticated
//! until the signature is checked, so keying on it would let anyone spend another
//! requester's allowance. Throttled requests are answered 429 before the body is read and
//! are not audited — a flood must not be able to flood the audit table either.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ExecError;

/// A keyed rate limiter with a burst of twice the per-second rate.
#[derive(Clone)]
pub struct Throttle {
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle").finish_non_exhaustive()
    }
}

impl Throttle {
    /// `per_second` requests per second per client address (at least 1).
    pub fn new(per_second: u32) -> Self {
        let rate = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(per_second.saturating_mul(2).max(1)).unwrap_or(rate);
        Throttle {
            limiter: Arc::new(RateLimiter::keyed(
                Quota::per_second(rate).allow_burst(burst),
            )),
        }
    }

    /// Forgets idle clients; called periodically so the key map cannot grow without bound.
    pub fn retain_recent(&self) {
        self.limiter.retain_recent();
    }

    fn check(&self, ip: IpAddr) -> Result<(), ExecError> {
        self.limiter
            .check_key(&ip)
            .map_err(|not_until| ExecError::Throttled {
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            })
    }
}

/// Middleware: refuses a request over its client's rate.
pub async fn throttle(State(throttle): State<Throttle>, request: Request, next: Next) -> Response {
    // In-process tests have no peer address; they share one bucket.
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| {
            addr.ip()
        });
    match throttle.check(ip) {
        Ok(()) => next.run(request).await,
        Err(err) => err.into_response(),
    }
}
