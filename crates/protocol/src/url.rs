//! URLs an action may call: strict parsing into one canonical form, an allowlist that
//! compares what it says, and the checks on the addresses a host resolves to.
//!
//! A check like `url.startsWith("https://api.internal.com")` also admits
//! `https://api.internal.com.evil.com` and `https://api.internal.com@evil.com`. Here a URL is
//! taken apart first and its parts compared, in three steps that all run before any byte is
//! sent:
//!
//! 1. [`NormalUrl::parse`] refuses whatever two parsers could read differently and brings
//!    the rest to one canonical form, which is the form that is sent.
//! 2. [`Allowlist::check`] compares scheme, host, port and path prefix against
//!    [`AllowEntry`]s (`https://api.internal.example.com/v1/`,
//!    `https://*.internal.example.com/v1/`).
//! 3. [`check_addresses`] (or [`Allowlist::check_addresses`]) judges the addresses the host
//!    resolved to: link-local and cloud metadata addresses always refused, loopback and
//!    private ranges unless the allowlist allows them.
//!
//! # Canonical form
//! | part | rule |
//! |---|---|
//! | scheme | `http` or `https`, lowercase |
//! | host | lowercase, IDNA to ASCII (`bücher.example` is `xn--bcher-kva.example`), one trailing dot removed; labels of letters, digits and inner hyphens |
//! | port | the default (80, 443) left out |
//! | path | `/` when empty; percent-escapes of unreserved characters decoded (`%7E` is `~`), the others in uppercase hex; characters outside RFC 3986 encoded; `.` and `..` resolved |
//! | query | kept, not compared; percent-escapes normalised as in the path; an empty `?` dropped |
//!
//! The canonical string reads back unchanged through the WHATWG parser of the `url` crate
//! (the one `reqwest` uses), so what was checked is what is sent.
//!
//! # Refused, and why
//! Each refusal is a [`UrlRefusal`] with a stable [`code`](UrlRefusal::code). Messages never
//! repeat the URL: a query string may carry a secret.
//! - user information (`user@`, `user:pw@`, even an empty `@`): the classic prefix bypass,
//!   and credentials belong in headers taken from the environment;
//! - a backslash anywhere (WHATWG reads it as `/`, other parsers do not), control characters
//!   and whitespace (WHATWG silently drops tabs and newlines), a fragment (never sent);
//! - an IPv4 host not written as four decimal octets (`2130706433`, `0177.0.0.1`, `0x7f.1`,
//!   `127.1`), and any IP host that no entry names exactly ([`Allowlist::check`]);
//! - a dot segment written with percent-escapes (`%2e%2e`, `%2E.`) or with path parameters
//!   (`..;`), which some servers resolve after the check, and a percent-encoded `/` or `\`
//!   or control character in the path. Plain `.` and `..` are resolved, then the result is
//!   compared: `/v1/../admin` is `/admin`.
//!
//! # Left to the caller
//! This module sends nothing. The HTTP runtime must send [`NormalUrl::as_str`], not the
//! input; connect to the very addresses that passed [`check_addresses`] (resolving again
//! would let a DNS answer change between check and connect); and treat any 3xx as a
//! failure rather than follow it.

mod address;
mod allow;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use address::{AddressClass, check_addresses, classify_address};
pub use allow::{AllowEntry, Allowlist, HostPattern};

/// Longest URL accepted, in bytes.
pub const MAX_URL_LEN: usize = 4096;

