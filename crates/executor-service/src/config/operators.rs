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

/// The default of `EXECUTOR_OIDC_ROLES_CLAIM`.
pub const DEFAULT_ROLES_CLAIM: &str = "roles";

/// The identity of `EXECUTOR_ADMIN_TOKEN`, which no static operator may take.
pub const ADMIN_NAME: &str = "admin";

const OPERATORS: &str = "EXECUTOR_OPERATORS";
const FORM: &str = "name:role+role:SHA256HEX,...";
/// Why a client's secret is refused as a person's token, in every such message.
const CLIENT_SECRET: &str = "a client's HMAC secret can never approve";

/// Reads [`OperatorSettings`]. `secrets` are the clients' HMAC secrets: an operator token
/// equal to one of them is refused, since a client must never be able to approve.
pub(super) fn operator_settings(
    get: &impl Fn(&str) -> Option<String>,
    secrets: &Secrets,
    admin: Option<AdminToken>,
) -> Result<OperatorSettings, ConfigError> {
    if let Some(admin) = &admin
        && secrets.is_digest_of_a_secret(admin.digest())
    {
        return Err(ConfigError::new(
            "EXECUTOR_ADMIN_TOKEN",
            format!(
                "equals a client's HMAC secret (JWT_SECRET or EXECUTOR_CLIENT_SECRETS): {CLIENT_SECRET}; use a token of its own"
            ),
        ));
    }
    let tokens = match get(OPERATORS) {
        None => Vec::new(),
        Some(raw) => static_operators(&raw, secrets, admin.as_ref())?,
    };
    Ok(OperatorSettings {
        tokens,
        oidc: oidc_settings(get)?,
        admin,
    })
}

/// `EXECUTOR_OPERATORS`. Errors name an entry by its name once that name is known to be
/// valid (by its position before), and never show a digest.
fn static_operators(
    raw: &str,
    secrets: &Secrets,
    admin: Option<&AdminToken>,
) -> Result<Vec<StaticOperator>, ConfigError> {
    let err = |message: String| ConfigError::new(OPERATORS, message);
    let mut out: Vec<StaticOperator> = Vec::new();
    for (i, entry) in raw.split(',').map(str::trim).enumerate() {
        let position = i + 1;
        if entry.is_empty() {
            return Err(err(format!("entry {position} is empty (expected {FORM})")));
        }
        let parts: Vec<&str> = entry.split(':').map(str::trim).collect();
        let [name, roles, digest] = parts.as_slice() else {
            return Err(err(format!(
                "entry {position} is not three `:`-separated parts (expected {FORM})"
            )));
        };
        if !is_name(name) {
            return Err(err(format!(
                "entry {position}: the name must be visible ASCII characters without `:` or `,` (expected {FORM})"
            )));
        }
        let who = format!("operator `{name}`");
        if out.iter().any(|o| o.name.eq_ignore_ascii_case(name)) {
            return Err(err(format!("{who} appears twice")));
        }
        if admin.is_some() && name.eq_ignore_ascii_case(ADMIN_NAME) {
            return Err(err(format!(
                "{who}: `{ADMIN_NAME}` is the identity of EXECUTOR_ADMIN_TOKEN; choose another name"
            )));
        }
        let roles = parse_roles(roles).ok_or_else(|| {
            err(format!(
                "{who}: expected roles like `operator` or `operator+admin` (letters, digits, `_`, `.` and `-`, joined by `+`)"
            ))
        })?;
        let digest = parse_digest(digest).ok_or_else(|| {
            err(format!(
                "{who}: expected the token's SHA-256 as 64 hex characters (`printf %s \"$TOKEN\" | sha256sum`), not the token itself"
            ))
        })?;
        if secrets.is_digest_of_a_secret(&digest) {
            return Err(err(format!(
                "{who}: the token is a client's HMAC secret (JWT_SECRET or EXECUTOR_CLIENT_SECRETS): {CLIENT_SECRET}"
            )));
        }
        if admin.is_some_and(|a| a.matches_digest(&digest)) {
            return Err(err(format!(
                "{who}: the token is EXECUTOR_ADMIN_TOKEN; give each person a token of their own"
            )));
        }
        if let Some(other) = out.iter().find(|o| o.digest == digest) {
            return Err(err(format!(
                "operators `{}` and `{name}` have the same token; give each person a token of their own",
                other.name
            )));
        }
        out.push(StaticOperator {
            name: (*name).to_owned(),
            roles,
            digest,
        });
    }
    Ok(out)
}

