//! Resources: what a request and a decision token are about.
//!
//! A [`Resource`] is a Kubernetes object or scope ([`ResourceRef`]) or the URL an HTTP
//! action calls. Clients send one of four forms:
//!
//! | form | example | meaning |
//! |---|---|---|
//! | canonical | `production/deployment/api` | namespace / kind / name; any part may be `*` |
//! | kind:name | `pod:api-pod-12345` | that object in the `default` namespace, as `kubectl` reads a name without `-n` |
//! | namespace:label | `production:resource` | the whole namespace (kind and name `*`); the label after the colon is free text and is not matched |
//! | url | `url:https://api.internal.example.com/v1/tickets` | that absolute http(s) URL, in canonical form and without its query (see [`Resource`]) |
//!
//! Text starting with `url:` is always a URL. Otherwise `X:Y` is read as kind:name when `X`
//! is a Kubernetes kind we know (see [`normalize_kind`]), else as namespace:label. The
//! canonical forms (`namespace/kind/name` and `url:` + canonical URL) are never ambiguous
//! and are what decision tokens carry.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::url::{NormalUrl, UrlRefusal};

/// The namespace a `kind:name` resource refers to, as `kubectl` does without `-n`.
pub const DEFAULT_NAMESPACE: &str = "default";

/// One part of a resource reference: a concrete value or every value (`*`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every value of this part (written `*`).
    Any,
    /// Exactly this value.
    Exact(String),
}

impl Scope {
    /// The concrete value, or `None` for [`Scope::Any`].
    pub fn exact(&self) -> Option<&str> {
        match self {
            Scope::Any => None,
            Scope::Exact(v) => Some(v),
        }
    }

    /// Whether this scope includes `value`.
    pub fn covers(&self, value: &str) -> bool {
        match self {
            Scope::Any => true,
            Scope::Exact(v) => v == value,
        }
    }

    /// The text form: the value, or `*`.
    pub fn as_str(&self) -> &str {
        self.exact().unwrap_or("*")
    }
}

/// A resource a decision is about: namespace, kind and name, each exact or `*`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResourceRef {
    /// Kubernetes namespace.
    pub namespace: Scope,
    /// Normalised kind (`pod`, `deployment`, ...; see [`normalize_kind`]).
    pub kind: Scope,
    /// Object name.
    pub name: Scope,
}

/// Why a resource string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    /// The string is in none of the three forms.
    #[error(
        "resource `{0}` is not in a known form: use namespace/kind/name, kind:name, \
         namespace:label or url:<absolute URL>"
    )]
    Form(String),
    /// A part is not a valid Kubernetes name.
    #[error("resource part `{part}` is not a valid Kubernetes {what}")]
    Part {
        /// The offending part.
        part: String,
        /// What the part should have been (namespace, kind, name).
        what: &'static str,
    },
    /// A `url:` resource whose URL [`NormalUrl::parse`] refuses. The message names the
    /// refusal's [code](UrlRefusal::code) and never repeats the URL, whose query may carry
    /// a secret.
    #[error("the resource URL is refused ({code}): {0}", code = .0.code())]
    Url(UrlRefusal),
}

impl ResourceRef {
    /// A fully concrete reference.
    pub fn exact(namespace: &str, kind: &str, name: &str) -> Self {
        ResourceRef {
            namespace: Scope::Exact(namespace.to_owned()),
            kind: Scope::Exact(normalize_kind(kind).to_owned()),
            name: Scope::Exact(name.to_owned()),
        }
    }

    /// Whether this reference includes the object `namespace/kind/name`. The kind is
    /// normalised first, so `deployments` and `deploy` are `deployment`.
    pub fn covers(&self, namespace: &str, kind: &str, name: &str) -> bool {
        self.namespace.covers(namespace)
            && self.kind.covers(normalize_kind(kind))
            && self.name.covers(name)
    }

    /// Whether any part is `*`: the reference names more than one object.
    pub fn is_wide(&self) -> bool {
        matches!(self.namespace, Scope::Any)
            || matches!(self.kind, Scope::Any)
            || matches!(self.name, Scope::Any)
    }
}

impl fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}",
            self.namespace.as_str(),
            self.kind.as_str(),
            self.name.as_str()
        )
    }
}

impl FromStr for ResourceRef {
    type Err = ResourceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let form = || ResourceError::Form(truncate(s));
        if s.contains('/') {
            let mut parts = s.split('/');
            let (Some(ns), Some(kind), Some(name), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(form());
            };
            return Ok(ResourceRef {
                namespace: part(ns, "namespace", is_dns1123_label)?,
                kind: kind_part(kind)?,
                name: part(name, "name", is_dns1123_subdomain)?,
            });
        }
        let Some((head, tail)) = s.split_once(':') else {
            return Err(form());
        };
        if head.is_empty() || tail.is_empty() || tail.contains(':') {
            return Err(form());
        }
        if let Some(kind) = known_kind(head) {
            return Ok(ResourceRef {
                namespace: Scope::Exact(DEFAULT_NAMESPACE.to_owned()),
                kind: Scope::Exact(kind.to_owned()),
                name: part(tail, "name", is_dns1123_subdomain)?,
            });
        }
        Ok(ResourceRef {
            namespace: part(head, "namespace", is_dns1123_label)?,
            kind: Scope::Any,
            name: Scope::Any,
        })
    }
}

