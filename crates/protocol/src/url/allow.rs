//! Allow entries and the allowlist: scheme, host, port and path prefix, compared part by
//! part on a [`NormalUrl`].

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::address::{AddressClass, classify_address};
use super::{
    DotSegments, NormalUrl, Scheme, UrlHost, UrlRefusal, normalise_path, parse_host, parse_port,
    render_origin, split,
};

/// The hosts an [`AllowEntry`] covers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// Exactly this host. An IP host is matched only by an entry naming that same address.
    Exact(UrlHost),
    /// Every host strictly under this domain (written `*.domain`), at any depth and on label
    /// boundaries: `*.internal.example.com` covers `a.internal.example.com` and
    /// `a.b.internal.example.com`, not `internal.example.com` itself (list it too if it
    /// is meant) and not `evilinternal.example.com`.
    Subdomains(String),
}

impl HostPattern {
    /// Whether `host` is covered.
    pub fn matches(&self, host: &UrlHost) -> bool {
        match (self, host) {
            (HostPattern::Exact(expected), host) => expected == host,
            (HostPattern::Subdomains(suffix), UrlHost::Domain(name)) => name
                .strip_suffix(suffix.as_str())
                .and_then(|head| head.strip_suffix('.'))
                .is_some_and(|head| !head.is_empty()),
            (HostPattern::Subdomains(_), UrlHost::Ip(_)) => false,
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Exact(host) => write!(f, "{host}"),
            HostPattern::Subdomains(suffix) => write!(f, "*.{suffix}"),
        }
    }
}

/// One allowed URL prefix, such as `https://api.internal.example.com/v1/` or
/// `https://*.internal.example.com:8443/v1/`.
///
/// It covers a [`NormalUrl`] with the same scheme, a host the [`HostPattern`] matches, the
/// same port (the scheme's default when the entry names none) and a path under its prefix
/// on segment boundaries: `/v1` and `/v1/` both cover `/v1` and `/v1/x`, not `/v10`. The
/// query is not compared. The entry is normalised like a URL (so `https://bücher.example/`
/// and `https://xn--bcher-kva.example/` are one entry) and may not have a query, a
/// fragment, user information or `.`/`..` segments. An IP entry may not name a link-local,
/// metadata or reserved address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AllowEntry {
    text: String,
    scheme: Scheme,
    host: HostPattern,
    port: u16,
    path_prefix: String,
}

impl AllowEntry {
    /// Parses an entry; see the type's docs for what is refused.
    pub fn parse(input: &str) -> Result<Self, UrlRefusal> {
        // `*.` is cut before parsing, since `*` is no DNS character, and put back after.
        let (wildcard, text) = match input.split_once("://") {
            Some((scheme, rest)) if rest.starts_with("*.") => {
                (true, format!("{scheme}://{}", &rest[2..]))
            }
            _ => (false, input.to_owned()),
        };
        let raw = split(&text)?;
        if raw.query.is_some() {
            return Err(UrlRefusal::InvalidEntry(
                "an allow entry has no query string",
            ));
        }
        let host = parse_host(raw.host)?;
        let port = parse_port(raw.port, raw.scheme)?;
        let path = normalise_path(raw.path, DotSegments::Refuse)?;
        let host = match (wildcard, host) {
            (false, UrlHost::Ip(ip)) => {
                refuse_never_allowed(ip)?;
                HostPattern::Exact(UrlHost::Ip(ip))
            }
            (false, host) => HostPattern::Exact(host),
            (true, UrlHost::Domain(name)) if name.contains('.') => HostPattern::Subdomains(name),
            (true, UrlHost::Domain(_)) => {
                return Err(UrlRefusal::InvalidEntry(
                    "`*.` needs a domain of at least two labels after it",
                ));
            }
            (true, UrlHost::Ip(_)) => {
                return Err(UrlRefusal::InvalidEntry(
                    "`*.` cannot precede an IP address",
                ));
            }
        };
        // `/v1/` is the prefix `/v1`: the boundary check supplies the slash.
        let path_prefix = match path.strip_suffix('/') {
            Some(trimmed) if !trimmed.is_empty() => trimmed.to_owned(),
            _ => path,
        };
        let mut text = render_origin(raw.scheme, &host.to_string(), port);
        text.push_str(&path_prefix);
        Ok(AllowEntry {
            text,
            scheme: raw.scheme,
            host,
            port,
            path_prefix,
        })
    }

    /// Whether this entry covers `url`.
    pub fn allows(&self, url: &NormalUrl) -> bool {
        self.scheme == url.scheme()
            && self.host.matches(url.host())
            && self.port == url.port()
            && self.covers_path(url.path())
    }

