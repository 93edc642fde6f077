//! The URL allowlist against a corpus of known bypasses, one row per case with the code of
//! the refusal expected, and the checks on resolved addresses. Properties are in
//! `url_properties.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;

use warden_protocol::url::{
    AllowEntry, Allowlist, NormalUrl, UrlRefusal, check_addresses, classify_address,
};

/// The allowlist most rows are checked against.
const ENTRIES: &[&str] = &[
    "https://api.internal.com/v1",
    "https://*.internal.example.com/v2/",
    "https://xn--bcher-kva.example/shop",
    "https://münchen.example/",
    "http://plain.example.com:8080/",
];

/// What a row expects: the canonical URL, or the code of the refusal.
type Expected = Result<&'static str, &'static str>;

fn run(list: &Allowlist, url: &str) -> Result<String, &'static str> {
    list.check(url)
        .map(|u| u.as_str().to_owned())
        .map_err(|r| r.code())
}

fn assert_rows(list: &Allowlist, rows: &[(&str, Expected)]) {
    let mut failures = Vec::new();
    for (url, expected) in rows {
        let got = run(list, url);
        if got.as_deref().map_err(|c| *c) != *expected {
            failures.push(format!("{url:?}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn allowed_urls_are_normalised() {
    // Arrange
    let list = Allowlist::parse(ENTRIES, false).unwrap();
    let rows: &[(&str, Expected)] = &[
        (
            "https://api.internal.com/v1",
            Ok("https://api.internal.com/v1"),
        ),
        (
            "https://api.internal.com/v1/x",
            Ok("https://api.internal.com/v1/x"),
        ),
        (
            "https://API.INTERNAL.COM./v1/x",
            Ok("https://api.internal.com/v1/x"),
        ),
        (
            "HTTPS://api.internal.com:443/v1/x",
            Ok("https://api.internal.com/v1/x"),
        ),
        (
            "https://ａｐｉ.internal.com/v1/x",
            Ok("https://api.internal.com/v1/x"),
        ),
        (
            "https://api.internal.com/v1/%7euser/%3a/%41",
            Ok("https://api.internal.com/v1/~user/%3A/A"),
        ),
        (
            "https://api.internal.com/v1/a/./b/../c",
            Ok("https://api.internal.com/v1/a/c"),
        ),
        (
            "https://api.internal.com/v1/a/..",
            Ok("https://api.internal.com/v1/"),
        ),
        (
            "https://api.internal.com/v1/é|x",
            Ok("https://api.internal.com/v1/%C3%A9%7Cx"),
        ),
        (
            "https://api.internal.com/v1/x?b=1&a=%2f&c=%7e",
            Ok("https://api.internal.com/v1/x?b=1&a=%2F&c=~"),
        ),
        (
            "https://api.internal.com/v1/x?it's",
            Ok("https://api.internal.com/v1/x?it%27s"),
        ),
        (
            "https://api.internal.com/v1?",
            Ok("https://api.internal.com/v1"),
        ),
        (
            "https://bücher.example/shop/x",
            Ok("https://xn--bcher-kva.example/shop/x"),
        ),
        (
            "https://BÜCHER.example/shop",
            Ok("https://xn--bcher-kva.example/shop"),
        ),
        (
            "https://xn--mnchen-3ya.example/",
            Ok("https://xn--mnchen-3ya.example/"),
        ),
        (
            "https://münchen.example",
            Ok("https://xn--mnchen-3ya.example/"),
        ),
        (
            "https://a.internal.example.com/v2/x",
            Ok("https://a.internal.example.com/v2/x"),
        ),
        (
            "https://a.b.internal.example.com/v2",
            Ok("https://a.b.internal.example.com/v2"),
        ),
        (
            "http://plain.example.com:8080/anything",
            Ok("http://plain.example.com:8080/anything"),
        ),
    ];

    // Act and Assert
    assert_rows(&list, rows);
}

#[test]
fn host_bypasses_are_refused() {
    // Arrange
    let list = Allowlist::parse(ENTRIES, false).unwrap();
    let rows: &[(&str, Expected)] = &[
        (
            "https://api.internal.com.evil.com/v1/",
            Err("host_not_allowed"),
        ),
        ("https://api.internal.com@evil.com/v1/", Err("userinfo")),
        ("https://user:pw@api.internal.com/v1/", Err("userinfo")),
        ("https://@api.internal.com/v1/", Err("userinfo")),
        ("https://api.internal.com:443@evil.com/v1/", Err("userinfo")),
        (
            "https://evil.com/https://api.internal.com/v1/",
            Err("host_not_allowed"),
        ),
        (
            "https://evil.com/?https://api.internal.com/v1/",
            Err("host_not_allowed"),
        ),
        ("https://api.internal.com\\@evil.com/v1/", Err("backslash")),
        ("https:\\\\evil.com/v1/", Err("backslash")),
        ("https://internal.example.com/v2/", Err("host_not_allowed")),
        (
            "https://evilinternal.example.com/v2/",
            Err("host_not_allowed"),
        ),
        (
            "https://a.internal.example.com.evil.com/v2/",
            Err("host_not_allowed"),
        ),
        ("https://.internal.example.com/v2/", Err("invalid_host")),
        ("https://api_internal.com/v1", Err("invalid_host")),
        ("https://a..internal.example.com/v2", Err("invalid_host")),
        ("https://api.internal.com../v1", Err("invalid_host")),
        ("https://-api.internal.com/v1", Err("invalid_host")),
        ("https://%61pi.internal.com/v1", Err("invalid_host")),
        (
            "https://api.internal.com%2f.evil.com/v1",
            Err("invalid_host"),
        ),
        ("https:///api.internal.com/v1", Err("invalid_host")),
        ("https://[api.internal.com]/v1", Err("invalid_host")),
    ];

    // Act and Assert
    assert_rows(&list, rows);
}

#[test]
fn path_bypasses_are_refused() {
    // Arrange
    let list = Allowlist::parse(ENTRIES, false).unwrap();
    let rows: &[(&str, Expected)] = &[
        (
            "https://api.internal.com/v1/%2e%2e/admin",
            Err("encoded_dot_segment"),
        ),
        (
            "https://api.internal.com/v1/%2E./admin",
            Err("encoded_dot_segment"),
        ),
        (
            "https://api.internal.com/v1/.%2e/admin",
            Err("encoded_dot_segment"),
        ),
        (
            "https://api.internal.com/v1/%2e/admin",
            Err("encoded_dot_segment"),
        ),
        (
            "https://api.internal.com/v1/..;/admin",
            Err("encoded_dot_segment"),
        ),
        (
            "https://api.internal.com/v1/../admin",
            Err("path_not_allowed"),
        ),
        (
            "https://api.internal.com/v1/x/../../admin",
            Err("path_not_allowed"),
        ),
        ("https://api.internal.com/v1/..", Err("path_not_allowed")),
        ("https://api.internal.com/v10", Err("path_not_allowed")),
        ("https://api.internal.com/v1x/y", Err("path_not_allowed")),
        ("https://api.internal.com/V1/x", Err("path_not_allowed")),
        ("https://api.internal.com/", Err("path_not_allowed")),
        ("https://api.internal.com", Err("path_not_allowed")),
        (
            "https://a.internal.example.com/v20",
            Err("path_not_allowed"),
        ),
        (
            "https://api.internal.com/v1%2F..%2Fadmin",
            Err("encoded_separator"),
        ),
        (
            "https://api.internal.com/v1/%5c..%5cadmin",
            Err("encoded_separator"),
        ),
        ("https://api.internal.com/v1\\..\\admin", Err("backslash")),
        ("https://api.internal.com/v1/%00", Err("encoded_control")),
        (
            "https://api.internal.com/v1/x%0d%0aHost:evil",
            Err("encoded_control"),
        ),
        (
            "https://api.internal.com/v1/%zz",
            Err("bad_percent_encoding"),
        ),
        (
            "https://api.internal.com/v1/%4",
            Err("bad_percent_encoding"),
        ),
        (
            "https://api.internal.com/v1/x?%",
            Err("bad_percent_encoding"),
        ),
        (
            "https://api.internal.com/v1/x#/../../admin",
            Err("fragment"),
        ),
    ];

    // Act and Assert
    assert_rows(&list, rows);
}

#[test]
fn scheme_port_and_character_tricks_are_refused() {
    // Arrange
    let list = Allowlist::parse(ENTRIES, false).unwrap();
    let long = format!("https://api.internal.com/v1/{}", "a".repeat(5000));
    let rows: &[(&str, Expected)] = &[
        ("http://api.internal.com/v1/x", Err("scheme_not_allowed")),
        ("https://plain.example.com:8080/", Err("scheme_not_allowed")),
        (
            "https://api.internal.com:8443/v1/x",
            Err("port_not_allowed"),
        ),
        ("http://plain.example.com/", Err("port_not_allowed")),
        ("https://api.internal.com:/v1", Err("invalid_port")),
        ("https://api.internal.com:0/v1", Err("invalid_port")),
        ("https://api.internal.com:65536/v1", Err("invalid_port")),
        ("https://api.internal.com:44a/v1", Err("invalid_port")),
        ("https://api.internal.com:443:443/v1", Err("invalid_port")),
        ("ftp://api.internal.com/v1/", Err("unsupported_scheme")),
        ("file:///etc/passwd", Err("unsupported_scheme")),
        ("javascript:alert(1)", Err("unsupported_scheme")),
        ("//api.internal.com/v1/", Err("not_absolute")),
        ("/v1/x", Err("not_absolute")),
        ("https:api.internal.com/v1", Err("not_absolute")),
        ("https:/api.internal.com/v1", Err("not_absolute")),
        ("", Err("not_absolute")),
        (
            "https://api.internal.com/v1/\tx",
            Err("control_or_whitespace"),
        ),
        (
            "https://api.internal.com/v1/\nx",
            Err("control_or_whitespace"),
        ),
        (
            "https://api.inter\nnal.com/v1",
            Err("control_or_whitespace"),
        ),
        (
            "https://api.internal.com/v1/x y",
            Err("control_or_whitespace"),
        ),
        (" https://api.internal.com/v1", Err("control_or_whitespace")),
        (
            "https://api.internal.com/v1\u{a0}",
            Err("control_or_whitespace"),
        ),
        (
            "https://api.internal.com/v1/\u{0}",
            Err("control_or_whitespace"),
        ),
        (&long, Err("too_long")),
    ];

    // Act and Assert
    assert_rows(&list, rows);
}

#[test]
fn ip_literals_are_refused_unless_named() {
    // Arrange
    let list = Allowlist::parse(ENTRIES, false).unwrap();
    let rows: &[(&str, Expected)] = &[
        ("http://127.0.0.1/", Err("ip_literal")),
        ("http://2130706433/", Err("ip_literal")),
        ("http://0177.0.0.1/", Err("ip_literal")),
        ("http://0x7f.1/", Err("ip_literal")),
        ("http://0x7f000001/", Err("ip_literal")),
        ("http://127.1/", Err("ip_literal")),
        ("http://127.0.0.01/", Err("ip_literal")),
        ("http://１２７.０.０.１/", Err("ip_literal")),
        (
            "http://169.254.169.254/latest/meta-data/",
            Err("ip_literal"),
        ),
        ("http://[::1]/", Err("ip_literal")),
        ("http://[0:0:0:0:0:0:0:1]/", Err("ip_literal")),
        ("http://[::ffff:127.0.0.1]/", Err("ip_literal")),
        ("http://[::ffff:7f00:1]/", Err("ip_literal")),
        ("http://[::ffff:169.254.169.254]/", Err("ip_literal")),
        ("http://[fd00:ec2::254]/", Err("ip_literal")),
        ("http://[fe80::1%25eth0]/", Err("invalid_host")),
        ("http://[::1/", Err("invalid_host")),
        ("http://1.2.3.4.5/", Err("invalid_host")),
    ];

    // Act and Assert
    assert_rows(&list, rows);
}

#[test]
fn an_explicit_ip_entry_allows_only_that_literal() {
    // Arrange: what tests of the HTTP actions do, with a receiver on 127.0.0.1.
    let list = Allowlist::parse(&["http://127.0.0.1:18080/hook"], true).unwrap();
    let rows: &[(&str, Expected)] = &[
        (
            "http://127.0.0.1:18080/hook",
            Ok("http://127.0.0.1:18080/hook"),
        ),
        (
            "http://127.0.0.1:18080/hook/a",
            Ok("http://127.0.0.1:18080/hook/a"),
        ),
        (
            "http://127.0.0.1.:18080/hook",
            Ok("http://127.0.0.1:18080/hook"),
        ),
        ("http://2130706433:18080/hook", Err("ip_literal")),
        ("http://127.1:18080/hook", Err("ip_literal")),
        ("http://[::ffff:127.0.0.1]:18080/hook", Err("ip_literal")),
        ("http://[::1]:18080/hook", Err("ip_literal")),
        ("http://127.0.0.2:18080/hook", Err("ip_literal")),
        ("http://localhost:18080/hook", Err("host_not_allowed")),
        ("http://127.0.0.1:18081/hook", Err("port_not_allowed")),
        ("http://127.0.0.1/hook", Err("port_not_allowed")),
        ("http://127.0.0.1:18080/hooks", Err("path_not_allowed")),
    ];

    // Act and Assert
    assert_rows(&list, rows);
}

#[test]
fn malformed_entries_are_refused_when_read() {
    // Arrange
    let rows: &[(&str, &str)] = &[
        ("https://*.com/", "invalid_entry"),
        ("https://*.127.0.0.1/", "invalid_entry"),
        ("https://api.internal.com/v1?x=1", "invalid_entry"),
        ("https://api.internal.com/v1/../admin", "invalid_entry"),
        ("https://api.internal.com/v1/%2e%2e", "encoded_dot_segment"),
        ("https://user@api.internal.com/", "userinfo"),
        ("https://*.*.internal.com/", "invalid_host"),
        ("https://api.*.internal.com/", "invalid_host"),
        ("https://api.internal.com/#x", "fragment"),
        ("ftp://api.internal.com/", "unsupported_scheme"),
        ("http://0x7f.1/", "ip_literal"),
        ("http://169.254.169.254/", "metadata_address"),
        ("http://169.254.1.1/", "link_local_address"),
        ("http://[fd00:ec2::254]/", "metadata_address"),
        ("http://[::ffff:169.254.169.254]/", "metadata_address"),
        ("http://224.0.0.1/", "reserved_address"),
    ];

    // Act
    let got: Vec<(&str, Result<String, &str>)> = rows
        .iter()
        .map(|(e, _)| {
            (
                *e,
                AllowEntry::parse(e)
                    .map(|e| e.to_string())
                    .map_err(|r| r.code()),
            )
        })
        .collect();

    // Assert
    for ((entry, expected), (_, got)) in rows.iter().zip(&got) {
        assert_eq!(got, &Err(*expected), "{entry}");
    }
}

#[test]
fn a_private_ip_entry_needs_allow_private() {
    // Act
    let without = Allowlist::parse(&["http://127.0.0.1:8080/"], false);
    let with = Allowlist::parse(&["http://127.0.0.1:8080/"], true);
    let public = Allowlist::parse(&["https://93.184.215.14/"], false);

    // Assert
    assert_eq!(without, Err(UrlRefusal::PrivateAddress));
    assert!(with.is_ok());
    assert!(public.is_ok());
}

#[test]
fn entries_read_back_in_canonical_form() {
    // Arrange
    let rows: &[(&str, &str)] = &[
        (
            "https://api.internal.example.com/v1/",
            "https://api.internal.example.com/v1",
        ),
        (
            "HTTPS://*.Internal.Example.COM./v1",
            "https://*.internal.example.com/v1",
        ),
        (
            "https://bücher.example:443/",
            "https://xn--bcher-kva.example/",
        ),
        (
            "http://[::FFFF:127.0.0.1]:8080",
            "http://[::ffff:7f00:1]:8080/",
        ),
        (
            "https://api.internal.com/%7ev1/%3a",
            "https://api.internal.com/~v1/%3A",
        ),
    ];

    // Act and Assert
    for (entry, expected) in rows {
        let parsed = AllowEntry::parse(entry).unwrap();
        assert_eq!(parsed.as_str(), *expected, "{entry}");
        assert_eq!(
            AllowEntry::parse(parsed.as_str()).unwrap(),
            parsed,
            "{entry}"
        );
    }
}

#[test]
fn resolved_addresses_are_judged() {
    // Arrange
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let rows: &[(&[&str], bool, Result<(), &str>)] = &[
        (&["169.254.169.254"], true, Err("metadata_address")),
        (&["::ffff:169.254.169.254"], true, Err("metadata_address")),
        (&["64:ff9b::a9fe:a9fe"], true, Err("metadata_address")),
        (&["2002:a9fe:a9fe::1"], true, Err("metadata_address")),
        (&["fd00:ec2::254"], true, Err("metadata_address")),
        (&["100.100.100.200"], true, Err("metadata_address")),
        (&["169.254.1.1"], true, Err("link_local_address")),
        (&["fe80::1"], true, Err("link_local_address")),
        (&["224.0.0.1"], true, Err("reserved_address")),
        (&["255.255.255.255"], true, Err("reserved_address")),
        (&["ff02::1"], true, Err("reserved_address")),
        (&["10.0.0.1"], false, Err("private_address")),
        (&["10.0.0.1"], true, Ok(())),
        (&["127.0.0.1"], false, Err("private_address")),
        (&["127.0.0.1"], true, Ok(())),
        (&["::1"], false, Err("private_address")),
        (&["::ffff:127.0.0.1"], false, Err("private_address")),
        (&["::ffff:10.0.0.1"], false, Err("private_address")),
        (&["::127.0.0.1"], false, Err("private_address")),
        (&["0.0.0.0"], false, Err("private_address")),
        (&["::"], false, Err("private_address")),
        (&["100.64.0.1"], false, Err("private_address")),
        (&["172.16.0.1"], false, Err("private_address")),
        (&["172.31.255.255"], false, Err("private_address")),
        (&["192.168.1.1"], false, Err("private_address")),
        (&["fc00::1"], false, Err("private_address")),
        (&["fd12:3456::1"], false, Err("private_address")),
        (&["172.32.0.1"], false, Ok(())),
        (&["93.184.215.14"], false, Ok(())),
        (&["2606:4700::1111"], false, Ok(())),
        (&[], true, Err("no_address")),
        (
            &["93.184.215.14", "10.0.0.1"],
            false,
            Err("private_address"),
        ),
        (
            &["10.0.0.1", "169.254.169.254"],
            true,
            Err("metadata_address"),
        ),
        (
            &["169.254.169.254", "10.0.0.1"],
            false,
            Err("metadata_address"),
        ),
    ];

    // Act and Assert
    for (addrs, allow_private, expected) in rows {
        let addrs: Vec<IpAddr> = addrs.iter().map(|a| ip(a)).collect();
        let got = check_addresses(&addrs, *allow_private).map_err(|r| r.code());
        assert_eq!(got, *expected, "{addrs:?} allow_private={allow_private}");
    }
}

#[test]
fn the_allowlist_judges_addresses_with_its_own_setting() {
    // Arrange
    let strict = Allowlist::parse(&["https://api.internal.com/"], false).unwrap();
    let local = Allowlist::parse(&["http://127.0.0.1:18080/"], true).unwrap();
    let loopback = ["127.0.0.1".parse::<IpAddr>().unwrap()];

    // Act and Assert
    assert_eq!(
        strict.check_addresses(&loopback),
        Err(UrlRefusal::PrivateAddress)
    );
    assert_eq!(local.check_addresses(&loopback), Ok(()));
    assert_eq!(
        local.check_addresses(&["169.254.169.254".parse().unwrap()]),
        Err(UrlRefusal::MetadataAddress)
    );
}

#[test]
fn refusal_messages_do_not_repeat_the_url() {
    // Arrange
    let secret = "https://api.internal.com/v1/x?token=s3cr3t#frag";

    // Act
    let refusal = NormalUrl::parse(secret).unwrap_err();

    // Assert
    assert_eq!(refusal.code(), "fragment");
    assert!(!refusal.to_string().contains("s3cr3t"));
}

#[test]
fn serde_reads_and_writes_the_canonical_string() {
    // Act
    let url: NormalUrl = serde_json::from_str(r#""HTTPS://API.internal.com./v1""#).unwrap();
    let entry: AllowEntry = serde_json::from_str(r#""https://*.internal.com/v1/""#).unwrap();
    let bad = serde_json::from_str::<NormalUrl>(r#""https://a@b.com/""#);

    // Assert
    assert_eq!(
        serde_json::to_string(&url).unwrap(),
        r#""https://api.internal.com/v1""#
    );
    assert_eq!(url.without_query(), "https://api.internal.com/v1");
    assert_eq!(
        serde_json::to_string(&entry).unwrap(),
        r#""https://*.internal.com/v1""#
    );
    assert!(bad.unwrap_err().to_string().contains("user information"));
    assert_eq!(
        classify_address("169.254.169.254".parse().unwrap()),
        warden_protocol::url::AddressClass::Metadata
    );
}
