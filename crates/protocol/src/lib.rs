//! Wire types shared by Warden's services and their clients.
//!
//! # Layout
//! - [`resource`]: what a request is about, a [`Resource`]: a Kubernetes object or scope in
//!   one of three forms (`ns/kind/name`, `kind:name`, `namespace:label`) parsed into one
//!   canonical [`ResourceRef`], or a URL (`url:https://host/path`); and the Kubernetes name
//!   rules both services validate with.
//! - [`policy`]: the policy service's request ([`PolicyRequest`]), its answer
//!   ([`PolicyDecision`]), and the claims of the signed decision token ([`DecisionClaims`])
//!   that the executor verifies.
//! - [`params`]: [`params_digest`], the canonical JSON digest of an action's parameters
//!   that a decision token binds (claim `prm`) and the executor checks.
//! - [`execute`]: the executor's request ([`ExecuteRequest`]) and answer ([`ExecuteResponse`]),
//!   and the names of the built-in actions ([`BUILTIN_ACTIONS`]).
//! - [`url`]: the URLs an HTTP action may call: strict parsing into one canonical
//!   [`NormalUrl`], the [`Allowlist`] of [`AllowEntry`]s (scheme, host or `*.domain`, port,
//!   path prefix) that the executor checks before any call and the policy's `url:`
//!   resources match, and the checks on resolved addresses ([`url::check_addresses`]).
//! - [`names`]: edit distance, for the "did you mean" of errors.
//!
//! Field names on the wire are camelCase to stay compatible with the clients in the field.

pub mod execute;
pub mod names;
pub mod params;
pub mod policy;
pub mod resource;
pub mod url;

pub use execute::{BUILTIN_ACTIONS, ExecuteRequest, ExecuteResponse};
pub use params::{canonical_json, params_digest};
pub use policy::{
    APPROVAL_AUDIENCE, ApprovalClaims, DEFAULT_APPROVAL_EXPIRY_SECONDS, DecisionClaims,
    DecisionKind, ErrorBody, GrantScope, MAX_APPROVAL_SECONDS, MAX_APPROVERS, PolicyDecision,
    PolicyRequest, RequestContext, RuleTrace, SessionRule, TOKEN_AUDIENCE, TOKEN_ISSUER,
};
pub use resource::{
    DEFAULT_NAMESPACE, Resource, ResourceError, ResourceRef, Scope, URL_RESOURCE_PREFIX,
    is_dns1123_label, is_dns1123_subdomain, normalize_kind,
};
pub use url::{AllowEntry, Allowlist, NormalUrl, UrlRefusal};

/// Deepest bracket nesting of a JSON text, outside strings: a linear scan that services run
/// before parsing, so that a hostile body is refused with a clear error instead of
/// exhausting the parser's recursion limit.
pub fn json_nesting_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::json_nesting_depth;

    #[test]
    fn depth_ignores_brackets_inside_strings() {
        assert_eq!(json_nesting_depth(br#"{"a":"[[[[\"{{"}"#), 1);
        assert_eq!(json_nesting_depth(b"[[[]]]"), 3);
        assert_eq!(json_nesting_depth(b"1"), 0);
    }
}
