//! The addresses a host resolved to: which may be called.
//!
//! A name that passed the allowlist may still resolve to the metadata service or to the
//! pod network (`metadata.example.com` pointing at 169.254.169.254 is a one-line DNS
//! record), so every resolved address is judged, and one bad address refuses them all: the
//! connector may pick any of them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::UrlRefusal;

/// What an address is, for [`check_addresses`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressClass {
    /// Routable on the internet: allowed.
    Public,
    /// Loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), CGNAT (100.64/10),
    /// unspecified (0.0.0.0/8, `::`), and similar local ranges: allowed only when the
    /// allowlist allows private addresses.
    Private,
    /// Link-local (169.254.0.0/16, fe80::/10): never allowed.
    LinkLocal,
    /// A cloud metadata endpoint (169.254.169.254, 169.254.170.2, fd00:ec2::254,
    /// 100.100.100.200, 168.63.129.16): never allowed.
    Metadata,
    /// Multicast, broadcast, reserved (240/4) and documentation ranges, Teredo: never
    /// allowed.
    Reserved,
}

/// Cloud metadata endpoints: AWS (and most clouds), AWS ECS task metadata, Alibaba, Azure's
/// host platform address.
const METADATA_V4: [Ipv4Addr; 4] = [
    Ipv4Addr::new(169, 254, 169, 254),
    Ipv4Addr::new(169, 254, 170, 2),
    Ipv4Addr::new(100, 100, 100, 200),
    Ipv4Addr::new(168, 63, 129, 16),
];

/// AWS's IPv6 metadata endpoint.
const METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);

/// Classifies an address. IPv6 forms that carry an IPv4 address (mapped `::ffff:a.b.c.d`,
/// compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) take the class of that
/// IPv4 address, since they can reach it.
pub fn classify_address(addr: IpAddr) -> AddressClass {
    match addr {
        IpAddr::V4(a) => classify_v4(a),
        IpAddr::V6(a) => classify_v6(a),
    }
}

/// Refuses `addrs` unless every one may be called: never link-local, metadata or reserved,
/// and loopback or private only when `allow_private`. An empty list is refused. The most
/// serious refusal is reported, whatever the order of the addresses.
pub fn check_addresses(addrs: &[IpAddr], allow_private: bool) -> Result<(), UrlRefusal> {
    if addrs.is_empty() {
        return Err(UrlRefusal::NoAddress);
    }
    let classes: Vec<AddressClass> = addrs.iter().map(|a| classify_address(*a)).collect();
    let refusals = [
        (AddressClass::Metadata, UrlRefusal::MetadataAddress),
        (AddressClass::LinkLocal, UrlRefusal::LinkLocalAddress),
        (AddressClass::Reserved, UrlRefusal::ReservedAddress),
    ];
    for (class, refusal) in refusals {
        if classes.contains(&class) {
            return Err(refusal);
        }
    }
    if !allow_private && classes.contains(&AddressClass::Private) {
        return Err(UrlRefusal::PrivateAddress);
    }
    Ok(())
}

/// Whether `a` is in `base/prefix`.
fn in_v4(a: Ipv4Addr, base: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(a) & mask == u32::from(Ipv4Addr::from(base)) & mask
}

fn classify_v4(a: Ipv4Addr) -> AddressClass {
    if METADATA_V4.contains(&a) {
        return AddressClass::Metadata;
    }
    if in_v4(a, [169, 254, 0, 0], 16) {
        return AddressClass::LinkLocal;
    }
    let reserved: [([u8; 4], u32); 5] = [
        ([224, 0, 0, 0], 4), // multicast
        ([240, 0, 0, 0], 4), // reserved, and the broadcast address
        ([192, 0, 2, 0], 24),
        ([198, 51, 100, 0], 24),
        ([203, 0, 113, 0], 24),
    ];
    if reserved.iter().any(|(base, p)| in_v4(a, *base, *p)) {
        return AddressClass::Reserved;
    }
    let private: [([u8; 4], u32); 8] = [
        ([0, 0, 0, 0], 8), // "this network": 0.0.0.0 reaches the local host on Linux
        ([10, 0, 0, 0], 8),
        ([100, 64, 0, 0], 10), // CGNAT, also used for pod and service networks
        ([127, 0, 0, 0], 8),
        ([172, 16, 0, 0], 12),
        ([192, 0, 0, 0], 24),
        ([192, 168, 0, 0], 16),
        ([198, 18, 0, 0], 15),
    ];
    if private.iter().any(|(base, p)| in_v4(a, *base, *p)) {
        return AddressClass::Private;
    }
    AddressClass::Public
}

/// The IPv4 address an IPv6 form carries, if it is one of the forms that reach it.
fn embedded_v4(a: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = a.segments();
    let o = a.octets();
    let mapped = s[..5] == [0; 5] && s[5] == 0xffff;
    let translated = s[..4] == [0; 4] && s[4] == 0xffff && s[5] == 0;
    // `::` and `::1` are IPv6's own unspecified and loopback, not compatible forms.
    let compatible = s[..6] == [0; 6] && !(s[6] == 0 && s[7] <= 1);
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4];
    if mapped || translated || compatible || nat64 {
        return Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    None
}

/// Whether `a` is in the prefix whose first segments are `base`, `prefix` bits long.
fn in_v6(a: Ipv6Addr, base: Ipv6Addr, prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    u128::from(a) & mask == u128::from(base) & mask
}

fn classify_v6(a: Ipv6Addr) -> AddressClass {
    if a == METADATA_V6 {
        return AddressClass::Metadata;
    }
    if let Some(v4) = embedded_v4(a) {
        return classify_v4(v4);
    }
    if a == Ipv6Addr::LOCALHOST || a == Ipv6Addr::UNSPECIFIED {
        return AddressClass::Private;
    }
    let v6 = |s0: u16, s1: u16| Ipv6Addr::new(s0, s1, 0, 0, 0, 0, 0, 0);
    if in_v6(a, v6(0xfe80, 0), 10) {
        return AddressClass::LinkLocal;
    }
    let reserved = [
        (v6(0xff00, 0), 8),       // multicast
        (v6(0x2001, 0x0db8), 32), // documentation
        (v6(0x2001, 0), 32),      // Teredo, which tunnels to an IPv4 address
        (v6(0x0100, 0), 64),      // discard-only
    ];
    if reserved.iter().any(|(base, p)| in_v6(a, *base, *p)) {
        return AddressClass::Reserved;
    }
    let private = [
        (v6(0xfc00, 0), 7),       // unique local
        (v6(0xfec0, 0), 10),      // site-local, deprecated but still routed by some
        (v6(0x0064, 0xff9b), 32), // NAT64 local-use (64:ff9b:1::/48) and the rest of it
    ];
    if private.iter().any(|(base, p)| in_v6(a, *base, *p)) {
        return AddressClass::Private;
    }
    AddressClass::Public
}
