//! Decision claims for tests and load drivers: valid ones by default, with a setter for
//! each field a test varies.

use warden_protocol::{
    APPROVAL_AUDIENCE, ApprovalClaims, DecisionClaims, TOKEN_AUDIENCE, TOKEN_ISSUER,
};

/// Builds [`DecisionClaims`]. The defaults are an allowed `restart_pod` of
/// `default/pod/api-pod-12345` for `ai-engine` by `test-rule` of policy `sha256:test`,
/// issued now, valid for 60 seconds, with a fresh UUIDv7 `jti`.
#[derive(Debug, Clone)]
pub struct ClaimsBuilder {
    claims: DecisionClaims,
}

impl Default for ClaimsBuilder {
    fn default() -> Self {
        ClaimsBuilder::new()
    }
}

impl ClaimsBuilder {
    /// Claims with the defaults described on [`ClaimsBuilder`].
    pub fn new() -> ClaimsBuilder {
        let now = chrono::Utc::now().timestamp();
        ClaimsBuilder {
            claims: DecisionClaims {
                iss: TOKEN_ISSUER.into(),
                aud: TOKEN_AUDIENCE.into(),
                sub: "ai-engine".into(),
                jti: uuid::Uuid::now_v7().to_string(),
                iat: now,
                nbf: now,
                exp: now + 60,
                act: "restart_pod".into(),
                res: "default/pod/api-pod-12345".into(),
                pv: "sha256:test".into(),
                rule: "test-rule".into(),
                prm: None,
                apr: None,
            },
        }
    }

    /// The requester (`sub`).
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.claims.sub = subject.into();
        self
    }

    /// The action allowed (`act`).
    pub fn action(mut self, action: impl Into<String>) -> Self {
        self.claims.act = action.into();
        self
    }

    /// The resource allowed (`res`), canonical `namespace/kind/name`.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.claims.res = resource.into();
        self
    }

    /// The policy version (`pv`).
    pub fn policy_version(mut self, version: impl Into<String>) -> Self {
        self.claims.pv = version.into();
        self
    }

    /// The rule that allowed it (`rule`).
    pub fn rule(mut self, rule: impl Into<String>) -> Self {
        self.claims.rule = rule.into();
        self
    }

    /// The decision id (`jti`).
    pub fn decision_id(mut self, jti: impl Into<String>) -> Self {
        self.claims.jti = jti.into();
        self
    }

    /// The issuer (`iss`).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.claims.iss = issuer.into();
        self
    }

    /// The audience (`aud`).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.claims.aud = audience.into();
        self
    }

    /// Issued and valid from `at` (seconds since the epoch), keeping the current lifetime.
    pub fn issued_at(mut self, at: i64) -> Self {
        let lifetime = self.claims.exp - self.claims.iat;
        self.claims.iat = at;
        self.claims.nbf = at;
        self.claims.exp = at + lifetime;
        self
    }

    /// Expires `seconds` after it was issued.
    pub fn valid_for(mut self, seconds: i64) -> Self {
        self.claims.exp = self.claims.iat + seconds;
        self
    }

    /// Not valid before `nbf` (seconds since the epoch).
    pub fn not_before(mut self, nbf: i64) -> Self {
        self.claims.nbf = nbf;
        self
    }

    /// Expires at `exp` (seconds since the epoch).
    pub fn expires_at(mut self, exp: i64) -> Self {
        self.claims.exp = exp;
        self
    }

    /// A `require_approval` decision with these requirements (claim `apr`, audience
    /// [`APPROVAL_AUDIENCE`]).
    pub fn approval(mut self, approval: ApprovalClaims) -> Self {
        self.claims.aud = APPROVAL_AUDIENCE.into();
        self.claims.apr = Some(approval);
        self
    }

    /// The parameter digest (`prm`).
    pub fn params_digest(mut self, digest: impl Into<String>) -> Self {
        self.claims.prm = Some(digest.into());
        self
    }

    /// The claims.
    pub fn build(self) -> DecisionClaims {
        self.claims
    }
}
