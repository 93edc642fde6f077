//! Operator identities: who is asking to decide an approval request.
//!
//! A person authenticates with `Authorization: Bearer <token>`, where the token is one of:
//! - a static operator token (`EXECUTOR_OPERATORS`): only its SHA-256 is configured, and the
//!   presented token's digest is compared with every entry in constant time, with no early
//!   exit, so timing tells neither which entry nor how much of it matched;
//! - `EXECUTOR_ADMIN_TOKEN`: the identity `admin`, roles `admin` and `operator`;
//! - an ID or access token of the OIDC issuer (`EXECUTOR_OIDC_*`), verified locally against
//!   the issuer's JWKS: the signature (RSA, ECDSA or EdDSA, the algorithm matching the key;
//!   never `none` or HMAC, which would let anyone who knows the public key sign), `iss`,
//!   `aud`, `exp` and `nbf` with [`LEEWAY`].
//!
//! The issuer's keys are fetched on the first OIDC token, cached, and fetched again when a
//! token names a key id the cache lacks or the cache is older than [`KEY_MAX_AGE`], at
//! most once per [`KEY_REFETCH_INTERVAL`], so a stream of forged key ids cannot turn the
//! executor into a load generator against the issuer. Until a first fetch succeeds every
//! OIDC token is answered [`AuthError::KeysUnavailable`] (retried at most once a second).
//!
//! Nothing about a presented token reaches a log or an error.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use subtle::{ConditionallySelectable as _, ConstantTimeEq as _};

use crate::config::operators::{ADMIN_NAME, OidcSettings, StaticOperator};
use crate::config::{AdminToken, OperatorSettings};

/// Shortest time between two fetches of the issuer's keys once some are cached.
pub const KEY_REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// Shortest time between two fetches while no key is cached: short, since every OIDC token
/// is refused until one succeeds, yet enough to spare an issuer that is down.
pub const EMPTY_REFETCH_INTERVAL: Duration = Duration::from_secs(1);
/// Cached keys older than this are fetched again on the next OIDC token, so a key the
/// issuer withdrew stops being honoured (if that fetch fails, the cache keeps serving).
pub const KEY_MAX_AGE: Duration = Duration::from_secs(15 * 60);
/// Deadline of one JWKS fetch.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Clock skew tolerated on `exp` and `nbf` of OIDC tokens.
pub const LEEWAY: Duration = Duration::from_secs(60);

/// Longest bearer token read: far above any real ID token, and bounds the work a request
/// can ask for.
const MAX_TOKEN_LEN: usize = 16 * 1024;
/// Largest JWKS document read.
const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// Longest operator name taken from an OIDC token.
const MAX_NAME_LEN: usize = 256;
/// Smallest RSA modulus accepted, in bytes (2048 bits).
const MIN_RSA_MODULUS: usize = 256;

/// An authenticated person.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Operator {
    /// Their name, recorded on every decision they make.
    pub name: String,
    /// Their roles.
    pub roles: Vec<String>,
    /// How they authenticated.
    pub method: AuthMethod,
}

/// How an [`Operator`] authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A static token of `EXECUTOR_OPERATORS`.
    Token,
    /// A token of the OIDC issuer.
    Oidc,
    /// `EXECUTOR_ADMIN_TOKEN`.
    Admin,
}

impl Operator {
    /// Whether they hold at least one of `roles` (none when `roles` is empty).
    pub fn has_any_role(&self, roles: &[String]) -> bool {
        self.roles.iter().any(|held| roles.contains(held))
    }
}

/// Why a person could not be authenticated. Messages are safe to return.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` token.
    #[error("an operator's bearer token is required (Authorization: Bearer <token>)")]
    Missing,
    /// An unknown token, or an OIDC token that does not verify (bad signature, wrong
    /// issuer or audience, expired, not yet valid, unknown key).
    #[error("the operator's credentials are not valid")]
    Invalid,
    /// An OIDC token whose key is not cached, and the issuer's keys could not be fetched.
    #[error("the identity provider's keys are not available; try again shortly")]
    KeysUnavailable,
}

impl AuthError {
    /// Stable code for answers and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Missing => "unauthenticated",
            AuthError::Invalid => "invalid_credentials",
            AuthError::KeysUnavailable => "operator_keys_unavailable",
        }
    }
}

/// Authenticates operators. Cheap to clone (Arc inside): every clone shares the key cache.
#[derive(Clone)]
pub struct Operators(Arc<Inner>);