/// Why a URL, an allow entry or a resolved address was refused. [`code`](Self::code) is
/// stable for clients and tests; the message is for people and never repeats the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum UrlRefusal {
    /// Longer than [`MAX_URL_LEN`].
    #[error("the URL is longer than {MAX_URL_LEN} bytes")]
    TooLong,
    /// A control character or whitespace, raw (tab, newline, space, no-break space).
    #[error("the URL contains a control character or whitespace")]
    ControlOrWhitespace,
    /// A backslash, which WHATWG parsers read as `/` and others do not.
    #[error("the URL contains a backslash, which parsers read differently")]
    Backslash,
    /// Not of the form `scheme://host...`.
    #[error("the URL is not absolute: it must start with http:// or https:// and a host")]
    NotAbsolute,
    /// A scheme other than `http` and `https`.
    #[error("only http and https URLs are allowed")]
    UnsupportedScheme,
    /// `user@` or `user:password@` before the host.
    #[error("the URL carries user information before the host; send credentials in headers")]
    Userinfo,
    /// A `#fragment`, which is never sent to the server.
    #[error("the URL has a fragment (#...), which is never sent to the server")]
    Fragment,
    /// The host is not a DNS name (labels of letters, digits and inner hyphens) or an IP.
    #[error("the URL's host is not a valid DNS name or IP address")]
    InvalidHost,
    /// The port is empty, not a number, 0 or above 65535.
    #[error("the URL's port is not a number from 1 to 65535")]
    InvalidPort,
    /// The host is an IP address that no allow entry names, or an IPv4 address not written
    /// as four decimal octets.
    #[error(
        "the host is an IP address that no allow entry names, or not written as four decimal octets"
    )]
    IpLiteral,
    /// A `%` not followed by two hex digits.
    #[error("the URL has a malformed percent-escape")]
    BadPercentEncoding,
    /// A dot segment written with percent-escapes (`%2e%2e`) or parameters (`..;`).
    #[error("the path has a dot segment written with percent-escapes or parameters")]
    EncodedDotSegment,
    /// `%2F` or `%5C` in the path.
    #[error("the path has a percent-encoded slash or backslash")]
    EncodedSeparator,
    /// A percent-encoded control character (`%00`..`%1F`, `%7F`) in the path.
    #[error("the path has a percent-encoded control character")]
    EncodedControl,
    /// No allow entry covers the host.
    #[error("no allow entry covers this host")]
    HostNotAllowed,
    /// Entries cover the host, none with this scheme.
    #[error("the allow entries for this host use another scheme")]
    SchemeNotAllowed,
    /// Entries cover the host and scheme, none with this port.
    #[error("the allow entries for this host use another port")]
    PortNotAllowed,
    /// Entries cover the host, scheme and port, none this path.
    #[error("no allow entry for this host covers this path")]
    PathNotAllowed,
    /// An allow entry is malformed; the reason says how.
    #[error("invalid allow entry: {0}")]
    InvalidEntry(&'static str),
    /// The host resolved to no address.
    #[error("the host resolved to no address")]
    NoAddress,
    /// A cloud metadata address (169.254.169.254, fd00:ec2::254, ...): never allowed.
    #[error("the host resolves to a cloud metadata address, which is never allowed")]
    MetadataAddress,
    /// A link-local address (169.254.0.0/16, fe80::/10): never allowed.
    #[error("the host resolves to a link-local address, which is never allowed")]
    LinkLocalAddress,
    /// Loopback, private, CGNAT or unspecified, and private addresses are not allowed.
    #[error(
        "the host resolves to a loopback or private address, and this allowlist does not allow them"
    )]
    PrivateAddress,
    /// Multicast, broadcast, documentation or otherwise reserved: never allowed.
    #[error("the host resolves to a multicast or reserved address, which is never allowed")]
    ReservedAddress,
}

