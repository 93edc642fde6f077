//! The read-only endpoints that are not plain objects: pod logs (`GET …/pods/{name}/log`)
//! and the `core/v1` Event list (`GET …/namespaces/{ns}/events`).

use serde_json::{Value, json};

use super::{Call, stored};
use crate::objects::{Kind, at, str_at};
use crate::state::State;
use crate::status::{Answer, ApiError, Target};

/// The field selectors the Event list evaluates, as kube-apiserver names them.
const EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.name",
    "involvedObject.namespace",
    "involvedObject.uid",
    "metadata.name",
    "metadata.namespace",
    "reason",
    "type",
];

/// `GET /api/v1/namespaces/{ns}/pods/{name}/log`: the seeded lines of one container, with
/// `container`, `sinceSeconds`, `tailLines` and `limitBytes` applied in the kubelet's order
/// (the time window, then the last lines, then the byte cap, which may cut a line or a
/// UTF-8 sequence).
pub(super) fn pod_log(
    state: &State,
    target: &Target,
    namespace: &str,
    name: &str,
    call: &Call,
) -> Result<Answer, ApiError> {
    let pod = stored(
        state,
        target,
        &(Kind::Pod, namespace.to_owned(), name.to_owned()),
    )?;
    let container = container_of(pod, name, call.query.get("container"))?;
    let since = positive(call, "sinceSeconds", 1)?;
    let tail = positive(call, "tailLines", 0)?;
    let limit = positive(call, "limitBytes", 1)?;

    let lines = state
        .logs
        .get(&(namespace.to_owned(), name.to_owned(), container))
        .map(Vec::as_slice)
        .unwrap_or_default();
    let now = chrono::Utc::now();
    let recent: Vec<&str> = lines
        .iter()
        .filter(|line| since.is_none_or(|s| (now - line.at).num_seconds() <= s))
        .map(|line| line.text.as_str())
        .collect();
    let skip = tail.map_or(0, |t| recent.len().saturating_sub(usize_of(t)));
    let mut body: Vec<u8> = recent[skip..]
        .iter()
        .flat_map(|line| line.bytes().chain(std::iter::once(b'\n')))
        .collect();
    if let Some(limit) = limit {
        body.truncate(usize_of(limit));
    }
    Ok(Answer::text(200, body))
}

/// The container whose log is asked for: the one named, or the pod's only container.
fn container_of(pod: &Value, pod_name: &str, asked: Option<&String>) -> Result<String, ApiError> {
    let names: Vec<&str> = at(pod, &["spec", "containers"])
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| str_at(c, &["name"]))
        .collect();
    match asked {
        Some(asked) if names.contains(&asked.as_str()) => Ok(asked.clone()),
        Some(asked) => Err(ApiError::bad_request(format!(
            "container {asked} is not valid for pod {pod_name}"
        ))),
        None => match names.as_slice() {
            [only] => Ok((*only).to_owned()),
            _ => Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                names.join(" ")
            ))),
        },
    }
}

/// An integer query parameter that must be at least `min`; kube-apiserver answers 400
/// for one that is not a number and 422 for one out of range.
fn positive(call: &Call, name: &str, min: i64) -> Result<Option<i64>, ApiError> {
    let Some(text) = call.query.get(name) else {
        return Ok(None);
    };
    let value: i64 = text.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "couldn't parse parameter {name:?}: strconv.ParseInt: parsing {text:?}: invalid syntax"
        ))
    })?;
    if value < min {
        let bound = if min == 0 {
            "must be greater than or equal to 0"
        } else {
            "must be greater than 0"
        };
        return Err(ApiError::unprocessable(format!(
            "PodLogOptions \"\" is invalid: {name}: Invalid value: {value}: {bound}"
        )));
    }
    Ok(Some(value))
}

fn usize_of(value: i64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// `GET /api/v1/namespaces/{ns}/events` (or `/api/v1/events`): the seeded Events, in key
/// order, filtered by `fieldSelector` (`=`/`==` on the fields of [`EVENT_FIELDS`]), cut to
/// `limit` with a `continue` token when more remain, and resumed from `continue`.
pub(super) fn list_events(
    state: &State,
    namespace: Option<&str>,
    call: &Call,
) -> Result<Answer, ApiError> {
    let mut fields: Vec<(Vec<&str>, &str)> = Vec::new();
    if let Some(text) = call.query.get("fieldSelector") {
        for part in text.split(',').filter(|p| !p.is_empty()) {
            let known = part
                .split_once('=')
                .map(|(f, v)| (f, v.trim_start_matches('=')))
                .filter(|(f, _)| EVENT_FIELDS.contains(f));
            let Some((field, value)) = known else {
                return Err(ApiError::bad_request(format!(
                    "{part:?} is not a known field selector: only {}",
                    EVENT_FIELDS.join(", ")
                )));
            };
            fields.push((field.split('.').collect(), value));
        }
    }
    let offset = match call.query.get("continue") {
        Some(token) => token
            .strip_prefix("fake-continue-")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| {
                ApiError::bad_request("continue key is not valid: not a fake-kube token")
            })?,
        None => 0,
    };
    let limit = positive(call, "limit", 1)?;
    let matching: Vec<&Value> = state
        .events
        .iter()
        .filter(|((ns, _), _)| namespace.is_none_or(|n| n == ns))
        .map(|(_, event)| event)
        .filter(|event| {
            fields
                .iter()
                .all(|(path, value)| str_at(event, path) == Some(*value))
        })
        .collect();
    let end = limit.map_or(matching.len(), |l| {
        offset.saturating_add(usize_of(l)).min(matching.len())
    });
    let items: Vec<Value> = matching
        .get(offset.min(end)..end)
        .unwrap_or_default()
        .iter()
        .map(|event| {
            // Items of a real list carry no apiVersion/kind; the list does.
            let mut item = (*event).clone();
            if let Some(map) = item.as_object_mut() {
                map.remove("apiVersion");
                map.remove("kind");
            }
            item
        })
        .collect();
    let mut metadata = json!({"resourceVersion": state.revision.to_string()});
    if end < matching.len() {
        metadata["continue"] = json!(format!("fake-continue-{end}"));
        metadata["remainingItemCount"] = json!(matching.len() - end);
    }
    Ok(Answer::json(
        200,
        &json!({"kind": "EventList", "apiVersion": "v1", "metadata": metadata, "items": items}),
    ))
}