struct Inner {
    tokens: Vec<StaticOperator>,
    admin: Option<AdminToken>,
    oidc: Option<Oidc>,
}

impl std::fmt::Debug for Operators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: no digest, no key.
        let names: Vec<&str> = self.0.tokens.iter().map(|t| t.name.as_str()).collect();
        f.debug_struct("Operators")
            .field("tokens", &names)
            .field("admin", &self.0.admin.is_some())
            .field(
                "oidc_issuer",
                &self.0.oidc.as_ref().map(|o| &o.settings.issuer),
            )
            .finish()
    }
}

impl Operators {
    /// Operators from the configuration. No key is fetched yet: the first OIDC token does.
    pub fn new(settings: &OperatorSettings) -> Operators {
        Self::with_refetch_interval(settings, KEY_REFETCH_INTERVAL)
    }

    /// As [`Operators::new`], with another shortest time between two JWKS fetches (tests,
    /// or an issuer that rotates keys often).
    pub fn with_refetch_interval(settings: &OperatorSettings, interval: Duration) -> Operators {
        Operators(Arc::new(Inner {
            tokens: settings.tokens.clone(),
            admin: settings.admin.clone(),
            oidc: settings
                .oidc
                .as_ref()
                .map(|oidc| Oidc::new(oidc.clone(), interval)),
        }))
    }

    /// Whether any operator can authenticate.
    pub fn any(&self) -> bool {
        !self.0.tokens.is_empty() || self.0.admin.is_some() || self.0.oidc.is_some()
    }

    /// From `Authorization: Bearer <token>`; static tokens and the admin token compared as SHA-256
    /// digests in constant time (compare against EVERY entry, no early exit); otherwise, if OIDC is
    /// configured and the token looks like a JWT, verify it locally against the cached JWKS.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Operator, AuthError> {
        let token = bearer(headers)?;
        if let Some(operator) = self.static_operator(token) {
            return Ok(operator);
        }
        match &self.0.oidc {
            Some(oidc) if looks_like_jwt(token) => oidc.verify(token).await,
            _ => Err(AuthError::Invalid),
        }
    }

    /// The static operator or admin whose token is `token`. The start-up checks make
    /// every digest unique, so at most one matches.
    fn static_operator(&self, token: &str) -> Option<Operator> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut index = u32::MAX;
        for (i, entry) in self.0.tokens.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            index.conditional_assign(&i, entry.digest.ct_eq(&digest));
        }
        let admin = self
            .0
            .admin
            .as_ref()
            .is_some_and(|admin| admin.matches_digest(&digest));
        if admin {
            return Some(Operator {
                name: ADMIN_NAME.to_owned(),
                roles: vec!["admin".to_owned(), "operator".to_owned()],
                method: AuthMethod::Admin,
            });
        }
        let entry = self.0.tokens.get(usize::try_from(index).ok()?)?;
        Some(Operator {
            name: entry.name.clone(),
            roles: entry.roles.clone(),
            method: AuthMethod::Token,
        })
    }
}

/// The token of the one `Authorization: Bearer` header. No header, another scheme or an
/// empty token is [`AuthError::Missing`]; several headers, or a value that cannot be a
/// token, [`AuthError::Invalid`].
fn bearer(headers: &HeaderMap) -> Result<&str, AuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(AuthError::Missing);
    };
    if values.next().is_some() {
        return Err(AuthError::Invalid);
    }
    let value = value.to_str().map_err(|_| AuthError::Invalid)?.trim();
    let Some((scheme, token)) = value.split_once(' ') else {
        return Err(AuthError::Missing);
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Missing);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::Missing);
    }
    if token.len() > MAX_TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AuthError::Invalid);
    }
    Ok(token)
}

