#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The four client serialisations of the execute signature, checked against the real
//! thing: `python3` and `node` run the reference clients in `tests/reference/`, which print
//! the body they would send, each form's text and its HMAC. Our payload, parsed from that
//! body, must print the same text and verify the same HMAC.
//!
//! Python and Node are required: a missing interpreter fails these tests, it never skips
//! them. Each test (and each property-test batch) starts each interpreter once.
//!
//! Bodies no reference client prints (escapes they never write, number lexemes of other
//! serialisers, broken JSON) and the details of `verify` are checked without interpreters.
//!
//! # Layout
//! - this file: cases with fixed bodies and random requests, against the reference clients.
//! - [`bodies`]: what the parser decodes and what it refuses.
//! - [`verify`]: which form `verify` reports, hex case, malformed tags, secrets.
//! - [`properties`]: random bytes never panic; every form reads back to itself.
//! - [`helpers`]: running the reference clients and comparing with what they print.
//! - [`random`]: random requests as a client would hold them.

#[path = "signature_forms/bodies.rs"]
mod bodies;
#[path = "signature_forms/helpers.rs"]
mod helpers;
#[path = "signature_forms/properties.rs"]
mod properties;
#[path = "signature_forms/random.rs"]
mod random;
#[path = "signature_forms/verify.rs"]
mod verify;

use executor_service::signature::{SignatureError, SignatureForm};
use helpers::*;
use proptest::test_runner::{Config, TestRunner};

// --- cases with fixed bodies -------------------------------------------------------------

#[test]
fn example_request_matches_python_and_node() {
    // Arrange
    let body = EXAMPLE;

    // Act
    let clients = reference_clients(&[body]);

    // Assert
    assert_all_forms_verify(&clients[0]);
    assert_eq!(
        clients[0].form(SignatureForm::JsInsertion).text,
        r#"{"actionType":"restart_pod","actionParams":{"namespace":"default","podName":"api-pod-12345"},"requestedBy":"ai-engine"}"#
    );
}

