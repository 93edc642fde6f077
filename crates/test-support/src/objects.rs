//! The resource types the fake serves, and how their stored JSON is built and checked.
//!
//! Objects are stored as `serde_json::Value`, not as k8s-openapi structs, so that what a test
//! reads back is exactly what a client would see on the wire (k8s-openapi would drop unknown
//! fields and fill missing ones with defaults). The typed structs are still used as a schema:
//! an object that k8s-openapi cannot read would not be accepted by a real server either.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The image every seeded container runs; any valid reference would do.
const SEED_IMAGE: &str = "registry.k8s.io/pause:3.10";

/// A resource type the fake serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// `v1` `Pod` (`/api/v1/namespaces/{ns}/pods`).
    Pod,
    /// `apps/v1` `Deployment` (`/apis/apps/v1/namespaces/{ns}/deployments`).
    Deployment,
    /// `apps/v1` `StatefulSet` (`/apis/apps/v1/namespaces/{ns}/statefulsets`).
    StatefulSet,
}

impl Kind {
    /// Every kind, in the order lists and dumps use.
    pub const ALL: [Kind; 3] = [Kind::Pod, Kind::Deployment, Kind::StatefulSet];

    /// The `kind` field: `Pod`, `Deployment`, `StatefulSet`.
    pub fn kind_name(self) -> &'static str {
        match self {
            Kind::Pod => "Pod",
            Kind::Deployment => "Deployment",
            Kind::StatefulSet => "StatefulSet",
        }
    }

    /// The `apiVersion` field: `v1` or `apps/v1`.
    pub fn api_version(self) -> &'static str {
        match self {
            Kind::Pod => "v1",
            Kind::Deployment | Kind::StatefulSet => "apps/v1",
        }
    }

    /// The API group: empty for the core group, `apps` otherwise.
    pub fn group(self) -> &'static str {
        match self {
            Kind::Pod => "",
            Kind::Deployment | Kind::StatefulSet => "apps",
        }
    }

    /// The resource name in URLs: `pods`, `deployments`, `statefulsets`.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Pod => "pods",
            Kind::Deployment => "deployments",
            Kind::StatefulSet => "statefulsets",
        }
    }

    /// Whether the kind has a `spec.replicas` and a `/scale` subresource.
    pub fn is_scalable(self) -> bool {
        !matches!(self, Kind::Pod)
    }

    /// The kind for a URL resource name.
    pub(crate) fn from_plural(plural: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.plural() == plural)
    }

    /// The kind for a `kind` field, or a shorthand spelled in any case.
    fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| {
            k.kind_name().eq_ignore_ascii_case(name) || k.plural().eq_ignore_ascii_case(name)
        })
    }
}

