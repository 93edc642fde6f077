//! The read-only actions (`get_pod_logs`, `list_events`, `get_workload_status`) against
//! the fake Kubernetes API server over HTTP: their answers, caps and validation, directly
//! through the registry; then end to end through `POST /executor/execute` on a real
//! Postgres: audit rows that keep size and SHA-256 but no content, their own budget, a
//! missing pod, protected namespaces, binding, dry runs. Every end-to-end test ends with
//! the invariant check.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use executor_service::actions::{ActionFailure, Cluster, Limits, Registry, Target};
use executor_service::kube_client::client_for_url;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use warden_test_support::{FakeKube, Kind};

const MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");
const TIMEOUT: Duration = Duration::from_secs(5);
const LIMITS: Limits = Limits { max_replicas: 50 };

async fn start() -> (FakeKube, Cluster) {
    let kube = FakeKube::start().await;
    let cluster = Cluster {
        client: client_for_url(&kube.url(), TIMEOUT).unwrap(),
        timeout: TIMEOUT,
    };
    (kube, cluster)
}

/// Parses, validates and runs `action` the way the executor does, through the registry.
async fn run(
    cluster: &Cluster,
    action: &str,
    params: Value,
    dry_run: bool,
) -> Result<Value, ActionFailure> {
    let registry = Registry::with_builtins();
    let prepared = registry
        .get(action)
        .unwrap()
        .prepare(&params, &LIMITS)
        .unwrap_or_else(|e| panic!("{action} refused {params}: {}", e.message));
    prepared.run(cluster, dry_run).await
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// An Event about `kind/name` last seen `ago` seconds ago.
fn event(kind: &str, name: &str, reason: &str, ago: i64) -> Value {
    let at = (chrono::Utc::now() - chrono::Duration::seconds(ago))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    json!({
        "involvedObject": {"kind": kind, "name": name},
        "type": "Warning",
        "reason": reason,
        "message": format!("{reason} for {name}"),
        "lastTimestamp": at,
    })
}

// ---------------------------------------------------------------------------------------
// get_pod_logs
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn pod_logs_answer_the_last_lines_with_their_size() {
    // Arrange
    let (kube, cluster) = start().await;
    kube.add_pod("prod", "api-1");
    kube.add_pod_log("prod", "api-1", "app", Duration::ZERO, "one\ntwo\nthree\n");

    // Act
    let params = json!({"namespace": "prod", "podName": "api-1", "tailLines": 2});
    let result = run(&cluster, "get_pod_logs", params, false).await.unwrap();

    // Assert
    assert_eq!(
        result,
        json!({"pod": "api-1", "namespace": "prod", "container": null, "text": "two\nthree\n",
               "bytes": 10, "lines": 2, "truncated": false, "limitBytes": 65536, "dryRun": false})
    );
    let requests = kube.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/api/v1/namespaces/prod/pods/api-1/log");
    // One byte over the cap, to tell a log that fits from one that was cut.
    assert!(
        requests[0].query.contains("limitBytes=65537"),
        "{}",
        requests[0].query
    );
    assert!(
        requests[0].query.contains("tailLines=2"),
        "{}",
        requests[0].query
    );
    assert!(kube.mutations().is_empty());
}

#[tokio::test]
async fn pod_logs_since_seconds_keep_only_recent_lines() {
    // Arrange
    let (kube, cluster) = start().await;
    kube.add_pod("prod", "api-1");
    kube.add_pod_log("prod", "api-1", "app", Duration::from_secs(600), "old\n");
    kube.add_pod_log("prod", "api-1", "app", Duration::ZERO, "new\n");

    // Act
    let params = json!({"namespace": "prod", "podName": "api-1", "sinceSeconds": 60});
    let result = run(&cluster, "get_pod_logs", params, false).await.unwrap();

    // Assert
    assert_eq!(result["text"], "new\n");
    assert!(kube.requests()[0].query.contains("sinceSeconds=60"));
}

#[tokio::test]
async fn pod_logs_are_cut_at_limit_bytes_without_splitting_a_character() {
    // Arrange: the euro sign is three bytes; a cap of 6 cuts through it.
    let (kube, cluster) = start().await;
    kube.add_pod("prod", "api-1");
    kube.add_pod_log("prod", "api-1", "app", Duration::ZERO, "aaaa\u{20ac}bbbb");

    // Act
    let cut = json!({"namespace": "prod", "podName": "api-1", "limitBytes": 6});
    let cut = run(&cluster, "get_pod_logs", cut, false).await.unwrap();
    let fits = json!({"namespace": "prod", "podName": "api-1", "limitBytes": 12});
    let fits = run(&cluster, "get_pod_logs", fits, false).await.unwrap();

    // Assert
    assert_eq!(
        (&cut["text"], &cut["bytes"], &cut["truncated"]),
        (&json!("aaaa"), &json!(4), &json!(true))
    );
    // Exactly at the cap (11 bytes and the newline): nothing was left out.
    assert_eq!(fits["text"], "aaaa\u{20ac}bbbb\n");
    assert_eq!(fits["truncated"], false);
}

#[tokio::test]
async fn pod_logs_of_a_pod_with_several_containers_need_the_container() {
    // Arrange
    let (kube, cluster) = start().await;
    kube.add_objects(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "prod"},
        "spec": {"containers": [
            {"name": "app", "image": "registry.k8s.io/pause:3.10"},
            {"name": "proxy", "image": "registry.k8s.io/pause:3.10"},
        ]},
    }))
    .unwrap();
    kube.add_pod_log("prod", "web-1", "proxy", Duration::ZERO, "proxy up");

    // Act
    let unnamed = json!({"namespace": "prod", "podName": "web-1"});
    let unnamed = run(&cluster, "get_pod_logs", unnamed, false).await;
    let named = json!({"namespace": "prod", "podName": "web-1", "container": "proxy"});
    let named = run(&cluster, "get_pod_logs", named, false).await.unwrap();

    // Assert
    let failure = unnamed.unwrap_err();
    assert_eq!(
        (failure.code, failure.outcome_unknown),
        ("kube_invalid", false)
    );
    assert!(
        failure.message.contains("choose one of: [app proxy]"),
        "{}",
        failure.message
    );
    assert_eq!(
        (&named["container"], &named["text"]),
        (&json!("proxy"), &json!("proxy up\n"))
    );
}

