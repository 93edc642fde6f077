//! The `/scale` subresource of deployments and stateful sets.

use serde_json::{Value, json};

use super::validation::update;
use super::verbs::{patch_error, read_patch};
use super::{Call, record, stored};
use crate::objects::{at, scale_of, spec_replicas, str_at};
use crate::patch;
use crate::state::{Key, State, Verb};
use crate::status::{Answer, ApiError, Target};

pub(super) fn scale_answer(state: &State, key: &Key) -> Answer {
    match state.objects.get(key) {
        Some(object) => Answer::json(200, &scale_of(object)),
        None => ApiError::internal("the object vanished while it was read").into(),
    }
}

pub(super) fn patch_scale(
    state: &mut State,
    target: &Target,
    key: &Key,
    call: &Call,
    dry_run: bool,
) -> Result<Answer, ApiError> {
    let (patch_type, patch) = read_patch(call)?;
    let current = stored(state, target, key)?.clone();
    let scale = patch::apply(patch_type, &scale_of(&current), patch).map_err(patch_error)?;
    set_scale(state, target, key, &current, &scale, dry_run)
}

pub(super) fn replace_scale(
    state: &mut State,
    target: &Target,
    key: &Key,
    call: &Call,
    dry_run: bool,
) -> Result<Answer, ApiError> {
    let scale = call.json_body()?.clone();
    let current = stored(state, target, key)?.clone();
    set_scale(state, target, key, &current, &scale, dry_run)
}

/// Writes the `spec.replicas` of a (patched or replaced) Scale into its object.
fn set_scale(
    state: &mut State,
    target: &Target,
    key: &Key,
    current: &Value,
    scale: &Value,
    dry_run: bool,
) -> Result<Answer, ApiError> {
    serde_json::from_value::<k8s_openapi::api::autoscaling::v1::Scale>(scale.clone()).map_err(
        |e| {
            ApiError::bad_request(format!(
                "Scale in version \"v1\" cannot be handled as a Scale: {e}"
            ))
        },
    )?;
    if let Some(name) = str_at(scale, &["metadata", "name"])
        && name != key.2
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({name}) does not match the name on the URL ({})",
            key.2
        )));
    }
    if let Some(version) = str_at(scale, &["metadata", "resourceVersion"])
        && Some(version) != str_at(current, &["metadata", "resourceVersion"])
    {
        return Err(ApiError::conflict(target));
    }
    // Go decodes a missing replicas as 0, and so does the real server.
    let replicas = at(scale, &["spec", "replicas"])
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if replicas < 0 {
        return Err(ApiError::invalid_scale(
            &key.2,
            "spec.replicas",
            &format!("Invalid value: {replicas}: must be greater than or equal to 0"),
        ));
    }
    let from = spec_replicas(current);
    let mut candidate = current.clone();
    candidate["spec"]["replicas"] = json!(replicas);
    let (stored, changed) = update(state, target, key, current, candidate, dry_run)?;
    if !dry_run {
        record(
            state,
            Verb::Scale,
            key,
            json!({"from": from, "to": replicas, "changed": changed}),
        );
    }
    Ok(Answer::json(200, &scale_of(&stored)))
}