impl Serialize for ResourceRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ResourceRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The prefix that marks a URL resource: `url:https://api.internal.example.com/v1/tickets`.
pub const URL_RESOURCE_PREFIX: &str = "url:";

/// What a request or a decision token is about: a Kubernetes object or scope, or the URL an
/// HTTP action calls.
///
/// Parse one with [`FromStr`]: text starting with [`URL_RESOURCE_PREFIX`] is a URL and the rest goes
/// through [`NormalUrl::parse`], whose refusal is the error ([`ResourceError::Url`]); any
/// other text is a [`ResourceRef`] in one of its three forms. So a namespace called `url` is
/// written `url/*/*`, never `url:label`. [`Display`](fmt::Display) and serde give the
/// canonical form, `namespace/kind/name` or `url:` + the canonical URL.
///
/// # The query is not part of a URL resource
/// A URL resource is the canonical URL *without* its query
/// ([`NormalUrl::without_query`]): scheme, host, port and path are what rules match, what a
/// decision's `res` claim binds and what [`covers_url`](Self::covers_url) compares. Parsing
/// and [`Resource::url`] drop a query; a [`Resource::Url`] built by hand with one is read
/// without it everywhere. The query, like the body, belongs to the action's parameters,
/// which a token binds by digest (claim `prm`) when the request carries them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Resource {
    /// A Kubernetes object or scope (`production/deployment/api`, `pod:x`, `ns:label`).
    Object(ResourceRef),
    /// An absolute http(s) URL, without its query (`url:https://host/path`).
    Url(NormalUrl),
}

impl Resource {
    /// The URL resource for `url`, its query dropped.
    pub fn url(url: NormalUrl) -> Resource {
        if url.query().is_none() {
            return Resource::Url(url);
        }
        // The canonical string reads back unchanged, so parsing it without its query
        // cannot fail; if it ever did, the query is still ignored everywhere (see above).
        match NormalUrl::parse(url.without_query()) {
            Ok(bare) => Resource::Url(bare),
            Err(_) => Resource::Url(url),
        }
    }

    /// The Kubernetes reference, or `None` for a URL.
    pub fn as_object(&self) -> Option<&ResourceRef> {
        match self {
            Resource::Object(r) => Some(r),
            Resource::Url(_) => None,
        }
    }

    /// The URL, or `None` for a Kubernetes reference.
    pub fn as_url(&self) -> Option<&NormalUrl> {
        match self {
            Resource::Url(u) => Some(u),
            Resource::Object(_) => None,
        }
    }

    /// Whether the resource names more than one target: a Kubernetes reference with a `*`
    /// part. A URL is always one target.
    pub fn is_wide(&self) -> bool {
        self.as_object().is_some_and(ResourceRef::is_wide)
    }

    /// Whether this resource includes the Kubernetes object `namespace/kind/name`
    /// ([`ResourceRef::covers`]); a URL includes no object.
    pub fn covers_object(&self, namespace: &str, kind: &str, name: &str) -> bool {
        self.as_object()
            .is_some_and(|r| r.covers(namespace, kind, name))
    }

    /// Whether this resource includes `url`: it is a URL resource with the same canonical
    /// form once both queries are dropped (same scheme, host, port and path, byte for byte).
    /// A Kubernetes reference includes no URL.
    pub fn covers_url(&self, url: &NormalUrl) -> bool {
        self.as_url()
            .is_some_and(|bound| bound.without_query() == url.without_query())
    }
}

impl From<ResourceRef> for Resource {
    fn from(r: ResourceRef) -> Self {
        Resource::Object(r)
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Object(r) => write!(f, "{r}"),
            Resource::Url(u) => write!(f, "{URL_RESOURCE_PREFIX}{}", u.without_query()),
        }
    }
}

impl FromStr for Resource {
    type Err = ResourceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.strip_prefix(URL_RESOURCE_PREFIX) {
            Some(url) => NormalUrl::parse(url)
                .map(Resource::url)
                .map_err(ResourceError::Url),
            None => s.parse().map(Resource::Object),
        }
    }
}

impl Serialize for Resource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Resource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

fn truncate(s: &str) -> String {
    // Error messages echo input; keep a hostile 60 KiB string out of logs and bodies.
    s.chars().take(128).collect()
}

