//! `GET /executor/stats` in a dry-run deployment (`EXECUTOR_DRY_RUN=true`) on a real
//! Postgres: the top-level figures count real attempts only, so the answer says why they
//! are all zero and where the dry runs went.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;
use sqlx::PgPool;

const MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

const NOTE: &str = "every attempt in this window was a dry run; see dryRun";

/// Restarts `default/api-pod-12345` through `h`'s executor; the request must succeed.
async fn restart_api_pod(h: &Harness) {
    let ran = h
        .execute(&h.request(
            "restart_pod",
            json!({"namespace": "default", "podName": "api-pod-12345"}),
            "default/pod/api-pod-12345",
        ))
        .await;
    assert_eq!(ran.status, 200, "{}", ran.body);
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn a_dry_run_only_window_says_why_its_figures_are_zero(pool: PgPool) {
    // Arrange
    let h = Harness::new(
        pool,
        &[
            ("EXECUTOR_ADMIN_TOKEN", ADMIN_TOKEN),
            ("EXECUTOR_DRY_RUN", "true"),
        ],
    )
    .await;
    restart_api_pod(&h).await;

    // Act
    let stats = h.admin_get("/executor/stats").await;

    // Assert
    assert_eq!(stats.status, 200, "{}", stats.body);
    let body = &stats.body;
    assert_eq!(body["total"], 0, "{body}");
    assert_eq!(body["executed"], 0, "{body}");
    assert_eq!(body["dryRun"]["total"], 1, "{body}");
    assert_eq!(body["dryRun"]["succeeded"], 1, "{body}");
    assert_eq!(body["note"], NOTE, "{body}");
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn a_window_with_a_real_attempt_has_no_note(pool: PgPool) {
    // Arrange
    let h = Harness::new(pool, &[("EXECUTOR_ADMIN_TOKEN", ADMIN_TOKEN)]).await;
    restart_api_pod(&h).await;

    // Act
    let stats = h.admin_get("/executor/stats").await;

    // Assert
    assert_eq!(stats.status, 200, "{}", stats.body);
    assert_eq!(stats.body["total"], 1, "{}", stats.body);
    assert!(stats.body.get("note").is_none(), "{}", stats.body);
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn an_empty_window_has_no_note(pool: PgPool) {
    // Arrange
    let h = Harness::new(pool, &[("EXECUTOR_ADMIN_TOKEN", ADMIN_TOKEN)]).await;

    // Act
    let stats = h.admin_get("/executor/stats").await;

    // Assert
    assert_eq!(stats.status, 200, "{}", stats.body);
    assert!(stats.body.get("note").is_none(), "{}", stats.body);
}
