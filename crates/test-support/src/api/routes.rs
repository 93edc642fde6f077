//! Where a path points, read segment by segment, and what a request is about.

use http::Method;

use super::Call;
use crate::objects::Kind;
use crate::status::Target;

/// Where a path points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/version`.
    Version,
    /// `/healthz`, `/livez`, `/readyz`.
    Health,
    /// `/api`.
    CoreVersions,
    /// `/apis`.
    Groups,
    /// `/apis/apps`.
    AppsGroup,
    /// `/api/v1` or `/apis/apps/v1`.
    Resources(&'static str),
    /// A list (all namespaces when `namespace` is `None`).
    Collection {
        kind: Kind,
        namespace: Option<String>,
    },
    /// One object.
    Object {
        kind: Kind,
        namespace: String,
        name: String,
    },
    /// The `/scale` subresource of an apps object.
    Scale {
        kind: Kind,
        namespace: String,
        name: String,
    },
    /// `/api/v1/namespaces/{ns}/pods/{name}/eviction`.
    Eviction { namespace: String, name: String },
    /// `/api/v1/namespaces/{ns}/pods/{name}/log`.
    PodLog { namespace: String, name: String },
    /// `/api/v1/namespaces/{ns}/events` (all namespaces when `namespace` is `None`).
    Events { namespace: Option<String> },
    /// Anything else.
    Unknown,
}

/// Routes a path.
pub(crate) fn route(path: &str) -> Route {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    // Resource names are only valid under their own group.
    let core = |plural: &str| (plural == "pods").then_some(Kind::Pod);
    let apps = |plural: &str| Kind::from_plural(plural).filter(|k| k.group() == "apps");
    match segments.as_slice() {
        ["version"] => Route::Version,
        ["healthz" | "livez" | "readyz"] => Route::Health,
        ["api"] => Route::CoreVersions,
        ["apis"] => Route::Groups,
        ["apis", "apps"] => Route::AppsGroup,
        ["api", "v1"] => Route::Resources("v1"),
        ["apis", "apps", "v1"] => Route::Resources("apps/v1"),
        ["api", "v1", "events"] => Route::Events { namespace: None },
        ["api", "v1", "namespaces", ns, "events"] => Route::Events {
            namespace: Some((*ns).to_owned()),
        },
        ["api", "v1", plural] => match core(plural) {
            Some(kind) => Route::Collection {
                kind,
                namespace: None,
            },
            None => Route::Unknown,
        },
        ["apis", "apps", "v1", plural] => match apps(plural) {
            Some(kind) => Route::Collection {
                kind,
                namespace: None,
            },
            None => Route::Unknown,
        },
        ["api", "v1", "namespaces", ns, rest @ ..] => namespaced(core, ns, rest),
        ["apis", "apps", "v1", "namespaces", ns, rest @ ..] => namespaced(apps, ns, rest),
        _ => Route::Unknown,
    }
}

/// The namespaced part of a route, once the group prefix has been read.
fn namespaced(resolve: impl Fn(&str) -> Option<Kind>, ns: &str, rest: &[&str]) -> Route {
    let (namespace, kind) = match rest.first().map(|p| resolve(p)) {
        Some(Some(kind)) => (ns.to_owned(), kind),
        _ => return Route::Unknown,
    };
    match rest {
        [_] => Route::Collection {
            kind,
            namespace: Some(namespace),
        },
        [_, name] => Route::Object {
            kind,
            namespace,
            name: (*name).to_owned(),
        },
        [_, name, "scale"] if kind.is_scalable() => Route::Scale {
            kind,
            namespace,
            name: (*name).to_owned(),
        },
        [_, name, "eviction"] if kind == Kind::Pod => Route::Eviction {
            namespace,
            name: (*name).to_owned(),
        },
        [_, name, "log"] if kind == Kind::Pod => Route::PodLog {
            namespace,
            name: (*name).to_owned(),
        },
        _ => Route::Unknown,
    }
}

/// What the request is about, for error messages (including injected faults).
pub(crate) fn target(call: &Call) -> Target {
    let verb = match call.method {
        Method::DELETE => "delete",
        Method::PATCH => "patch",
        Method::PUT => "update",
        Method::POST => "create",
        _ => "get",
    };
    match route(&call.path) {
        Route::Collection { kind, namespace } => Target {
            kind: Some(kind),
            subresource: None,
            namespace,
            name: String::new(),
            verb: if verb == "get" { "list" } else { verb },
        },
        Route::Object {
            kind,
            namespace,
            name,
        } => Target {
            kind: Some(kind),
            subresource: None,
            namespace: Some(namespace),
            name,
            verb,
        },
        Route::Scale {
            kind,
            namespace,
            name,
        } => Target {
            kind: Some(kind),
            subresource: Some("scale"),
            namespace: Some(namespace),
            name,
            verb,
        },
        Route::Eviction { namespace, name } => Target {
            kind: Some(Kind::Pod),
            subresource: Some("eviction"),
            namespace: Some(namespace),
            name,
            verb,
        },
        Route::PodLog { namespace, name } => Target {
            kind: Some(Kind::Pod),
            subresource: Some("log"),
            namespace: Some(namespace),
            name,
            verb,
        },
        Route::Events { namespace } => Target {
            namespace,
            verb: if verb == "get" { "list" } else { verb },
            ..Target::default()
        },
        _ => Target {
            verb,
            ..Target::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_route_to_their_resources() {
        assert_eq!(
            route("/api/v1/namespaces/a/pods/b/eviction"),
            Route::Eviction {
                namespace: "a".into(),
                name: "b".into()
            }
        );
        assert_eq!(
            route("/apis/apps/v1/namespaces/a/statefulsets/db/scale"),
            Route::Scale {
                kind: Kind::StatefulSet,
                namespace: "a".into(),
                name: "db".into()
            }
        );
        assert_eq!(
            route("/apis/apps/v1/deployments"),
            Route::Collection {
                kind: Kind::Deployment,
                namespace: None
            }
        );
        assert_eq!(
            route("/api/v1/namespaces/a/pods/b/log"),
            Route::PodLog {
                namespace: "a".into(),
                name: "b".into()
            }
        );
        assert_eq!(
            route("/api/v1/namespaces/a/events"),
            Route::Events {
                namespace: Some("a".into())
            }
        );
        assert_eq!(route("/api/v1/namespaces/a/events/x"), Route::Unknown);
        assert_eq!(route("/api/v1/namespaces/a/deployments/x"), Route::Unknown);
        assert_eq!(route("/apis/apps/v1/namespaces/a/pods/x"), Route::Unknown);
        assert_eq!(route("/api/v1/namespaces/a/pods/x/scale"), Route::Unknown);
    }
}
