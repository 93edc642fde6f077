//! The PATCH flavours kube-apiserver accepts, applied to stored JSON.
//!
//! - merge patch (`application/merge-patch+json`): RFC 7386, exactly;
//! - strategic merge patch (`application/strategic-merge-patch+json`): RFC 7386 plus the
//!   part of Kubernetes' strategy that matters for workloads: lists of containers, volumes,
//!   env vars and ports merge by their key instead of being replaced, and `$patch: delete`
//!   removes a list entry. Other `$` directives are ignored;
//! - JSON patch (`application/json-patch+json`): RFC 6902, all six operations, atomic;
//! - server-side apply (`application/apply-patch+yaml`): treated as a strategic merge of the
//!   applied configuration (no field ownership); the body must be JSON, which kube sends.

use serde_json::{Map, Value};

/// The media types of the four patch flavours, as the 415 message lists them.
pub(crate) const PATCH_MEDIA_TYPES: &str = "application/json-patch+json, \
     application/merge-patch+json, application/apply-patch+yaml, \
     application/strategic-merge-patch+json";

/// A patch flavour, chosen by `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchType {
    /// RFC 7386.
    Merge,
    /// Kubernetes' strategic merge patch.
    Strategic,
    /// RFC 6902.
    Json,
    /// Server-side apply.
    Apply,
}

impl PatchType {
    /// The flavour for a `Content-Type` header (parameters such as `charset` ignored).
    pub(crate) fn from_content_type(content_type: Option<&str>) -> Option<PatchType> {
        let media = content_type?.split(';').next()?.trim();
        match media.to_ascii_lowercase().as_str() {
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/json-patch+json" => Some(PatchType::Json),
            "application/apply-patch+yaml" | "application/apply-patch+json" => {
                Some(PatchType::Apply)
            }
            _ => None,
        }
    }
}

/// Why a patch could not be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PatchError {
    /// The patch document itself is malformed (the real server answers 400).
    Malformed(String),
    /// The patch is well-formed but does not apply to the object (the real server
    /// answers 422), e.g. a failed JSON-patch `test` or a missing path.
    NotApplicable(String),
}

/// Applies `patch` of flavour `kind` to `target`, returning the patched copy.
pub(crate) fn apply(kind: PatchType, target: &Value, patch: &Value) -> Result<Value, PatchError> {
    match kind {
        PatchType::Merge | PatchType::Strategic | PatchType::Apply if !patch.is_object() => Err(
            PatchError::Malformed("a merge patch must be a JSON object".into()),
        ),
        PatchType::Merge => {
            let mut out = target.clone();
            merge(&mut out, patch);
            Ok(out)
        }
        PatchType::Strategic | PatchType::Apply => {
            let mut out = target.clone();
            strategic(&mut out, patch);
            Ok(out)
        }
        PatchType::Json => json_patch(target, patch),
    }
}

/// RFC 7386 merge patch, in place.
pub(crate) fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// The merge key of the lists whose strategy is `merge` in the Kubernetes API types the
/// executor touches (`patchMergeKey` in the OpenAPI schema).
fn merge_key(field: &str) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "hostAliases" => Some(match field {
            "hostAliases" => "ip",
            _ => "name",
        }),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "ports" => Some("containerPort"),
        "conditions" => Some("type"),
        _ => None,
    }
}

/// Strategic merge patch (the subset described in the module docs), in place.
fn strategic(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target) = target else {
        return;
    };
    for (key, value) in patch {
        if key.starts_with('$') {
            continue;
        }
        if value.is_null() {
            target.remove(key);
            continue;
        }
        match (merge_key(key), value, target.get_mut(key)) {
            (Some(merge_key), Value::Array(items), Some(Value::Array(existing))) => {
                merge_list(existing, items, merge_key);
            }
            _ => {
                let slot = target.entry(key.clone()).or_insert(Value::Null);
                strategic(slot, &strip_directives(value));
            }
        }
    }
}

