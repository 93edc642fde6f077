//! `EXECUTOR_ACTIONS_FILE`: declarative HTTP actions, read and checked once at start-up
//! (and by `executor-service check-actions FILE`), every problem reported as
//! `file:line:column: action `name`: message`.
//!
//! ```yaml
//! actions:
//!   - name: call_api
//!     description: Open a ticket in the internal tracker
//!     method: POST                       # or a list; then the request picks with `method`
//!     urlParam: url                      # or `url: https://...` (fixed)
//!     allow: ["https://api.internal.example.com/v1/"]
//!     headers: {Authorization: "Bearer ${TICKETS_TOKEN}"}   # values from the environment only
//!     params:
//!       url: {type: string, required: true}
//!       ticket: {type: object, required: true}
//!     bodyParam: ticket                  # sent as the JSON body
//!     timeoutSeconds: 5                  # default 5, at most 60
//!     maxResponseBytes: 65536            # default 64 KiB, at most 1 MiB
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;
use warden_protocol::url::{Allowlist, NormalUrl};

/// Default deadline of one call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest deadline an action may declare, in seconds.
pub const MAX_TIMEOUT_SECONDS: u64 = 60;
/// Default cap on a response body.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Largest cap an action may declare.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Names the built-in actions use; an HTTP action may not take one.
pub const RESERVED: &[&str] = &warden_protocol::BUILTIN_ACTIONS;

/// A parameter's JSON type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    /// A JSON string.
    String,
    /// A whole number.
    Integer,
    /// Any number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A JSON object.
    Object,
}

impl ParamType {
    /// Whether `value` has this type.
    pub fn admits(self, value: &serde_json::Value) -> bool {
        match self {
            ParamType::String => value.is_string(),
            ParamType::Integer => value.is_i64() || value.is_u64(),
            ParamType::Number => value.is_number(),
            ParamType::Boolean => value.is_boolean(),
            ParamType::Object => value.is_object(),
        }
    }

    /// The spelling in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Number => "number",
            ParamType::Boolean => "boolean",
            ParamType::Object => "object",
        }
    }
}

/// One declared parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    /// Its type.
    #[serde(rename = "type")]
    pub kind: ParamType,
    /// Whether a request must carry it.
    #[serde(default)]
    pub required: bool,
}

/// One header: its name and value, with `${NAME}` taken from the environment.
#[derive(Clone)]
pub struct Header {
    /// The header name.
    pub name: String,
    /// The value to send.
    pub value: String,
    /// Whether the value came (in part) from the environment: a secret, never shown.
    pub secret: bool,
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Header")
            .field("name", &self.name)
            .field(
                "value",
                &if self.secret {
                    "<redacted>"
                } else {
                    &self.value
                },
            )
            .finish()
    }
}

/// Where the URL comes from.
#[derive(Clone, Debug)]
pub enum UrlSource {
    /// Always this URL.
    Fixed(NormalUrl),
    /// The string parameter of this name.
    Param(String),
}

/// A checked HTTP action.
#[derive(Clone, Debug)]
pub struct HttpActionSpec {
    /// Its `actionType`.
    pub name: String,
    /// What it does, for people.
    pub description: String,
    /// The methods it may use (upper case); with more than one, the request's `method`
    /// parameter picks.
    pub methods: Vec<String>,
    /// Where the URL comes from.
    pub url: UrlSource,
    /// What URLs it may call (a fixed URL is checked against it too).
    pub allow: Allowlist,
    /// Headers sent with every call.
    pub headers: Vec<Header>,
    /// Accepted parameters.
    pub params: BTreeMap<String, ParamSpec>,
    /// The parameter sent as the JSON body, if any.
    pub body_param: Option<String>,
    /// Deadline of one call.
    pub timeout: Duration,
    /// Cap on the response body.
    pub max_response_bytes: usize,
}

/// One problem in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    /// `file:line:column: action `name`: message`.
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    actions: Vec<Spanned<RawAction>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawAction {
    name: String,
    #[serde(default)]
    description: String,
    method: OneOrMany,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    url_param: Option<String>,
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    allow_private: bool,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    params: BTreeMap<String, ParamSpec>,
    #[serde(default)]
    body_param: Option<String>,
    #[serde(default)]
    timeout_seconds: Option<u64>,
    #[serde(default)]
    max_response_bytes: Option<usize>,
}

