//! Decision tokens: verifies the policy service's EdDSA JWTs against its JWKS.
//!
//! Keys are fetched from `{POLICY_URL}/.well-known/jwks.json` at start-up and again when a
//! token names a `kid` we do not know (key rotation), at most once per
//! [`MIN_REFETCH_INTERVAL`] so that a stream of forged `kid`s cannot turn the executor into
//! a load generator against the policy service. Only `EdDSA` is accepted: `alg: none`, HMAC
//! algorithms (the classic "verify with the public key as an HMAC secret" attack) and
//! anything else fail before any key is used.
//!
//! The compact JWS is checked here rather than by `jsonwebtoken::decode`, which decompresses
//! the Ed25519 public key, parses the header twice and the claims twice on every call; the
//! keys are decompressed once when the JWKS is loaded. `jsonwebtoken` still parses the JWKS,
//! and the tests check our tokens against it. Signatures are checked with
//! `VerifyingKey::verify`, which refuses a non-canonical `S`; small-order ("weak") keys are
//! refused once, when the JWKS is loaded, rather than on every call as `verify_strict` would
//! (about 14 µs more per token here). A token's signature bytes need not be unique: single
//! use is bound to the decision id inside the signed claims, never to the token's bytes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use jsonwebtoken::jwk::JwkSet;
use serde::Deserialize;
use tokio::sync::Mutex;
use warden_protocol::{DecisionClaims, TOKEN_AUDIENCE, TOKEN_ISSUER};

/// Shortest time between two JWKS fetches triggered by unknown key ids.
pub const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(1);

/// Why a token was refused. Messages are safe to return to clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// `policyDecision.token` is absent.
    #[error("policyDecision.token is missing: only an allowed decision carries a token")]
    Missing,
    /// Not a JWT, or a header we cannot read.
    #[error("the decision token is malformed")]
    Malformed,
    /// Not signed with EdDSA.
    #[error("the decision token is not signed with EdDSA")]
    Algorithm,
    /// Signed by a key the policy service does not publish.
    #[error("the decision token was signed by an unknown key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the decision token's signature does not verify")]
    Signature,
    /// Past its `exp`.
    #[error("the decision token has expired")]
    Expired,
    /// Before its `nbf`.
    #[error("the decision token is not valid yet")]
    NotYetValid,
    /// Wrong `aud`/`iss`, or a claim missing or mistyped.
    #[error("the decision token's claims are invalid: {0}")]
    Claims(String),
    /// The keys could not be fetched.
    #[error("the policy service's keys are not available")]
    KeysUnavailable,
}

impl TokenError {
    /// Stable reason code for answers, audit rows and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Missing => "token_missing",
            TokenError::Malformed => "token_malformed",
            TokenError::Algorithm => "token_algorithm",
            TokenError::UnknownKey => "token_unknown_key",
            TokenError::Signature => "token_signature",
            TokenError::Expired => "token_expired",
            TokenError::NotYetValid => "token_not_yet_valid",
            TokenError::Claims(_) => "token_claims",
            TokenError::KeysUnavailable => "token_keys_unavailable",
        }
    }
}

/// Verifies decision tokens.
pub struct DecisionVerifier {
    jwks_url: Option<String>,
    http: reqwest::Client,
    keys: ArcSwap<HashMap<String, VerifyingKey>>,
    last_fetch: Mutex<Option<Instant>>,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    leeway: i64,
}

impl std::fmt::Debug for DecisionVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecisionVerifier")
            .field("jwks_url", &self.jwks_url)
            .field("kids", &self.keys.load().keys().collect::<Vec<_>>())
            .finish()
    }
}

impl DecisionVerifier {
    /// A verifier that fetches keys from the policy service at `policy_url`. Fetches once
    /// now; a failure is logged and retried on the first token (the service reports not
    /// ready until keys are loaded).
    pub async fn from_policy_url(policy_url: &str, leeway: Duration) -> Self {
        let verifier = DecisionVerifier {
            jwks_url: Some(format!(
                "{}/.well-known/jwks.json",
                policy_url.trim_end_matches('/')
            )),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            keys: ArcSwap::from_pointee(HashMap::new()),
            last_fetch: Mutex::new(None),
            leeway: leeway_secs(leeway),
        };
        if let Err(err) = verifier.refresh(true).await {
            tracing::warn!(error = %err, url = ?verifier.jwks_url, "cannot fetch the policy service's JWKS yet");
        }
        verifier
    }

    /// A verifier with fixed keys (tests, or a JWKS file).
    pub fn from_jwks(jwks: &JwkSet, leeway: Duration) -> Self {
        let verifier = DecisionVerifier {
            jwks_url: None,
            http: reqwest::Client::new(),
            keys: ArcSwap::from_pointee(HashMap::new()),
            last_fetch: Mutex::new(None),
            leeway: leeway_secs(leeway),
        };
        verifier.keys.store(Arc::new(decoding_keys(jwks)));
        verifier
    }

