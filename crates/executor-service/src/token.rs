//! Decision tokens: verifies the policy service's EdDSA JWTs against its JWKS.
//!
//! Keys are fetched from `{POLICY_URL}/.well-known/jwks.json` at start-up, every
//! [`KeyRefresh::every`] in the background, and when a token names a `kid` we do not know
//! (key rotation), at most once per [`MIN_REFETCH_INTERVAL`] so that a stream of forged
//! `kid`s cannot turn the executor into a load generator against the policy service. When
//! the last fetch failed, an unknown `kid` is answered `token_keys_unavailable` (503), not
//! `token_unknown_key`: the executor cannot tell whether the key exists. Only `EdDSA` is
//! accepted: `alg: none`, HMAC algorithms (the classic "verify with the public key as an
//! HMAC secret" attack) and anything else fail before any key is used.
//!
//! Beside its keys the document carries `minIat`, the policy service's revocation floor: a
//! token whose `iat` is below it was issued before a revoking policy reload and is refused
//! (`token_revoked`). The highest floor seen is kept, so a replica that has not reloaded yet
//! cannot lower it. A floor is only as good as its freshness: when no fetch has succeeded
//! for [`KeyRefresh::max_age`], every token is refused with `token_keys_unavailable` rather
//! than honoured under a floor that may have been raised since.
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
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use serde::Deserialize;
use tokio::sync::Mutex;
use warden_protocol::{APPROVAL_AUDIENCE, DecisionClaims, TOKEN_AUDIENCE, TOKEN_ISSUER};

/// Shortest time between two JWKS fetches triggered by unknown key ids.
pub const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(1);

/// How often the JWKS (and with it the revocation floor) is fetched, and how long the
/// last good fetch is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRefresh {
    /// Time between two background fetches (`EXECUTOR_JWKS_REFRESH_SECONDS`).
    pub every: Duration,
    /// Longest time since the last good fetch before every token is refused with
    /// `token_keys_unavailable` (`EXECUTOR_JWKS_MAX_AGE_SECONDS`).
    pub max_age: Duration,
}

impl Default for KeyRefresh {
    fn default() -> Self {
        KeyRefresh {
            every: Duration::from_secs(5),
            max_age: Duration::from_secs(30),
        }
    }
}

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
    /// The keys could not be fetched, or not recently enough to trust the revocation floor.
    #[error("the policy service's keys are not available")]
    KeysUnavailable,
    /// Issued before the policy service's revocation floor (a revoking policy reload).
    #[error("the decision token was revoked by a policy reload after it was issued")]
    Revoked,
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
            TokenError::Revoked => "token_revoked",
        }
    }
}

/// Verifies decision tokens. The keys and the floor sit behind an `Arc` that the background
/// refresh holds only weakly, so that it stops when the verifier is dropped.
pub struct DecisionVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    /// Where the keys come from; `None`: fixed keys, never refreshed, never stale.
    source: Option<Source>,
    keys: ArcSwap<HashMap<String, VerifyingKey>>,
    /// The highest `minIat` seen; 0: none.
    min_iat: AtomicI64,
    /// When the last fetch succeeded, in nanoseconds since `epoch`; `u64::MAX`: never. An
    /// atomic rather than behind `fetch`, because every token reads it.
    last_ok: AtomicU64,
    epoch: Instant,
    fetch: Mutex<FetchState>,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    leeway: i64,
}

struct Source {
    url: String,
    http: reqwest::Client,
    refresh: KeyRefresh,
}

#[derive(Default)]
struct FetchState {
    last_attempt: Option<Instant>,
    last_failed: bool,
}

/// The JWKS document: a JWK set with the revocation floor beside its keys.
#[derive(Deserialize)]
struct Document {
    keys: Vec<Jwk>,
    #[serde(rename = "minIat", default)]
    min_iat: Option<i64>,
}

impl std::fmt::Debug for DecisionVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecisionVerifier")
            .field("jwks_url", &self.inner.source.as_ref().map(|s| &s.url))
            .field("kids", &self.inner.keys.load().keys().collect::<Vec<_>>())
            .field("min_iat", &self.min_iat())
            .finish()
    }
}

