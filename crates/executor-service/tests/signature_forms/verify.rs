//! What `verify` reports: the form that matched (the earlier one when texts coincide), for
//! hex of either case; malformed tags before any HMAC; never a match for a wrong or empty
//! secret.

use executor_service::signature::{SignatureError, SignatureForm, sign};

use crate::helpers::{SECRET, payload};

/// A body whose four forms are all different texts.
const DISTINCT: &str = r#"{"actionType": "scale", "actionParams": {"b": 1, "10": 2, "a": {"d": "é", "c": 2}}, "requestedBy": "ai"}"#;

#[test]
fn each_form_verifies_and_is_reported() {
    // Arrange
    let payload = payload(DISTINCT);
    let texts = SignatureForm::ALL.map(|form| payload.render(form));
    assert!(
        texts
            .iter()
            .enumerate()
            .all(|(i, t)| !texts[..i].contains(t)),
        "{texts:#?}"
    );

    for form in SignatureForm::ALL {
        // Act
        let verified = payload.verify(&sign(&payload, form, SECRET.as_bytes()), SECRET.as_bytes());

        // Assert
        assert_eq!(verified, Ok(form));
    }
}

#[test]
fn uppercase_and_mixed_case_hex_verify() {
    // Arrange
    let payload = payload(DISTINCT);
    let signature = sign(&payload, SignatureForm::JsSorted, SECRET.as_bytes());
    let mixed: String = signature
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();

    // Act
    let (upper, mixed) = (
        payload.verify(&signature.to_ascii_uppercase(), SECRET.as_bytes()),
        payload.verify(&mixed, SECRET.as_bytes()),
    );

    // Assert
    assert_eq!(upper, Ok(SignatureForm::JsSorted));
    assert_eq!(mixed, Ok(SignatureForm::JsSorted));
}

#[test]
fn when_texts_coincide_the_earlier_form_is_reported() {
    // Arrange: keys already sorted, so the sorted forms print the insertion forms' text.
    let payload =
        payload(r#"{"actionParams": {"a": 1, "b": 2}, "actionType": "x", "requestedBy": "y"}"#);
    assert_eq!(
        payload.render(SignatureForm::PythonSorted),
        payload.render(SignatureForm::PythonDefault)
    );
    assert_eq!(
        payload.render(SignatureForm::JsSorted),
        payload.render(SignatureForm::JsInsertion)
    );

    // Act
    let python = payload.verify(
        &sign(&payload, SignatureForm::PythonSorted, SECRET.as_bytes()),
        SECRET.as_bytes(),
    );
    let js = payload.verify(
        &sign(&payload, SignatureForm::JsSorted, SECRET.as_bytes()),
        SECRET.as_bytes(),
    );

    // Assert
    assert_eq!(python, Ok(SignatureForm::PythonDefault));
    assert_eq!(js, Ok(SignatureForm::JsInsertion));
}

#[test]
fn malformed_signatures_are_reported_before_any_hmac() {
    // Arrange
    let payload = payload(DISTINCT);
    let good = sign(&payload, SignatureForm::PythonDefault, SECRET.as_bytes());

    for signature in [
        String::new(),
        good[..63].to_owned(),
        format!("{good}0"),
        format!("{good}00"),
        format!("g{}", &good[1..]),
        format!(" {}", &good[1..]),
        format!("é{}", &good[2..]),
        format!("0x{}", &good[2..]),
    ] {
        // Act
        let verified = payload.verify(&signature, b"not the secret");

        // Assert
        assert_eq!(verified, Err(SignatureError::Malformed), "{signature:?}");
    }
}

#[test]
fn a_wrong_or_empty_secret_does_not_verify() {
    // Arrange
    let payload = payload(DISTINCT);
    let with_empty = sign(&payload, SignatureForm::JsInsertion, b"");

    // Act
    let wrong = payload.verify(
        &sign(&payload, SignatureForm::JsInsertion, SECRET.as_bytes()),
        b"another secret",
    );
    let empty = payload.verify(&with_empty, b"");

    // Assert
    assert_eq!(wrong, Err(SignatureError::Mismatch));
    assert_eq!(empty, Err(SignatureError::Mismatch));
}

#[test]
fn form_names_match_their_serialisation() {
    for form in SignatureForm::ALL {
        assert_eq!(serde_json::to_value(form).unwrap(), form.as_str());
        assert_eq!(form.to_string(), form.as_str());
    }
}