/// Three `.`-separated parts, the first a base64url JSON object (`eyJ` is `{"`): only
/// such a token may lead to a JWKS fetch.
fn looks_like_jwt(token: &str) -> bool {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let b64 = |part: &str| {
        part.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    header.starts_with("eyJ")
        && !payload.is_empty()
        && b64(header)
        && b64(payload)
        && b64(signature)
}

// ---------------------------------------------------------------------------------------
// OIDC
// ---------------------------------------------------------------------------------------

struct Oidc {
    settings: OidcSettings,
    http: reqwest::Client,
    /// The issuer's usable keys; `None` until a fetch succeeds.
    keys: ArcSwapOption<KeySet>,
    /// Held while fetching, so concurrent tokens with an unknown key share one fetch.
    fetch: tokio::sync::Mutex<FetchState>,
    refetch_interval: Duration,
}

struct KeySet {
    keys: Vec<Key>,
    fetched_at: Instant,
}

/// A verification key, checked once when the JWKS is loaded.
struct Key {
    kid: Option<String>,
    decoding: DecodingKey,
    /// The algorithms this key verifies: the JWK's `alg` if it names one, else every
    /// algorithm of its type (and curve).
    algorithms: Vec<Algorithm>,
}

#[derive(Default)]
struct FetchState {
    last_attempt: Option<Instant>,
    last_failed: bool,
}

impl Oidc {
    fn new(settings: OidcSettings, refetch_interval: Duration) -> Oidc {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .unwrap_or_default();
        Oidc {
            settings,
            http,
            keys: ArcSwapOption::empty(),
            fetch: tokio::sync::Mutex::new(FetchState::default()),
            refetch_interval,
        }
    }

    async fn verify(&self, token: &str) -> Result<Operator, AuthError> {
        // Refuses `alg: none` (not an algorithm jsonwebtoken knows) and unreadable headers.
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Invalid)?;
        if !allowed(header.alg) {
            return Err(AuthError::Invalid);
        }
        let keys = self.keys_for(header.kid.as_deref(), header.alg).await?;
        let key = find(&keys, header.kid.as_deref(), header.alg).ok_or(AuthError::Invalid)?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key.decoding, &validation)
            .map_err(|_| AuthError::Invalid)?
            .claims;
        Ok(Operator {
            name: operator_name(&claims).ok_or(AuthError::Invalid)?,
            roles: roles(&claims, &self.settings.roles_claim),
            method: AuthMethod::Oidc,
        })
    }

    /// The cached keys, fetched first when none are cached, the token's key is not among
    /// them, or they are older than [`KEY_MAX_AGE`] (each at most once per interval).
    async fn keys_for(&self, kid: Option<&str>, alg: Algorithm) -> Result<Arc<KeySet>, AuthError> {
        if let Some(keys) = self.keys.load_full()
            && keys.fetched_at.elapsed() < KEY_MAX_AGE
            && find(&keys, kid, alg).is_some()
        {
            return Ok(keys);
        }
        let mut state = self.fetch.lock().await;
        // Another token may have fetched while this one waited for the lock.
        let cached = self.keys.load_full();
        let fresh = cached
            .as_ref()
            .is_some_and(|k| k.fetched_at.elapsed() < KEY_MAX_AGE && find(k, kid, alg).is_some());
        let interval = if cached.is_some() {
            self.refetch_interval
        } else {
            self.refetch_interval.min(EMPTY_REFETCH_INTERVAL)
        };
        let may_fetch = state.last_attempt.is_none_or(|at| at.elapsed() >= interval);
        if !fresh && may_fetch {
            state.last_attempt = Some(Instant::now());
            match self.fetch_keys().await {
                Ok(keys) => {
                    state.last_failed = false;
                    self.keys.store(Some(Arc::new(keys)));
                }
                Err(reason) => {
                    state.last_failed = true;
                    tracing::warn!(
                        url = %self.settings.jwks_url,
                        error = %reason,
                        "cannot fetch the OIDC issuer's keys"
                    );
                }
            }
        }
        match self.keys.load_full() {
            // The key may still be missing: that is for the caller to refuse as invalid,
            // unless the last fetch failed, when whether it exists cannot be told.
            Some(keys) if !(state.last_failed && find(&keys, kid, alg).is_none()) => Ok(keys),
            _ => Err(AuthError::KeysUnavailable),
        }
    }

    async fn fetch_keys(&self) -> Result<KeySet, String> {
        let mut response = self
            .http
            .get(self.settings.jwks_url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| e.without_url().to_string())?;
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| e.without_url().to_string())?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!("the JWKS is larger than {MAX_JWKS_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        let keys = parse_jwks(&body)?;
        if keys.is_empty() {
            return Err("the JWKS holds no usable signing key".to_owned());
        }
        Ok(KeySet {
            keys,
            fetched_at: Instant::now(),
        })
    }
}

/// Asymmetric signature algorithms only: HMAC would verify with the public key as the
/// secret, which anyone can read.
fn allowed(alg: Algorithm) -> bool {
    !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

/// The key for a token with `kid` and `alg`: the key of that id, or without an id, the
/// set's only key for `alg`. The key must verify `alg`.
fn find<'a>(keys: &'a KeySet, kid: Option<&str>, alg: Algorithm) -> Option<&'a Key> {
    match kid {
        Some(kid) => keys
            .keys
            .iter()
            .find(|k| k.kid.as_deref() == Some(kid) && k.algorithms.contains(&alg)),
        None => {
            let mut candidates = keys.keys.iter().filter(|k| k.algorithms.contains(&alg));
            match (candidates.next(), candidates.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            }
        }
    }
}

