//! Operator identities from the configuration: `EXECUTOR_OPERATORS` (static tokens kept as
//! SHA-256 digests), `EXECUTOR_ADMIN_TOKEN` and the `EXECUTOR_OIDC_*` set.
//!
//! - every bad `EXECUTOR_OPERATORS` form, a partial OIDC set and a bad JWKS URL refuse to
//!   start, naming the variable and the entry, never a secret or a digest;
//! - a person's token (or the admin token) equal to a client's HMAC secret is refused:
//!   a client can never approve;
//! - over real HTTP (a small route calling [`Operators::authenticate`] on 127.0.0.1),
//!   static tokens and the admin token authenticate, anything else is a JSON 401.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use executor_service::config::{Config, ConfigError};
use executor_service::operators::{AuthError, AuthMethod, Operator, Operators};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio::net::TcpListener;

const KEYS: &[&str] = &["restart", "scale", "rollout_restart"];
const JWT_SECRET: &str = "client-secret-0123456789abcdef-0123456789";
const CLIENT_SECRET: &str = "ai-engine-own-secret-0123456789abcdef";
const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef-0123456789";
const ALICE_TOKEN: &str = "alice-token-0123456789abcdef";
const BOB_TOKEN: &str = "bob-token-0123456789abcdef";

fn sha(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The configuration read from the base settings with `vars` on top.
fn read(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut map: HashMap<String, String> = [
        ("DATABASE_URL", "postgres://unused-in-tests"),
        ("JWT_SECRET", JWT_SECRET),
        (
            "EXECUTOR_CLIENT_SECRETS",
            &format!("ai-engine={CLIENT_SECRET}"),
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in vars {
        map.insert(k.to_string(), v.to_string());
    }
    Config::from_lookup(|name| map.get(name).cloned(), KEYS)
}

fn refusal(vars: &[(&str, &str)]) -> ConfigError {
    read(vars).expect_err("expected the settings to be refused")
}

/// `alice` (operator) and `bob` (operator and admin).
fn two_operators() -> String {
    format!(
        "alice:operator:{},bob:operator+admin:{}",
        sha(ALICE_TOKEN),
        sha(BOB_TOKEN).to_uppercase()
    )
}

// ---------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------

#[test]
fn static_operators_are_read_with_their_roles_and_digests() {
    // Arrange
    let list = format!(
        " {} , carol : approver+sre.oncall-1 : {} ",
        two_operators(),
        sha("c")
    );

    // Act
    let config = read(&[("EXECUTOR_OPERATORS", &list)]).unwrap();

    // Assert
    let tokens = &config.operators.tokens;
    assert_eq!(tokens.len(), 3);
    assert_eq!(tokens[0].name, "alice");
    assert_eq!(tokens[0].roles, ["operator"]);
    assert_eq!(
        tokens[0].digest,
        <[u8; 32]>::from(Sha256::digest(ALICE_TOKEN))
    );
    assert_eq!(tokens[1].roles, ["operator", "admin"]);
    assert_eq!(
        tokens[1].digest,
        <[u8; 32]>::from(Sha256::digest(BOB_TOKEN))
    );
    assert_eq!(tokens[2].name, "carol");
    assert_eq!(tokens[2].roles, ["approver", "sre.oncall-1"]);
    assert!(config.operators.any());
    assert!(config.operators.oidc.is_none());
    let shown = format!("{:?}", config.operators);
    assert!(!shown.contains(&sha(ALICE_TOKEN)), "{shown}");
}

#[test]
fn no_operator_source_means_no_approval_api() {
    // Act
    let config = read(&[
        ("EXECUTOR_OPERATORS", ""),
        ("EXECUTOR_OIDC_ROLES_CLAIM", "roles"),
    ])
    .unwrap();

    // Assert
    assert!(config.operators.tokens.is_empty());
    assert!(!config.operators.any());
    assert!(!Operators::new(&config.operators).any());
}

#[test]
fn each_bad_operator_entry_is_named_without_its_digest() {
    // Arrange
    let good = sha(ALICE_TOKEN);
    let other = sha(BOB_TOKEN);
    let cases: Vec<(String, &str)> = vec![
        (format!("alice:operator:{good},"), "entry 2 is empty"),
        (format!(",alice:operator:{good}"), "entry 1 is empty"),
        (format!("alice:{good}"), "entry 1 is not three"),
        (format!("alice:operator:x:{good}"), "entry 1 is not three"),
        (format!(":operator:{good}"), "entry 1: the name"),
        (format!("al ice:operator:{good}"), "entry 1: the name"),
        (format!("alicé:operator:{good}"), "entry 1: the name"),
        (
            format!("alice:operator:{good},Alice:operator:{other}"),
            "operator `Alice` appears twice",
        ),
        (format!("alice::{good}"), "operator `alice`: expected roles"),
        (
            format!("alice:operator+:{good}"),
            "operator `alice`: expected roles",
        ),
        (
            format!("alice:op erator:{good}"),
            "operator `alice`: expected roles",
        ),
        (
            format!("alice:op/erator:{good}"),
            "operator `alice`: expected roles",
        ),
        (
            format!("alice:operator:{}", &good[1..]),
            "operator `alice`: expected the token's SHA-256 as 64 hex characters",
        ),
        (
            format!("alice:operator:{}g", &good[1..]),
            "operator `alice`: expected the token's SHA-256",
        ),
        (
            format!("alice:operator:{ALICE_TOKEN}"),
            "not the token itself",
        ),
        (
            format!("alice:operator:{good},bob:admin:{good}"),
            "operators `alice` and `bob` have the same token",
        ),
    ];

    for (value, says) in cases {
        // Act
        let err = refusal(&[("EXECUTOR_OPERATORS", &value)]);

        // Assert
        assert_eq!(err.var, "EXECUTOR_OPERATORS", "{value}");
        let message = err.to_string();
        assert!(message.contains(says), "{value}: {message}");
        assert!(!message.contains(&good[1..20]), "{value}: {message}");
        assert!(!message.contains(ALICE_TOKEN), "{value}: {message}");
    }
}

#[test]
fn a_clients_secret_can_never_be_an_operator_token() {
    for (name, secret) in [("jwt", JWT_SECRET), ("client", CLIENT_SECRET)] {
        // Act
        let err = refusal(&[(
            "EXECUTOR_OPERATORS",
            &format!("mallory:operator:{}", sha(secret)),
        )]);

        // Assert
        assert_eq!(err.var, "EXECUTOR_OPERATORS", "{name}");
        let message = err.to_string();
        assert!(message.contains("operator `mallory`"), "{message}");
        assert!(
            message.contains("a client's HMAC secret can never approve"),
            "{message}"
        );
        assert!(!message.contains(secret), "{message}");
        assert!(!message.contains(&sha(secret)), "{message}");
    }
}

#[test]
fn the_admin_token_is_its_own_identity() {
    // Act
    let same_as_client = refusal(&[("EXECUTOR_ADMIN_TOKEN", JWT_SECRET)]);
    let same_as_own_client = refusal(&[("EXECUTOR_ADMIN_TOKEN", CLIENT_SECRET)]);
    let named_admin = refusal(&[
        ("EXECUTOR_ADMIN_TOKEN", ADMIN_TOKEN),
        (
            "EXECUTOR_OPERATORS",
            &format!("admin:operator:{}", sha(ALICE_TOKEN)),
        ),
    ]);
    let admin_token_as_operator = refusal(&[
        ("EXECUTOR_ADMIN_TOKEN", ADMIN_TOKEN),
        (
            "EXECUTOR_OPERATORS",
            &format!("alice:operator:{}", sha(ADMIN_TOKEN)),
        ),
    ]);
    let admin_name_without_admin_token = read(&[(
        "EXECUTOR_OPERATORS",
        &format!("admin:operator:{}", sha(ALICE_TOKEN)),
    )]);

    // Assert
    for err in [&same_as_client, &same_as_own_client] {
        assert_eq!(err.var, "EXECUTOR_ADMIN_TOKEN");
        assert!(
            err.message
                .contains("a client's HMAC secret can never approve"),
            "{err}"
        );
        assert!(!err.message.contains(JWT_SECRET), "{err}");
        assert!(!err.message.contains(CLIENT_SECRET), "{err}");
    }
    assert_eq!(named_admin.var, "EXECUTOR_OPERATORS");
    assert!(
        named_admin
            .message
            .contains("`admin` is the identity of EXECUTOR_ADMIN_TOKEN"),
        "{named_admin}"
    );
    assert_eq!(admin_token_as_operator.var, "EXECUTOR_OPERATORS");
    assert!(
        admin_token_as_operator
            .message
            .contains("the token is EXECUTOR_ADMIN_TOKEN"),
        "{admin_token_as_operator}"
    );
    assert!(!admin_token_as_operator.message.contains(ADMIN_TOKEN));
    assert_eq!(
        admin_name_without_admin_token.unwrap().operators.tokens[0].name,
        "admin"
    );
}

#[test]
fn oidc_is_all_three_of_issuer_audience_and_jwks_url_or_none() {
    // Arrange
    let issuer = ("EXECUTOR_OIDC_ISSUER", "https://idp.example.com/realms/ops");
    let audience = ("EXECUTOR_OIDC_AUDIENCE", "warden");
    let jwks = ("EXECUTOR_OIDC_JWKS_URL", "https://idp.example.com/certs");

    // Act
    let full = read(&[issuer, audience, jwks]).unwrap();
    let keycloak = read(&[
        issuer,
        audience,
        jwks,
        ("EXECUTOR_OIDC_ROLES_CLAIM", "realm_access.roles"),
    ])
    .unwrap();
    let partial = [
        (vec![issuer], "EXECUTOR_OIDC_AUDIENCE"),
        (vec![issuer, audience], "EXECUTOR_OIDC_JWKS_URL"),
        (vec![audience, jwks], "EXECUTOR_OIDC_ISSUER"),
        (vec![jwks], "EXECUTOR_OIDC_ISSUER"),
        (vec![issuer, jwks], "EXECUTOR_OIDC_AUDIENCE"),
    ]
    .map(|(vars, missing)| (refusal(&vars), missing));

    // Assert
    let oidc = full.operators.oidc.as_ref().unwrap();
    assert_eq!(oidc.issuer, "https://idp.example.com/realms/ops");
    assert_eq!(oidc.audience, "warden");
    assert_eq!(oidc.jwks_url.as_str(), "https://idp.example.com/certs");
    assert_eq!(oidc.roles_claim, "roles");
    assert!(full.operators.any());
    assert_eq!(
        keycloak.operators.oidc.unwrap().roles_claim,
        "realm_access.roles"
    );
    for (err, missing) in partial {
        assert_eq!(err.var, missing, "{err}");
        assert!(err.message.contains("required because"), "{err}");
    }
}

#[test]
fn bad_oidc_values_name_their_variable() {
    // Arrange
    let base = [
        ("EXECUTOR_OIDC_ISSUER", "https://idp.example.com"),
        ("EXECUTOR_OIDC_AUDIENCE", "warden"),
        ("EXECUTOR_OIDC_JWKS_URL", "https://idp.example.com/certs"),
    ];
    let cases = [
        ("EXECUTOR_OIDC_JWKS_URL", "ftp://idp.example.com/certs"),
        ("EXECUTOR_OIDC_JWKS_URL", "idp.example.com/certs"),
        (
            "EXECUTOR_OIDC_JWKS_URL",
            "https://user:pw@idp.example.com/certs",
        ),
        ("EXECUTOR_OIDC_ISSUER", "https://idp example"),
        ("EXECUTOR_OIDC_AUDIENCE", "war den"),
        ("EXECUTOR_OIDC_ROLES_CLAIM", "realm_access..roles"),
        ("EXECUTOR_OIDC_ROLES_CLAIM", ".roles"),
    ];

    for (var, value) in cases {
        let mut vars = base.to_vec();
        vars.retain(|(k, _)| *k != var);
        vars.push((var, value));

        // Act
        let err = refusal(&vars);

        // Assert
        assert_eq!(err.var, var, "{value}");
        assert!(!err.message.contains("pw@"), "{err}");
    }
}

// ---------------------------------------------------------------------------------------
// Authentication over HTTP
// ---------------------------------------------------------------------------------------

/// A route answering who the caller is, as the approval API would: the operator, or the
/// error's code as JSON with 401 (503 when the keys are unavailable).
async fn whoami(State(operators): State<Operators>, headers: HeaderMap) -> Response {
    match operators.authenticate(&headers).await {
        Ok(operator) => Json(operator).into_response(),
        Err(err) => {
            let status = match err {
                AuthError::KeysUnavailable => StatusCode::SERVICE_UNAVAILABLE,
                AuthError::Missing | AuthError::Invalid => StatusCode::UNAUTHORIZED,
            };
            (
                status,
                Json(json!({"error": err.code(), "message": err.to_string()})),
            )
                .into_response()
        }
    }
}

/// Serves [`whoami`] for `operators` on a loopback port; returns its URL.
async fn serve(operators: Operators) -> String {
    let router = axum::Router::new()
        .route("/whoami", axum::routing::get(whoami))
        .with_state(operators);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/whoami", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

async fn ask(url: &str, authorization: &[&str]) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().get(url);
    for value in authorization {
        request = request.header("authorization", *value);
    }
    let response = request.send().await.unwrap();
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
    (status, response.json().await.unwrap())
}

async fn static_server() -> String {
    let config = read(&[
        ("EXECUTOR_OPERATORS", &two_operators()),
        ("EXECUTOR_ADMIN_TOKEN", ADMIN_TOKEN),
    ])
    .unwrap();
    serve(Operators::new(&config.operators)).await
}

#[tokio::test]
async fn static_tokens_and_the_admin_token_authenticate() {
    // Arrange
    let url = static_server().await;

    // Act
    let alice = ask(&url, &[&format!("Bearer {ALICE_TOKEN}")]).await;
    let bob = ask(&url, &[&format!("bearer   {BOB_TOKEN} ")]).await;
    let admin = ask(&url, &[&format!("Bearer {ADMIN_TOKEN}")]).await;

    // Assert
    assert_eq!(alice.0, StatusCode::OK);
    assert_eq!(
        alice.1,
        json!({"name": "alice", "roles": ["operator"], "method": "token"})
    );
    assert_eq!(
        bob.1,
        json!({"name": "bob", "roles": ["operator", "admin"], "method": "token"})
    );
    assert_eq!(
        admin.1,
        json!({"name": "admin", "roles": ["admin", "operator"], "method": "admin"})
    );
}

#[tokio::test]
async fn anything_but_a_known_token_is_a_json_401() {
    // Arrange
    let url = static_server().await;
    let jwt_like = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln";
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![], "unauthenticated"),
        (vec![format!("Basic {ALICE_TOKEN}")], "unauthenticated"),
        (vec!["Bearer".to_owned()], "unauthenticated"),
        (vec!["Bearer    ".to_owned()], "unauthenticated"),
        (vec![ALICE_TOKEN.to_owned()], "unauthenticated"),
        (
            vec!["Bearer nobody-knows-this-token".to_owned()],
            "invalid_credentials",
        ),
        (
            vec![format!("Bearer {}", &ALICE_TOKEN[1..])],
            "invalid_credentials",
        ),
        (
            vec![format!("Bearer {ALICE_TOKEN}x")],
            "invalid_credentials",
        ),
        (vec![format!("Bearer {JWT_SECRET}")], "invalid_credentials"),
        (vec![format!("Bearer {jwt_like}")], "invalid_credentials"),
        (
            vec![format!("Bearer {}", "a".repeat(20_000))],
            "invalid_credentials",
        ),
        (
            vec![
                format!("Bearer {ALICE_TOKEN}"),
                format!("Bearer {BOB_TOKEN}"),
            ],
            "invalid_credentials",
        ),
    ];

    for (headers, code) in cases {
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();

        // Act
        let (status, body) = ask(&url, &headers).await;

        // Assert
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{headers:?}");
        assert_eq!(body["error"], code, "{headers:?}");
        assert!(!body.to_string().contains(ALICE_TOKEN), "{body}");
    }
}

#[test]
fn roles_and_codes() {
    // Arrange
    let alice = Operator {
        name: "alice".to_owned(),
        roles: vec!["operator".to_owned(), "sre".to_owned()],
        method: AuthMethod::Token,
    };
    let wanted = |roles: &[&str]| roles.iter().map(|r| (*r).to_owned()).collect::<Vec<_>>();

    // Act / Assert
    assert!(alice.has_any_role(&wanted(&["admin", "sre"])));
    assert!(!alice.has_any_role(&wanted(&["admin"])));
    assert!(!alice.has_any_role(&wanted(&["Operator"])));
    assert!(!alice.has_any_role(&[]));
    assert_eq!(AuthError::Missing.code(), "unauthenticated");
    assert_eq!(AuthError::Invalid.code(), "invalid_credentials");
    assert_eq!(
        AuthError::KeysUnavailable.code(),
        "operator_keys_unavailable"
    );
}