impl DecisionVerifier {
    /// A verifier that fetches keys from the policy service at `policy_url`, now and then
    /// every `refresh.every` in the background (on the current Tokio runtime). A failure
    /// now is logged and retried on the first token (the service reports not ready until
    /// keys are loaded).
    pub async fn from_policy_url(policy_url: &str, leeway: Duration, refresh: KeyRefresh) -> Self {
        let source = Source {
            url: format!("{}/.well-known/jwks.json", policy_url.trim_end_matches('/')),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            refresh,
        };
        let verifier = Self::with_source(Some(source), leeway);
        if let Err(err) = verifier.refresh(true).await {
            tracing::warn!(error = %err, url = ?verifier.inner.source.as_ref().map(|s| &s.url), "cannot fetch the policy service's JWKS yet");
        }
        tokio::spawn(refresh_in_background(
            Arc::downgrade(&verifier.inner),
            refresh.every,
        ));
        verifier
    }

    /// A verifier with fixed keys (tests, or a JWKS file): no floor, never stale.
    pub fn from_jwks(jwks: &JwkSet, leeway: Duration) -> Self {
        let verifier = Self::with_source(None, leeway);
        verifier
            .inner
            .keys
            .store(Arc::new(decoding_keys(&jwks.keys)));
        verifier
    }

    fn with_source(source: Option<Source>, leeway: Duration) -> Self {
        DecisionVerifier {
            inner: Arc::new(Inner {
                source,
                keys: ArcSwap::from_pointee(HashMap::new()),
                min_iat: AtomicI64::new(0),
                last_ok: AtomicU64::new(u64::MAX),
                epoch: Instant::now(),
                fetch: Mutex::new(FetchState::default()),
                leeway: leeway_secs(leeway),
            }),
        }
    }

    /// Whether at least one key is loaded.
    pub fn has_keys(&self) -> bool {
        !self.inner.keys.load().is_empty()
    }

    /// The revocation floor in force: tokens with an earlier `iat` are refused; 0: none.
    pub fn min_iat(&self) -> i64 {
        self.inner.min_iat.load(Ordering::SeqCst)
    }

    /// Fetches the JWKS now; `force` ignores the refetch interval. Within the interval the
    /// previous attempt's outcome stands: an error if it failed.
    pub async fn refresh(&self, force: bool) -> Result<usize, TokenError> {
        self.inner.refresh(force).await
    }

    /// Verifies `token` and returns its claims. Checks, in order: the compact form, the
    /// header (`alg` must be `EdDSA`, `crit` is refused), that the keys are fresh (fetched
    /// within [`KeyRefresh::max_age`]), the key, the signature, the claims (`iss`, `aud`,
    /// `exp` and `nbf` with the leeway), then `iat` against the revocation floor.
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
        let inner = &self.inner;
        if !inner.fresh() {
            // The background refresh has not succeeded lately: try once more (rate-limited),
            // and refuse rather than trust a floor that may have been raised meanwhile.
            let _ = inner.refresh(false).await;
            if !inner.fresh() {
                return Err(TokenError::KeysUnavailable);
            }
        }
        let key = match inner.keys.load().get(&kid).copied() {
            Some(key) => key,
            None => {
                // An error here means the last fetch failed: whether the key exists is
                // unknown, and that is what the answer says (503, not 403).
                inner.refresh(false).await?;
                inner
                    .keys
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
        inner.check_claims(&claims, chrono::Utc::now().timestamp())?;
        // The floor and `iat` both come from the policy service's clock: no leeway.
        if claims.iat < self.min_iat() {
            return Err(TokenError::Revoked);
        }
        Ok(claims)
    }
}

impl Inner {
    async fn refresh(&self, force: bool) -> Result<usize, TokenError> {
        let Some(source) = &self.source else {
            return Ok(self.keys.load().len());
        };
        let mut state = self.fetch.lock().await;
        if !force
            && state
                .last_attempt
                .is_some_and(|at| at.elapsed() < MIN_REFETCH_INTERVAL)
        {
            return if state.last_failed {
                Err(TokenError::KeysUnavailable)
            } else {
                Ok(self.keys.load().len())
            };
        }
        state.last_attempt = Some(Instant::now());
        let fetched = fetch(source).await;
        state.last_failed = fetched.is_err();
        let document = fetched?;
        let keys = decoding_keys(&document.keys);
        let count = keys.len();
        let new_keys = **self.keys.load() != keys;
        self.keys.store(Arc::new(keys));
        let floor = document.min_iat.unwrap_or(0);
        let new_floor = self.min_iat.fetch_max(floor, Ordering::SeqCst) < floor;
        let since_epoch = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
        self.last_ok.store(since_epoch, Ordering::SeqCst);
        // Fetched every few seconds: only news is worth an info line.
        if new_keys || new_floor {
            tracing::info!(
                keys = count,
                min_iat = self.min_iat.load(Ordering::SeqCst),
                "loaded the policy service's JWKS"
            );
        } else {
            tracing::debug!(keys = count, "refreshed the policy service's JWKS");
        }
        Ok(count)
    }

