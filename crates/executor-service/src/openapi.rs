//! The OpenAPI 3.1 document of this service, generated from the handlers' annotations and
//! the wire types of `warden-protocol`, served at `GET /openapi.json`. A test keeps the
//! copy in `openapi/executor-service.json` in step with the code.

use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use warden_protocol::{ExecuteRequest, ExecuteResponse};

use crate::audit_api::{AuditPage, Figures, Stats};
use crate::store::{AuditRecord, AuditStatus};

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
        crate::audit_api::list,
        crate::audit_api::get_record,
        crate::audit_api::stats,
        crate::healthz,
        crate::readyz,
        crate::metrics::serve_metrics,
        serve_openapi,
    ),
    components(schemas(
        ExecuteRequest,
        ExecuteResponse,
        AuditPage,
        AuditRecord,
        AuditStatus,
        Stats,
        Figures
    )),
    modifiers(&AdminTokenScheme)
)]
pub struct ApiDoc;

/// The `adminToken` security scheme of the audit API: `Authorization: Bearer
/// <EXECUTOR_ADMIN_TOKEN>`.
struct AdminTokenScheme;

impl Modify for AdminTokenScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.description =
            Some("EXECUTOR_ADMIN_TOKEN; unset, the audit endpoints are off (404)".to_owned());
        components.add_security_scheme("adminToken", SecurityScheme::Http(bearer));
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
