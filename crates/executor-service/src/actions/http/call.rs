//! One HTTP call of a declarative action, made only to addresses that passed the
//! allowlist: the host is resolved here, every address checked
//! ([`Allowlist::check_addresses`]), and the connection pinned to those addresses, so a
//! second lookup cannot lead elsewhere (DNS rebinding). Redirects are never followed (a
//! 3xx is a failure); the body read is capped; nothing is retried.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use warden_protocol::url::{Allowlist, NormalUrl, UrlHost};

use super::spec::Header;
use crate::actions::ActionFailure;

/// What one call sends.
#[derive(Clone, Debug)]
pub struct HttpCall {
    /// Upper-case method.
    pub method: String,
    /// The canonical URL (sent as is).
    pub url: NormalUrl,
    /// Headers, secrets included.
    pub headers: Vec<Header>,
    /// The JSON body, if any.
    pub body: Option<Value>,
    /// Deadline of the whole call.
    pub timeout: Duration,
    /// Cap on the response body read.
    pub max_response_bytes: usize,
}

impl HttpCall {
    /// What a dry run answers: the call as it would be sent, secret header values
    /// redacted. Nothing is resolved or sent.
    pub fn plan(&self) -> Value {
        let headers: serde_json::Map<String, Value> = self
            .headers
            .iter()
            .map(|h| {
                let value = if h.secret {
                    "<redacted>"
                } else {
                    h.value.as_str()
                };
                (h.name.clone(), Value::from(value))
            })
            .collect();
        json!({
            "dryRun": true,
            "method": self.method,
            "url": self.url.as_str(),
            "headers": headers,
            "body": self.body,
            "message": "dry run: nothing was sent",
        })
    }

    /// Resolves, checks, sends, and reads the answer.
    pub async fn send(&self, allow: &Allowlist) -> Result<Value, ActionFailure> {
        let addrs = resolve(&self.url).await?;
        let ips: Vec<IpAddr> = addrs.iter().map(SocketAddr::ip).collect();
        allow
            .check_addresses(&ips)
            .map_err(|refusal| ActionFailure {
                outcome_unknown: false,
                code: "url_blocked_address",
                message: format!("nothing was sent: {refusal}"),
                http_status: 403,
            })?;
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            .no_proxy();
        if let UrlHost::Domain(domain) = self.url.host() {
            builder = builder.resolve_to_addrs(domain, &addrs);
        }
        let client = builder
            .build()
            .map_err(|e| failure(false, "http_error", format!("client: {e}")))?;
        let method = reqwest::Method::from_bytes(self.method.as_bytes())
            .map_err(|_| failure(false, "http_error", "bad method".into()))?;
        let mut request = client.request(method, self.url.as_str());
        for header in &self.headers {
            request = request.header(&header.name, &header.value);
        }
        if let Some(body) = &self.body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|err| classify(&err))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(failure(
                false,
                "http_redirect",
                format!(
                    "the endpoint answered {} (a redirect, not followed)",
                    status.as_u16()
                ),
            ));
        }
        let (bytes, truncated) = read_capped(response, self.max_response_bytes).await?;
        let sha = hex::encode(Sha256::digest(&bytes));
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let output = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
        if !status.is_success() {
            return Err(failure(
                false,
                "http_status",
                format!("the endpoint answered {}", status.as_u16()),
            ));
        }
        Ok(json!({
            "success": true,
            "status": status.as_u16(),
            "output": output,
            "bytes": bytes.len(),
            "truncated": truncated,
            "sha256": sha,
            "error": null,
        }))
    }
}

fn failure(outcome_unknown: bool, code: &'static str, message: String) -> ActionFailure {
    ActionFailure {
        outcome_unknown,
        code,
        message,
        http_status: if outcome_unknown { 504 } else { 502 },
    }
}

/// A send error: a timeout may have reached the endpoint (unknown); a refused or failed
/// connection did not.
fn classify(err: &reqwest::Error) -> ActionFailure {
    if err.is_timeout() {
        failure(
            true,
            "http_timeout",
            "the call timed out; it may have reached the endpoint".into(),
        )
    } else if err.is_connect() {
        failure(
            false,
            "http_unreachable",
            "could not connect to the endpoint".into(),
        )
    } else {
        // reqwest's text holds the URL (and so maybe a secret query): not echoed.
        failure(
            true,
            "http_error",
            "the call failed after it was sent".into(),
        )
    }
}

async fn resolve(url: &NormalUrl) -> Result<Vec<SocketAddr>, ActionFailure> {
    let port = url.port();
    match url.host() {
        UrlHost::Ip(ip) => Ok(vec![SocketAddr::new(*ip, port)]),
        UrlHost::Domain(domain) => {
            let found = tokio::net::lookup_host((domain.as_str(), port))
                .await
                .map_err(|_| {
                    failure(
                        false,
                        "http_unreachable",
                        "the host does not resolve".into(),
                    )
                })?;
            let addrs: Vec<SocketAddr> = found.collect();
            if addrs.is_empty() {
                return Err(failure(
                    false,
                    "http_unreachable",
                    "the host does not resolve".into(),
                ));
            }
            Ok(addrs)
        }
    }
}

/// Reads at most `cap` bytes of the body; whether there was more.
async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<(Vec<u8>, bool), ActionFailure> {
    let mut bytes = Vec::new();
    loop {
        let chunk = response.chunk().await.map_err(|err| classify(&err))?;
        let Some(chunk) = chunk else {
            return Ok((bytes, false));
        };
        let room = cap.saturating_sub(bytes.len());
        if chunk.len() > room {
            bytes.extend_from_slice(&chunk[..room]);
            return Ok((bytes, true));
        }
        bytes.extend_from_slice(&chunk);
    }
}
