//! Properties over random bodies: nothing panics, and every form's text is JSON that reads
//! back to the same signed object.

use executor_service::signature::{SignatureForm, SignedPayload, sign};
use proptest::collection::vec;
use proptest::prelude::*;

use crate::helpers::SECRET;

/// Characters that exercise every escaping rule.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range(' ', '~'),
        2 => proptest::char::range('\0', '\u{1f}'),
        1 => prop::sample::select(vec!['"', '\\', '/', '\u{7f}', 'é', '中', '😀', '\u{2028}', '\u{ff61}', '\u{ffff}', '\u{10ffff}']),
        1 => any::<char>(),
    ]
}

/// A JSON string literal, each character written raw or as an escape; `\uXXXX` units
/// are arbitrary, so lone and paired surrogates appear too.
fn string_literal() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => tricky_char().prop_map(|c| {
            let quoted = serde_json::to_string(&c.to_string()).unwrap();
            quoted[1..quoted.len() - 1].to_owned()
        }),
        1 => any::<u16>().prop_map(|unit| format!("\\u{unit:04X}")),
        1 => prop::sample::select(vec!["\\/", "\\b", "\\ud83d\\ude00", "\\uD800"]).prop_map(str::to_owned),
    ];
    vec(piece, 0..8).prop_map(|pieces| format!("\"{}\"", pieces.concat()))
}

/// A canonical text of the string a literal decodes to: its JS form, which writes every
/// decoded string one way only.
fn decoded(literal: &str) -> String {
    SignedPayload::from_body(format!(r#"{{"actionType": {literal}}}"#).as_bytes())
        .unwrap()
        .render(SignatureForm::JsInsertion)
}

fn json_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        "-?(0|[1-9][0-9]{0,25})(\\.[0-9]{1,6})?([eE][+-]?[0-9]{1,3})?",
        string_literal(),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(|items| format!("[{}]", items.join(" ,"))),
            vec((string_literal(), inner), 0..6).prop_map(|members| {
                // Keys written differently can still decode equal: keep the first of each.
                let mut seen: Vec<String> = Vec::new();
                let mut parts = Vec::new();
                for (key, value) in members {
                    let decoded = decoded(&key);
                    if !seen.contains(&decoded) {
                        seen.push(decoded);
                        parts.push(format!("{key}:{value}"));
                    }
                }
                format!("{{{}}}", parts.join(",\n"))
            }),
        ]
    })
}

proptest! {
    #[test]
    fn random_bytes_never_panic(body in vec(any::<u8>(), 0..512)) {
        if let Ok(payload) = SignedPayload::from_body(&body) {
            for form in SignatureForm::ALL {
                let _ = payload.render(form);
            }
            let _ = payload.verify(&"0".repeat(64), SECRET.as_bytes());
        }
    }

    #[test]
    fn json_like_soup_never_panics(body in "[{}\\[\\]\":,\\\\u0-9a-fA-F eE.+\\-tnlrsx\u{e9}\u{1f600}\\x00]{0,200}") {
        let _ = SignedPayload::from_body(body.as_bytes()).map(|p| p.verify(&"a".repeat(64), SECRET.as_bytes()));
    }

    #[test]
    fn every_form_is_a_fixed_point(
        action_type in string_literal(),
        params in json_text(),
        policy in json_text(),
    ) {
        let body = format!(r#"{{"actionType": {action_type}, "policyDecision": {policy}, "actionParams": {params}}}"#);
        let payload = SignedPayload::from_body(body.as_bytes()).unwrap();
        let serde_reads_body = serde_json::from_str::<serde_json::Value>(&body).is_ok();
        for form in SignatureForm::ALL {
            let text = payload.render(form);
            // Each form's output is JSON that reads back to the same signed object...
            let again = SignedPayload::from_body(text.as_bytes()).unwrap();
            prop_assert_eq!(again.render(form), text.clone(), "{:?} of {}", form, body);
            // ...and that serde_json reads too (unless it holds lone surrogates, which
            // serde_json refuses in the body as well).
            if serde_reads_body {
                prop_assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok(), "{}", text);
            }
            if form.is_python() {
                prop_assert!(text.is_ascii(), "{}", text);
            }
            prop_assert_eq!(payload.verify(&sign(&payload, form, SECRET.as_bytes()), SECRET.as_bytes()).is_ok(), true);
        }
    }
}
