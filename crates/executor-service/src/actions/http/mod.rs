//! Declarative HTTP actions (`EXECUTOR_ACTIONS_FILE`): actions an operator adds without
//! recompiling, each calling one allowlisted HTTP endpoint.
//!
//! They go through every check the built-in actions do: strict parameters (declared
//! names and types only), the HMAC signature, a decision token bound to the exact URL
//! (the policy resource `url:<canonical URL without its query>`), their own budget
//! (`RATE_LIMIT_<NAME>_TTL` / `_MAX`), the write-ahead audit and approvals. A dry run
//! sends nothing and answers what would be sent, secret header values redacted.
//!
//! # Layout
//! - [`spec`]: the file, its checks and its errors;
//! - [`call`]: resolving, checking the addresses, sending, reading (capped);
//! - `mod.rs`: the action as the registry holds it, and loading the file.

pub mod call;
pub mod spec;

use std::sync::Arc;

use serde_json::Value;

use self::call::HttpCall;
use self::spec::{HttpActionSpec, UrlSource};
use super::{
    ActionFailure, Cluster, InvalidParams, Limits, Permission, Prepared, Registered, Target,
};

/// The kind of an HTTP action's target: its name is the canonical URL.
pub const URL_KIND: &str = "url";

/// An HTTP action as the registry holds it.
pub struct HttpAction {
    spec: Arc<HttpActionSpec>,
    budget: &'static str,
}

impl HttpAction {
    /// The action of `spec`. Its name becomes a `&'static str` for the registry (leaked
    /// once at start-up: the set of actions lives as long as the process).
    pub fn new(spec: HttpActionSpec) -> (&'static str, HttpAction) {
        let name: &'static str = Box::leak(spec.name.clone().into_boxed_str());
        (
            name,
            HttpAction {
                spec: Arc::new(spec),
                budget: name,
            },
        )
    }
}

fn invalid(field: &str, message: impl Into<String>) -> InvalidParams {
    let field = format!("actionParams.{field}");
    InvalidParams {
        message: format!("{field}: {}", message.into()),
        field: Some(field),
    }
}

impl Registered for HttpAction {
    fn budget_key(&self) -> &'static str {
        self.budget
    }

    fn permissions(&self) -> &'static [Permission] {
        &[]
    }

    fn prepare(
        &self,
        params: &Value,
        _limits: &Limits,
    ) -> Result<Box<dyn Prepared>, InvalidParams> {
        let spec = &self.spec;
        let Value::Object(map) = params else {
            return Err(InvalidParams {
                field: Some("actionParams".into()),
                message: "actionParams: expected an object".into(),
            });
        };
        for (key, value) in map {
            let Some(declared) = spec.params.get(key) else {
                return Err(invalid(key, "unknown parameter"));
            };
            if !declared.kind.admits(value) {
                return Err(invalid(key, format!("expected {}", declared.kind.as_str())));
            }
        }
        for (key, declared) in &spec.params {
            if declared.required && !map.contains_key(key) {
                return Err(invalid(key, "missing required parameter"));
            }
        }
        let method = match spec.methods.as_slice() {
            [only] => only.clone(),
            several => {
                let asked = map
                    .get("method")
                    .and_then(Value::as_str)
                    .map(str::to_ascii_uppercase)
                    .ok_or_else(|| invalid("method", format!("one of {}", several.join(", "))))?;
                if !several.contains(&asked) {
                    return Err(invalid("method", format!("one of {}", several.join(", "))));
                }
                asked
            }
        };
        let url = match &spec.url {
            UrlSource::Fixed(url) => url.clone(),
            UrlSource::Param(param) => {
                let raw = map.get(param).and_then(Value::as_str).unwrap_or_default();
                spec.allow
                    .check(raw)
                    .map_err(|refusal| invalid(param, format!("{refusal} ({})", refusal.code())))?
            }
        };
        let body = spec
            .body_param
            .as_ref()
            .and_then(|name| map.get(name))
            .cloned();
        let target = Target {
            namespace: String::new(),
            kind: URL_KIND,
            name: url.without_query().to_owned(),
        };
        Ok(Box::new(PreparedHttp {
            call: HttpCall {
                method,
                url,
                headers: spec.headers.clone(),
                body,
                timeout: spec.timeout,
                max_response_bytes: spec.max_response_bytes,
            },
            spec: spec.clone(),
            target,
        }))
    }
}

struct PreparedHttp {
    call: HttpCall,
    spec: Arc<HttpActionSpec>,
    target: Target,
}

#[async_trait::async_trait]
impl Prepared for PreparedHttp {
    fn target(&self) -> &Target {
        &self.target
    }

    async fn run(&self, _cluster: &Cluster, dry_run: bool) -> Result<Value, ActionFailure> {
        if dry_run {
            return Ok(self.call.plan());
        }
        self.call.send(&self.spec.allow).await
    }

    /// The audit row keeps the status, size and digest of the answer, never its body (the
    /// HTTP answer to the client carries it); a dry run's plan holds no secret and is kept.
    fn audit(&self, result: &Value) -> Value {
        if result.get("dryRun") == Some(&Value::Bool(true)) {
            return result.clone();
        }
        let keep = ["success", "status", "bytes", "truncated", "sha256"];
        Value::Object(
            keep.iter()
                .filter_map(|k| result.get(*k).map(|v| ((*k).to_owned(), v.clone())))
                .collect(),
        )
    }
}

/// Reads `EXECUTOR_ACTIONS_FILE` at `path`, headers' `${NAME}` from the process
/// environment; every problem in one error text.
pub fn load(path: &std::path::Path) -> Result<Vec<HttpActionSpec>, String> {
    let origin = path.display().to_string();
    let source = std::fs::read_to_string(path)
        .map_err(|e| format!("EXECUTOR_ACTIONS_FILE: cannot read {origin}: {e}"))?;
    spec::parse(&source, &origin, &|name| std::env::var(name).ok()).map_err(|errors| {
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// The HTTP actions of `EXECUTOR_ACTIONS_FILE`, if it is set; every binary that serves the
/// executor reads them this way, before the configuration (their budgets are part of it).
pub fn from_env() -> Result<Vec<HttpActionSpec>, String> {
    match std::env::var("EXECUTOR_ACTIONS_FILE") {
        Ok(path) if !path.trim().is_empty() => load(std::path::Path::new(path.trim())),
        _ => Ok(Vec::new()),
    }
}
