//! Who may decide approval requests: static operator tokens (`EXECUTOR_OPERATORS`, kept
//! as SHA-256 digests), an OIDC issuer (`EXECUTOR_OIDC_*`), and `EXECUTOR_ADMIN_TOKEN`
//! (the identity `admin`, roles `admin` and `operator`).

use super::{AdminToken, ConfigError, Secrets};

/// The variables of [`OperatorSettings`] (besides `EXECUTOR_ADMIN_TOKEN`).
pub const VARS: &[&str] = &[
    "EXECUTOR_OPERATORS",
    "EXECUTOR_OIDC_ISSUER",
    "EXECUTOR_OIDC_AUDIENCE",
    "EXECUTOR_OIDC_JWKS_URL",
    "EXECUTOR_OIDC_ROLES_CLAIM",
];

/// One `name:role+role:SHA256HEX` entry of `EXECUTOR_OPERATORS`.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticOperator {
    /// The person's name, recorded on every decision.
    pub name: String,
    /// Their roles.
    pub roles: Vec<String>,
    /// SHA-256 of their bearer token.
    pub digest: [u8; 32],
}

impl std::fmt::Debug for StaticOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticOperator")
            .field("name", &self.name)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// An OIDC issuer whose ID or access tokens identify operators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcSettings {
    /// `EXECUTOR_OIDC_ISSUER`: the `iss` tokens must carry.
    pub issuer: String,
    /// `EXECUTOR_OIDC_AUDIENCE`: an `aud` tokens must carry.
    pub audience: String,
    /// `EXECUTOR_OIDC_JWKS_URL`: where the issuer's keys are.
    pub jwks_url: reqwest::Url,
    /// `EXECUTOR_OIDC_ROLES_CLAIM`: the (dotted) claim holding the roles, default `roles`.
    pub roles_claim: String,
}

/// Every source of operator identities.
#[derive(Clone, Debug, Default)]
pub struct OperatorSettings {
    /// `EXECUTOR_OPERATORS`.
    pub tokens: Vec<StaticOperator>,
    /// `EXECUTOR_OIDC_*`, when the issuer is set.
    pub oidc: Option<OidcSettings>,
    /// `EXECUTOR_ADMIN_TOKEN`: the identity `admin`.
    pub admin: Option<AdminToken>,
}

impl OperatorSettings {
    /// Whether any operator can authenticate (else the approval API does not exist).
    pub fn any(&self) -> bool {
        !self.tokens.is_empty() || self.oidc.is_some() || self.admin.is_some()
    }
}

/// Reads [`OperatorSettings`]. `secrets` are the clients' HMAC secrets: an operator token
/// equal to one of them is refused, since a client must never be able to approve.
pub(super) fn operator_settings(
    _get: &impl Fn(&str) -> Option<String>,
    _secrets: &Secrets,
    admin: Option<AdminToken>,
) -> Result<OperatorSettings, ConfigError> {
    Ok(OperatorSettings {
        tokens: Vec::new(),
        oidc: None,
        admin,
    })
}
