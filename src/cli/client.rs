//! The executor's HTTP API as the CLI calls it: one base URL, the operator's bearer token
//! on every request, and every failure turned into a [`CliError`] a person can act on.

use std::time::Duration;

use reqwest::{Method, Url};
use serde_json::Value;

use super::Remote;

/// Time to open a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for a whole answer: an approval that completes a request waits for the action.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line is incomplete (exit 2, as clap's own usage errors).
    #[error("{0}")]
    Usage(String),
    /// No answer from the executor.
    #[error("cannot reach the executor at {url}: {cause}")]
    Unreachable {
        /// The base URL, without any credentials it held.
        url: String,
        /// What went wrong, innermost cause.
        cause: String,
    },
    /// The executor refused: its `error` and `code`.
    #[error("{error} (code: {code}, HTTP {status}){}", field.as_ref().map(|f| format!(", field: {f}")).unwrap_or_default())]
    Api {
        /// The HTTP status.
        status: u16,
        /// The API's `error` message.
        error: String,
        /// The API's `code`.
        code: String,
        /// The API's `field`, when it names one.
        field: Option<String>,
    },
    /// An answer the CLI cannot read.
    #[error("the executor at {url} answered something unexpected: {what}")]
    BadAnswer {
        /// The base URL.
        url: String,
        /// What was wrong with it.
        what: String,
    },
}

impl CliError {
    /// The process's exit code: 2 for usage errors, 1 for the rest.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }

    /// A line of advice for some API errors (which token, which setting), if any.
    pub fn hint(&self) -> Option<&'static str> {
        let CliError::Api { code, status, .. } = self else {
            return None;
        };
        match code.as_str() {
            "unauthenticated" | "invalid_credentials" => {
                Some("hint: set WARDEN_TOKEN (or --token) to your operator token")
            }
            "admin_token_missing" | "admin_token_invalid" => Some(
                "hint: the audit commands need the executor's EXECUTOR_ADMIN_TOKEN as WARDEN_TOKEN",
            ),
            "not_found" if *status == 404 => Some(
                "hint: the approval API exists only with EXECUTOR_OPERATORS (or OIDC, or an admin \
                 token) set, the audit API only with EXECUTOR_ADMIN_TOKEN",
            ),
            _ => None,
        }
    }
}

/// An answer of the API: its text as it came (for `--json`) and parsed.
#[derive(Debug)]
pub struct Answer {
    /// The body as sent.
    pub text: String,
    /// The body parsed.
    pub value: Value,
}

/// A client of one executor. Its `Debug` never shows the token.
pub struct Client {
    base: Url,
    shown: String,
    token: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.shown)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of `remote.url` with `remote.token`; a missing token or a URL that is not
    /// `http(s)://` is a usage error.
    pub fn new(remote: &Remote) -> Result<Client, CliError> {
        let token = remote
            .token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                CliError::Usage(
                    "no token: set WARDEN_TOKEN (or pass --token) to your operator token".into(),
                )
            })?
            .to_owned();
        let base = Url::parse(remote.url.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "--url / WARDEN_URL: `{}` is not an http:// or https:// URL",
                    shown(remote.url.trim())
                ))
            })?;
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("warden-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CliError::Usage(format!("cannot set up HTTP: {e}")))?;
        Ok(Client {
            shown: shown(base.as_str()),
            base,
            token,
            http,
        })
    }

    /// `GET` of the path made of `segments`, with `query` (empty values left out).
    pub async fn get(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<Answer, CliError> {
        self.send(Method::GET, segments, query, None).await
    }

    /// `POST` of `body` (JSON).
    pub async fn post(&self, segments: &[&str], body: &Value) -> Result<Answer, CliError> {
        self.send(Method::POST, segments, &[], Some(body)).await
    }

    /// `DELETE`.
    pub async fn delete(&self, segments: &[&str]) -> Result<Answer, CliError> {
        self.send(Method::DELETE, segments, &[], None).await
    }

    async fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Answer, CliError> {
        let url = self.endpoint(segments)?;
        let query: Vec<&(&str, String)> = query.iter().filter(|(_, v)| !v.is_empty()).collect();
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(&self.token)
            .header(reqwest::header::ACCEPT, "application/json")
            .query(&query);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| self.unreachable(&e))?;
        let parsed: Option<Value> = serde_json::from_str(&text).ok();
        if status.is_success() {
            let value = parsed.ok_or_else(|| CliError::BadAnswer {
                url: self.shown.clone(),
                what: format!("HTTP {} with a body that is not JSON", status.as_u16()),
            })?;
            return Ok(Answer { text, value });
        }
        let member = |name: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.get(name))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Err(CliError::Api {
            status: status.as_u16(),
            error: member("error").unwrap_or_else(|| {
                format!(
                    "HTTP {} {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("error")
                )
            }),
            code: member("code").unwrap_or_else(|| "-".to_owned()),
            field: member("field"),
        })
    }

    /// The executor's base URL as it may be printed (without credentials).
    pub fn url(&self) -> &str {
        &self.shown
    }

    /// The base URL with `segments` appended (each percent-encoded).
    fn endpoint(&self, segments: &[&str]) -> Result<Url, CliError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| CliError::Usage(format!("{} cannot be a base URL", self.shown)))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    fn unreachable(&self, err: &reqwest::Error) -> CliError {
        let cause = if err.is_timeout() {
            format!("no answer within {}s", REQUEST_TIMEOUT.as_secs())
        } else {
            innermost(err)
        };
        CliError::Unreachable {
            url: self.shown.clone(),
            cause,
        }
    }
}

/// The deepest cause of `err`: "Connection refused (os error 111)" rather than
/// "error sending request".
fn innermost(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// A URL as it may be printed: any user name or password in it left out.
fn shown(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.as_str().trim_end_matches('/').to_owned()
        }
        // Not a URL: nothing to strip, but do not echo what may be a pasted secret.
        Err(_) => "(not a URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_url_are_never_shown() {
        assert_eq!(
            shown("http://user:secret@executor:4000/"),
            "http://executor:4000"
        );
        assert_eq!(shown("not a url"), "(not a URL)");
    }
}
