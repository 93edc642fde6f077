//! With the audit store unreachable nothing runs (503), and the executor recovers by
//! itself when the database is back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::proxy::TcpProxy;
use common::*;
use executor_service::store::postgres::PgStore;
use serde_json::json;
use sqlx::PgPool;

const MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

#[sqlx::test(migrator = "MIGRATIONS")]
async fn with_the_database_unreachable_execute_answers_503_and_recovers(pool: PgPool) {
    // Arrange: the executor reaches this test's database through a proxy we can cut.
    let mut h = Harness::new(pool.clone(), &[]).await;
    let options = pool.connect_options();
    let database = options.get_database().unwrap().to_owned();
    let proxy = TcpProxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let url = format!("postgres://postgres@{}/{database}", proxy.addr);
    let store = PgStore::connect(&url, 4).await.unwrap();
    h.state = h.state_with_store(Arc::new(store));
    let body = |h: &Harness| {
        h.request(
            "restart_pod",
            json!({"namespace": "default", "podName": "api-pod-12345"}),
            "default/pod/api-pod-12345",
        )
    };

    // Act: the database goes away.
    proxy.set_up(false);
    let down = h.execute(&body(&h)).await;

    // Assert: refused, nothing touched.
    assert_eq!(down.status, 503, "{}", down.body);
    assert_eq!(down.body["code"], "store_unavailable");
    assert!(h.kube.mutations().is_empty());
    assert!(h.kube.pod_exists("default", "api-pod-12345"));

    // Act: it comes back; the same executor serves again without a restart.
    proxy.set_up(true);
    let mut up = h.execute(&body(&h)).await;
    for _ in 0..20 {
        if up.status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        up = h.execute(&body(&h)).await;
    }

    // Assert
    assert_eq!(up.status, 200, "{}", up.body);
    assert!(!h.kube.pod_exists("default", "api-pod-12345"));
    h.assert_invariant().await;
}