fn merge_list(existing: &mut Vec<Value>, items: &[Value], key: &str) {
    for item in items {
        let id = item.get(key).cloned();
        let position = id
            .as_ref()
            .and_then(|id| existing.iter().position(|e| e.get(key) == Some(id)));
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (position, delete) {
            (Some(i), true) => {
                existing.remove(i);
            }
            (Some(i), false) => strategic(&mut existing[i], item),
            (None, true) => {}
            (None, false) => existing.push(strip_directives(item)),
        }
    }
}

/// `value` without `$`-prefixed directive keys, at any depth.
fn strip_directives(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

/// RFC 6902 JSON patch, applied to a copy so that a failing operation changes nothing.
pub(crate) fn json_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let Value::Array(operations) = patch else {
        return Err(PatchError::Malformed(
            "a JSON patch must be an array of operations".into(),
        ));
    };
    let mut doc = target.clone();
    for (index, operation) in operations.iter().enumerate() {
        apply_operation(&mut doc, operation)
            .map_err(|e| e.prefixed(&format!("operation {index}: ")))?;
    }
    Ok(doc)
}

impl PatchError {
    fn prefixed(self, prefix: &str) -> PatchError {
        match self {
            PatchError::Malformed(m) => PatchError::Malformed(format!("{prefix}{m}")),
            PatchError::NotApplicable(m) => PatchError::NotApplicable(format!("{prefix}{m}")),
        }
    }
}

fn apply_operation(doc: &mut Value, operation: &Value) -> Result<(), PatchError> {
    let field = |name: &str| {
        operation
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| PatchError::Malformed(format!("missing string field {name:?}")))
    };
    let value = || {
        operation
            .get("value")
            .cloned()
            .ok_or_else(|| PatchError::Malformed("missing field \"value\"".into()))
    };
    let path = parse_pointer(field("path")?)?;
    match field("op")? {
        "add" => add(doc, &path, value()?),
        "remove" => remove(doc, &path).map(drop),
        "replace" => {
            let slot = get_mut(doc, &path)?;
            *slot = value()?;
            Ok(())
        }
        "move" => {
            let from = parse_pointer(field("from")?)?;
            if path.len() > from.len() && path[..from.len()] == from[..] {
                return Err(PatchError::NotApplicable(
                    "cannot move a value into one of its own children".into(),
                ));
            }
            let moved = remove(doc, &from)?;
            add(doc, &path, moved)
        }
        "copy" => {
            let from = parse_pointer(field("from")?)?;
            let copied = get_mut(doc, &from)?.clone();
            add(doc, &path, copied)
        }
        "test" => {
            let expected = value()?;
            if *get_mut(doc, &path)? == expected {
                Ok(())
            } else {
                Err(PatchError::NotApplicable(format!(
                    "testing value /{} failed",
                    path.join("/")
                )))
            }
        }
        other => Err(PatchError::Malformed(format!(
            "unknown operation {other:?}"
        ))),
    }
}

/// RFC 6901: `/a/b~1c` → `["a", "b/c"]`.
fn parse_pointer(pointer: &str) -> Result<Vec<String>, PatchError> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(PatchError::Malformed(format!(
            "JSON pointer {pointer:?} must start with '/'"
        )));
    };
    Ok(rest
        .split('/')
        .map(|token| token.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn not_found(path: &[String]) -> PatchError {
    PatchError::NotApplicable(format!("path /{} does not exist", path.join("/")))
}

fn array_index(token: &str, len: usize, path: &[String]) -> Result<usize, PatchError> {
    let index: usize = token.parse().map_err(|_| not_found(path))?;
    if index < len {
        Ok(index)
    } else {
        Err(not_found(path))
    }
}

fn get_mut<'a>(doc: &'a mut Value, path: &[String]) -> Result<&'a mut Value, PatchError> {
    let mut current = doc;
    for token in path {
        current = match current {
            Value::Object(map) => map.get_mut(token).ok_or_else(|| not_found(path))?,
            Value::Array(items) => {
                let index = array_index(token, items.len(), path)?;
                &mut items[index]
            }
            _ => return Err(not_found(path)),
        };
    }
    Ok(current)
}

