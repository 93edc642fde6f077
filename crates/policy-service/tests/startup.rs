//! `Application` in process: built from a configuration on port 0, it serves `/healthz` on
//! the port it reports and stops when told to.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::PathBuf;

use policy_service::Application;
use policy_service::config::Config;

fn default_policy() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../policies/default.yaml")
        .display()
        .to_string()
}

#[tokio::test]
async fn builds_on_port_0_serves_healthz_and_stops() {
    // Arrange
    let vars: HashMap<&str, String> = [
        ("POLICY_BIND", "127.0.0.1:0".to_owned()),
        ("POLICY_FILE", default_policy()),
    ]
    .into_iter()
    .collect();
    let config = Config::from_lookup(|name| vars.get(name).cloned()).unwrap();
    let app = Application::build(&config).await.unwrap();
    let port = app.port();
    assert_ne!(port, 0);
    assert_eq!(app.local_addr().port(), port);
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

#[tokio::test]
async fn a_policy_that_does_not_load_stops_the_build() {
    let config = Config::from_lookup(|name| match name {
        "POLICY_BIND" => Some("127.0.0.1:0".to_owned()),
        "POLICY_FILE" => Some("/no/such/policy.yaml".to_owned()),
        _ => None,
    })
    .unwrap();
    let err = Application::build(&config).await.unwrap_err();
    assert!(err.to_string().starts_with("POLICY_FILE"), "{err}");
}
