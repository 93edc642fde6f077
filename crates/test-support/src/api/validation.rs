//! Updating a stored object as the real server does: server-managed fields, preconditions
//! and the semantic checks (422) of the fields a workload repair touches.

use serde_json::{Value, json};

use crate::objects::{Kind, at, check_typed, converge_status, str_at};
use crate::state::{Key, State};
use crate::status::{ApiError, Target};

/// Validates `candidate` as the next version of `current` and stores it (unless
/// `dry_run`). Returns what a client would read back and whether anything changed.
///
/// Server-managed fields are the server's: `uid`, `creationTimestamp`, `generation` and
/// `status` are taken from `current`, except that a differing `uid` or `resourceVersion`
/// in the candidate is a failed precondition (409), as on the real server.
pub(super) fn update(
    state: &mut State,
    target: &Target,
    key: &Key,
    current: &Value,
    mut candidate: Value,
    dry_run: bool,
) -> Result<(Value, bool), ApiError> {
    let kind = key.0;
    if !candidate.is_object()
        || !candidate["metadata"].is_object() && !candidate["metadata"].is_null()
    {
        return Err(undecodable(kind, "the object has no metadata"));
    }
    match str_at(&candidate, &["metadata", "name"]) {
        Some(name) if name != key.2 => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({name}) does not match the name on the URL ({})",
                key.2
            )));
        }
        _ => candidate["metadata"]["name"] = json!(key.2),
    }
    match str_at(&candidate, &["metadata", "namespace"]) {
        Some(ns) if ns != key.1 => {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        _ => candidate["metadata"]["namespace"] = json!(key.1),
    }
    let uid = str_at(current, &["metadata", "uid"]);
    if let Some(sent) = str_at(&candidate, &["metadata", "uid"])
        && Some(sent) != uid
    {
        return Err(ApiError::precondition_failed(
            target,
            format!(
                "UID in precondition: {sent}, UID in object meta: {}",
                uid.unwrap_or_default()
            ),
        ));
    }
    if let Some(sent) = str_at(&candidate, &["metadata", "resourceVersion"])
        && Some(sent) != str_at(current, &["metadata", "resourceVersion"])
    {
        return Err(ApiError::conflict(target));
    }
    for field in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "generation",
        "deletionTimestamp",
    ] {
        match current["metadata"].get(field) {
            Some(value) => candidate["metadata"][field] = value.clone(),
            None => {
                if let Some(map) = candidate["metadata"].as_object_mut() {
                    map.remove(field);
                }
            }
        }
    }
    match current.get("status") {
        Some(status) => candidate["status"] = status.clone(),
        None => {
            if let Some(map) = candidate.as_object_mut() {
                map.remove("status");
            }
        }
    }
    for field in ["apiVersion", "kind"] {
        if candidate.get(field).is_none() {
            candidate[field] = current[field].clone();
        }
    }
    check_typed(kind, &candidate).map_err(|e| undecodable(kind, &e))?;
    validate(kind, target, Some(current), &candidate)?;
    if candidate == *current {
        return Ok((candidate, false));
    }
    if kind.is_scalable() && candidate.get("spec") != current.get("spec") {
        let generation = at(current, &["metadata", "generation"])
            .and_then(Value::as_i64)
            .unwrap_or(1);
        candidate["metadata"]["generation"] = json!(generation + 1);
    }
    converge_status(kind, &mut candidate);
    if !dry_run {
        candidate["metadata"]["resourceVersion"] = json!(state.next_revision());
        state.objects.insert(key.clone(), candidate.clone());
    }
    Ok((candidate, true))
}

/// The semantic checks of the real server's validation (422), for the fields a workload
/// repair touches.
pub(super) fn validate(
    kind: Kind,
    target: &Target,
    current: Option<&Value>,
    candidate: &Value,
) -> Result<(), ApiError> {
    if kind == Kind::Pod {
        if let Some(current) = current {
            // Pods are immutable but for a few fields; container images are the one a
            // repair might touch.
            let mut before = current["spec"].clone();
            let mut after = candidate["spec"].clone();
            for spec in [&mut before, &mut after] {
                if let Some(containers) = spec.get_mut("containers").and_then(Value::as_array_mut) {
                    for container in containers {
                        container["image"] = Value::Null;
                    }
                }
            }
            if before != after {
                return Err(ApiError::invalid(
                    target,
                    "spec",
                    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`, \
                     `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, \
                     `spec.tolerations` (only additions to existing tolerations) or \
                     `spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
                ));
            }
        }
        return Ok(());
    }
    let replicas = at(candidate, &["spec", "replicas"]).and_then(Value::as_i64);
    if let Some(replicas) = replicas
        && replicas < 0
    {
        return Err(ApiError::invalid(
            target,
            "spec.replicas",
            &format!("Invalid value: {replicas}: must be greater than or equal to 0"),
        ));
    }
    let selector = at(candidate, &["spec", "selector"]);
    if let Some(current) = current
        && selector != at(current, &["spec", "selector"])
    {
        return Err(ApiError::invalid(
            target,
            "spec.selector",
            &format!(
                "Invalid value: {}: field is immutable",
                selector.cloned().unwrap_or(Value::Null)
            ),
        ));
    }
    if let Some(Value::Object(match_labels)) = selector.and_then(|s| s.get("matchLabels")) {
        let labels = at(candidate, &["spec", "template", "metadata", "labels"]);
        let matched = match_labels
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
        if !matched {
            return Err(ApiError::invalid(
                target,
                "spec.template.metadata.labels",
                &format!(
                    "Invalid value: {}: `selector` does not match template `labels`",
                    labels.cloned().unwrap_or(Value::Null)
                ),
            ));
        }
    }
    Ok(())
}

/// DeleteOptions `preconditions` (`uid`, `resourceVersion`): 409 when they do not hold.
pub(super) fn check_preconditions(
    target: &Target,
    current: &Value,
    preconditions: Option<&Value>,
) -> Result<(), ApiError> {
    let Some(preconditions) = preconditions else {
        return Ok(());
    };
    for (field, label) in [("uid", "UID"), ("resourceVersion", "ResourceVersion")] {
        if let Some(expected) = preconditions.get(field).and_then(Value::as_str) {
            let actual = str_at(current, &["metadata", field]).unwrap_or_default();
            if expected != actual {
                return Err(ApiError::precondition_failed(
                    target,
                    format!(
                        "{label} in precondition: {expected}, {label} in object meta: {actual}"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// 400 for a body that does not decode as the kind, phrased as the real decoder does.
pub(super) fn undecodable(kind: Kind, reason: &str) -> ApiError {
    let name = kind.kind_name();
    ApiError::bad_request(format!(
        "{name} in version \"v1\" cannot be handled as a {name}: {reason}"
    ))
}
