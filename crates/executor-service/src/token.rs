//! Decision tokens: verifies the policy service's EdDSA JWTs against its JWKS.
//!
//! Keys are fetched from `{POLICY_URL}/.well-known/jwks.json` at start-up and again when a
//! token names a `kid` we do not know (key rotation), at most once per
//! [`MIN_REFETCH_INTERVAL`] so that a stream of forged `kid`s cannot turn the executor into
//! a load generator against the policy service. Only `EdDSA` is accepted: `alg: none`, HMAC
//! algorithms (the classic "verify with the public key as an HMAC secret" attack) and
//! anything else fail before any key is used.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
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
    keys: ArcSwap<HashMap<String, DecodingKey>>,
    last_fetch: Mutex<Option<Instant>>,
    validation: Validation,
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
            validation: validation(leeway),
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
            validation: validation(leeway),
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

    /// Verifies `token` and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<DecisionClaims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
            ErrorKind::InvalidAlgorithmName | ErrorKind::UnsupportedAlgorithm => {
                TokenError::Algorithm
            }
            _ => TokenError::Malformed,
        })?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Algorithm);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = match self.keys.load().get(&kid).cloned() {
            Some(key) => key,
            None => {
                self.refresh(false).await?;
                self.keys
                    .load()
                    .get(&kid)
                    .cloned()
                    .ok_or(TokenError::UnknownKey)?
            }
        };
        jsonwebtoken::decode::<DecisionClaims>(token, &key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => TokenError::Signature,
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    TokenError::Algorithm
                }
                ErrorKind::InvalidAudience => TokenError::Claims("wrong audience".into()),
                ErrorKind::InvalidIssuer => TokenError::Claims("wrong issuer".into()),
                ErrorKind::MissingRequiredClaim(c) => TokenError::Claims(format!("missing {c}")),
                ErrorKind::Json(_) | ErrorKind::InvalidClaimFormat(_) => {
                    TokenError::Claims("claims are not decision claims".into())
                }
                _ => TokenError::Malformed,
            })
    }
}

fn validation(leeway: Duration) -> Validation {
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.leeway = leeway.as_secs();
    validation.validate_nbf = true;
    validation.set_audience(&[TOKEN_AUDIENCE]);
    validation.set_issuer(&[TOKEN_ISSUER]);
    validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub", "jti"]);
    validation
}

fn decoding_keys(jwks: &JwkSet) -> HashMap<String, DecodingKey> {
    jwks.keys
        .iter()
        .filter_map(|jwk| {
            let kid = jwk.common.key_id.clone()?;
            // Only Ed25519 keys can verify EdDSA; anything else in the set is ignored.
            match &jwk.algorithm {
                jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(p) => {
                    DecodingKey::from_ed_components(&p.x).ok().map(|k| (kid, k))
                }
                _ => None,
            }
        })
        .collect()
}