fn add(doc: &mut Value, path: &[String], value: Value) -> Result<(), PatchError> {
    let Some((last, parent)) = path.split_last() else {
        *doc = value;
        return Ok(());
    };
    match get_mut(doc, parent)? {
        Value::Object(map) => {
            map.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(items) if last == "-" => {
            items.push(value);
            Ok(())
        }
        Value::Array(items) => {
            let index: usize = last.parse().map_err(|_| not_found(path))?;
            if index > items.len() {
                return Err(not_found(path));
            }
            items.insert(index, value);
            Ok(())
        }
        _ => Err(not_found(path)),
    }
}

fn remove(doc: &mut Value, path: &[String]) -> Result<Value, PatchError> {
    let Some((last, parent)) = path.split_last() else {
        return Err(PatchError::NotApplicable(
            "cannot remove the whole document".into(),
        ));
    };
    match get_mut(doc, parent)? {
        Value::Object(map) => map.remove(last).ok_or_else(|| not_found(path)),
        Value::Array(items) => {
            let index = array_index(last, items.len(), path)?;
            Ok(items.remove(index))
        }
        _ => Err(not_found(path)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7386_examples() {
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": [{"b": "c"}]}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ];
        for (target, patch, expected) in cases {
            assert_eq!(
                apply(PatchType::Merge, &target, &patch).unwrap(),
                expected,
                "{patch}"
            );
        }
    }

    #[test]
    fn strategic_patch_merges_containers_by_name() {
        let target =
            json!({"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]});
        let patch =
            json!({"containers": [{"name": "b", "image": "z"}, {"name": "c", "image": "w"}]});
        let out = apply(PatchType::Strategic, &target, &patch).unwrap();
        assert_eq!(
            out,
            json!({"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "z"}, {"name": "c", "image": "w"}]})
        );
        let delete = json!({"containers": [{"name": "a", "$patch": "delete"}]});
        let out = apply(PatchType::Strategic, &out, &delete).unwrap();
        assert_eq!(out["containers"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn json_patch_supports_every_operation() {
        let target = json!({"spec": {"replicas": 1, "list": [1, 2]}, "meta": {"a/b": "x"}});
        let patch = json!([
            {"op": "test", "path": "/spec/replicas", "value": 1},
            {"op": "replace", "path": "/spec/replicas", "value": 5},
            {"op": "add", "path": "/spec/list/-", "value": 3},
            {"op": "add", "path": "/spec/list/0", "value": 0},
            {"op": "remove", "path": "/spec/list/1"},
            {"op": "copy", "from": "/meta/a~1b", "path": "/spec/copied"},
            {"op": "move", "from": "/meta", "path": "/moved"},
        ]);
        let out = json_patch(&target, &patch).unwrap();
        assert_eq!(
            out,
            json!({"spec": {"replicas": 5, "list": [0, 2, 3], "copied": "x"}, "moved": {"a/b": "x"}})
        );
    }

    #[test]
    fn a_failing_json_patch_changes_nothing_and_says_why() {
        let target = json!({"spec": {"replicas": 1}});
        let patch = json!([
            {"op": "replace", "path": "/spec/replicas", "value": 2},
            {"op": "test", "path": "/spec/replicas", "value": 1},
        ]);
        assert!(matches!(
            json_patch(&target, &patch),
            Err(PatchError::NotApplicable(_))
        ));
        assert!(matches!(
            json_patch(&target, &json!({"op": "add"})),
            Err(PatchError::Malformed(_))
        ));
        assert!(matches!(
            json_patch(&target, &json!([{"op": "remove", "path": "/nope"}])),
            Err(PatchError::NotApplicable(_))
        ));
    }

    #[test]
    fn content_types_pick_the_flavour() {
        assert_eq!(
            PatchType::from_content_type(Some("application/merge-patch+json; charset=utf-8")),
            Some(PatchType::Merge)
        );
        assert_eq!(PatchType::from_content_type(Some("application/json")), None);
        assert_eq!(PatchType::from_content_type(None), None);
    }
}
