//! The OpenAPI 3.1 document of this service, generated from the handlers' annotations and
//! the wire types of `warden-protocol`, served at `GET /openapi.json`. A test keeps the
//! copy in `openapi/executor-service.json` in step with the code.

use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use warden_protocol::{ExecuteRequest, ExecuteResponse};

use crate::approvals::api::{
    ApprovalList, ApprovalView, ApproveBody, DecisionAnswer, DenyBody, GrantList, GrantRequest,
    GrantView,
};
use crate::audit_api::{AuditPage, Figures, Stats};
use crate::store::approvals::{ApprovalRecord, ApprovalStatus, GrantRecord, Vote, VoteKind};
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
        crate::approvals::api::list_approvals,
        crate::approvals::api::show_approval,
        crate::approvals::api::approve,
        crate::approvals::api::deny,
        crate::approvals::api::list_grants,
        crate::approvals::api::revoke_grant,
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
        Figures,
        ApprovalList,
        ApprovalView,
        ApprovalRecord,
        ApprovalStatus,
        Vote,
        VoteKind,
        ApproveBody,
        GrantRequest,
        DenyBody,
        DecisionAnswer,
        GrantList,
        GrantView,
        GrantRecord,
        warden_protocol::SessionRule,
        warden_protocol::GrantScope
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
        let mut operator = Http::new(HttpAuthScheme::Bearer);
        operator.description = Some(
            "An operator: a token of EXECUTOR_OPERATORS, an OIDC token of EXECUTOR_OIDC_ISSUER, or EXECUTOR_ADMIN_TOKEN; with none configured the approval endpoints are off (404)"
                .to_owned(),
        );
        components.add_security_scheme("operator", SecurityScheme::Http(operator));
        let requester = utoipa::openapi::security::ApiKey::Header(
            utoipa::openapi::security::ApiKeyValue::with_description(
                "X-Warden-Signature",
                "The requester reading its own request: X-Warden-Client, X-Warden-Timestamp (unix seconds) and X-Warden-Signature, the hex HMAC-SHA256 with the client's secret of `GET\\n<path>\\n<timestamp>`",
            ),
        );
        components.add_security_scheme("requester_hmac", SecurityScheme::ApiKey(requester));
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
