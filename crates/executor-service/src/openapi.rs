//! The OpenAPI 3.1 document of this service, generated from the handlers' annotations and
//! the wire types of `warden-protocol`, served at `GET /openapi.json`. A test keeps the
//! copy in `openapi/executor-service.json` in step with the code.

use axum::Json;
use utoipa::OpenApi;
use warden_protocol::{ExecuteRequest, ExecuteResponse};

/// The document's root.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Warden executor service",
        description = "Runs a remediation action on Kubernetes only when the request is signed, carries a valid single-use policy decision for exactly that action, target and requester, stays outside protected namespaces and fits its rate budget; every attempt is written to the audit log before the cluster is touched.",
        license(name = "Apache-2.0")
    ),
    paths(
        crate::execute::execute,
        crate::healthz,
        crate::readyz,
        crate::metrics::serve_metrics,
        serve_openapi,
    ),
    components(schemas(ExecuteRequest, ExecuteResponse))
)]
pub struct ApiDoc;

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