impl UrlRefusal {
    /// The stable snake_case code of this refusal.
    pub fn code(&self) -> &'static str {
        match self {
            UrlRefusal::TooLong => "too_long",
            UrlRefusal::ControlOrWhitespace => "control_or_whitespace",
            UrlRefusal::Backslash => "backslash",
            UrlRefusal::NotAbsolute => "not_absolute",
            UrlRefusal::UnsupportedScheme => "unsupported_scheme",
            UrlRefusal::Userinfo => "userinfo",
            UrlRefusal::Fragment => "fragment",
            UrlRefusal::InvalidHost => "invalid_host",
            UrlRefusal::InvalidPort => "invalid_port",
            UrlRefusal::IpLiteral => "ip_literal",
            UrlRefusal::BadPercentEncoding => "bad_percent_encoding",
            UrlRefusal::EncodedDotSegment => "encoded_dot_segment",
            UrlRefusal::EncodedSeparator => "encoded_separator",
            UrlRefusal::EncodedControl => "encoded_control",
            UrlRefusal::HostNotAllowed => "host_not_allowed",
            UrlRefusal::SchemeNotAllowed => "scheme_not_allowed",
            UrlRefusal::PortNotAllowed => "port_not_allowed",
            UrlRefusal::PathNotAllowed => "path_not_allowed",
            UrlRefusal::InvalidEntry(_) => "invalid_entry",
            UrlRefusal::NoAddress => "no_address",
            UrlRefusal::MetadataAddress => "metadata_address",
            UrlRefusal::LinkLocalAddress => "link_local_address",
            UrlRefusal::PrivateAddress => "private_address",
            UrlRefusal::ReservedAddress => "reserved_address",
        }
    }
}

/// The scheme of an allowed URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `http`, default port 80.
    Http,
    /// `https`, default port 443.
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// The port a URL of this scheme uses when it names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// The host of a [`NormalUrl`]: a DNS name in ASCII (punycode), or an IP address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UrlHost {
    /// A lowercase ASCII DNS name without a trailing dot.
    Domain(String),
    /// An IP address literal (`127.0.0.1`, `[::1]`).
    Ip(IpAddr),
}

impl fmt::Display for UrlHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlHost::Domain(name) => f.write_str(name),
            UrlHost::Ip(IpAddr::V4(a)) => write!(f, "{a}"),
            // The WHATWG serialisation (`[::ffff:7f00:1]`), not std's (`::ffff:127.0.0.1`),
            // so that the canonical string reads back unchanged.
            UrlHost::Ip(IpAddr::V6(a)) => write!(f, "{}", ::url::Host::<String>::Ipv6(*a)),
        }
    }
}

/// An absolute http(s) URL in canonical form (see the [module docs](self)): parse it with
/// [`NormalUrl::parse`], send [`as_str`](Self::as_str).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NormalUrl {
    text: String,
    scheme: Scheme,
    host: UrlHost,
    port: u16,
    path: String,
    query: Option<String>,
}

impl NormalUrl {
    /// Parses and normalises `input`, refusing anything ambiguous (see the module docs).
    /// Any IP host in dotted-quad or IPv6 form is accepted here; [`Allowlist::check`]
    /// refuses those its entries do not name.
    pub fn parse(input: &str) -> Result<Self, UrlRefusal> {
        let raw = split(input)?;
        let host = parse_host(raw.host)?;
        let port = parse_port(raw.port, raw.scheme)?;
        let path = normalise_path(raw.path, DotSegments::Resolve)?;
        let query = match raw.query {
            Some(q) if !q.is_empty() => Some(normalise_component(q, Component::Query)?),
            _ => None,
        };
        let mut text = render_origin(raw.scheme, &host.to_string(), port);
        text.push_str(&path);
        if let Some(q) = &query {
            text.push('?');
            text.push_str(q);
        }
        Ok(NormalUrl {
            text,
            scheme: raw.scheme,
            host,
            port,
            path,
            query,
        })
    }

    /// The canonical string: what is checked, sent and bound.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host, in ASCII.
    pub fn host(&self) -> &UrlHost {
        &self.host
    }

    /// The port, the scheme's default when the URL names none.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The normalised path, starting with `/`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The normalised query, without `?`; `None` when absent or empty.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// `scheme://host[:port]path`, the canonical string without its query: the target a
    /// decision binds and a policy `url:` resource matches.
    pub fn without_query(&self) -> &str {
        match self.text.find('?') {
            Some(i) => &self.text[..i],
            None => &self.text,
        }
    }
}

impl fmt::Display for NormalUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl AsRef<str> for NormalUrl {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl FromStr for NormalUrl {
    type Err = UrlRefusal;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NormalUrl::parse(s)
    }
}