/// Reads and checks the actions of `source`; `origin` names the file in errors and `env`
/// supplies the `${NAME}` of header values. Every problem is reported, not just the first.
pub fn parse(
    source: &str,
    origin: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<HttpActionSpec>, Vec<SpecError>> {
    let options = serde_saphyr::options! {
        with_snippet: false,
        strict_booleans: true,
    };
    let file: File = serde_saphyr::from_str_with_options(source, options).map_err(|err| {
        let at = err
            .location()
            .map(|l| format!("{origin}:{}:{}", l.line(), l.column()))
            .unwrap_or_else(|| origin.to_owned());
        let message: String = err
            .without_snippet()
            .to_string()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        vec![SpecError {
            message: format!("{at}: {message}"),
        }]
    })?;
    let mut errors = Vec::new();
    let mut specs: Vec<HttpActionSpec> = Vec::new();
    for raw in file.actions {
        let at = format!(
            "{origin}:{}:{}",
            raw.referenced.line(),
            raw.referenced.column()
        );
        let name = raw.value.name.clone();
        let mut report = |message: String| {
            errors.push(SpecError {
                message: format!("{at}: action `{name}`: {message}"),
            });
        };
        if specs.iter().any(|s| s.name == name) {
            report("a second action with this name".into());
            continue;
        }
        match check(raw.value, env) {
            Ok(spec) => specs.push(spec),
            Err(problems) => problems.into_iter().for_each(&mut report),
        }
    }
    if errors.is_empty() {
        Ok(specs)
    } else {
        Err(errors)
    }
}

/// The checks of one entry; each problem as a message.
fn check(
    raw: RawAction,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<HttpActionSpec, Vec<String>> {
    let mut problems = Vec::new();
    let name_ok = !raw.name.is_empty()
        && raw.name.len() <= 64
        && raw
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && raw.name.as_bytes()[0].is_ascii_lowercase();
    if !name_ok {
        problems.push("`name` must be lower-case letters, digits and `_`, starting with a letter, at most 64 characters".into());
    }
    if RESERVED.contains(&raw.name.as_str()) {
        problems.push("`name` is a built-in action".into());
    }
    let methods: Vec<String> = match raw.method {
        OneOrMany::One(m) => vec![m],
        OneOrMany::Many(ms) => ms,
    }
    .into_iter()
    .map(|m| m.to_ascii_uppercase())
    .collect();
    if methods.is_empty() {
        problems.push("`method` must name at least one method".into());
    }
    for m in &methods {
        if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&m.as_str()) {
            problems.push(format!(
                "method `{m}` is not one of GET, POST, PUT, PATCH, DELETE"
            ));
        }
    }
    if methods.len() > 1 && raw.params.get("method").map(|p| p.kind) != Some(ParamType::String) {
        problems.push(
            "with several methods the request picks one: declare `params.method: {type: string}`"
                .into(),
        );
    }
    let allow = match Allowlist::parse(&raw.allow, raw.allow_private) {
        Ok(allow) => Some(allow),
        Err(refusal) => {
            problems.push(format!("`allow`: {refusal}"));
            None
        }
    };
    if raw.allow.is_empty() {
        problems.push("`allow` must list the URL prefixes the action may call".into());
    }
    let url = match (raw.url, raw.url_param) {
        (Some(_), Some(_)) => {
            problems.push("give `url` or `urlParam`, not both".into());
            None
        }
        (None, None) => {
            problems.push("give `url` (fixed) or `urlParam` (the parameter holding it)".into());
            None
        }
        (Some(fixed), None) => match allow.as_ref().map(|a| a.check(&fixed)) {
            Some(Ok(url)) => Some(UrlSource::Fixed(url)),
            Some(Err(refusal)) => {
                problems.push(format!("`url` is not allowed by `allow`: {refusal}"));
                None
            }
            None => None,
        },
        (None, Some(param)) => {
            if raw.params.get(&param).map(|p| (p.kind, p.required))
                != Some((ParamType::String, true))
            {
                problems.push(format!(
                    "`urlParam` `{param}` must be declared as `{{type: string, required: true}}`"
                ));
            }
            Some(UrlSource::Param(param))
        }
    };
    if let Some(body) = &raw.body_param
        && !raw.params.contains_key(body)
    {
        problems.push(format!("`bodyParam` `{body}` is not a declared parameter"));
    }
    let mut headers = Vec::new();
    for (name, template) in &raw.headers {
        let valid_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
        if !valid_name {
            problems.push(format!("header name `{name}` is not a token"));
            continue;
        }
        match expand(template, env) {
            Ok((value, secret)) => headers.push(Header {
                name: name.clone(),
                value,
                secret,
            }),
            Err(message) => problems.push(format!("header `{name}`: {message}")),
        }
    }
    let timeout = match raw.timeout_seconds {
        None => DEFAULT_TIMEOUT,
        Some(s @ 1..=MAX_TIMEOUT_SECONDS) => Duration::from_secs(s),
        Some(_) => {
            problems.push(format!(
                "`timeoutSeconds` must be between 1 and {MAX_TIMEOUT_SECONDS}"
            ));
            DEFAULT_TIMEOUT
        }
    };
    let max_response_bytes = match raw.max_response_bytes {
        None => DEFAULT_MAX_RESPONSE_BYTES,
        Some(n @ 1..=MAX_RESPONSE_BYTES) => n,
        Some(_) => {
            problems.push(format!(
                "`maxResponseBytes` must be between 1 and {MAX_RESPONSE_BYTES}"
            ));
            DEFAULT_MAX_RESPONSE_BYTES
        }
    };
    match (problems.is_empty(), url, allow) {
        (true, Some(url), Some(allow)) => Ok(HttpActionSpec {
            name: raw.name,
            description: raw.description,
            methods,
            url,
            allow,
            headers,
            params: raw.params,
            body_param: raw.body_param,
            timeout,
            max_response_bytes,
        }),
        _ => Err(problems),
    }
}

/// `${NAME}` in `template` replaced from the environment; whether any was (the value is
/// then a secret). A header value never comes from a request's parameters.
fn expand(template: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<(String, bool), String> {
    let mut out = String::new();
    let mut rest = template;
    let mut secret = false;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| "`${` without its `}`".to_owned())?;
        let var = &after[..end];
        if var.is_empty()
            || !var
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(format!("`${{{var}}}` is not an environment variable name"));
        }
        let value = env(var)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("environment variable {var} is not set"))?;
        out.push_str(&value);
        secret = true;
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    if out.bytes().any(|b| b.is_ascii_control()) {
        return Err("the value holds control characters".into());
    }
    Ok((out, secret))
}
