//! Decision signing: the Ed25519 key that signs decision tokens, and the JWKS that
//! publishes its public half (plus any previous keys still in rotation).
//!
//! Tokens are compact JWS (`alg: EdDSA`) built here rather than through `jsonwebtoken`'s
//! `encode`, because that re-parses the PKCS#8 key on every call; the key is parsed once at
//! start-up instead. `ed25519-dalek` reads, generates and publishes keys; signing itself goes
//! through `ring` (already linked for TLS), whose Ed25519 signing measured about a fifth
//! faster here, and signing is the largest single cost of an allowed decision (see
//! BENCHMARKS.md). Ed25519 signatures are deterministic, so both give the same bytes (a
//! test checks it). Verification (in our tests) uses `jsonwebtoken`, so the format is checked
//! against an independent implementation.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use ring::signature::Ed25519KeyPair;
use serde::Serialize;
use sha2::{Digest, Sha256};
use warden_protocol::DecisionClaims;

/// Why a key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not an Ed25519 key in PEM.
    #[error(
        "{path} is not an Ed25519 {what} key in PEM (generate one with `policy-service keygen` or `openssl genpkey -algorithm ed25519`)"
    )]
    Format {
        /// The file.
        path: String,
        /// `private` or `public`.
        what: &'static str,
    },
    /// Serialising the token failed (never expected for our claim types).
    #[error("cannot serialise token claims: {0}")]
    Claims(#[from] serde_json::Error),
}

/// One entry of the JWKS (RFC 8037 OKP key).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Jwk {
    /// Always `OKP`.
    pub kty: &'static str,
    /// Always `Ed25519`.
    pub crv: &'static str,
    /// The public key, base64url without padding.
    pub x: String,
    /// RFC 7638 thumbprint of the key: stable, so a restart with the same key keeps its id.
    pub kid: String,
    /// Always `EdDSA`.
    pub alg: &'static str,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: &'static str,
}

/// The JWKS document served at `/.well-known/jwks.json`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Jwks {
    /// The current key first, then keys kept for rotation.
    pub keys: Vec<Jwk>,
}

/// What `/.well-known/jwks.json` serves: the JWKS and, beside its keys, the revocation
/// floor. RFC 7517 §5 lets a JWK set carry members a parser does not know, which it must
/// ignore, so this stays a valid JWKS for standard parsers (`jsonwebtoken::jwk::JwkSet`).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct JwksDocument {
    /// The published keys ([`Jwks::keys`]).
    pub keys: Vec<Jwk>,
    /// `minIat`: the earliest `iat` (seconds since the epoch) of a token still honoured;
    /// the executor refuses older tokens (`token_revoked`). 0 when nothing is revoked.
    #[serde(rename = "minIat")]
    pub min_iat: i64,
}

/// Signs decision tokens with the current key and publishes the verification keys.
pub struct DecisionSigner {
    /// The private key, prepared for `ring`'s signing.
    signing: Ed25519KeyPair,
    kid: String,
    /// `base64url(header)` is the same for every token; computed once.
    encoded_header: String,
    jwks: Jwks,
    ephemeral: bool,
}

impl std::fmt::Debug for DecisionSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("DecisionSigner")
            .field("kid", &self.kid)
            .field("ephemeral", &self.ephemeral)
            .finish_non_exhaustive()
    }
}

impl DecisionSigner {
    /// A signer for a freshly generated key. Tokens it signs stop verifying when the process
    /// exits, so this is for development only (the service warns).
    pub fn ephemeral() -> Self {
        let key = SigningKey::generate(&mut rand_core::OsRng);
        Self::new(key, true, &[])
    }

