//! Decision token verification on its own: every refusal reason of `DecisionVerifier`, with
//! tokens signed by the policy service's signer (and by hand where a forgery needs it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use executor_service::token::{DecisionVerifier, TokenError};
use jsonwebtoken::jwk::JwkSet;
use policy_service::keys::DecisionSigner;
use warden_protocol::DecisionClaims;
use warden_test_support::claims::ClaimsBuilder;

const LEEWAY: Duration = Duration::from_secs(5);

/// A signer and a verifier that trusts it.
fn pair() -> (DecisionSigner, DecisionVerifier) {
    let signer = DecisionSigner::ephemeral();
    let jwks: JwkSet =
        serde_json::from_value(serde_json::to_value(signer.jwks()).unwrap()).unwrap();
    let verifier = DecisionVerifier::from_jwks(&jwks, LEEWAY);
    (signer, verifier)
}

/// Claims valid now for one minute.
fn claims() -> DecisionClaims {
    ClaimsBuilder::new().build()
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

async fn verify(verifier: &DecisionVerifier, token: &str) -> Result<DecisionClaims, TokenError> {
    verifier.verify(token).await
}

#[tokio::test]
async fn a_token_from_the_signer_verifies_and_yields_its_claims() {
    let (signer, verifier) = pair();
    let claims = claims();

    let verified = verify(&verifier, &signer.sign(&claims).unwrap()).await;

    assert_eq!(verified, Ok(claims));
}

#[tokio::test]
async fn a_token_that_is_not_three_parts_is_malformed() {
    let (signer, verifier) = pair();
    let token = signer.sign(&claims()).unwrap();

    for bad in [
        String::new(),
        "abc".to_owned(),
        "a.b".to_owned(),
        format!("{token}.extra"),
        format!("!!!{token}"),
    ] {
        assert_eq!(
            verify(&verifier, &bad).await,
            Err(TokenError::Malformed),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn any_algorithm_but_eddsa_is_refused_before_any_key_is_used() {
    let (signer, verifier) = pair();
    let payload = b64(serde_json::to_vec(&claims()).unwrap());

    for alg in ["none", "HS256", "RS256", "ES256", "eddsa", ""] {
        let header = b64(format!(r#"{{"alg":"{alg}","kid":"{}"}}"#, signer.kid()));
        let token = format!("{header}.{payload}.");
        assert_eq!(
            verify(&verifier, &token).await,
            Err(TokenError::Algorithm),
            "{alg}"
        );
    }
}

#[tokio::test]
async fn a_critical_header_extension_is_refused() {
    let (signer, verifier) = pair();
    let header = b64(format!(
        r#"{{"alg":"EdDSA","kid":"{}","crit":["exp"],"exp":1}}"#,
        signer.kid()
    ));
    let token = signer.sign(&claims()).unwrap();
    let rest = token.split_once('.').unwrap().1;

    let verified = verify(&verifier, &format!("{header}.{rest}")).await;

    assert_eq!(verified, Err(TokenError::Malformed));
}

#[tokio::test]
async fn a_missing_or_unknown_kid_is_an_unknown_key() {
    let (signer, verifier) = pair();
    let token = signer.sign(&claims()).unwrap();
    let rest = token.split_once('.').unwrap().1;

    for header in [
        r#"{"alg":"EdDSA"}"#,
        r#"{"alg":"EdDSA","kid":"someone-else"}"#,
    ] {
        let forged = format!("{}.{rest}", b64(header));
        assert_eq!(
            verify(&verifier, &forged).await,
            Err(TokenError::UnknownKey),
            "{header}"
        );
    }
}

#[tokio::test]
async fn edited_claims_or_a_bad_signature_do_not_verify() {
    let (signer, verifier) = pair();
    let token = signer.sign(&claims()).unwrap();
    let (header, rest) = token.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let mut edited = claims();
    edited.res = "*/*/*".into();
    let edited = format!(
        "{header}.{}.{signature}",
        b64(serde_json::to_vec(&edited).unwrap())
    );

    let mut short = token.clone();
    short.truncate(token.len() - 4);
    let mut flipped = token.clone().into_bytes();
    let last = flipped.len() - 10;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let unsigned = format!("{header}.{}.", rest.split_once('.').unwrap().0);

    for bad in [edited, short, flipped, unsigned] {
        assert_eq!(
            verify(&verifier, &bad).await,
            Err(TokenError::Signature),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn a_token_from_another_key_under_the_real_kid_does_not_verify() {
    let (signer, verifier) = pair();
    let other = DecisionSigner::ephemeral();
    let token = other.sign(&claims()).unwrap();
    let (_, rest) = token.split_once('.').unwrap();
    let header = signer.sign(&claims()).unwrap();
    let header = header.split_once('.').unwrap().0;

    let verified = verify(&verifier, &format!("{header}.{rest}")).await;

    assert_eq!(verified, Err(TokenError::Signature));
}

/// Edits claims, given the current time.
type ClaimsEdit = fn(&mut DecisionClaims, i64);

#[tokio::test]
async fn issuer_audience_and_validity_window_are_checked() {
    let (signer, verifier) = pair();
    let now = chrono::Utc::now().timestamp();
    let cases: [(ClaimsEdit, TokenError); 5] = [
        (
            |c, _| c.iss = "someone".into(),
            TokenError::Claims("wrong issuer".into()),
        ),
        (
            |c, _| c.aud = "someone".into(),
            TokenError::Claims("wrong audience".into()),
        ),
        (|c, now| c.exp = now - 10, TokenError::Expired),
        (|c, now| c.nbf = now + 30, TokenError::NotYetValid),
        (|c, now| c.exp = now - 5, TokenError::Expired),
    ];

    for (edit, expected) in cases {
        let mut claims = claims();
        edit(&mut claims, now);
        let token = signer.sign(&claims).unwrap();
        assert_eq!(
            verify(&verifier, &token).await,
            Err(expected.clone()),
            "{expected:?}"
        );
    }
}

#[tokio::test]
async fn the_leeway_tolerates_small_clock_skew() {
    let (signer, verifier) = pair();
    let now = chrono::Utc::now().timestamp();
    let mut claims = claims();
    claims.exp = now - 2;
    claims.nbf = now + 2;

    let verified = verify(&verifier, &signer.sign(&claims).unwrap()).await;

    assert_eq!(verified, Ok(claims));
}

#[tokio::test]
async fn claims_of_another_shape_are_refused() {
    // A real signature over a payload that is not decision claims, signed by hand with a
    // key the verifier trusts.
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let jwks = serde_json::json!({"keys": [{
        "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": "k1",
        "x": b64(key.verifying_key().as_bytes()),
    }]});
    let verifier = DecisionVerifier::from_jwks(&serde_json::from_value(jwks).unwrap(), LEEWAY);
    let signed = format!(
        "{}.{}",
        b64(r#"{"alg":"EdDSA","kid":"k1"}"#),
        b64(r#"{"iss":"warden-policy-service","sub":"x"}"#)
    );
    let signature = b64(ed25519_dalek::Signer::sign(&key, signed.as_bytes()).to_bytes());

    let verified = verify(&verifier, &format!("{signed}.{signature}")).await;

    assert_eq!(
        verified,
        Err(TokenError::Claims("claims are not decision claims".into()))
    );
}

#[tokio::test]
async fn weak_and_non_ed25519_keys_in_the_jwks_are_ignored() {
    // Arrange: a small-order Ed25519 key (the identity point), and an X25519 key whose `x`
    // is a valid Ed25519 encoding, each under its own kid.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let real = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let jwks = serde_json::json!({"keys": [
        {"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": "weak", "x": b64(identity)},
        {"kty": "OKP", "crv": "X25519", "kid": "x25519",
         "x": b64(real.verifying_key().as_bytes())},
    ]});
    let verifier = DecisionVerifier::from_jwks(&serde_json::from_value(jwks).unwrap(), LEEWAY);
    let payload = b64(serde_json::to_vec(&claims()).unwrap());

    for kid in ["weak", "x25519"] {
        let signed = format!(
            "{}.{payload}",
            b64(format!(r#"{{"alg":"EdDSA","kid":"{kid}"}}"#))
        );
        let signature = b64(ed25519_dalek::Signer::sign(&real, signed.as_bytes()).to_bytes());

        // Act
        let verified = verify(&verifier, &format!("{signed}.{signature}")).await;

        // Assert
        assert_eq!(verified, Err(TokenError::UnknownKey), "{kid}");
    }
    assert!(!verifier.has_keys());
}