#[tokio::test]
async fn pod_logs_of_a_missing_pod_are_not_found() {
    // Arrange
    let (_kube, cluster) = start().await;

    // Act
    let params = json!({"namespace": "prod", "podName": "gone"});
    let failure = run(&cluster, "get_pod_logs", params, false)
        .await
        .unwrap_err();

    // Assert
    assert_eq!((failure.code, failure.http_status), ("kube_not_found", 404));
    assert!(!failure.outcome_unknown);
}

// ---------------------------------------------------------------------------------------
// list_events
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn events_about_one_object_come_newest_first() {
    // Arrange
    let (kube, cluster) = start().await;
    kube.add_event("prod", event("Pod", "web-1", "BackOff", 300))
        .unwrap();
    kube.add_event("prod", event("Pod", "web-1", "Unhealthy", 10))
        .unwrap();
    kube.add_event("prod", event("Pod", "web-2", "BackOff", 5))
        .unwrap();
    kube.add_event("prod", event("Deployment", "web-1", "ScalingReplicaSet", 1))
        .unwrap();
    kube.add_event("staging", event("Pod", "web-1", "Pulled", 1))
        .unwrap();

    // Act: `pods` is read as the kind Pod.
    let params = json!({"namespace": "prod", "kind": "pods", "name": "web-1"});
    let result = run(&cluster, "list_events", params, false).await.unwrap();

    // Assert
    let reasons: Vec<&str> = result["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["Unhealthy", "BackOff"]);
    assert_eq!(
        (&result["count"], &result["matched"]),
        (&json!(2), &json!(2))
    );
    assert_eq!(result["truncated"], false);
    let first = &result["events"][0];
    assert_eq!(first["type"], "Warning");
    assert_eq!(first["message"], "Unhealthy for web-1");
    assert_eq!(first["count"], 1);
    assert_eq!(
        first["involvedObject"],
        json!({"kind": "Pod", "name": "web-1", "namespace": "prod"})
    );
    assert!(first["lastTimestamp"].as_str().unwrap().ends_with('Z'));
    let query = &kube.requests()[0].query;
    assert!(
        query.contains("fieldSelector=involvedObject.kind%3DPod%2CinvolvedObject.name%3Dweb-1"),
        "{query}"
    );
}

#[tokio::test]
async fn events_are_capped_and_say_so() {
    // Arrange: 105 events, one with a 5000-character message.
    let (kube, cluster) = start().await;
    for i in 0..105 {
        kube.add_event("prod", event("Pod", &format!("p-{i}"), "Killing", i + 1))
            .unwrap();
    }
    let mut long = event("Pod", "chatty", "Failed", 0);
    long["message"] = json!("x".repeat(5000));
    kube.add_event("prod", long).unwrap();

    // Act
    let params = json!({"namespace": "prod"});
    let result = run(&cluster, "list_events", params, false).await.unwrap();

    // Assert
    assert_eq!(
        (&result["count"], &result["matched"]),
        (&json!(100), &json!(106))
    );
    assert_eq!(result["truncated"], true);
    assert_eq!(result["events"][0]["message"].as_str().unwrap().len(), 1024);
    assert!(kube.requests()[0].query.contains("limit=1000"));
}

// ---------------------------------------------------------------------------------------
// get_workload_status
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn workload_status_of_a_settled_deployment_is_complete() {
    // Arrange: a deployment on its third rollout.
    let (kube, cluster) = start().await;
    kube.add_deployment("prod", "api", 3);
    let mut deployment = kube.deployment("prod", "api").unwrap();
    deployment["metadata"]["annotations"] = json!({"deployment.kubernetes.io/revision": "3"});
    kube.add_objects(deployment).unwrap();

    // Act
    let params = json!({"namespace": "prod", "kind": "deployment", "name": "api"});
    let result = run(&cluster, "get_workload_status", params, false)
        .await
        .unwrap();

    // Assert
    assert_eq!(result["rolloutComplete"], true);
    assert_eq!(result["revision"], "3");
    for field in [
        "replicas",
        "readyReplicas",
        "updatedReplicas",
        "availableReplicas",
    ] {
        assert_eq!(result[field], 3, "{field}: {result}");
    }
    assert_eq!(result["observedGeneration"], result["generation"]);
    assert_eq!(result["conditions"][0]["type"], "Available");
    // Only the status: not the pod template, which may carry environment values.
    assert!(result.get("spec").is_none() && result.get("template").is_none());
    assert_eq!(
        kube.requests()[0].path,
        "/apis/apps/v1/namespaces/prod/deployments/api"
    );
}

#[tokio::test]
async fn workload_status_reports_a_rollout_in_progress() {
    // Arrange: one of three pods updated, an old one still running.
    let (kube, cluster) = start().await;
    kube.add_deployment("prod", "api", 3);
    let set = kube.set_status(
        Kind::Deployment,
        "prod",
        "api",
        json!({"observedGeneration": 1, "replicas": 4, "readyReplicas": 3, "updatedReplicas": 1,
               "availableReplicas": 3, "conditions": [{"type": "Progressing", "status": "True",
               "reason": "ReplicaSetUpdated", "message": "ReplicaSet \"api-2\" is progressing."}]}),
    );
    assert!(set);

    // Act
    let params = json!({"namespace": "prod", "kind": "deployment", "name": "api"});
    let result = run(&cluster, "get_workload_status", params, false)
        .await
        .unwrap();

    // Assert
    assert_eq!(result["rolloutComplete"], false);
    assert_eq!(
        (&result["replicas"], &result["updatedReplicas"]),
        (&json!(3), &json!(1))
    );
    assert_eq!(result["conditions"][0]["reason"], "ReplicaSetUpdated");
    assert_eq!(result["revision"], Value::Null);
}

#[tokio::test]
async fn workload_status_of_a_statefulset_compares_its_revisions() {
    // Arrange
    let (kube, cluster) = start().await;
    kube.add_statefulset("prod", "db", 2);
    let params = json!({"namespace": "prod", "kind": "statefulset", "name": "db"});

    // Act
    let settled = run(&cluster, "get_workload_status", params.clone(), false)
        .await
        .unwrap();
    kube.set_status(
        Kind::StatefulSet,
        "prod",
        "db",
        json!({"observedGeneration": 1, "replicas": 2, "readyReplicas": 2, "updatedReplicas": 1,
               "currentReplicas": 1, "currentRevision": "db-1", "updateRevision": "db-2"}),
    );
    let rolling = run(&cluster, "get_workload_status", params, false)
        .await
        .unwrap();

    // Assert
    assert_eq!(settled["rolloutComplete"], true);
    assert!(settled["revision"].as_str().unwrap().starts_with("db-"));
    assert_eq!(settled["revision"], settled["updateRevision"]);
    assert_eq!(rolling["rolloutComplete"], false);
    assert_eq!(
        (&rolling["revision"], &rolling["updateRevision"]),
        (&json!("db-1"), &json!("db-2"))
    );
}

#[tokio::test]
async fn workload_status_of_a_missing_statefulset_is_not_found() {
    let (_kube, cluster) = start().await;
    let params = json!({"namespace": "prod", "kind": "statefulset", "name": "gone"});
    let failure = run(&cluster, "get_workload_status", params, false)
        .await
        .unwrap_err();
    assert_eq!((failure.code, failure.http_status), ("kube_not_found", 404));
}

// ---------------------------------------------------------------------------------------
// Every read: dry runs, validation, targets
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_dry_run_of_a_read_sends_nothing_and_says_what_it_would_read() {
    // Arrange
    let (kube, cluster) = start().await;
    kube.add_pod("prod", "api-1");
    #[rustfmt::skip]
    let reads = [
        ("get_pod_logs", json!({"namespace": "prod", "podName": "api-1", "limitBytes": 10}), "/api/v1/namespaces/prod/pods/api-1/log"),
        ("list_events", json!({"namespace": "prod", "kind": "Pod"}), "/api/v1/namespaces/prod/events"),
        ("get_workload_status", json!({"namespace": "prod", "kind": "statefulset", "name": "db"}), "/apis/apps/v1/namespaces/prod/statefulsets/db"),
    ];
    for (action, params, path) in reads {
        // Act
        let result = run(&cluster, action, params, true).await.unwrap();

        // Assert
        assert_eq!(result["dryRun"], true, "{action}");
        assert_eq!(result["wouldRead"]["method"], "GET", "{action}");
        assert_eq!(result["wouldRead"]["path"], path, "{action}");
    }
    assert!(kube.requests().is_empty(), "{:?}", kube.requests());
}

#[test]
fn bad_read_params_are_refused_naming_the_field() {
    #[rustfmt::skip]
    let table: Vec<(&str, Value, &str, &str)> = vec![
        ("get_pod_logs", json!({"namespace": "prod", "podName": "a", "tailLines": 0}), "actionParams.tailLines", "between 1 and 10000"),
        ("get_pod_logs", json!({"namespace": "prod", "podName": "a", "tailLines": 10001}), "actionParams.tailLines", "between 1 and 10000"),
        ("get_pod_logs", json!({"namespace": "prod", "podName": "a", "sinceSeconds": 0}), "actionParams.sinceSeconds", "between 1 and 604800"),
        ("get_pod_logs", json!({"namespace": "prod", "podName": "a", "sinceSeconds": 604801}), "actionParams.sinceSeconds", "between 1 and 604800"),
        ("get_pod_logs", json!({"namespace": "prod", "podName": "a", "limitBytes": 0}), "actionParams.limitBytes", "between 1 and 1048576"),
        ("get_pod_logs", json!({"namespace": "prod", "podName": "a", "limitBytes": 1048577}), "actionParams.limitBytes", "between 1 and 1048576"),
        ("get_pod_logs", json!({"namespace": "prod", "podName": "a", "tailLines": 1.5}), "actionParams.tailLines", "invalid type"),
        ("get_pod_logs", json!({"namespace": "prod", "podName": "a", "container": "App_1"}), "actionParams.container", "DNS-1123 label"),
        ("get_pod_logs", json!({"namespace": "prod", "podName": "a", "follow": true}), "actionParams.follow", "unknown field `follow`"),
        ("get_pod_logs", json!({"namespace": "Prod", "podName": "a"}), "actionParams.namespace", "DNS-1123 label"),
        ("get_pod_logs", json!({"namespace": "prod"}), "actionParams", "missing field `podName`"),
        ("list_events", json!({"namespace": "prod", "kind": "Pod,reason=x"}), "actionParams.kind", "Kubernetes kind"),
        ("list_events", json!({"namespace": "prod", "kind": ""}), "actionParams.kind", "Kubernetes kind"),
        ("list_events", json!({"namespace": "prod", "name": "web=1"}), "actionParams.name", "DNS-1123 subdomain"),
        ("list_events", json!({"namespace": "prod", "fieldSelector": "type=Warning"}), "actionParams.fieldSelector", "unknown field"),
        ("list_events", json!(["prod"]), "actionParams", "expected a JSON object"),
        ("get_workload_status", json!({"namespace": "prod", "kind": "daemonset", "name": "x"}), "actionParams.kind", "unknown variant `daemonset`"),
        ("get_workload_status", json!({"namespace": "prod", "kind": "deployment"}), "actionParams", "missing field `name`"),
        ("get_workload_status", json!({"namespace": "prod", "kind": "deployment", "name": "A"}), "actionParams.name", "DNS-1123 subdomain"),
    ];
    let registry = Registry::with_builtins();
    let mut wrong = Vec::new();
    for (action, params, field, text) in table {
        match registry.get(action).unwrap().prepare(&params, &LIMITS) {
            Ok(_) => wrong.push(format!("{action} accepted {params}")),
            Err(e) if e.field.as_deref() == Some(field) && e.message.contains(text) => {}
            Err(e) => wrong.push(format!(
                "{action} {params}: want {field} / {text:?}, got {:?}: {}",
                e.field, e.message
            )),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn reads_target_what_they_read() {
    let target = |namespace: &str, kind: &'static str, name: &str| Target {
        namespace: namespace.into(),
        kind,
        name: name.into(),
    };
    #[rustfmt::skip]
    let table: Vec<(&str, Value, Target)> = vec![
        ("get_pod_logs", json!({"namespace": "prod", "podName": "web-1", "tailLines": 5}), target("prod", "pod", "web-1")),
        ("get_workload_status", json!({"namespace": "prod", "kind": "statefulset", "name": "db"}), target("prod", "statefulset", "db")),
        // The events about an object target that object; without one, the namespace.
        ("list_events", json!({"namespace": "prod", "kind": "Pod", "name": "web-1"}), target("prod", "pod", "web-1")),
        ("list_events", json!({"namespace": "prod", "kind": "deploy"}), target("prod", "deployment", "*")),
        ("list_events", json!({"namespace": "prod", "name": "web-1"}), target("prod", "*", "web-1")),
        ("list_events", json!({"namespace": "prod", "kind": "Rollout", "name": "web"}), target("prod", "*", "web")),
        ("list_events", json!({"namespace": "prod"}), target("prod", "*", "*")),
    ];
    let registry = Registry::with_builtins();
    for (action, params, want) in table {
        let prepared = registry
            .get(action)
            .unwrap()
            .prepare(&params, &LIMITS)
            .unwrap();
        assert_eq!(prepared.target(), &want, "{action} {params}");
    }
}

// ---------------------------------------------------------------------------------------
// End to end: audit, budget, guardrails
// ---------------------------------------------------------------------------------------

#[sqlx::test(migrator = "MIGRATIONS")]
async fn pod_logs_are_answered_and_audited_by_size_and_hash_only(pool: PgPool) {
    // Arrange: a log line a workload should not have printed.
    let h = Harness::new(pool, &[]).await;
    h.kube.add_pod_log(
        "production",
        "web-1",
        "app",
        Duration::ZERO,
        "db password=hunter2\nready",
    );
    let body = h.request(
        "get_pod_logs",
        json!({"namespace": "production", "podName": "web-1"}),
        "production/pod/web-1",
    );

    // Act
    let answer = h.execute(&body).await;

    // Assert: the caller gets the text; the audit row its size and hash.
    assert_eq!(answer.status, 200, "{}", answer.body);
    let text = answer.body["result"]["text"].as_str().unwrap();
    assert_eq!(text, "db password=hunter2\nready\n");
    let rows = h.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "succeeded");
    assert_eq!(rows[0].action_type.as_deref(), Some("get_pod_logs"));
    let audited = rows[0].result.clone().unwrap();
    assert_eq!(
        audited,
        json!({"pod": "web-1", "namespace": "production", "container": null, "lines": 2,
               "truncated": false, "limitBytes": 65536, "dryRun": false,
               "bytes": text.len(), "sha256": sha256_hex(text.as_bytes())})
    );
    assert!(!format!("{rows:?}").contains("hunter2"));
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn events_and_workload_status_are_audited_without_their_content(pool: PgPool) {
    // Arrange
    let h = Harness::new(pool, &[]).await;
    let mut secret = event("Pod", "web-1", "Failed", 1);
    secret["message"] = json!("token=s3cr3t-value rejected");
    h.kube.add_event("production", secret).unwrap();
    let events = h.request(
        "list_events",
        json!({"namespace": "production"}),
        "production:resource",
    );
    let status = h.request(
        "get_workload_status",
        json!({"namespace": "production", "kind": "deployment", "name": "api-deployment"}),
        "production/deployment/api-deployment",
    );

    // Act
    let events = h.execute(&events).await;
    let status = h.execute(&status).await;

    // Assert
    assert_eq!(events.status, 200, "{}", events.body);
    assert_eq!(status.status, 200, "{}", status.body);
    let rows = h.rows().await;
    let events_row = rows[0].result.clone().unwrap();
    let listed = &events.body["result"]["events"];
    assert_eq!(listed[0]["message"], "token=s3cr3t-value rejected");
    assert_eq!(events_row["count"], 1);
    assert_eq!(
        events_row["sha256"],
        sha256_hex(&serde_json::to_vec(listed).unwrap())
    );
    assert!(events_row.get("events").is_none());
    assert!(!format!("{rows:?}").contains("s3cr3t"));
    let status_row = rows[1].result.clone().unwrap();
    let answered = &status.body["result"];
    assert_eq!(
        status_row["sha256"],
        sha256_hex(&serde_json::to_vec(answered).unwrap())
    );
    assert_eq!(status_row["readyReplicas"], 3);
    assert!(status_row.get("conditions").is_none());
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn reads_draw_on_their_own_budget(pool: PgPool) {
    // Arrange: two reads a minute.
    let h = Harness::new(pool, &[("RATE_LIMIT_READ_MAX", "2")]).await;
    let read = || {
        h.request(
            "get_workload_status",
            json!({"namespace": "production", "kind": "statefulset", "name": "db"}),
            "production/statefulset/db",
        )
    };

    // Act
    let first = h.execute(&read()).await;
    let second = h.execute(&read()).await;
    let third = h.execute(&read()).await;
    let restart = h
        .execute(&h.request(
            "restart_pod",
            json!({"namespace": "production", "podName": "web-1"}),
            "production/pod/web-1",
        ))
        .await;

    // Assert: the third read is over budget; a write's budget is untouched.
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(third.status, 429, "{}", third.body);
    assert_eq!(third.body["code"], "budget_exhausted");
    assert!(third.body["error"].as_str().unwrap().contains("`read`"));
    assert!(third.headers.contains_key("retry-after"));
    assert_eq!(restart.status, 200, "{}", restart.body);
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn logs_of_a_missing_pod_answer_404_and_are_audited_failed(pool: PgPool) {
    // Arrange
    let h = Harness::new(pool, &[]).await;
    let body = h.request(
        "get_pod_logs",
        json!({"namespace": "production", "podName": "gone"}),
        "production/pod/gone",
    );

    // Act
    let answer = h.execute(&body).await;

    // Assert
    assert_eq!(answer.status, 404, "{}", answer.body);
    assert_eq!(answer.body["code"], "kube_not_found");
    let rows = h.rows().await;
    assert_eq!(rows[0].status, "failed");
    assert_eq!(rows[0].reason_code.as_deref(), Some("kube_not_found"));
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn reads_in_a_protected_namespace_are_refused_before_any_call(pool: PgPool) {
    // Arrange: a decision that would allow it (the executor's guardrail holds anyway).
    let h = Harness::new(pool, &[]).await;
    let body = h.request(
        "get_pod_logs",
        json!({"namespace": "kube-system", "podName": "coredns-1"}),
        "kube-system/pod/coredns-1",
    );

    // Act
    let answer = h.execute(&body).await;

    // Assert
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(answer.body["code"], "protected_namespace");
    assert!(h.kube.requests().is_empty());
    assert_eq!(h.rows().await[0].status, "rejected");
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn a_decision_about_one_pod_does_not_cover_the_namespaces_events(pool: PgPool) {
    // Arrange: both requests carry a decision for the events of pod web-1.
    let h = Harness::new(pool, &[]).await;
    let claims = h.claims("list_events", "production/pod/web-1", "ai-engine");
    let wide = json!({"namespace": "production"});
    let narrow = json!({"namespace": "production", "kind": "Pod", "name": "web-1"});

    // Act
    let wide = h
        .execute(&h.request_with("list_events", wide, h.decision(&claims)))
        .await;
    let narrow = h
        .execute(&h.request_with("list_events", narrow, h.decision(&claims)))
        .await;

    // Assert
    assert_eq!(wide.status, 403, "{}", wide.body);
    assert_eq!(wide.body["code"], "token_binding");
    assert_eq!(narrow.status, 200, "{}", narrow.body);
    h.assert_invariant().await;
}

#[sqlx::test(migrator = "MIGRATIONS")]
async fn a_dry_run_read_is_audited_and_reads_nothing(pool: PgPool) {
    // Arrange
    let h = Harness::new(pool, &[("EXECUTOR_DRY_RUN", "true")]).await;
    let body = h.request(
        "get_pod_logs",
        json!({"namespace": "production", "podName": "web-1", "tailLines": 50}),
        "production/pod/web-1",
    );

    // Act
    let answer = h.execute(&body).await;

    // Assert
    assert_eq!(answer.status, 200, "{}", answer.body);
    let result = &answer.body["result"];
    assert_eq!(result["wouldRead"]["query"]["tailLines"], 50);
    assert!(result.get("text").is_none());
    assert!(h.kube.requests().is_empty());
    let rows = h.rows().await;
    assert!(rows[0].dry_run);
    assert_eq!(rows[0].result.as_ref(), Some(result));
    h.assert_invariant().await;
}