    /// A signer for the PKCS#8 PEM private key in `path`, also publishing the public keys in
    /// `previous` (PEM `PUBLIC KEY` or `PRIVATE KEY` files) so tokens signed before a rotation
    /// keep verifying until they expire.
    pub fn from_files(path: &Path, previous: &[std::path::PathBuf]) -> Result<Self, KeyError> {
        let key = read_private(path)?;
        let previous = previous
            .iter()
            .map(|p| read_public(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(key, false, &previous))
    }

    fn new(key: SigningKey, ephemeral: bool, previous: &[VerifyingKey]) -> Self {
        let current = jwk(&key.verifying_key());
        let kid = current.kid.clone();
        let header = serde_json::json!({"alg": "EdDSA", "typ": "JWT", "kid": kid});
        let encoded_header = URL_SAFE_NO_PAD.encode(header.to_string());
        let mut keys = vec![current];
        for public in previous {
            let entry = jwk(public);
            if !keys.iter().any(|k| k.kid == entry.kid) {
                keys.push(entry);
            }
        }
        DecisionSigner {
            signing: ring_key(&key),
            kid,
            encoded_header,
            jwks: Jwks { keys },
            ephemeral,
        }
    }

    /// The key id of the signing key (the `kid` header of every token).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Whether the key was generated at start-up.
    pub fn is_ephemeral(&self) -> bool {
        self.ephemeral
    }

    /// The published verification keys.
    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }

    /// The published keys with the revocation floor `min_iat`, as served.
    pub fn jwks_document(&self, min_iat: i64) -> JwksDocument {
        JwksDocument {
            keys: self.jwks.keys.clone(),
            min_iat,
        }
    }

    /// A compact EdDSA JWS over `claims`.
    pub fn sign(&self, claims: &DecisionClaims) -> Result<String, KeyError> {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?);
        let mut token = String::with_capacity(self.encoded_header.len() + payload.len() + 90);
        token.push_str(&self.encoded_header);
        token.push('.');
        token.push_str(&payload);
        let signature = self.signing.sign(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut token);
        Ok(token)
    }
}

/// A new Ed25519 private key as PKCS#8 PEM, for `policy-service keygen`.
pub fn generate_pem() -> Result<String, KeyError> {
    let key = SigningKey::generate(&mut rand_core::OsRng);
    let pem = key
        .to_pkcs8_pem(Default::default())
        .map_err(|_| KeyError::Format {
            path: "<generated>".into(),
            what: "private",
        })?;
    Ok(pem.to_string())
}

/// `key` for `ring`. Both libraries take the same 32-byte seed; `ring` checks that the public
/// key it derives is the one given.
fn ring_key(key: &SigningKey) -> Ed25519KeyPair {
    #[allow(clippy::expect_used)] // a valid dalek key is a valid seed for ring: cannot fail
    Ed25519KeyPair::from_seed_and_public_key(key.as_bytes(), key.verifying_key().as_bytes())
        .expect("ring accepts every Ed25519 seed")
}

fn jwk(public: &VerifyingKey) -> Jwk {
    let x = URL_SAFE_NO_PAD.encode(public.as_bytes());
    // RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace.
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
    Jwk {
        kty: "OKP",
        crv: "Ed25519",
        x,
        kid,
        alg: "EdDSA",
        use_: "sig",
    }
}