    /// Whether `path` is the prefix or under it on a segment boundary.
    pub fn covers_path(&self, path: &str) -> bool {
        if self.path_prefix == "/" {
            return true;
        }
        path.strip_prefix(self.path_prefix.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// The canonical text, `scheme://host[:port]prefix` (the prefix without a trailing `/`).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The hosts covered.
    pub fn host(&self) -> &HostPattern {
        &self.host
    }

    /// The port, the scheme's default when the entry names none.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The normalised path prefix, without a trailing `/` unless it is `/`.
    pub fn path_prefix(&self) -> &str {
        &self.path_prefix
    }
}

/// An entry naming an address that would be refused once resolved is a mistake in the
/// configuration: say so when it is read, not at the first call.
fn refuse_never_allowed(ip: IpAddr) -> Result<(), UrlRefusal> {
    match classify_address(ip) {
        AddressClass::Metadata => Err(UrlRefusal::MetadataAddress),
        AddressClass::LinkLocal => Err(UrlRefusal::LinkLocalAddress),
        AddressClass::Reserved => Err(UrlRefusal::ReservedAddress),
        AddressClass::Public | AddressClass::Private => Ok(()),
    }
}

impl fmt::Display for AllowEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for AllowEntry {
    type Err = UrlRefusal;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AllowEntry::parse(s)
    }
}

impl Serialize for AllowEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for AllowEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        AllowEntry::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The URLs an action may call: a URL is allowed when one entry covers it. Empty, it allows
/// nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Allowlist {
    entries: Vec<AllowEntry>,
    allow_private: bool,
}

impl Allowlist {
    /// An allowlist of `entries`; `allow_private` lets hosts resolve to loopback and private
    /// addresses (see [`check_addresses`](super::check_addresses)). An IP entry in a private
    /// range is refused ([`UrlRefusal::PrivateAddress`]) unless `allow_private`, since it
    /// could never be called.
    pub fn new(entries: Vec<AllowEntry>, allow_private: bool) -> Result<Self, UrlRefusal> {
        let private_ip = |e: &AllowEntry| match e.host() {
            HostPattern::Exact(UrlHost::Ip(ip)) => classify_address(*ip) == AddressClass::Private,
            _ => false,
        };
        if !allow_private && entries.iter().any(private_ip) {
            return Err(UrlRefusal::PrivateAddress);
        }
        Ok(Allowlist {
            entries,
            allow_private,
        })
    }

    /// Parses each entry, then [`new`](Self::new). To report which entry failed, parse them
    /// one by one with [`AllowEntry::parse`].
    pub fn parse<S: AsRef<str>>(entries: &[S], allow_private: bool) -> Result<Self, UrlRefusal> {
        let entries = entries
            .iter()
            .map(|e| AllowEntry::parse(e.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Allowlist::new(entries, allow_private)
    }

    /// The entries.
    pub fn entries(&self) -> &[AllowEntry] {
        &self.entries
    }

    /// Whether loopback and private addresses may be called.
    pub fn allow_private(&self) -> bool {
        self.allow_private
    }

    /// Parses `url` and checks it against the entries: the syntactic half of the check.
    /// The answer is the canonical URL to send; the host must still pass
    /// [`check_addresses`](Self::check_addresses) once resolved.
    pub fn check(&self, url: &str) -> Result<NormalUrl, UrlRefusal> {
        let url = NormalUrl::parse(url)?;
        self.check_url(&url)?;
        Ok(url)
    }

    /// Checks a parsed URL against the entries. A refusal names the first part, in the
    /// order host, scheme, port, path, that no entry covering the parts before it matches;
    /// an IP host that no entry names is [`UrlRefusal::IpLiteral`].
    pub fn check_url(&self, url: &NormalUrl) -> Result<(), UrlRefusal> {
        let mut candidates: Vec<&AllowEntry> = self
            .entries
            .iter()
            .filter(|e| e.host.matches(url.host()))
            .collect();
        if candidates.is_empty() {
            return Err(match url.host() {
                UrlHost::Ip(_) => UrlRefusal::IpLiteral,
                UrlHost::Domain(_) => UrlRefusal::HostNotAllowed,
            });
        }
        candidates.retain(|e| e.scheme == url.scheme());
        if candidates.is_empty() {
            return Err(UrlRefusal::SchemeNotAllowed);
        }
        candidates.retain(|e| e.port == url.port());
        if candidates.is_empty() {
            return Err(UrlRefusal::PortNotAllowed);
        }
        if !candidates.iter().any(|e| e.covers_path(url.path())) {
            return Err(UrlRefusal::PathNotAllowed);
        }
        // An IP host resolves to itself: judge it now, as the entry was when it was read.
        if let UrlHost::Ip(ip) = url.host() {
            self.check_addresses(&[*ip])?;
        }
        Ok(())
    }

    /// Judges the addresses an allowed host resolved to, with this allowlist's
    /// `allow_private`: see [`check_addresses`](super::check_addresses).
    pub fn check_addresses(&self, addrs: &[IpAddr]) -> Result<(), UrlRefusal> {
        super::address::check_addresses(addrs, self.allow_private)
    }
}
