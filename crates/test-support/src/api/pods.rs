//! Pod eviction (`POST …/pods/{name}/eviction`).

use serde_json::{Value, json};

use super::validation::check_preconditions;
use super::{Call, record, stored};
use crate::objects::str_at;
use crate::state::{Key, State, Verb};
use crate::status::{self, Answer, ApiError, Target};

pub(super) fn evict(
    state: &mut State,
    target: &Target,
    key: &Key,
    call: &Call,
    dry_run: bool,
) -> Result<Answer, ApiError> {
    let body = call.json_body()?;
    if let Some(kind) = body.get("kind").and_then(Value::as_str)
        && kind != "Eviction"
    {
        return Err(ApiError::bad_request(format!(
            "the object provided is unrecognized (must be of type Eviction): {kind}"
        )));
    }
    if let Some(version) = body.get("apiVersion").and_then(Value::as_str)
        && !matches!(version, "policy/v1" | "policy/v1beta1")
    {
        return Err(ApiError::bad_request(format!(
            "no kind \"Eviction\" is registered for version {version:?}"
        )));
    }
    if let Some(name) = str_at(body, &["metadata", "name"])
        && name != key.2
    {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Eviction object",
        ));
    }
    // Like kube-apiserver (fieldValidation=Warn), unknown fields are dropped with a
    // warning. This matters: kube 5 sends EvictParams.delete_options as "delete_options",
    // which the real server ignores, so its dryRun never reaches the server.
    let warnings: Vec<String> = body
        .as_object()
        .into_iter()
        .flat_map(|map| map.keys())
        .filter(|k| {
            !matches!(
                k.as_str(),
                "apiVersion" | "kind" | "metadata" | "deleteOptions"
            )
        })
        .map(|k| format!("299 - \"unknown field \\\"{k}\\\"\""))
        .collect();
    let with_warnings = |mut error: ApiError| {
        error.warnings.extend(warnings.iter().cloned());
        error
    };
    let current = stored(state, target, key).cloned().map_err(with_warnings)?;
    check_preconditions(
        target,
        &current,
        body.get("deleteOptions")
            .and_then(|o| o.get("preconditions")),
    )
    .map_err(with_warnings)?;
    if state
        .blocked_evictions
        .contains(&(key.1.clone(), key.2.clone()))
    {
        return Err(with_warnings(ApiError::disruption_budget()));
    }
    if !dry_run {
        state.objects.remove(key);
        state.next_revision();
        record(
            state,
            Verb::Evict,
            key,
            json!({"uid": current["metadata"]["uid"], "deleteOptions": body.get("deleteOptions")}),
        );
    }
    let mut answer = status::success(201, None);
    for warning in warnings {
        answer = answer.with_header("warning", warning);
    }
    Ok(answer)
}