    /// Whether at least one key is loaded.
    pub fn has_keys(&self) -> bool {
        !self.keys.load().is_empty()
    }

    /// Fetches the JWKS now; `force` ignores the refetch interval.
    pub async fn refresh(&self, force: bool) -> Result<usize, TokenError> {
        let Some(url) = &self.jwks_url else {
            return Ok(self.keys.load().len());
        };
        let mut last = self.last_fetch.lock().await;
        if !force && last.is_some_and(|at| at.elapsed() < MIN_REFETCH_INTERVAL) {
            return Ok(self.keys.load().len());
        }
        *last = Some(Instant::now());
        let response = self
            .http
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| {
                tracing::warn!(error = %e, "JWKS fetch failed");
                TokenError::KeysUnavailable
            })?;
        let jwks: JwkSet = response.json().await.map_err(|e| {
            tracing::warn!(error = %e, "JWKS is not a JWK set");
            TokenError::KeysUnavailable
        })?;
        let keys = decoding_keys(&jwks);
        let count = keys.len();
        tracing::info!(keys = count, "loaded the policy service's JWKS");
        self.keys.store(Arc::new(keys));
        Ok(count)
    }

    /// Verifies `token` and returns its claims. Checks, in order: the compact form, the
    /// header (`alg` must be `EdDSA`, `crit` is refused), the key, the signature, then the
    /// claims (`iss`, `aud`, `exp` and `nbf` with the leeway).
    pub async fn verify(&self, token: &str) -> Result<DecisionClaims, TokenError> {
        let mut parts = token.split('.');
        let (Some(encoded_header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: Header = decode_part(encoded_header).ok_or(TokenError::Malformed)?;
        if header.alg != "EdDSA" {
            return Err(TokenError::Algorithm);
        }
        if header.crit.is_some() {
            // RFC 7515 §4.1.11: extensions we do not understand must not be ignored.
            return Err(TokenError::Malformed);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = match self.keys.load().get(&kid).copied() {
            Some(key) => key,
            None => {
                self.refresh(false).await?;
                self.keys
                    .load()
                    .get(&kid)
                    .copied()
                    .ok_or(TokenError::UnknownKey)?
            }
        };
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .ok()
            .and_then(|bytes| Signature::from_slice(&bytes).ok())
            .ok_or(TokenError::Signature)?;
        // `header.payload`, the bytes the signature covers.
        let signed = &token[..encoded_header.len() + 1 + payload.len()];
        key.verify(signed.as_bytes(), &signature)
            .map_err(|_| TokenError::Signature)?;
        let claims: DecisionClaims = decode_part(payload)
            .ok_or_else(|| TokenError::Claims("claims are not decision claims".into()))?;
        self.check_claims(&claims, chrono::Utc::now().timestamp())?;
        Ok(claims)
    }

    /// The registered claims, at `now` (seconds since the epoch).
    fn check_claims(&self, claims: &DecisionClaims, now: i64) -> Result<(), TokenError> {
        if claims.iss != TOKEN_ISSUER {
            return Err(TokenError::Claims("wrong issuer".into()));
        }
        if claims.aud != TOKEN_AUDIENCE {
            return Err(TokenError::Claims("wrong audience".into()));
        }
        if claims.exp.saturating_add(self.leeway) <= now {
            return Err(TokenError::Expired);
        }
        if claims.nbf.saturating_sub(self.leeway) > now {
            return Err(TokenError::NotYetValid);
        }
        Ok(())
    }
}

/// The JOSE header fields we read; others are ignored.
#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    crit: Option<serde_json::Value>,
}

/// Decodes one base64url JSON part of a token.
fn decode_part<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn leeway_secs(leeway: Duration) -> i64 {
    i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX)
}

fn decoding_keys(jwks: &JwkSet) -> HashMap<String, VerifyingKey> {
    jwks.keys
        .iter()
        .filter_map(|jwk| {
            let kid = jwk.common.key_id.clone()?;
            // Only Ed25519 keys can verify EdDSA; anything else in the set (an X25519 key
            // has a 32-byte `x` too) is ignored.
            match &jwk.algorithm {
                jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(p)
                    if p.curve == jsonwebtoken::jwk::EllipticCurve::Ed25519 =>
                {
                    let bytes = URL_SAFE_NO_PAD.decode(&p.x).ok()?;
                    let bytes = <[u8; 32]>::try_from(bytes.as_slice()).ok()?;
                    let key = VerifyingKey::from_bytes(&bytes).ok()?;
                    // A small-order key would "verify" signatures nobody made.
                    (!key.is_weak()).then_some((kid, key))
                }
                _ => None,
            }
        })
        .collect()
}