fn part(value: &str, what: &'static str, valid: fn(&str) -> bool) -> Result<Scope, ResourceError> {
    if value == "*" {
        Ok(Scope::Any)
    } else if valid(value) {
        Ok(Scope::Exact(value.to_owned()))
    } else {
        Err(ResourceError::Part {
            part: truncate(value),
            what,
        })
    }
}

fn kind_part(value: &str) -> Result<Scope, ResourceError> {
    if value == "*" {
        return Ok(Scope::Any);
    }
    let valid =
        !value.is_empty() && value.len() <= 63 && value.chars().all(|c| c.is_ascii_alphanumeric());
    if valid {
        Ok(Scope::Exact(normalize_kind(value).to_owned()))
    } else {
        Err(ResourceError::Part {
            part: truncate(value),
            what: "kind",
        })
    }
}

/// Kinds Warden knows by their plural and short names, mapped to the lower-case singular.
const KINDS: &[(&str, &[&str])] = &[
    ("pod", &["pods", "po"]),
    ("deployment", &["deployments", "deploy"]),
    ("statefulset", &["statefulsets", "sts"]),
    ("daemonset", &["daemonsets", "ds"]),
    ("replicaset", &["replicasets", "rs"]),
    ("job", &["jobs"]),
    ("cronjob", &["cronjobs", "cj"]),
    ("service", &["services", "svc"]),
    ("configmap", &["configmaps", "cm"]),
    ("secret", &["secrets"]),
    ("node", &["nodes", "no"]),
    ("namespace", &["namespaces", "ns"]),
    ("persistentvolumeclaim", &["persistentvolumeclaims", "pvc"]),
    (
        "horizontalpodautoscaler",
        &["horizontalpodautoscalers", "hpa"],
    ),
    ("ingress", &["ingresses", "ing"]),
];

fn known_kind(value: &str) -> Option<&'static str> {
    KINDS.iter().find_map(|(kind, aliases)| {
        (kind.eq_ignore_ascii_case(value) || aliases.iter().any(|a| a.eq_ignore_ascii_case(value)))
            .then_some(*kind)
    })
}

/// The canonical spelling of a kind: lower-case singular for the kinds Warden knows
/// (`Pods`, `po` → `pod`; `deploy` → `deployment`); other kinds are matched as written.
pub fn normalize_kind(kind: &str) -> &str {
    known_kind(kind).unwrap_or(kind)
}

/// A DNS-1123 label: at most 63 characters of `a-z`, `0-9` and `-`, starting and ending
/// with an alphanumeric character. Namespaces and most object names must be one.
pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A DNS-1123 subdomain: at most 253 characters, dot-separated DNS-1123 labels. Pod,
/// Deployment and StatefulSet names must be one.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ResourceRef {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn canonical_form_keeps_each_part() {
        let r = parse("production/deployment/api-deployment");
        assert_eq!(
            r,
            ResourceRef::exact("production", "deployment", "api-deployment")
        );
        assert_eq!(r.to_string(), "production/deployment/api-deployment");
    }

    #[test]
    fn canonical_form_normalises_kind_and_allows_any() {
        let r = parse("production/Deployments/*");
        assert_eq!(r.kind, Scope::Exact("deployment".into()));
        assert_eq!(r.name, Scope::Any);
        assert_eq!(r.to_string(), "production/deployment/*");
    }

    #[test]
    fn kind_name_form_is_in_the_default_namespace() {
        assert_eq!(
            parse("pod:api-pod-12345"),
            ResourceRef::exact("default", "pod", "api-pod-12345")
        );
        assert_eq!(parse("deploy:web").kind, Scope::Exact("deployment".into()));
    }

    #[test]
    fn namespace_label_form_is_namespace_wide() {
        let r = parse("production:resource");
        assert_eq!(r.to_string(), "production/*/*");
        assert!(r.covers("production", "pods", "anything"));
        assert!(!r.covers("staging", "pod", "anything"));
        assert!(r.is_wide());
    }

    #[test]
    fn covers_compares_normalised_kinds() {
        let r = parse("default/pod/web-1");
        assert!(r.covers("default", "pods", "web-1"));
        assert!(!r.covers("default", "pod", "web-2"));
        assert!(!r.covers("default", "deployment", "web-1"));
    }

    #[test]
    fn malformed_resources_are_refused() {
        for bad in [
            "",
            "pod",
            "a/b",
            "a/b/c/d",
            "Prod/pod/x",
            "prod/pod/X_Y",
            "pod:",
            ":x",
            "a:b:c",
            "-ns/pod/x",
            "ns/po d/x",
        ] {
            assert!(
                bad.parse::<ResourceRef>().is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn dns_names() {
        assert!(is_dns1123_label("api-pod-12345"));
        assert!(!is_dns1123_label(&"a".repeat(64)));
        assert!(is_dns1123_subdomain("web.v1"));
        assert!(!is_dns1123_subdomain("web..v1"));
        assert!(!is_dns1123_subdomain("web_v1"));
    }
}
