//! The verbs on an object or a collection: get, list, create, delete, patch and replace.

use serde_json::{Value, json};

use super::validation::{check_preconditions, undecodable, update, validate};
use super::{Call, record, stored};
use crate::objects::{
    Kind, at, check_typed, converge_status, matches_selector, parse_selector, str_at,
};
use crate::patch::{self, PATCH_MEDIA_TYPES, PatchError, PatchType};
use crate::state::{DeleteAnswer, Key, State, Verb, now};
use crate::status::{self, Answer, ApiError, Target};

pub(super) fn get(state: &State, target: &Target, key: &Key) -> Result<Answer, ApiError> {
    stored(state, target, key).map(|object| Answer::json(200, object))
}

pub(super) fn list(
    state: &State,
    kind: Kind,
    namespace: Option<&str>,
    call: &Call,
) -> Result<Answer, ApiError> {
    if call
        .query
        .get("watch")
        .is_some_and(|w| w == "true" || w == "1")
    {
        return Err(ApiError::bad_request("fake-kube does not serve watches"));
    }
    let labels = match call.query.get("labelSelector") {
        Some(text) => parse_selector(text).ok_or_else(|| {
            ApiError::bad_request(format!(
                "unable to parse requirement: {text:?}: fake-kube evaluates only =, ==, != and existence"
            ))
        })?,
        None => Vec::new(),
    };
    let mut fields = Vec::new();
    if let Some(text) = call.query.get("fieldSelector") {
        for part in text.split(',').filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some((field @ ("metadata.name" | "metadata.namespace"), value)) => {
                    fields.push((
                        field.trim_start_matches("metadata."),
                        value.trim_start_matches('='),
                    ));
                }
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "{part:?} is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
                    )));
                }
            }
        }
    }
    let items: Vec<Value> = state
        .objects
        .iter()
        .filter(|((k, ns, _), _)| *k == kind && namespace.is_none_or(|n| n == ns))
        .map(|(_, object)| object)
        .filter(|object| matches_selector(object, &labels))
        .filter(|object| {
            fields
                .iter()
                .all(|(field, value)| str_at(object, &["metadata", field]) == Some(*value))
        })
        .map(|object| {
            // Items of a real list carry no apiVersion/kind; the list does.
            let mut item = object.clone();
            if let Some(map) = item.as_object_mut() {
                map.remove("apiVersion");
                map.remove("kind");
            }
            item
        })
        .collect();
    Ok(Answer::json(
        200,
        &json!({
            "kind": format!("{}List", kind.kind_name()),
            "apiVersion": kind.api_version(),
            "metadata": {"resourceVersion": state.revision.to_string()},
            "items": items,
        }),
    ))
}