fn read(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn read_private(path: &Path) -> Result<SigningKey, KeyError> {
    SigningKey::from_pkcs8_pem(&read(path)?).map_err(|_| KeyError::Format {
        path: path.display().to_string(),
        what: "private",
    })
}

fn read_public(path: &Path) -> Result<VerifyingKey, KeyError> {
    let text = read(path)?;
    if let Ok(key) = VerifyingKey::from_public_key_pem(&text) {
        return Ok(key);
    }
    SigningKey::from_pkcs8_pem(&text)
        .map(|k| k.verifying_key())
        .map_err(|_| KeyError::Format {
            path: path.display().to_string(),
            what: "public",
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};

    fn claims() -> DecisionClaims {
        let now = chrono::Utc::now().timestamp();
        DecisionClaims {
            iss: warden_protocol::TOKEN_ISSUER.into(),
            aud: warden_protocol::TOKEN_AUDIENCE.into(),
            sub: "ai-engine".into(),
            jti: "d-1".into(),
            iat: now,
            nbf: now,
            exp: now + 60,
            act: "restart_pod".into(),
            res: "default/pod/web-1".into(),
            pv: "sha256:00".into(),
            rule: "allow".into(),
            prm: None,
            apr: None,
        }
    }

    #[test]
    fn tokens_verify_with_jsonwebtoken_against_the_published_key() {
        // Arrange
        let signer = DecisionSigner::ephemeral();
        let jwk = &signer.jwks().keys[0];

        // Act
        let token = signer.sign(&claims()).unwrap();

        // Assert
        let header = decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::EdDSA);
        assert_eq!(header.kid.as_deref(), Some(signer.kid()));
        let key = DecodingKey::from_ed_components(&jwk.x).unwrap();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_audience(&[warden_protocol::TOKEN_AUDIENCE]);
        let data = decode::<DecisionClaims>(&token, &key, &validation).unwrap();
        assert_eq!(data.claims, claims_with(&data.claims));
    }

    #[test]
    fn ring_signs_exactly_what_ed25519_dalek_signs() {
        // Arrange
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        let pem = generate_pem().unwrap();
        std::fs::write(&path, &pem).unwrap();
        let signer = DecisionSigner::from_files(&path, &[]).unwrap();
        let key = SigningKey::from_pkcs8_pem(&pem).unwrap();

        // Act
        let token = signer.sign(&claims()).unwrap();

        // Assert
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let expected = ed25519_dalek::Signer::sign(&key, signed.as_bytes());
        assert_eq!(
            URL_SAFE_NO_PAD.decode(signature).unwrap(),
            expected.to_bytes()
        );
    }

    fn claims_with(c: &DecisionClaims) -> DecisionClaims {
        DecisionClaims {
            iat: c.iat,
            nbf: c.nbf,
            exp: c.exp,
            ..claims()
        }
    }

    #[test]
    fn kid_is_the_rfc7638_thumbprint_and_stable_across_loads() {
        // Arrange
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        std::fs::write(&path, generate_pem().unwrap()).unwrap();

        // Act
        let a = DecisionSigner::from_files(&path, &[]).unwrap();
        let b = DecisionSigner::from_files(&path, &[]).unwrap();

        // Assert
        assert_eq!(a.kid(), b.kid());
        assert_eq!(a.kid().len(), 43, "base64url of a SHA-256 digest");
        assert!(!a.is_ephemeral());
    }

    #[test]
    fn previous_keys_are_published_after_the_current_one() {
        // Arrange
        let dir = tempfile::tempdir().unwrap();
        let current = dir.path().join("current.pem");
        let old = dir.path().join("old.pem");
        std::fs::write(&current, generate_pem().unwrap()).unwrap();
        std::fs::write(&old, generate_pem().unwrap()).unwrap();

        // Act
        let signer = DecisionSigner::from_files(&current, &[old.clone(), old]).unwrap();

        // Assert
        assert_eq!(signer.jwks().keys.len(), 2, "duplicates are published once");
        assert_eq!(signer.jwks().keys[0].kid, signer.kid());
    }

    #[test]
    fn the_served_document_is_a_jwks_with_the_floor_beside_the_keys() {
        // Arrange
        let signer = DecisionSigner::ephemeral();

        // Act
        let value = serde_json::to_value(signer.jwks_document(1_700_000_000)).unwrap();

        // Assert
        assert_eq!(value["minIat"], 1_700_000_000);
        let parsed: jsonwebtoken::jwk::JwkSet = serde_json::from_value(value).unwrap();
        assert!(parsed.find(signer.kid()).is_some());
    }

    #[test]
    fn a_non_key_file_is_refused_without_echoing_its_content() {
        // Arrange
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        std::fs::write(&path, "super-secret-not-a-key").unwrap();

        // Act
        let err = DecisionSigner::from_files(&path, &[]).unwrap_err();

        // Assert
        let message = err.to_string();
        assert!(message.contains("not an Ed25519 private key"), "{message}");
        assert!(!message.contains("super-secret"));
    }
}
