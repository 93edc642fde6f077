//! The approval settings: where notifications go, the public URL their links use, and how
//! often the sweeper expires unanswered requests.

use std::time::Duration;

use super::{ConfigError, number, seconds};

/// Settings of approval requests, grants and their notifications.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalSettings {
    /// `EXECUTOR_APPROVAL_WEBHOOK_URLS`: each gets a JSON message (Slack and Teams incoming
    /// webhook form) when a request is created, decided or expires. May hold a secret path
    /// (Slack's do), so it is never logged.
    pub webhook_urls: Vec<reqwest::Url>,
    /// `EXECUTOR_PUBLIC_URL`: the executor as people reach it, for links in messages
    /// (`<url>/executor/approvals/<id>`). Without it, messages carry no link.
    pub public_url: Option<reqwest::Url>,
    /// `EXECUTOR_APPROVAL_SWEEP_SECONDS`: how often expired requests are marked `expired`.
    pub sweep_interval: Duration,
    /// `EXECUTOR_WEBHOOK_TIMEOUT_SECONDS`: the deadline of one webhook delivery.
    pub webhook_timeout: Duration,
    /// `EXECUTOR_WEBHOOK_RETRIES`: further attempts after a failed delivery.
    pub webhook_retries: u32,
}

impl Default for ApprovalSettings {
    fn default() -> Self {
        ApprovalSettings {
            webhook_urls: Vec::new(),
            public_url: None,
            sweep_interval: Duration::from_secs(5),
            webhook_timeout: Duration::from_secs(5),
            webhook_retries: 3,
        }
    }
}

/// The variables of [`ApprovalSettings`].
pub const VARS: &[&str] = &[
    "EXECUTOR_APPROVAL_WEBHOOK_URLS",
    "EXECUTOR_PUBLIC_URL",
    "EXECUTOR_APPROVAL_SWEEP_SECONDS",
    "EXECUTOR_WEBHOOK_TIMEOUT_SECONDS",
    "EXECUTOR_WEBHOOK_RETRIES",
];

/// Reads [`ApprovalSettings`].
pub(super) fn approval_settings(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<ApprovalSettings, ConfigError> {
    let webhook_urls = match get("EXECUTOR_APPROVAL_WEBHOOK_URLS") {
        None => Vec::new(),
        Some(raw) => raw
            .split(',')
            .map(str::trim)
            .map(|entry| url("EXECUTOR_APPROVAL_WEBHOOK_URLS", entry, false))
            .collect::<Result<_, _>>()?,
    };
    let public_url = get("EXECUTOR_PUBLIC_URL")
        .map(|raw| url("EXECUTOR_PUBLIC_URL", raw.trim(), true))
        .transpose()?;
    Ok(ApprovalSettings {
        webhook_urls,
        public_url,
        sweep_interval: seconds(get, "EXECUTOR_APPROVAL_SWEEP_SECONDS", 5, 1..=300)?,
        webhook_timeout: seconds(get, "EXECUTOR_WEBHOOK_TIMEOUT_SECONDS", 5, 1..=60)?,
        webhook_retries: number(get, "EXECUTOR_WEBHOOK_RETRIES", 3, 0..=10)?,
    })
}

/// An `http://` or `https://` URL with a host and no credentials. The message never echoes
/// the value: a webhook URL is itself a secret.
fn url(var: &str, raw: &str, public: bool) -> Result<reqwest::Url, ConfigError> {
    let expected = if public {
        "expected the executor's http:// or https:// URL as people reach it, like https://warden.example.com"
    } else {
        "expected comma-separated http:// or https:// URLs without spaces or credentials"
    };
    let parsed = reqwest::Url::parse(raw).map_err(|_| ConfigError::new(var, expected))?;
    let ok = matches!(parsed.scheme(), "http" | "https")
        && parsed.host_str().is_some_and(|h| !h.is_empty())
        && parsed.username().is_empty()
        && parsed.password().is_none()
        && parsed.fragment().is_none()
        && !raw.chars().any(char::is_whitespace)
        && (!public || parsed.query().is_none());
    if ok {
        Ok(parsed)
    } else {
        Err(ConfigError::new(var, expected))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<ApprovalSettings, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        approval_settings(&|name: &str| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_send_nothing_and_sweep_every_five_seconds() {
        let settings = read(&[]).unwrap();

        assert_eq!(settings, ApprovalSettings::default());
    }

    #[test]
    fn webhook_urls_are_a_list_and_bad_ones_are_named_without_echo() {
        let ok = read(&[(
            "EXECUTOR_APPROVAL_WEBHOOK_URLS",
            "https://hooks.slack.com/services/T/B/secret, http://127.0.0.1:9/hook",
        )])
        .unwrap();
        let bad = read(&[(
            "EXECUTOR_APPROVAL_WEBHOOK_URLS",
            "https://hooks.example/x,ftp://secret-host/y",
        )])
        .unwrap_err();

        assert_eq!(ok.webhook_urls.len(), 2);
        assert_eq!(bad.var, "EXECUTOR_APPROVAL_WEBHOOK_URLS");
        assert!(!bad.to_string().contains("secret-host"), "{bad}");
    }

    #[test]
    fn the_public_url_must_be_a_plain_http_url() {
        let bad = read(&[("EXECUTOR_PUBLIC_URL", "warden.example.com")]).unwrap_err();
        let ok = read(&[("EXECUTOR_PUBLIC_URL", "https://warden.example.com/")]).unwrap();

        assert_eq!(bad.var, "EXECUTOR_PUBLIC_URL");
        assert_eq!(
            ok.public_url.unwrap().as_str(),
            "https://warden.example.com/"
        );
    }
}
