//! The credentials of the configuration: the HMAC secrets clients sign with and the audit
//! API's admin token, each checked once at start-up and kept so that no `Debug`, log or
//! error can print them.

use std::collections::HashMap;

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::{ConfigError, MIN_SECRET_LEN};

/// The HMAC secrets clients sign with.
#[derive(Clone)]
pub struct Secrets {
    default: Vec<u8>,
    per_client: HashMap<String, Vec<u8>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: the secrets themselves never reach a log.
        let mut clients: Vec<_> = self.per_client.keys().collect();
        clients.sort();
        f.debug_struct("Secrets")
            .field("clients", &clients)
            .finish()
    }
}

impl Secrets {
    /// Secrets from a default and `(client, secret)` pairs.
    pub fn new(
        default: impl Into<Vec<u8>>,
        per_client: impl IntoIterator<Item = (String, Vec<u8>)>,
    ) -> Self {
        Secrets {
            default: default.into(),
            per_client: per_client.into_iter().collect(),
        }
    }

    /// The secret `client` signs with: its own, or `JWT_SECRET`.
    pub fn for_client(&self, client: &str) -> &[u8] {
        self.per_client
            .get(client)
            .map_or(&self.default, Vec::as_slice)
    }

    /// Whether `digest` is the SHA-256 of `JWT_SECRET` or of any client's own secret.
    /// Every secret is compared, in constant time, with no early exit: start-up uses it to
    /// refuse a person's token that a client could also present.
    pub fn is_digest_of_a_secret(&self, digest: &[u8; 32]) -> bool {
        let mut found = subtle::Choice::from(0);
        for secret in std::iter::once(&self.default).chain(self.per_client.values()) {
            let own: [u8; 32] = Sha256::digest(secret).into();
            found |= own.ct_eq(digest);
        }
        bool::from(found)
    }
}

/// Shortest `EXECUTOR_ADMIN_TOKEN` accepted: long enough that guessing is hopeless.
pub const MIN_ADMIN_TOKEN_LEN: usize = 32;

/// `EXECUTOR_ADMIN_TOKEN`, the bearer token of the audit API. Only its SHA-256 digest is
/// kept: [`AdminToken::verify`] compares digests in constant time, so neither the token's
/// bytes nor its length leak through timing, and no `Debug` or log can print it.
#[derive(Clone)]
pub struct AdminToken {
    digest: [u8; 32],
}

impl AdminToken {
    /// The token `token` (validation is [`Config::from_lookup`](super::Config::from_lookup)'s job).
    pub fn new(token: &str) -> Self {
        AdminToken {
            digest: Sha256::digest(token.as_bytes()).into(),
        }
    }

    /// Whether `presented` is the token, in time independent of where they differ.
    pub fn verify(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        bool::from(self.digest.ct_eq(&presented))
    }

    /// Whether `digest` is the token's SHA-256, in constant time (for callers that hash a
    /// presented token once and compare it with several).
    pub fn matches_digest(&self, digest: &[u8; 32]) -> bool {
        bool::from(self.digest.ct_eq(digest))
    }

    /// The token's SHA-256, for the start-up checks against the clients' secrets.
    pub(super) fn digest(&self) -> &[u8; 32] {
        &self.digest
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// Validates `EXECUTOR_ADMIN_TOKEN` (surrounding whitespace, e.g. the newline of a secret
/// file, is dropped). Visible ASCII only: anything else could never be sent in an
/// `Authorization` header, so such a token would lock everyone out. The message never
/// echoes the value.
pub(super) fn admin_token(raw: &str) -> Result<AdminToken, ConfigError> {
    let token = raw.trim();
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConfigError::new(
            "EXECUTOR_ADMIN_TOKEN",
            "expected visible ASCII characters only (no spaces), e.g. `openssl rand -hex 32`",
        ));
    }
    if token.len() < MIN_ADMIN_TOKEN_LEN {
        return Err(ConfigError::new(
            "EXECUTOR_ADMIN_TOKEN",
            format!(
                "too short: at least {MIN_ADMIN_TOKEN_LEN} characters, e.g. `openssl rand -hex 32`"
            ),
        ));
    }
    Ok(AdminToken::new(token))
}

/// `EXECUTOR_CLIENT_SECRETS`: the list rules of
/// [`warden_service_kit::config::parse_named_list`], and each secret as long as
/// `JWT_SECRET` must be. Errors name the client, never the secret.
pub(super) fn parse_client_secrets(raw: &str) -> Result<Vec<(String, Vec<u8>)>, ConfigError> {
    let var = "EXECUTOR_CLIENT_SECRETS";
    let pairs = warden_service_kit::config::parse_named_list(var, raw, "client=secret,...")?;
    let mut out = Vec::with_capacity(pairs.len());
    for (client, secret) in pairs {
        if secret.len() < MIN_SECRET_LEN {
            return Err(ConfigError::new(
                var,
                format!(
                    "the secret of client `{client}` is too short: at least {MIN_SECRET_LEN} bytes, e.g. `openssl rand -hex 32`"
                ),
            ));
        }
        out.push((client, secret.into_bytes()));
    }
    Ok(out)
}