impl Serialize for NormalUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for NormalUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        NormalUrl::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A URL cut at its delimiters, before any part is interpreted.
struct RawParts<'a> {
    scheme: Scheme,
    host: &'a str,
    port: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
}

/// Cuts `input` into its parts after the checks on the whole string. The order of the checks
/// fixes which refusal a URL with several faults gets: characters first, then structure.
fn split(input: &str) -> Result<RawParts<'_>, UrlRefusal> {
    if input.len() > MAX_URL_LEN {
        return Err(UrlRefusal::TooLong);
    }
    if input.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(UrlRefusal::ControlOrWhitespace);
    }
    if input.contains('\\') {
        return Err(UrlRefusal::Backslash);
    }
    let (scheme, rest) = input.split_once(':').ok_or(UrlRefusal::NotAbsolute)?;
    if !is_scheme_syntax(scheme) {
        return Err(UrlRefusal::NotAbsolute);
    }
    let scheme = if scheme.eq_ignore_ascii_case("http") {
        Scheme::Http
    } else if scheme.eq_ignore_ascii_case("https") {
        Scheme::Https
    } else {
        return Err(UrlRefusal::UnsupportedScheme);
    };
    if input.contains('#') {
        return Err(UrlRefusal::Fragment);
    }
    // Exactly two slashes: WHATWG also reads `https:host` and `https:///host`.
    let rest = rest.strip_prefix("//").ok_or(UrlRefusal::NotAbsolute)?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') {
        return Err(UrlRefusal::Userinfo);
    }
    let (host, port) = split_host_port(authority)?;
    let (path, query) = match tail.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (tail, None),
    };
    Ok(RawParts {
        scheme,
        host,
        port,
        path,
        query,
    })
}

/// RFC 3986: a letter, then letters, digits, `+`, `-`, `.`.
fn is_scheme_syntax(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// `host[:port]` or `[v6][:port]`.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), UrlRefusal> {
    if authority.starts_with('[') {
        let close = authority.find(']').ok_or(UrlRefusal::InvalidHost)?;
        let (host, after) = authority.split_at(close + 1);
        if after.is_empty() {
            return Ok((host, None));
        }
        let port = after.strip_prefix(':').ok_or(UrlRefusal::InvalidHost)?;
        return Ok((host, Some(port)));
    }
    Ok(match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    })
}

/// The host through the WHATWG host parser (IDNA, IPv4 and IPv6 forms), then held to DNS
/// label rules, which that parser does not apply.
fn parse_host(raw: &str) -> Result<UrlHost, UrlRefusal> {
    // WHATWG percent-decodes a host; a percent-encoded host has no honest use.
    if raw.is_empty() || raw.contains('%') {
        return Err(UrlRefusal::InvalidHost);
    }
    match ::url::Host::parse(raw).map_err(|_| UrlRefusal::InvalidHost)? {
        ::url::Host::Ipv6(a) => Ok(UrlHost::Ip(IpAddr::V6(a))),
        ::url::Host::Ipv4(a) => {
            // `2130706433`, `0x7f.1`, `127.1` and full-width digits all parse to 127.0.0.1;
            // only the dotted-quad spelling is accepted.
            let written = raw.strip_suffix('.').unwrap_or(raw);
            if written != a.to_string() {
                return Err(UrlRefusal::IpLiteral);
            }
            Ok(UrlHost::Ip(IpAddr::V4(a)))
        }
        ::url::Host::Domain(name) => {
            let name = name.strip_suffix('.').unwrap_or(&name);
            if !is_dns_name(name) {
                return Err(UrlRefusal::InvalidHost);
            }
            Ok(UrlHost::Domain(name.to_owned()))
        }
    }
}

/// Lowercase LDH labels of 1 to 63 characters, 253 in all.
fn is_dns_name(name: &str) -> bool {
    let label = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    !name.is_empty() && name.len() <= 253 && name.split('.').all(label)
}