pub(super) fn create(
    state: &mut State,
    target: &Target,
    kind: Kind,
    namespace: &str,
    call: &Call,
    dry_run: bool,
) -> Result<Answer, ApiError> {
    let mut object = call.json_body()?.clone();
    match str_at(&object, &["metadata", "namespace"]) {
        Some(ns) if ns != namespace => {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        _ => object["metadata"]["namespace"] = json!(namespace),
    }
    let name = match (
        str_at(&object, &["metadata", "name"]),
        str_at(&object, &["metadata", "generateName"]),
    ) {
        (Some(name), _) if !name.is_empty() => name.to_owned(),
        (_, Some(prefix)) if !prefix.is_empty() => {
            let suffix = uuid::Uuid::new_v4().simple().to_string();
            format!("{prefix}{}", &suffix[..5])
        }
        _ => {
            let target = Target {
                name: String::new(),
                ..target.clone()
            };
            return Err(ApiError::invalid(
                &target,
                "metadata.name",
                "Required value: name or generateName is required",
            ));
        }
    };
    object["metadata"]["name"] = json!(name);
    let target = Target {
        name: name.clone(),
        ..target.clone()
    };
    check_typed(kind, &object).map_err(|e| undecodable(kind, &e))?;
    validate(kind, &target, None, &object)?;
    let key = (kind, namespace.to_owned(), name);
    if state.objects.contains_key(&key) {
        let mut error = ApiError::conflict(&target);
        error.reason = "AlreadyExists";
        error.message = format!("{} \"{}\" already exists", qualified(kind), target.name);
        return Err(error);
    }
    let metadata = &mut object["metadata"];
    metadata["uid"] = json!(uuid::Uuid::new_v4().to_string());
    metadata["creationTimestamp"] = json!(now());
    if let Some(map) = metadata.as_object_mut() {
        map.remove("resourceVersion");
    }
    if kind.is_scalable() {
        metadata["generation"] = json!(1);
        converge_status(kind, &mut object);
    }
    if !dry_run {
        object["metadata"]["resourceVersion"] = json!(state.next_revision());
        state.objects.insert(key.clone(), object.clone());
        record(
            state,
            Verb::Create,
            &key,
            json!({"uid": object["metadata"]["uid"]}),
        );
    }
    Ok(Answer::json(201, &object))
}

pub(super) fn delete(
    state: &mut State,
    target: &Target,
    key: &Key,
    call: &Call,
    dry_run: bool,
) -> Result<Answer, ApiError> {
    let options = match &call.json {
        None => json!({}),
        Some(Ok(options)) => options.clone(),
        Some(Err(e)) => {
            return Err(ApiError::bad_request(format!(
                "couldn't decode DeleteOptions: {e}"
            )));
        }
    };
    let current = stored(state, target, key)?.clone();
    check_preconditions(target, &current, options.get("preconditions"))?;
    let uid = current["metadata"]["uid"].clone();
    let mut deleted = current;
    deleted["metadata"]["deletionTimestamp"] = json!(now());
    if key.0 == Kind::Pod {
        let grace = options
            .get("gracePeriodSeconds")
            .or_else(|| at(&deleted, &["spec", "terminationGracePeriodSeconds"]))
            .cloned()
            .unwrap_or(json!(30));
        deleted["metadata"]["deletionGracePeriodSeconds"] = grace;
    }
    if !dry_run {
        state.objects.remove(key);
        deleted["metadata"]["resourceVersion"] = json!(state.next_revision());
        record(
            state,
            Verb::Delete,
            key,
            json!({"uid": uid, "options": options}),
        );
    }
    // Pods answer with the deleted object; other types a Success Status, as on a real
    // server, unless the test asked pods to answer a Status too.
    let as_object = key.0 == Kind::Pod && state.options.delete_answer == DeleteAnswer::Object;
    if as_object {
        return Ok(Answer::json(200, &deleted));
    }
    let mut details = json!({"name": key.2, "kind": key.0.plural(), "uid": uid});
    if !key.0.group().is_empty() {
        details["group"] = json!(key.0.group());
    }
    Ok(status::success(200, Some(details)))
}

pub(super) fn patch_object(
    state: &mut State,
    target: &Target,
    key: &Key,
    call: &Call,
    dry_run: bool,
) -> Result<Answer, ApiError> {
    let (patch_type, patch) = read_patch(call)?;
    let current = stored(state, target, key)?.clone();
    let candidate = patch::apply(patch_type, &current, patch).map_err(patch_error)?;
    let (stored, changed) = update(state, target, key, &current, candidate, dry_run)?;
    if !dry_run {
        record(
            state,
            Verb::Patch,
            key,
            json!({
                "contentType": call.content_type,
                "patch": patch,
                "changed": changed,
                "generation": stored["metadata"]["generation"],
            }),
        );
    }
    Ok(Answer::json(200, &stored))
}

pub(super) fn replace_object(
    state: &mut State,
    target: &Target,
    key: &Key,
    call: &Call,
    dry_run: bool,
) -> Result<Answer, ApiError> {
    let candidate = call.json_body()?.clone();
    let current = stored(state, target, key)?.clone();
    let (stored, changed) = update(state, target, key, &current, candidate, dry_run)?;
    if !dry_run {
        record(
            state,
            Verb::Replace,
            key,
            json!({"changed": changed, "generation": stored["metadata"]["generation"]}),
        );
    }
    Ok(Answer::json(200, &stored))
}

/// The flavour and body of a PATCH: 415 for other media types, 400 for a body that is not
/// JSON, 422 for an apply without `fieldManager`.
pub(super) fn read_patch(call: &Call) -> Result<(PatchType, &Value), ApiError> {
    let patch_type = PatchType::from_content_type(call.content_type.as_deref())
        .ok_or_else(|| ApiError::unsupported_media_type(PATCH_MEDIA_TYPES))?;
    if patch_type == PatchType::Apply && call.query.get("fieldManager").is_none_or(|f| f.is_empty())
    {
        let target = Target {
            name: String::new(),
            ..Target::default()
        };
        let mut error = ApiError::invalid(
            &target,
            "fieldManager",
            "Required value: is required for apply patch",
        );
        error.message = "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".into();
        return Err(error);
    }
    match &call.json {
        Some(Ok(patch)) => Ok((patch_type, patch)),
        Some(Err(e)) => Err(ApiError::bad_request(format!("error decoding patch: {e}"))),
        None => Err(ApiError::bad_request(
            "error decoding patch: the body is empty",
        )),
    }
}

pub(super) fn patch_error(error: PatchError) -> ApiError {
    match error {
        PatchError::Malformed(m) => ApiError::bad_request(format!("error decoding patch: {m}")),
        PatchError::NotApplicable(m) => ApiError::unprocessable(format!(
            "the server rejected our request due to an error in our request: {m}"
        )),
    }
}

fn qualified(kind: Kind) -> String {
    if kind.group().is_empty() {
        kind.plural().to_owned()
    } else {
        format!("{}.{}", kind.plural(), kind.group())
    }
}