    /// Whether the last good fetch is recent enough to trust the floor (always, for fixed
    /// keys).
    fn fresh(&self) -> bool {
        let Some(source) = &self.source else {
            return true;
        };
        let last_ok = self.last_ok.load(Ordering::SeqCst);
        if last_ok == u64::MAX {
            return false;
        }
        let age = self
            .epoch
            .elapsed()
            .saturating_sub(Duration::from_nanos(last_ok));
        age < source.refresh.max_age
    }

    /// The registered claims, at `now` (seconds since the epoch).
    fn check_claims(&self, claims: &DecisionClaims, now: i64) -> Result<(), TokenError> {
        if claims.iss != TOKEN_ISSUER {
            return Err(TokenError::Claims("wrong issuer".into()));
        }
        // The audience says which kind of decision this is, and the `apr` claim must agree:
        // an allow never carries approval requirements, an approval decision always does.
        match (claims.aud.as_str(), &claims.apr) {
            (TOKEN_AUDIENCE, None) => {}
            (APPROVAL_AUDIENCE, Some(apr)) => check_approval(apr)?,
            (TOKEN_AUDIENCE | APPROVAL_AUDIENCE, _) => {
                return Err(TokenError::Claims(
                    "the audience and the apr claim disagree".into(),
                ));
            }
            _ => return Err(TokenError::Claims("wrong audience".into())),
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

/// The approval requirements of a token, within the protocol's limits (a policy service
/// never signs others; a token that has them anyway is refused rather than clamped).
fn check_approval(apr: &warden_protocol::ApprovalClaims) -> Result<(), TokenError> {
    let ok = (1..=warden_protocol::MAX_APPROVERS).contains(&apr.approvers)
        && !apr.roles.is_empty()
        && (1..=warden_protocol::MAX_APPROVAL_SECONDS).contains(&apr.expires_in)
        && apr
            .session
            .as_ref()
            .is_none_or(|s| (1..=warden_protocol::MAX_APPROVAL_SECONDS).contains(&s.max_ttl));
    if ok {
        Ok(())
    } else {
        Err(TokenError::Claims(
            "apr is outside the protocol's limits".into(),
        ))
    }
}

/// One fetch of the JWKS document.
async fn fetch(source: &Source) -> Result<Document, TokenError> {
    let response = source
        .http
        .get(&source.url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| {
            tracing::warn!(error = %e, "JWKS fetch failed");
            TokenError::KeysUnavailable
        })?;
    response.json().await.map_err(|e| {
        tracing::warn!(error = %e, "JWKS is not a JWK set");
        TokenError::KeysUnavailable
    })
}

/// Refetches every `every` until the verifier is dropped.
async fn refresh_in_background(inner: Weak<Inner>, every: Duration) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        // Failures are logged by `fetch`; the next tick tries again.
        let _ = inner.refresh(true).await;
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

fn decoding_keys(keys: &[Jwk]) -> HashMap<String, VerifyingKey> {
    keys.iter()
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