/// Why an object could not be seeded.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The JSON is neither an object, a list of objects, nor `{"items": [...]}`.
    #[error("a seed must be an object, an array of objects or {{\"items\": [...]}}, got {0}")]
    NotAnObject(String),
    /// `kind` is missing or names a type the fake does not serve.
    #[error("unsupported kind {0:?}: the fake serves Pod, Deployment and StatefulSet")]
    UnsupportedKind(String),
    /// `metadata.name` (or `name` in the shorthand) is missing or empty.
    #[error("a seeded {0} needs a name")]
    MissingName(&'static str),
    /// The object is not a valid resource of its kind (k8s-openapi could not read it).
    #[error("not a valid {kind}: {reason}")]
    Invalid {
        /// The kind being seeded.
        kind: &'static str,
        /// What k8s-openapi reported.
        reason: String,
    },
    /// The seed file could not be read.
    #[error("cannot read the seed file: {0}")]
    Io(#[from] std::io::Error),
    /// The seed file is not JSON.
    #[error("the seed file is not JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// A seed before the server stamps it: complete except for server-managed metadata.
#[derive(Debug, Clone)]
pub(crate) struct Seed {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
    pub object: Value,
}

/// Reads a seed document: one object, an array, or a `List`-style `{"items": [...]}`.
///
/// Each entry is either a full object (`apiVersion`, `kind`, `metadata`, ...) or the
/// shorthand `{"kind": "Deployment", "namespace": "prod", "name": "api", "replicas": 3}`
/// (namespace defaults to `default`, replicas to 1).
pub(crate) fn parse_seeds(document: Value) -> Result<Vec<Seed>, SeedError> {
    let entries = match document {
        Value::Array(items) => items,
        Value::Object(mut map) if !map.contains_key("kind") && map.contains_key("items") => {
            match map.remove("items") {
                Some(Value::Array(items)) => items,
                other => return Err(SeedError::NotAnObject(describe(other.as_ref()))),
            }
        }
        Value::Object(map)
            if map
                .get("kind")
                .and_then(Value::as_str)
                .is_some_and(|k| k.ends_with("List")) =>
        {
            match map.get("items") {
                Some(Value::Array(items)) => items.clone(),
                other => return Err(SeedError::NotAnObject(describe(other))),
            }
        }
        object @ Value::Object(_) => vec![object],
        other => return Err(SeedError::NotAnObject(describe(Some(&other)))),
    };
    entries.into_iter().map(parse_seed).collect()
}

fn describe(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "null".into(),
        Some(Value::Bool(_)) => "a boolean".into(),
        Some(Value::Number(_)) => "a number".into(),
        Some(Value::String(_)) => "a string".into(),
        Some(Value::Array(_)) => "an array".into(),
        Some(Value::Object(_)) => "an object".into(),
    }
}

fn parse_seed(entry: Value) -> Result<Seed, SeedError> {
    let Value::Object(map) = entry else {
        return Err(SeedError::NotAnObject(describe(Some(&entry))));
    };
    let kind_text = map.get("kind").and_then(Value::as_str).unwrap_or_default();
    let kind =
        Kind::from_name(kind_text).ok_or_else(|| SeedError::UnsupportedKind(kind_text.into()))?;
    if map.contains_key("metadata") {
        let object = Value::Object(map);
        let name = str_at(&object, &["metadata", "name"]).unwrap_or_default();
        if name.is_empty() {
            return Err(SeedError::MissingName(kind.kind_name()));
        }
        let namespace = str_at(&object, &["metadata", "namespace"]).unwrap_or("default");
        let (name, namespace) = (name.to_owned(), namespace.to_owned());
        let mut object = object;
        object["metadata"]["namespace"] = json!(namespace);
        check_typed(kind, &object).map_err(|reason| SeedError::Invalid {
            kind: kind.kind_name(),
            reason,
        })?;
        return Ok(Seed {
            kind,
            namespace,
            name,
            object,
        });
    }
    let name = map.get("name").and_then(Value::as_str).unwrap_or_default();
    if name.is_empty() {
        return Err(SeedError::MissingName(kind.kind_name()));
    }
    let namespace = map
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or("default");
    let replicas = map.get("replicas").and_then(Value::as_i64).unwrap_or(1);
    let replicas = i32::try_from(replicas).map_err(|_| SeedError::Invalid {
        kind: kind.kind_name(),
        reason: format!("replicas {replicas} does not fit in an int32"),
    })?;
    Ok(Seed {
        kind,
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        object: template(kind, namespace, name, replicas),
    })
}

/// A minimal valid object of `kind`, labelled `app: <name>` (apps objects select on it).
pub(crate) fn template(kind: Kind, namespace: &str, name: &str, replicas: i32) -> Value {
    let metadata = json!({"name": name, "namespace": namespace, "labels": {"app": name}});
    let container = json!([{"name": "app", "image": SEED_IMAGE}]);
    match kind {
        Kind::Pod => json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": metadata,
            "spec": {
                "containers": container,
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 30,
            },
            "status": {"phase": "Running"},
        }),
        Kind::Deployment => json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": metadata,
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": container},
                },
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                },
            },
        }),
        Kind::StatefulSet => json!({
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": metadata,
            "spec": {
                "replicas": replicas,
                "serviceName": name,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": container},
                },
                "updateStrategy": {"type": "RollingUpdate"},
            },
        }),
    }
}

