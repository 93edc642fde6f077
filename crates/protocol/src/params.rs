//! The digest that binds an action's parameters to a decision.
//!
//! The policy service puts it in a decision token (claim `prm`) when the evaluate request
//! carried `params`; the executor recomputes it from `actionParams` and refuses a token
//! issued for other parameters. Both must agree byte for byte, so the canonical form is
//! defined here once.

use std::fmt::Write as _;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of the canonical JSON of `params` (see [`canonical_json`]).
///
/// ```
/// use serde_json::json;
/// use warden_protocol::params_digest;
///
/// // Key order and whitespace do not matter; values do.
/// let a = params_digest(&json!({"replicas": 3, "namespace": "production"}));
/// let b = params_digest(&serde_json::from_str(r#"{ "namespace":"production", "replicas":3 }"#).unwrap());
/// assert_eq!(a, b);
/// assert_ne!(a, params_digest(&json!({"namespace": "production", "replicas": 0})));
/// ```
pub fn params_digest(params: &Value) -> String {
    hex::encode(Sha256::digest(canonical_json(params).as_bytes()))
}

/// The canonical JSON text of `value`:
///
/// - object keys sorted by Unicode code point (UTF-8 byte order), at every depth;
/// - no whitespace;
/// - numbers as `serde_json` prints them (`3` and `3.0` are different texts, so a decision
///   for one does not cover the other);
/// - strings minimally escaped: `"` and `\` as `\"` and `\\`, the control characters
///   U+0008, U+0009, U+000A, U+000C and U+000D as `\b`, `\t`, `\n`, `\f` and `\r`, every
///   other character below U+0020 as `\u00xx` (lowercase hex), and everything else,
///   including `/` and non-ASCII, as itself.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        // Through serde_json's serialiser, so the text is by definition what it prints.
        Value::Number(n) => out.push_str(&serde_json::to_string(n).unwrap_or_default()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Sorted here rather than relying on the map's order: with serde_json's
            // `preserve_order` feature on anywhere in a build, maps keep insertion order.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_value(item, out);
            }
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::{canonical_json, params_digest};

    #[test]
    fn keys_are_sorted_at_every_depth_without_whitespace() {
        let value = json!({"b": [1, {"z": true, "a": null}], "a": "x", "é": 1, "Z": 2});
        assert_eq!(
            canonical_json(&value),
            r#"{"Z":2,"a":"x","b":[1,{"a":null,"z":true}],"é":1}"#
        );
    }

    #[test]
    fn strings_are_minimally_escaped_and_numbers_printed_by_serde_json() {
        let value = json!(["q\"b\\s/\u{1}\n\té", 3, 3.0, -0.5, 1e300]);
        assert_eq!(
            canonical_json(&value),
            "[\"q\\\"b\\\\s/\\u0001\\n\\té\",3,3.0,-0.5,1e+300]"
        );
        // Agrees with serde_json for strings, so clients can use its compact output once
        // their keys are sorted.
        let s = json!("q\"b\\s/\u{1f}\u{8}\u{c}\r\u{7f}é");
        assert_eq!(canonical_json(&s), serde_json::to_string(&s).unwrap());
    }

    #[test]
    fn the_digest_is_hex_sha256_of_the_canonical_text() {
        // echo -n '{"namespace":"production","replicas":3}' | sha256sum
        let digest = params_digest(&json!({"replicas": 3, "namespace": "production"}));
        assert_eq!(
            digest,
            "eb03910a5e39ecd4e4104e31a97944ded6dfa4f736bb34c54f44a24a0aa6982a"
        );
        assert_eq!(
            digest,
            params_digest(
                &serde_json::from_str(r#"{"namespace" : "production","replicas":3}"#).unwrap()
            )
        );
        assert_ne!(
            digest,
            params_digest(&json!({"replicas": 3.0, "namespace": "production"}))
        );
    }
}
