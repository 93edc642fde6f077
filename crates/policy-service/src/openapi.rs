//! The OpenAPI 3.1 document of this service, generated from the handlers' annotations and
//! the wire types of `warden-protocol`, served at `GET /openapi.json`. A test keeps the
//! copy in `openapi/policy-service.json` in step with the code.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use warden_protocol::{
    DecisionKind, ErrorBody, PolicyDecision, PolicyRequest, RequestContext, RuleTrace,
};

/// The document's root.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Warden policy service",
        description = "Decides whether an AI engine may run a remediation action on a Kubernetes resource, explains why, and signs the decisions that allow it or send it to people for approval.",
        license(name = "Apache-2.0")
    ),
    paths(
        crate::routes::evaluate,
        crate::routes::jwks,
        crate::routes::healthz,
        crate::routes::readyz,
        crate::metrics::serve_metrics,
        serve_openapi,
    ),
    components(schemas(PolicyRequest, RequestContext, PolicyDecision, DecisionKind, RuleTrace, ErrorBody)),
    modifiers(&ApiKeyScheme),
)]
pub struct ApiDoc;

/// Declares the bearer API key (`POLICY_API_KEYS`).
struct ApiKeyScheme;

impl Modify for ApiKeyScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key from POLICY_API_KEYS; required when keys are configured",
                    ))
                    .build(),
            ),
        );
    }
}

/// `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "This document", body = Object)),
)]
pub async fn serve_openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
