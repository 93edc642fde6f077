//! `Application` in process: built from a configuration on port 0 (an embedded SQLite
//! audit store, no cluster), it serves `/healthz` on the port it reports and stops when
//! told to. Needs no Postgres.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use executor_service::Application;
use executor_service::actions::Registry;
use executor_service::config::{self, Config};

#[tokio::test]
async fn builds_on_port_0_serves_healthz_and_stops() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let vars: HashMap<&str, String> = [
        ("EXECUTOR_BIND", "127.0.0.1:0".to_owned()),
        (
            "DATABASE_URL",
            format!("sqlite://{}/audit.db", dir.path().display()),
        ),
        ("JWT_SECRET", "0123456789abcdef0123456789abcdef".to_owned()),
        // Nothing listens there: the keys stay unloaded, which /healthz does not need.
        ("POLICY_URL", "http://127.0.0.1:9".to_owned()),
    ]
    .into_iter()
    .collect();
    let registry = Registry::with_builtins();
    let config = Config::from_lookup(
        |name| vars.get(name).cloned(),
        &config::budget_keys(&registry),
    )
    .unwrap();
    let app = Application::build(config, registry, None).await.unwrap();
    let port = app.port();
    assert_ne!(port, 0);
    assert_eq!(app.local_addr().port(), port);
    assert!(app.state().cluster().is_none());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));

    // Act
    let answer = reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .unwrap();

    // Assert
    assert_eq!(answer.status(), 200);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
