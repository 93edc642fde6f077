//! What the read-only actions (`get_pod_logs`, `list_events`, `get_workload_status`) share.
//!
//! # Semantics
//!
//! - **Same path as a write.** A read is parsed strictly, signed, bound to its decision
//!   token, refused in protected namespaces, drawn from its budget (`read`, shared by the
//!   three: `RATE_LIMIT_READ_TTL` / `_MAX`, default 120 per 60 s) and audited before and
//!   after, like any action. An AI engine that can read through Warden needs no cluster
//!   credentials of its own, which would bypass every guardrail here.
//! - **Audit without content.** The answer's `result` carries what was read; the audit row
//!   keeps only its size (`bytes`) and SHA-256 (`sha256`, lowercase hex) plus counts, so
//!   log lines and event messages (which may hold whatever a workload printed) do not
//!   outlive the request in the audit store. Whoever holds the answer can prove it is the
//!   one audited by hashing it again (see each action for exactly what is hashed).
//! - **A dry run reads nothing.** As with every action a dry run has no effect, and for a
//!   read that includes sending nothing: the result says which request a real run would
//!   make (`wouldRead`) and the audit row is the same (it holds no content). This keeps
//!   `EXECUTOR_DRY_RUN=true` (shadow mode) from handing cluster contents to anyone.
//! - **Failures are always "nothing changed".** A read never has an unknown outcome.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The budget key of the three reads.
pub const BUDGET_KEY: &str = "read";

/// `bytes` and `sha256` of `content`, what an audit row keeps of it.
pub fn digest(content: &[u8]) -> Value {
    json!({
        "bytes": content.len(),
        "sha256": hex::encode(Sha256::digest(content)),
    })
}

/// [`digest`] of a JSON value as compact JSON text, as `serde_json` writes it (and as the
/// answer carries it).
pub fn json_digest(content: &Value) -> Value {
    digest(&serde_json::to_vec(content).unwrap_or_default())
}

/// Whether `result` is a dry run's (which holds no content: it is audited as it is).
pub fn is_dry_run(result: &Value) -> bool {
    result.get("dryRun") == Some(&Value::Bool(true))
}

/// A dry run's result: the request a real run would send, and that nothing was sent.
pub fn would_read(path: String, query: Value, about: Value) -> Value {
    let mut result = json!({
        "dryRun": true,
        "wouldRead": {"method": "GET", "path": path, "query": query},
        "message": "a dry run of a read sends nothing to the cluster: this is the request a real run would make",
    });
    if let (Some(map), Value::Object(about)) = (result.as_object_mut(), about) {
        map.extend(about);
    }
    result
}

/// `result` with `keys` kept (when present) and the others dropped: the audit row of a
/// read keeps what identifies the read, not what it returned.
pub fn keep(result: &Value, keys: &[&str]) -> serde_json::Map<String, Value> {
    keys.iter()
        .filter_map(|key| result.get(*key).map(|v| ((*key).to_owned(), v.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_size_and_lowercase_hex_sha256() {
        assert_eq!(
            digest(b"abc"),
            json!({"bytes": 3, "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"})
        );
    }

    #[test]
    fn a_dry_run_result_describes_the_request() {
        let result = would_read(
            "/api/v1/namespaces/a/events".into(),
            json!({"limit": 1}),
            json!({"namespace": "a"}),
        );
        assert!(is_dry_run(&result));
        assert_eq!(result["namespace"], "a");
        assert_eq!(result["wouldRead"]["method"], "GET");
    }
}
