//! `PgStore` when the database is unreachable: every call fails fast with
//! `StoreError::Unavailable` (no hang, no panic, no secret in the message), and the same
//! store works again once the database is back, without a restart.
//!
//! The recovery test needs a Postgres named by `DATABASE_URL` (e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`), reached through a local TCP proxy that
//! the test starts and stops to play the outage; the others need no database at all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common_store;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common_store::{Proxy, attempt, close, closed_port, decision, roomy, row, succeeded, warm};
use executor_service::store::postgres::PgStore;
use executor_service::store::{AuditStore, Begin, StoreError};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

/// Well above the 3 s acquire timeout, well below "hung".
const FAST_ENOUGH: Duration = Duration::from_secs(6);

/// Connections of the recovering store.
const POOL_SIZE: u32 = 2;

/// The whole error chain, as the executor logs it.
fn chain(err: &StoreError) -> String {
    let StoreError::Unavailable(cause) = err;
    format!("{err} / {cause:#}")
}

#[tokio::test]
async fn every_call_fails_fast_with_unavailable_when_nothing_listens() {
    // Arrange
    let url = format!(
        "postgres://warden:s3cret-password@127.0.0.1:{}/warden",
        closed_port().await
    );
    let store = PgStore::connect(&url, 2).await.unwrap();

    let (a, b, budget, outcome) = (
        attempt(&decision()),
        attempt(&decision()),
        roomy(),
        succeeded(),
    );

    // Act
    let started = Instant::now();
    let (ping, begin, reject, finish, reconcile) = tokio::join!(
        store.ping(),
        store.begin(&a, &budget),
        store.reject(&b, "bad_signature", "x", Duration::ZERO),
        store.finish(Uuid::now_v7(), &outcome),
        store.reconcile_pending(Duration::from_secs(60)),
    );
    let elapsed = started.elapsed();

    // Assert: bounded by the acquire timeout.
    assert!(elapsed < FAST_ENOUGH, "took {elapsed:?}");
    let errors = [
        ping.unwrap_err(),
        begin.unwrap_err(),
        reject.unwrap_err(),
        finish.unwrap_err(),
        reconcile.unwrap_err(),
    ];
    for err in &errors {
        let text = chain(err);
        assert!(text.starts_with("audit store unavailable"), "{text}");
        assert!(!text.contains("s3cret-password"), "secret leaked: {text}");
        assert!(!text.contains(&url), "URL leaked: {text}");
    }
}

#[tokio::test]
async fn a_malformed_url_is_refused_without_echoing_it() {
    // Act
    let result = PgStore::connect("postgres://warden:s3cret@127.0.0.1:notaport/x", 2).await;

    // Assert
    let err = result.unwrap_err();
    let text = chain(&err);
    assert!(text.contains("DATABASE_URL"), "{text}");
    assert!(!text.contains("s3cret"), "secret leaked: {text}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_same_store_recovers_when_the_database_comes_back(
    _options: PgPoolOptions,
    connect: PgConnectOptions,
) {
    // Arrange: the executor reaches the database through a proxy that is down at first.
    let upstream: SocketAddr = format!("{}:{}", connect.get_host(), connect.get_port())
        .parse()
        .unwrap();
    let port = closed_port().await;
    let store = PgStore::connect_with(connect.clone().port(port), POOL_SIZE);
    assert!(store.ping().await.is_err(), "down at start");

    // Act + Assert: up, down (established connections cut too), up again.
    let proxy = Proxy::start(port, upstream).await;
    store.ping().await.unwrap();
    let before = attempt(&decision());
    assert_eq!(
        store.begin(&before, &roomy()).await.unwrap(),
        Begin::Started
    );

    warm(&store, POOL_SIZE as usize).await; // every pooled connection goes stale below
    proxy.stop().await;
    let started = Instant::now();
    let down = store.begin(&attempt(&decision()), &roomy()).await;
    assert!(matches!(down, Err(StoreError::Unavailable(_))));
    assert!(
        started.elapsed() < FAST_ENOUGH,
        "took {:?}",
        started.elapsed()
    );

    let proxy = Proxy::start(port, upstream).await;
    // A pooled connection cut by the outage may fail one more call before it is dropped.
    let mut answers = Vec::new();
    for _ in 0..=POOL_SIZE {
        let ping = store.ping().await;
        let ok = ping.is_ok();
        answers.push(ping);
        if ok {
            break;
        }
    }
    assert!(
        answers.last().is_some_and(Result::is_ok),
        "still down: {answers:?}"
    );
    let after = attempt(&decision());
    assert_eq!(store.begin(&after, &roomy()).await.unwrap(), Begin::Started);
    store.finish(before.id, &succeeded()).await.unwrap();
    assert_eq!(row(store.pool(), before.id).await.status, "succeeded");
    assert_eq!(row(store.pool(), after.id).await.status, "pending");

    close(&[&store]).await;
    proxy.stop().await;
}