/// Reads `object` as the k8s-openapi type of `kind`: the schema check a real server's
/// decoder performs (wrong types, wrong `apiVersion`/`kind`, missing required fields).
pub(crate) fn check_typed(kind: Kind, object: &Value) -> Result<(), String> {
    use k8s_openapi::api::{apps::v1 as apps, core::v1 as core};
    let result = match kind {
        Kind::Pod => serde_json::from_value::<core::Pod>(object.clone()).map(drop),
        Kind::Deployment => serde_json::from_value::<apps::Deployment>(object.clone()).map(drop),
        Kind::StatefulSet => serde_json::from_value::<apps::StatefulSet>(object.clone()).map(drop),
    };
    result.map_err(|e| e.to_string())
}

/// The string at `path` in `value`, if there is one.
pub(crate) fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(value, path).and_then(Value::as_str)
}

/// The value at `path` in `value`, if there is one.
pub(crate) fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(key))
}

/// `spec.replicas` of an apps object; Kubernetes defaults a missing value to 1.
pub(crate) fn spec_replicas(object: &Value) -> i64 {
    at(object, &["spec", "replicas"])
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

/// Makes `status` what the controllers would report once converged.
///
/// The fake runs no controllers, so it reports every rollout as finished at once: tests
/// assert on intent (`spec`), and an executor that polls status sees it settle.
pub(crate) fn converge_status(kind: Kind, object: &mut Value) {
    if !kind.is_scalable() {
        return;
    }
    let replicas = spec_replicas(object);
    let generation = at(object, &["metadata", "generation"])
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let mut status = Map::new();
    status.insert("observedGeneration".into(), json!(generation));
    status.insert("replicas".into(), json!(replicas));
    // The real controllers omit zero counts (Go `omitempty`).
    if replicas > 0 {
        for field in ["readyReplicas", "availableReplicas", "updatedReplicas"] {
            status.insert(field.into(), json!(replicas));
        }
        if kind == Kind::StatefulSet {
            status.insert("currentReplicas".into(), json!(replicas));
        }
    }
    if kind == Kind::StatefulSet {
        // The controller names each pod template revision `<name>-<hash>`; converged,
        // every pod runs the latest one.
        let name = str_at(object, &["metadata", "name"]).unwrap_or_default();
        let template = at(object, &["spec", "template"]).map(Value::to_string);
        let revision = format!(
            "{name}-{:08x}",
            fnv1a(template.unwrap_or_default().as_bytes())
        );
        status.insert("currentRevision".into(), json!(revision));
        status.insert("updateRevision".into(), json!(revision));
    }
    if kind == Kind::Deployment {
        status.insert(
            "conditions".into(),
            json!([{
                "type": "Available",
                "status": "True",
                "reason": "MinimumReplicasAvailable",
                "message": "Deployment has minimum availability.",
            }]),
        );
    }
    object["status"] = Value::Object(status);
}

/// 32-bit FNV-1a: a stable stand-in for the controller's revision hash.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}

/// The `status.selector` of a Scale: the label selector in its string form (`app=api`).
///
/// Only `matchLabels` is rendered; seeded objects select on labels alone.
pub(crate) fn selector_string(object: &Value) -> String {
    let Some(Value::Object(labels)) = at(object, &["spec", "selector", "matchLabels"]) else {
        return String::new();
    };
    let mut pairs: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    pairs.sort();
    pairs.join(",")
}

/// The `autoscaling/v1` `Scale` view of an apps object, as `/scale` answers it.
pub(crate) fn scale_of(object: &Value) -> Value {
    let metadata = &object["metadata"];
    let mut scale_metadata = Map::new();
    for key in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(value) = metadata.get(key) {
            scale_metadata.insert(key.into(), value.clone());
        }
    }
    let status_replicas = at(object, &["status", "replicas"])
        .and_then(Value::as_i64)
        .unwrap_or(0);
    json!({
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": scale_metadata,
        "spec": {"replicas": spec_replicas(object)},
        "status": {"replicas": status_replicas, "selector": selector_string(object)},
    })
}

