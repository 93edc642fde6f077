//! Helpers of the approval tests: operators, approval decisions, and the approval API.

use axum::body::Body;
use axum::http::Request;
use executor_service::AppState;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use warden_protocol::{ApprovalClaims, DecisionClaims, GrantScope, SessionRule};
use warden_test_support::claims::ClaimsBuilder;

use super::{Answer, Harness, send};

/// The people of these tests: (name, roles, token).
pub const OPERATORS: &[(&str, &str, &str)] = &[
    (
        "alice",
        "operator",
        "alice-token-0123456789abcdef0123456789",
    ),
    ("bob", "operator", "bob-token-0123456789abcdef0123456789ab"),
    ("carol", "viewer", "carol-token-0123456789abcdef0123456789"),
    // Named like the requester: an AI engine must not approve its own request.
    (
        "ai-engine",
        "operator",
        "engine-op-token-0123456789abcdef012345",
    ),
];

/// The token of operator `name`.
pub fn token(name: &str) -> &'static str {
    OPERATORS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, t)| *t)
        .unwrap()
}

/// `EXECUTOR_OPERATORS` for [`OPERATORS`] and `extra` more `(name, role)` operators whose
/// token is `<name>-token-0123456789abcdef0123456789`.
pub fn operators_var(extra: &[(String, &str)]) -> String {
    let mut entries: Vec<String> = OPERATORS
        .iter()
        .map(|(name, roles, token)| format!("{name}:{roles}:{}", sha(token)))
        .collect();
    for (name, role) in extra {
        entries.push(format!("{name}:{role}:{}", sha(&extra_token(name))));
    }
    entries.join(",")
}

/// The token of an `extra` operator of [`operators_var`].
pub fn extra_token(name: &str) -> String {
    format!("{name}-token-0123456789abcdef0123456789")
}

fn sha(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A harness whose executor knows [`OPERATORS`].
pub async fn harness(pool: sqlx::PgPool) -> Harness {
    Harness::new(pool, &[("EXECUTOR_OPERATORS", &operators_var(&[]))]).await
}

/// Approval requirements: `approvers` people with role operator, expiring after
/// `expires_in` seconds, and a session up to `session` for an hour if given.
pub fn requirements(
    approvers: u32,
    expires_in: u64,
    session: Option<GrantScope>,
) -> ApprovalClaims {
    ApprovalClaims {
        approvers,
        roles: vec!["operator".into()],
        expires_in,
        session: session.map(|scope| SessionRule {
            scope,
            max_ttl: 3600,
        }),
    }
}

/// Claims of a `require_approval` decision for `action` on `resource` by `subject`.
pub fn approval_claims(
    action: &str,
    resource: &str,
    subject: &str,
    apr: ApprovalClaims,
) -> DecisionClaims {
    ClaimsBuilder::new()
        .action(action)
        .resource(resource)
        .subject(subject)
        .rule("approve-test")
        .approval(apr)
        .build()
}

impl Harness {
    /// The `policyDecision` the policy service returns for approval `claims`.
    pub fn approval_decision(&self, claims: &DecisionClaims) -> Value {
        json!({
            "allowed": false,
            "decision": "require_approval",
            "reason": "a person must agree",
            "matchedRule": claims.rule,
            "decisionId": claims.jti,
            "policyVersion": claims.pv,
            "expiresAt": "2099-01-01T00:00:00Z",
            "action": claims.act,
            "resource": claims.res,
            "subject": claims.sub,
            "approval": claims.apr,
            "token": self.signer.sign(claims).unwrap(),
        })
    }

    /// A signed request from `ai-engine` to restart `namespace/pod/name`, on a
    /// `require_approval` decision with `apr`.
    pub fn restart_needing_approval(
        &self,
        namespace: &str,
        name: &str,
        apr: ApprovalClaims,
    ) -> String {
        let claims = approval_claims(
            "restart_pod",
            &format!("{namespace}/pod/{name}"),
            "ai-engine",
            apr,
        );
        self.request_with(
            "restart_pod",
            json!({"namespace": namespace, "podName": name}),
            self.approval_decision(&claims),
        )
    }

    /// Executes `body`, expecting the 202 of a new approval request; returns its id.
    pub async fn request_approval(&self, body: &str) -> String {
        let answer = self.execute(body).await;
        assert_eq!(answer.status, 202, "{}", answer.body);
        assert_eq!(answer.body["status"], "awaiting_approval");
        assert_eq!(answer.body["code"], "approval_required");
        answer.body["approvalId"].as_str().unwrap().to_owned()
    }

    /// The changes the fake cluster saw.
    pub fn mutations(&self) -> usize {
        self.kube.mutations().len()
    }
}

/// `POST /executor/approvals/{id}/approve` by `token` on `state`.
pub async fn approve(state: &AppState, id: &str, token: &str, body: Value) -> Answer {
    post(
        state,
        &format!("/executor/approvals/{id}/approve"),
        token,
        body,
    )
    .await
}

/// `POST /executor/approvals/{id}/deny` by `token` on `state`.
pub async fn deny(state: &AppState, id: &str, token: &str, comment: &str) -> Answer {
    post(
        state,
        &format!("/executor/approvals/{id}/deny"),
        token,
        json!({"comment": comment}),
    )
    .await
}

async fn post(state: &AppState, path: &str, token: &str, body: Value) -> Answer {
    let request = Request::post(path)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(body.to_string()))
        .unwrap();
    send(state, request).await
}

/// `GET path` by `token` on `state`.
pub async fn get(state: &AppState, path: &str, token: &str) -> Answer {
    super::get_on(state, path, Some(token)).await
}

/// `DELETE path` by `token` on `state`.
pub async fn delete(state: &AppState, path: &str, token: &str) -> Answer {
    let request = Request::delete(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    send(state, request).await
}