/// The usable signing keys of a JWKS document. Each key is read on its own, so an
/// encryption key or a key type this service does not know (issuers publish both) is
/// skipped rather than failing the whole set.
fn parse_jwks(body: &[u8]) -> Result<Vec<Key>, String> {
    #[derive(serde::Deserialize)]
    struct Document {
        keys: Vec<Value>,
    }
    let document: Document =
        serde_json::from_slice(body).map_err(|_| "the JWKS is not a JSON key set".to_owned())?;
    Ok(document
        .keys
        .into_iter()
        .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
        .filter_map(|jwk| usable_key(&jwk))
        .collect())
}

/// A JWK as a verification key, or `None` if it is not a sound public signing key.
fn usable_key(jwk: &Jwk) -> Option<Key> {
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return None;
    }
    let family: Vec<Algorithm> = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let n = URL_SAFE_NO_PAD.decode(rsa.n.trim_end_matches('=')).ok()?;
            let significant = n.iter().skip_while(|b| **b == 0).count();
            if significant < MIN_RSA_MODULUS {
                return None;
            }
            vec![
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
            ]
        }
        AlgorithmParameters::EllipticCurve(ec) => {
            let (alg, len) = match ec.curve {
                EllipticCurve::P256 => (Algorithm::ES256, 32),
                EllipticCurve::P384 => (Algorithm::ES384, 48),
                _ => return None,
            };
            let x = URL_SAFE_NO_PAD.decode(ec.x.trim_end_matches('=')).ok()?;
            let y = URL_SAFE_NO_PAD.decode(ec.y.trim_end_matches('=')).ok()?;
            if x.len() != len || y.len() != len {
                return None;
            }
            vec![alg]
        }
        AlgorithmParameters::OctetKeyPair(okp) => {
            if okp.curve != EllipticCurve::Ed25519 {
                return None;
            }
            // The verifier slices the key to 32 bytes: anything else must not reach it.
            let x: [u8; 32] = URL_SAFE_NO_PAD
                .decode(okp.x.trim_end_matches('='))
                .ok()?
                .try_into()
                .ok()?;
            let key = ed25519_dalek::VerifyingKey::from_bytes(&x).ok()?;
            if key.is_weak() {
                return None;
            }
            vec![Algorithm::EdDSA]
        }
        // Symmetric keys never verify an operator: see `allowed`.
        _ => return None,
    };
    let algorithms = match &jwk.common.key_algorithm {
        None => family,
        Some(named) => {
            let named: Algorithm = named.to_string().parse().ok()?;
            if !family.contains(&named) {
                return None;
            }
            vec![named]
        }
    };
    Some(Key {
        kid: jwk.common.key_id.clone(),
        decoding: DecodingKey::from_jwk(jwk).ok()?,
        algorithms,
    })
}

/// `preferred_username`, else `email`, else `sub`: the first that is a plain, non-empty
/// string. A name with control characters is refused, since it is written to the audit
/// trail and sent in notifications.
fn operator_name(claims: &Map<String, Value>) -> Option<String> {
    let name = ["preferred_username", "email", "sub"]
        .iter()
        .find_map(|claim| {
            claims
                .get(*claim)?
                .as_str()
                .filter(|s| !s.trim().is_empty())
        })?;
    let plain = name.len() <= MAX_NAME_LEN && !name.chars().any(char::is_control);
    plain.then(|| name.to_owned())
}

/// The roles at `path`: a claim of that exact name (namespaced claims such as
/// `https://example.com/roles` contain dots), else the dotted path into nested objects.
/// A list keeps its strings; one string is one role; anything else is no role.
fn roles(claims: &Map<String, Value>, path: &str) -> Vec<String> {
    let value = claims.get(path).or_else(|| {
        let mut segments = path.split('.');
        let first = claims.get(segments.next()?)?;
        segments.try_fold(first, |value, segment| value.as_object()?.get(segment))
    });
    let mut out: Vec<String> = Vec::new();
    let mut add = |role: &str| {
        if !role.is_empty() && !out.iter().any(|r| r == role) {
            out.push(role.to_owned());
        }
    };
    match value {
        Some(Value::String(role)) => add(role),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).for_each(add),
        _ => {}
    }
    out
}
