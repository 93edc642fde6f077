//! What the parser decodes (escapes and number lexemes no reference client writes) and
//! which bodies it refuses, through the public API alone.

use executor_service::signature::{SignatureError, SignatureForm, SignedPayload};

use crate::helpers::payload;

fn body_error(body: &[u8]) -> String {
    match SignedPayload::from_body(body) {
        Err(SignatureError::Body(message)) => message,
        other => panic!(
            "{:?} should be refused, got {other:?}",
            String::from_utf8_lossy(body)
        ),
    }
}

/// The four forms of a body whose only signed member is `actionParams`.
fn params_forms(params: &str) -> [String; 4] {
    let payload = payload(&format!(r#"{{"actionParams": {params}}}"#));
    SignatureForm::ALL.map(|form| payload.render(form))
}

/// The forms of `actionParams` alone, stripped of the `{"actionParams": ...}` wrapper.
fn params_texts(params: &str) -> [String; 4] {
    params_forms(params).map(|text| {
        let start = text.find(':').unwrap() + 1;
        text[start..text.len() - 1].trim_start().to_owned()
    })
}

// --- decoding --------------------------------------------------------------------------------

#[test]
fn member_names_are_matched_after_decoding() {
    // Arrange: a client may escape any character of a key.
    let body = r#"{"action\u0054ype": "restart_pod"}"#;

    // Act
    let text = payload(body).render(SignatureForm::JsInsertion);

    // Assert
    assert_eq!(text, r#"{"actionType":"restart_pod"}"#);
}

#[test]
fn escaped_and_raw_strings_are_the_same_string() {
    // Arrange
    let escaped = r#"["\u00e9\/\u4e2d", "\ud83d\ude00"]"#;
    let raw = r#"["é/中", "😀"]"#;

    // Act
    let (from_escaped, from_raw) = (params_texts(escaped), params_texts(raw));

    // Assert
    assert_eq!(from_escaped, from_raw);
    assert_eq!(from_raw[0], r#"["\u00e9/\u4e2d", "\ud83d\ude00"]"#);
    assert_eq!(from_raw[2], r#"["é/中","😀"]"#);
}

#[test]
fn lone_surrogates_are_kept_and_printed_as_escapes() {
    // Arrange: lone high, lone low, high+high+low, high before a plain letter, and an
    // escaped high before a non-surrogate escape.
    let params = r#"["\ud800", "\udc00", "\ud83d\ud83d\ude00", "\ud800A", "\uD800\u0041"]"#;

    // Act
    let [python, _, js, _] = params_texts(params);

    // Assert
    assert_eq!(
        python,
        r#"["\ud800", "\udc00", "\ud83d\ud83d\ude00", "\ud800A", "\ud800A"]"#
    );
    assert_eq!(js, r#"["\ud800","\udc00","\ud83d😀","\ud800A","\ud800A"]"#);
}

#[test]
fn numbers_keep_their_lexeme_in_every_form() {
    // Arrange
    let params =
        "[-0, 1.0, 1e+21, 0.000001, 1E400, -1.5e-7, 0, 12345678901234567890123456789, 1e-05]";

    // Act
    let texts = params_texts(params);

    // Assert
    assert_eq!(
        texts[0],
        "[-0, 1.0, 1e+21, 0.000001, 1E400, -1.5e-7, 0, 12345678901234567890123456789, 1e-05]"
    );
    assert_eq!(
        texts[3],
        "[-0,1.0,1e+21,0.000001,1E400,-1.5e-7,0,12345678901234567890123456789,1e-05]"
    );
}

// --- refusals --------------------------------------------------------------------------------

#[test]
fn invalid_numbers_are_refused() {
    for number in [
        "01",
        "+1",
        ".5",
        "1.",
        "1e",
        "1e+",
        "-",
        "0x1F",
        "NaN",
        "Infinity",
        "-Infinity",
        "1.e5",
        "--1",
        "1_000",
    ] {
        // Arrange
        let body = format!(r#"{{"actionParams": {number}}}"#);

        // Act
        let message = body_error(body.as_bytes());

        // Assert
        assert!(
            message.starts_with("invalid JSON at byte"),
            "{number}: {message}"
        );
    }
}

#[test]
fn duplicate_keys_are_refused_at_every_level() {
    let many: String = (0..40).map(|i| format!(r#""k{i}": {i}, "#)).collect();
    for body in [
        r#"{"actionParams": {}, "actionParams": {"namespace": "kube-system"}}"#.to_owned(),
        r#"{"signature": "a", "signature": "b"}"#.to_owned(),
        r#"{"actionParams": {"podName": "a", "podName": "b"}}"#.to_owned(),
        r#"{"actionParams": [{"x": [{"y": 1, "y": 2}]}]}"#.to_owned(),
        r#"{"policyDecision": {"token": "a", "extra": {"t": 1, "t": 2}}}"#.to_owned(),
        r#"{"actionType": "a", "action\u0054ype": "b"}"#.to_owned(),
        format!(r#"{{"actionParams": {{{many}"k7": 0}}}}"#),
        format!(r#"{{"policyDecision": {{{many}"k39": 0}}}}"#),
    ] {
        // Act
        let message = body_error(body.as_bytes());

        // Assert
        assert!(message.starts_with("duplicate key"), "{body}: {message}");
    }
}

#[test]
fn large_objects_with_distinct_keys_are_accepted() {
    // Arrange: more keys than the pairwise check handles, so the sorted check runs.
    let members: Vec<String> = (0..100).map(|i| format!(r#""k{i}": {i}"#)).collect();
    let body = format!(
        r#"{{"actionParams": {{{}}}, "policyDecision": {{{}}}}}"#,
        members.join(", "),
        members.join(", ")
    );

    // Act
    let payload = payload(&body);

    // Assert
    assert!(
        payload
            .render(SignatureForm::PythonDefault)
            .ends_with(r#""k99": 99}}"#)
    );
}

#[test]
fn nesting_is_limited_to_64_levels_counting_the_body() {
    for member in ["actionParams", "policyDecision"] {
        // Arrange: the body object is level 1, so 63 arrays inside reach level 64.
        let nested = |levels: usize| {
            format!(
                r#"{{"{member}": {}{}}}"#,
                "[".repeat(levels),
                "]".repeat(levels)
            )
        };

        // Act
        let deepest = SignedPayload::from_body(nested(63).as_bytes());
        let too_deep = body_error(nested(64).as_bytes());

        // Assert
        assert!(deepest.is_ok(), "{member}: {deepest:?}");
        assert!(too_deep.contains("deeper than 64"), "{member}: {too_deep}");
    }
}

#[test]
fn very_deep_bodies_fail_without_exhausting_the_stack() {
    // Arrange
    let body = format!(r#"{{"actionParams": {}"#, "[{\"a\":".repeat(100_000));

    // Act
    let message = body_error(body.as_bytes());

    // Assert
    assert!(message.contains("deeper than 64"), "{message}");
}

#[test]
fn whitespace_around_tokens_is_allowed_but_trailing_data_is_not() {
    // Arrange
    let spaced = " \t\r\n{ \"actionType\" :\n\"a\" , \"actionParams\" : [ 1 , { } ] } \n";

    // Act
    let text = payload(spaced).render(SignatureForm::JsInsertion);

    // Assert
    assert_eq!(text, r#"{"actionType":"a","actionParams":[1,{}]}"#);
    for trailing in [
        r#"{"a": 1} x"#,
        r#"{"a": 1}{}"#,
        r#"{"a": 1},"#,
        "{\"a\": 1}\u{0}",
    ] {
        assert!(
            body_error(trailing.as_bytes()).contains("after the JSON object"),
            "{trailing}"
        );
    }
}

#[test]
fn a_byte_order_mark_is_refused() {
    // Arrange
    let body = b"\xEF\xBB\xBF{\"actionType\": \"a\"}";

    // Act
    let message = body_error(body);

    // Assert
    assert!(message.contains("byte order mark"), "{message}");
}

#[test]
fn invalid_utf8_is_refused() {
    for body in [
        &b"{\"actionType\": \"\xFF\"}"[..],
        b"{\"actionType\": \"\xC0\xAF\"}",
        // A surrogate encoded directly (CESU-8) is not UTF-8, even though we store WTF-8.
        b"{\"actionType\": \"\xED\xA0\x80\"}",
        b"{\"actionType\": \"\xE2\x82\"}",
    ] {
        // Act
        let message = body_error(body);

        // Assert
        assert!(message.contains("not valid UTF-8"), "{message}");
    }
}

#[test]
fn broken_json_is_refused() {
    for body in [
        "",
        "   ",
        "[]",
        "\"actionType\"",
        "null",
        "{",
        r#"{"a"}"#,
        r#"{"a" 1}"#,
        r#"{"a": 1,}"#,
        r#"{,}"#,
        r#"{"a": [1,]}"#,
        r#"{"a": [1 2]}"#,
        r#"{"a": tru}"#,
        r#"{"a": nul}"#,
        r#"{a: 1}"#,
        r#"{'a': 1}"#,
        "{\"a\": \"tab\there\"}",
        r#"{"a": "\x"}"#,
        r#"{"a": "\u12"}"#,
        r#"{"a": "\uZZZZ"}"#,
        r#"{"a": "\ud800\uZZZZ"}"#,
        r#"{"a": "unterminated}"#,
        r#"{"a": "ends in escape\"#,
        r#"{"a": 1 /* comment */}"#,
    ] {
        // Act
        let refused = SignedPayload::from_body(body.as_bytes());

        // Assert
        assert!(
            matches!(refused, Err(SignatureError::Body(_))),
            "{body:?}: {refused:?}"
        );
    }
}

#[test]
fn body_errors_say_where() {
    // Act
    let message = body_error(br#"{"actionType": "a", "x": [1, 2 3]}"#);

    // Assert
    assert_eq!(
        message,
        "invalid JSON at byte 31: expected ',' or ']' after an array element"
    );
}