/// A parsed `labelSelector` query: the equality and existence forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Requirement {
    /// `key=value` or `key==value`.
    Equals(String, String),
    /// `key!=value`.
    NotEquals(String, String),
    /// `key`.
    Exists(String),
    /// `!key`.
    NotExists(String),
}

/// Parses a label selector; `None` for the set-based forms (`in`, `notin`), which the
/// fake does not evaluate.
pub(crate) fn parse_selector(text: &str) -> Option<Vec<Requirement>> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            if part.contains(" in ") || part.contains(" notin ") || part.contains('(') {
                None
            } else if let Some((k, v)) = part.split_once("!=") {
                Some(Requirement::NotEquals(k.trim().into(), v.trim().into()))
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                Some(Requirement::Equals(k.trim().into(), v.trim().into()))
            } else if let Some(k) = part.strip_prefix('!') {
                Some(Requirement::NotExists(k.trim().into()))
            } else {
                Some(Requirement::Exists(part.into()))
            }
        })
        .collect()
}

/// Whether `object`'s labels satisfy every requirement.
pub(crate) fn matches_selector(object: &Value, requirements: &[Requirement]) -> bool {
    let label = |key: &str| str_at(object, &["metadata", "labels", key]);
    requirements.iter().all(|r| match r {
        Requirement::Equals(k, v) => label(k) == Some(v.as_str()),
        Requirement::NotEquals(k, v) => label(k) != Some(v.as_str()),
        Requirement::Exists(k) => label(k).is_some(),
        Requirement::NotExists(k) => label(k).is_none(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn every_template_is_a_valid_object_of_its_kind() {
        for kind in Kind::ALL {
            let object = template(kind, "ns", "name", 2);
            assert_eq!(check_typed(kind, &object), Ok(()), "{kind:?}");
        }
    }

    #[test]
    fn a_wrong_type_is_refused_by_the_typed_check() {
        let mut object = template(Kind::Deployment, "ns", "api", 2);
        object["spec"]["replicas"] = json!("three");
        assert!(check_typed(Kind::Deployment, &object).is_err());
    }

    #[test]
    fn seeds_accept_shorthand_full_objects_arrays_and_lists() {
        let shorthand =
            json!({"kind": "deployment", "namespace": "prod", "name": "api", "replicas": 4});
        let seeds = parse_seeds(shorthand).unwrap();
        assert_eq!(seeds[0].kind, Kind::Deployment);
        assert_eq!(spec_replicas(&seeds[0].object), 4);

        let full = template(Kind::Pod, "default", "web", 1);
        assert_eq!(
            parse_seeds(json!([full.clone(), full.clone()]))
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            parse_seeds(json!({"items": [full.clone()]})).unwrap().len(),
            1
        );
        assert_eq!(
            parse_seeds(json!({"kind": "List", "apiVersion": "v1", "items": [full]}))
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn seeds_without_a_name_or_with_an_unknown_kind_are_refused() {
        assert!(matches!(
            parse_seeds(json!({"kind": "Pod"})),
            Err(SeedError::MissingName("Pod"))
        ));
        assert!(matches!(
            parse_seeds(json!({"kind": "Service", "name": "x"})),
            Err(SeedError::UnsupportedKind(_))
        ));
    }

    #[test]
    fn selectors_match_equality_and_existence() {
        let pod = template(Kind::Pod, "ns", "web", 1);
        let yes = parse_selector("app=web,!tier").unwrap();
        let no = parse_selector("app!=web").unwrap();
        assert!(matches_selector(&pod, &yes));
        assert!(!matches_selector(&pod, &no));
        assert_eq!(parse_selector("app in (a,b)"), None);
    }

    #[test]
    fn the_scale_view_carries_the_selector_string() {
        let mut object = template(Kind::StatefulSet, "ns", "db", 3);
        converge_status(Kind::StatefulSet, &mut object);
        let scale = scale_of(&object);
        assert_eq!(scale["spec"]["replicas"], 3);
        assert_eq!(
            scale["status"],
            json!({"replicas": 3, "selector": "app=db"})
        );
    }
}
