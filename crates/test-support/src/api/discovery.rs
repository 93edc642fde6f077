//! `/version` and the discovery documents (`/api`, `/apis`, `/apis/apps`, and the resource
//! lists of `v1` and `apps/v1`).

use serde_json::{Value, json};

use crate::objects::Kind;
use crate::status::Answer;

/// The Kubernetes version the fake claims to be (`k8s-openapi`'s `latest`).
const VERSION: (&str, &str) = ("1", "37");

pub(super) fn version() -> Answer {
    let (major, minor) = VERSION;
    Answer::json(
        200,
        &json!({
            "major": major,
            "minor": minor,
            "gitVersion": format!("v{major}.{minor}.0-fake-kube"),
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z",
            "goVersion": "go1.25.0",
            "compiler": "gc",
            "platform": "linux/amd64",
        }),
    )
}

pub(super) fn core_versions(host: &str) -> Answer {
    Answer::json(
        200,
        &json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
        }),
    )
}

fn apps_group_value() -> Value {
    let version = json!({"groupVersion": "apps/v1", "version": "v1"});
    json!({"name": "apps", "versions": [version], "preferredVersion": version})
}

pub(super) fn groups() -> Answer {
    Answer::json(
        200,
        &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [apps_group_value()]}),
    )
}

pub(super) fn apps_group() -> Answer {
    let mut group = apps_group_value();
    group["kind"] = json!("APIGroup");
    group["apiVersion"] = json!("v1");
    Answer::json(200, &group)
}

pub(super) fn resources(group_version: &str) -> Answer {
    let verbs = json!(["create", "delete", "get", "list", "patch", "update"]);
    let resource = |kind: Kind, short: &str| {
        json!({
            "name": kind.plural(),
            "singularName": kind.kind_name().to_ascii_lowercase(),
            "namespaced": true,
            "kind": kind.kind_name(),
            "verbs": verbs,
            "shortNames": [short],
        })
    };
    let scale = |kind: Kind| {
        json!({
            "name": format!("{}/scale", kind.plural()),
            "singularName": "",
            "namespaced": true,
            "group": "autoscaling",
            "version": "v1",
            "kind": "Scale",
            "verbs": ["get", "patch", "update"],
        })
    };
    let list = if group_version == "v1" {
        vec![
            resource(Kind::Pod, "po"),
            json!({
                "name": "pods/eviction",
                "singularName": "",
                "namespaced": true,
                "group": "policy",
                "version": "v1",
                "kind": "Eviction",
                "verbs": ["create"],
            }),
            json!({
                "name": "pods/log",
                "singularName": "",
                "namespaced": true,
                "kind": "Pod",
                "verbs": ["get"],
            }),
            json!({
                "name": "events",
                "singularName": "event",
                "namespaced": true,
                "kind": "Event",
                "verbs": ["list"],
                "shortNames": ["ev"],
            }),
        ]
    } else {
        vec![
            resource(Kind::Deployment, "deploy"),
            scale(Kind::Deployment),
            resource(Kind::StatefulSet, "sts"),
            scale(Kind::StatefulSet),
        ]
    };
    Answer::json(
        200,
        &json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": group_version,
            "resources": list,
        }),
    )
}