#[test]
fn non_ascii_strings_and_keys_match() {
    // Arrange
    let body = request(
        r#"{"message": "café 中文 😀", "ключ": "значение", "emoji😀": ["é", "中", "\u00e9\ud83d\ude00"], "｡": "halfwidth"}"#,
    );

    // Act
    let clients = reference_clients(&[&body]);

    // Assert
    assert_all_forms_verify(&clients[0]);
    assert!(
        clients[0]
            .form(SignatureForm::PythonDefault)
            .text
            .contains(r#""caf\u00e9 \u4e2d\u6587 \ud83d\ude00""#)
    );
}

#[test]
fn control_characters_match() {
    // Arrange
    let body = request(
        r#"{"s": "\u0000\u0001\b\t\n\u000b\f\r\u001f\u007f\"\\/ end\u2028\u2029", "\n": "key with a newline", "\u0007": 1}"#,
    );

    // Act
    let clients = reference_clients(&[&body]);

    // Assert
    assert_all_forms_verify(&clients[0]);
}

#[test]
fn numeric_looking_keys_match_js_object_order() {
    // Arrange
    let body = request(
        r#"{"b": 1, "10": 2, "2": 3, "4294967295": 4, "4294967294": 5, "01": 6, "-1": 7, "": 8}"#,
    );

    // Act
    let clients = reference_clients(&[&body]);

    // Assert
    let client = &clients[0];
    assert_all_forms_verify(client);
    assert!(
        client
            .form(SignatureForm::JsInsertion)
            .text
            .contains(r#"{"2":3,"10":2,"4294967294":5,"b":1,"4294967295":4,"01":6,"-1":7,"":8}"#),
        "{:?}",
        client.form(SignatureForm::JsInsertion)
    );
    // A body written in Python's order still gives what the JS client holding it signs.
    assert_js_forms_verify_against(&client.python_body, client);
}

#[test]
fn nested_objects_and_arrays_match() {
    // Arrange
    let body = request(
        r#"{"z": {"y": [1, {"b": [], "a": {}}], "x": null, "w": {"3": {"1": [true, false]}}}, "a": [true, false, null, [[]], [{"k": "v", "j": [{}]}]]}"#,
    );

    // Act
    let clients = reference_clients(&[&body]);

    // Assert
    assert_all_forms_verify(&clients[0]);
}

#[test]
fn floats_match_when_the_body_comes_from_the_same_serialiser() {
    // Arrange: Python and JS print most of these differently (1.0/1, 1e-07/1e-7, 1e+16/
    // 10000000000000000, -0.0/0), so each form is checked against its own client's body.
    let body = request(
        "[1.5, 0.1, 1.0, -0.0, 1e21, 1e-7, 0.000001, 0.00001, 123456789.125, 1e16, 5e-324, 1.7976931348623157e308, -2.5e-300, 9007199254740993]",
    );

    // Act
    let clients = reference_clients(&[&body]);

    // Assert
    let client = &clients[0];
    assert_all_forms_verify(client);
    assert!(
        client
            .form(SignatureForm::PythonDefault)
            .text
            .contains("[1.5, 0.1, 1.0, -0.0, 1e+21, 1e-07, 1e-06, 1e-05,")
    );
    assert!(
        client
            .form(SignatureForm::JsInsertion)
            .text
            .contains("[1.5,0.1,1,0,1e+21,1e-7,0.000001,0.00001,")
    );
}

#[test]
fn lone_surrogates_match() {
    // Arrange
    let body = request(
        r#"{"high": "\ud800", "low": "x\udfffy", "\udbff": "key", "pair": "\ud83d\ud83d\ude00"}"#,
    );

    // Act
    let clients = reference_clients(&[&body]);

    // Assert
    assert_all_forms_verify(&clients[0]);
}

#[test]
fn top_level_order_follows_the_body_and_missing_members_are_absent() {
    // Arrange
    let reordered = r#"{"signature": "00", "requestedBy": "ai-engine", "policyDecision": {"allowed": true}, "actionParams": {"podName": "p", "namespace": "default"}, "dryRun": true, "actionType": "restart_pod"}"#;
    let missing = r#"{"actionType": "restart_pod", "policyDecision": {}, "actionParams": {"namespace": "default"}}"#;

    // Act
    let clients = reference_clients(&[reordered, missing]);

    // Assert
    clients.iter().for_each(assert_all_forms_verify);
    assert!(
        clients[0]
            .form(SignatureForm::JsInsertion)
            .text
            .starts_with(r#"{"requestedBy":"ai-engine","actionParams""#)
    );
    assert!(
        !clients[1]
            .form(SignatureForm::PythonDefault)
            .text
            .contains("requestedBy")
    );
}

#[test]
fn a_body_without_signed_members_signs_the_empty_object() {
    // Arrange
    let body = r#"{"policyDecision": {"allowed": true}, "signature": "00"}"#;

    // Act
    let clients = reference_clients(&[body]);

    // Assert
    assert_all_forms_verify(&clients[0]);
    for reference in &clients[0].forms {
        assert_eq!(reference.text, "{}", "{:?}", reference.form);
    }
}

#[test]
fn python_escapes_everything_outside_printable_ascii() {
    // Arrange: NUL, BS, TAB, LF, FF, CR, US, quote, backslash, DEL, é, U+2028, U+FFFF, U+10FFFF.
    let body = request(r#""\u0000\b\t\n\f\r\u001f\"\\\u007f\u00e9\u2028\uffff\udbff\udfff ~""#);

    // Act
    let clients = reference_clients(&[&body]);

    // Assert
    let client = &clients[0];
    assert_all_forms_verify(client);
    assert!(
        client.form(SignatureForm::PythonDefault).text.contains(
            r#""actionParams": "\u0000\b\t\n\f\r\u001f\"\\\u007f\u00e9\u2028\uffff\udbff\udfff ~""#
        ),
        "{:?}",
        client.form(SignatureForm::PythonDefault)
    );
    assert!(
        client.form(SignatureForm::JsInsertion).text.contains(
            "\"actionParams\":\"\\u0000\\b\\t\\n\\f\\r\\u001f\\\"\\\\\u{7f}é\u{2028}\u{ffff}\u{10ffff} ~\""
        ),
        "{:?}",
        client.form(SignatureForm::JsInsertion)
    );
}

#[test]
fn js_insertion_puts_array_index_keys_first_in_numeric_order() {
    // Arrange: "4294967295" (2^32-1), "01", "-1", "1.5" and "" are not array indices.
    let body = request(
        r#"{"b": 1, "10": 2, "2": 3, "4294967295": 4, "4294967294": 5, "01": 6, "-1": 7, "1.5": 8, "": 9, "0": 10}"#,
    );

    // Act
    let clients = reference_clients(&[&body]);

    // Assert
    let client = &clients[0];
    assert_all_forms_verify(client);
    assert!(
        client
            .form(SignatureForm::PythonDefault)
            .text
            .contains(r#""actionParams": {"b": 1, "10": 2, "2": 3, "#),
        "{:?}",
        client.form(SignatureForm::PythonDefault)
    );
    assert!(
        client.form(SignatureForm::JsInsertion).text.contains(
            r#""actionParams":{"0":10,"2":3,"10":2,"4294967294":5,"b":1,"4294967295":4,"01":6,"-1":7,"1.5":8,"":9}"#
        ),
        "{:?}",
        client.form(SignatureForm::JsInsertion)
    );
}

#[test]
fn sorted_forms_use_code_points_in_python_and_utf16_units_in_js() {
    // Arrange: U+FF61 sorts before U+1F600 by code point, after it by UTF-16 unit
    // (0xFF61 > 0xD83D); digits sort as strings.
    let body = request(
        r#"{"😀": 1, "｡": 2, "b": {"z": [{"y": 1, "x": 2}], "a": 0}, "10": 3, "9": 4, "A": 5}"#,
    );

    // Act
    let clients = reference_clients(&[&body]);

    // Assert
    let client = &clients[0];
    assert_all_forms_verify(client);
    assert!(
        client.form(SignatureForm::PythonSorted).text.contains(
            r#"{"10": 3, "9": 4, "A": 5, "b": {"a": 0, "z": [{"x": 2, "y": 1}]}, "\uff61": 2, "\ud83d\ude00": 1}"#
        ),
        "{:?}",
        client.form(SignatureForm::PythonSorted)
    );
    assert!(
        client
            .form(SignatureForm::JsSorted)
            .text
            .contains(r#"{"10":3,"9":4,"A":5,"b":{"a":0,"z":[{"x":2,"y":1}]},"😀":1,"｡":2}"#),
        "{:?}",
        client.form(SignatureForm::JsSorted)
    );
}

// --- refusals ------------------------------------------------------------------------------

#[test]
fn a_wrong_secret_is_a_mismatch() {
    // Arrange
    let clients = reference_clients(&[EXAMPLE]);

    for reference in &clients[0].forms {
        let payload = payload(client_body(&clients[0], reference.form));

        // Act
        let verified = payload.verify(&reference.hmac, b"not-the-secret-of-this-client-000");

        // Assert
        assert_eq!(
            verified,
            Err(SignatureError::Mismatch),
            "{:?}",
            reference.form
        );
    }
}

#[test]
fn tampered_params_are_a_mismatch() {
    // Arrange
    let clients = reference_clients(&[EXAMPLE]);

    for reference in &clients[0].forms {
        let body = client_body(&clients[0], reference.form);
        let tampered = body.replacen("api-pod-12345", "api-pod-12346", 1);
        assert_ne!(tampered, body);

        // Act
        let verified = payload(&tampered).verify(&reference.hmac, SECRET.as_bytes());

        // Assert
        assert_eq!(
            verified,
            Err(SignatureError::Mismatch),
            "{:?}",
            reference.form
        );
    }
}

#[test]
fn malformed_hex_is_malformed() {
    // Arrange
    let clients = reference_clients(&[EXAMPLE]);
    let reference = clients[0].form(SignatureForm::PythonDefault);
    let payload = payload(&clients[0].python_body);

    for signature in [
        reference.hmac[..63].to_owned(),
        format!("{}0", reference.hmac),
        format!("z{}", &reference.hmac[1..]),
        String::new(),
    ] {
        // Act
        let verified = payload.verify(&signature, SECRET.as_bytes());

        // Assert
        assert_eq!(verified, Err(SignatureError::Malformed), "{signature:?}");
    }
}

// --- property: random actionParams --------------------------------------------------------

#[test]
fn random_requests_verify_in_all_four_forms() {
    // Arrange: fail now, not inside the runner, if an interpreter is missing.
    require_interpreters();
    let mut runner = TestRunner::new(Config {
        cases: 2,
        max_shrink_iters: 64,
        failure_persistence: None,
        ..Config::default()
    });

    // Act: each run is one batch, so each interpreter starts once per batch.
    let result = runner.run(
        &proptest::collection::vec(random::request(), 150),
        |requests| {
            let bodies: Vec<String> = requests.iter().map(random::Request::body).collect();
            let refs: Vec<&str> = bodies.iter().map(String::as_str).collect();
            let clients = reference_clients(&refs);
            for (request, client) in requests.iter().zip(&clients) {
                for reference in &client.forms {
                    check_reference(client_body(client, reference.form), reference)?;
                    if request.portable && !reference.form.is_python() {
                        check_reference(&client.python_body, reference)?;
                    }
                }
            }
            Ok(())
        },
    );

    // Assert
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