/// The effective port; a `:` must be followed by a port.
fn parse_port(raw: Option<&str>, scheme: Scheme) -> Result<u16, UrlRefusal> {
    let Some(raw) = raw else {
        return Ok(scheme.default_port());
    };
    if raw.is_empty() || raw.len() > 5 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlRefusal::InvalidPort);
    }
    match raw.parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(UrlRefusal::InvalidPort),
    }
}

/// `scheme://host[:port]`, the port left out when it is the default.
fn render_origin(scheme: Scheme, host: &str, port: u16) -> String {
    if port == scheme.default_port() {
        format!("{}://{host}", scheme.as_str())
    } else {
        format!("{}://{host}:{port}", scheme.as_str())
    }
}

/// What to do with a plain `.` or `..` segment.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DotSegments {
    /// Resolve it, as RFC 3986 section 5.2.4 does (a URL).
    Resolve,
    /// Refuse it (an allow entry, which should say what it means).
    Refuse,
}

/// The normalised path: see the module docs.
fn normalise_path(raw: &str, dots: DotSegments) -> Result<String, UrlRefusal> {
    let Some(rest) = raw.strip_prefix('/') else {
        // `split` leaves a path that is empty or starts with `/`.
        return Ok("/".to_owned());
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let last = segments.len().saturating_sub(1);
    let mut out: Vec<String> = Vec::with_capacity(segments.len());
    for (i, segment) in segments.iter().enumerate() {
        if matches!(*segment, "." | "..") {
            if dots == DotSegments::Refuse {
                return Err(UrlRefusal::InvalidEntry(
                    "the path of an allow entry has a `.` or `..` segment",
                ));
            }
            if *segment == ".." {
                out.pop();
            }
            // `/a/b/..` is `/a/`: a dot segment at the end leaves a trailing slash.
            if i == last {
                out.push(String::new());
            }
            continue;
        }
        let segment = normalise_component(segment, Component::PathSegment)?;
        // `..;x` is `..` to servers that strip path parameters (Tomcat, Spring).
        let bare = segment.split(';').next().unwrap_or_default();
        if matches!(bare, "." | "..") {
            return Err(UrlRefusal::EncodedDotSegment);
        }
        out.push(segment);
    }
    Ok(format!("/{}", out.join("/")))
}

/// Which part of the URL a component is, for the characters it may hold raw.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Component {
    PathSegment,
    Query,
}

/// RFC 3986 unreserved: safe to decode anywhere.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Characters kept raw; every other byte is percent-encoded. The query leaves out `'`,
/// which the WHATWG parser would encode and so change the string.
fn keeps_raw(b: u8, component: Component) -> bool {
    is_unreserved(b)
        || match component {
            Component::PathSegment => b"!$&'()*+,;=:@".contains(&b),
            Component::Query => b"!$&()*+,;=:@/?".contains(&b),
        }
}

/// Decodes escapes of unreserved characters, uppercases the others and encodes characters
/// that may not appear raw. In a path segment, refuses encoded separators and controls.
fn normalise_component(raw: &str, component: Component) -> Result<String, UrlRefusal> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let value = match (bytes.get(i + 1), bytes.get(i + 2)) {
                (Some(&h), Some(&l)) => hex_value(h)
                    .zip(hex_value(l))
                    .map(|(h, l)| h << 4 | l)
                    .ok_or(UrlRefusal::BadPercentEncoding)?,
                _ => return Err(UrlRefusal::BadPercentEncoding),
            };
            if component == Component::PathSegment {
                if matches!(value, b'/' | b'\\') {
                    return Err(UrlRefusal::EncodedSeparator);
                }
                if value < 0x20 || value == 0x7f {
                    return Err(UrlRefusal::EncodedControl);
                }
            }
            if is_unreserved(value) {
                out.push(char::from(value));
            } else {
                push_escape(&mut out, value);
            }
            i += 3;
        } else {
            if keeps_raw(b, component) {
                out.push(char::from(b));
            } else {
                // Each byte of a UTF-8 character, as browsers do.
                push_escape(&mut out, b);
            }
            i += 1;
        }
    }
    Ok(out)
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

fn push_escape(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0x0f)]));
}
