//! Seeding what the read-only endpoints serve: container log lines and `core/v1` Events.

use std::time::Duration;

use serde_json::{Value, json};

use crate::objects::{SeedError, str_at};
use crate::state::{LogLine, State, now};

/// Appends the lines of `text` to a container's log, written `age` ago.
pub(crate) fn append_log(
    state: &mut State,
    (namespace, pod, container): (&str, &str, &str),
    age: Duration,
    text: &str,
) {
    let at = chrono::Utc::now()
        - chrono::Duration::from_std(age).unwrap_or_else(|_| chrono::Duration::zero());
    let lines = state
        .logs
        .entry((namespace.to_owned(), pod.to_owned(), container.to_owned()))
        .or_default();
    lines.extend(text.lines().map(|line| LogLine {
        at,
        text: line.to_owned(),
    }));
}

/// Stores an Event in `namespace` built from `partial`, a `core/v1` Event of which only
/// `involvedObject.name` is required; returns its name.
///
/// Filled in when absent: `metadata.name` (`<involved name>.<16 hex digits>`, as the
/// kubelet names them), the server-managed metadata, `involvedObject.kind` (`Pod`),
/// `involvedObject.namespace`, `type` (`Normal`), `reason` (`Unknown`), `message` (empty),
/// `count` (1), `lastTimestamp` (now), `firstTimestamp` (the last one) and `source`.
pub(crate) fn insert_event(
    state: &mut State,
    namespace: &str,
    partial: Value,
) -> Result<String, SeedError> {
    let Value::Object(mut event) = partial else {
        return Err(SeedError::NotAnObject(
            "an event that is not a JSON object".into(),
        ));
    };
    let involved_name = event
        .get("involvedObject")
        .and_then(|o| o.get("name"))
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or(SeedError::MissingName("Event's involvedObject"))?
        .to_owned();
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let metadata = event
        .entry("metadata")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| invalid("metadata is not an object"))?;
    let name = match metadata.get("name").and_then(Value::as_str) {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => format!("{involved_name}.{}", &suffix[..16]),
    };
    metadata.insert("name".into(), json!(name));
    metadata.insert("namespace".into(), json!(namespace));
    metadata.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    metadata.insert("resourceVersion".into(), json!(state.next_revision()));
    metadata
        .entry("creationTimestamp")
        .or_insert_with(|| json!(now()));
    if let Some(Value::Object(involved)) = event.get_mut("involvedObject") {
        involved.entry("kind").or_insert_with(|| json!("Pod"));
        involved
            .entry("namespace")
            .or_insert_with(|| json!(namespace));
    }
    let defaults: [(&str, Value); 6] = [
        ("apiVersion", json!("v1")),
        ("kind", json!("Event")),
        ("type", json!("Normal")),
        ("reason", json!("Unknown")),
        ("message", json!("")),
        ("count", json!(1)),
    ];
    for (key, value) in defaults {
        event.entry(key).or_insert(value);
    }
    let last = event
        .entry("lastTimestamp")
        .or_insert_with(|| json!(now()))
        .clone();
    event.entry("firstTimestamp").or_insert(last);
    event
        .entry("source")
        .or_insert_with(|| json!({"component": "fake-kube"}));
    let event = Value::Object(event);
    serde_json::from_value::<k8s_openapi::api::core::v1::Event>(event.clone())
        .map_err(|e| invalid(&e.to_string()))?;
    if str_at(&event, &["kind"]) != Some("Event") {
        return Err(invalid("kind must be Event"));
    }
    state
        .events
        .insert((namespace.to_owned(), name.clone()), event);
    Ok(name)
}

fn invalid(reason: &str) -> SeedError {
    SeedError::Invalid {
        kind: "Event",
        reason: reason.to_owned(),
    }
}