/// Visible ASCII without the list's separators.
fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b':' && b != b',')
}

/// `role+role`: each `[A-Za-z0-9_.-]+`, repeats dropped, order kept.
fn parse_roles(raw: &str) -> Option<Vec<String>> {
    let mut roles: Vec<String> = Vec::new();
    for role in raw.split('+') {
        let valid = !role.is_empty()
            && role
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !valid {
            return None;
        }
        if !roles.iter().any(|r| r == role) {
            roles.push(role.to_owned());
        }
    }
    Some(roles)
}

/// Exactly 64 hex characters, either case.
fn parse_digest(raw: &str) -> Option<[u8; 32]> {
    if raw.len() != 64 {
        return None;
    }
    let mut digest = [0u8; 32];
    hex::decode_to_slice(raw, &mut digest).ok()?;
    Some(digest)
}

/// `EXECUTOR_OIDC_*`: all of issuer, audience and JWKS URL, or none of them.
fn oidc_settings(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<OidcSettings>, ConfigError> {
    const SET: [&str; 3] = [
        "EXECUTOR_OIDC_ISSUER",
        "EXECUTOR_OIDC_AUDIENCE",
        "EXECUTOR_OIDC_JWKS_URL",
    ];
    let values = SET.map(|var| get(var).map(|v| v.trim().to_owned()));
    let [Some(issuer), Some(audience), Some(jwks_url)] = values.clone() else {
        let Some(present) = SET.iter().zip(&values).find(|(_, v)| v.is_some()) else {
            return Ok(None);
        };
        let missing = SET
            .iter()
            .zip(&values)
            .find(|(_, v)| v.is_none())
            .map_or(SET[0], |(var, _)| *var);
        return Err(ConfigError::new(
            missing,
            format!(
                "required because {} is set: set all of EXECUTOR_OIDC_ISSUER, EXECUTOR_OIDC_AUDIENCE and EXECUTOR_OIDC_JWKS_URL, or none",
                present.0
            ),
        ));
    };
    for (var, value) in [(SET[0], &issuer), (SET[1], &audience)] {
        if value.chars().any(char::is_whitespace) {
            return Err(ConfigError::new(
                var,
                "must not contain spaces: tokens carry it verbatim",
            ));
        }
    }
    let jwks_url = jwks(&jwks_url)?;
    let roles_claim = get("EXECUTOR_OIDC_ROLES_CLAIM")
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| DEFAULT_ROLES_CLAIM.to_owned());
    let claim_ok = !roles_claim.chars().any(char::is_whitespace)
        && roles_claim.split('.').all(|segment| !segment.is_empty());
    if !claim_ok {
        return Err(ConfigError::new(
            "EXECUTOR_OIDC_ROLES_CLAIM",
            "expected a claim name or a dotted path to one, like `roles` or `realm_access.roles`",
        ));
    }
    Ok(Some(OidcSettings {
        issuer,
        audience,
        jwks_url,
        roles_claim,
    }))
}

/// `EXECUTOR_OIDC_JWKS_URL`: an `http://` or `https://` URL with a host and no credentials.
fn jwks(raw: &str) -> Result<reqwest::Url, ConfigError> {
    let var = "EXECUTOR_OIDC_JWKS_URL";
    let expected = "expected the issuer's http:// or https:// JWKS URL, like https://idp.example.com/realms/ops/protocol/openid-connect/certs";
    let url = reqwest::Url::parse(raw).map_err(|_| ConfigError::new(var, expected))?;
    let ok = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|h| !h.is_empty())
        && url.username().is_empty()
        && url.password().is_none()
        && !raw.chars().any(char::is_whitespace);
    if ok {
        Ok(url)
    } else {
        Err(ConfigError::new(var, expected))
    }
}
