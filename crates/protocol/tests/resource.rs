//! `Resource`: the Kubernetes forms and `url:` resources, their canonical text, their
//! refusals and what a bound resource covers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use warden_protocol::{NormalUrl, Resource, ResourceError, ResourceRef, UrlRefusal};

fn parse(s: &str) -> Resource {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn url(s: &str) -> NormalUrl {
    NormalUrl::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn a_url_resource_is_the_canonical_url_without_its_query() {
    // Arrange
    let sent = "url:HTTPS://API.Internal.Example.COM.:443/v1/./tickets?id=7&b=%7e";

    // Act
    let resource = parse(sent);

    // Assert
    assert_eq!(
        resource.to_string(),
        "url:https://api.internal.example.com/v1/tickets"
    );
    let bound = resource.as_url().unwrap();
    assert_eq!(bound.query(), None, "the query is not part of the resource");
    assert_eq!(
        resource,
        parse(&resource.to_string()),
        "canonical text reads back"
    );
    assert!(resource.as_object().is_none());
    assert!(!resource.is_wide());
}

#[test]
fn the_kubernetes_forms_are_unchanged() {
    // Arrange
    let forms = [
        ("production/deployment/api", "production/deployment/api"),
        ("pod:api-pod-12345", "default/pod/api-pod-12345"),
        ("production:resource", "production/*/*"),
    ];

    for (sent, canonical) in forms {
        // Act
        let resource = parse(sent);

        // Assert
        let expected: ResourceRef = sent.parse().unwrap();
        assert_eq!(resource, Resource::Object(expected), "{sent}");
        assert_eq!(resource.to_string(), canonical);
        assert!(resource.as_url().is_none());
    }
    assert!(parse("production:resource").is_wide());
}

#[test]
fn a_refused_url_names_the_refusal_and_never_repeats_the_url() {
    // Arrange
    let cases = [
        (
            "url:https://api.internal.com@evil.com/",
            UrlRefusal::Userinfo,
        ),
        (
            "url:https://user:hunter2@api.example.com/",
            UrlRefusal::Userinfo,
        ),
        (
            "url:ftp://files.example.com/",
            UrlRefusal::UnsupportedScheme,
        ),
        ("url:https://2130706433/", UrlRefusal::IpLiteral),
        (
            "url:https://a.example.com/v1/%2e%2e/admin",
            UrlRefusal::EncodedDotSegment,
        ),
        ("url:https://a.example.com/#frag", UrlRefusal::Fragment),
        ("url:", UrlRefusal::NotAbsolute),
        // `url:` always starts a URL, so this is not the namespace `url` any more.
        ("url:resource", UrlRefusal::NotAbsolute),
    ];

    for (sent, refusal) in cases {
        // Act
        let err = sent.parse::<Resource>().unwrap_err();

        // Assert
        assert_eq!(err, ResourceError::Url(refusal), "{sent}");
        let message = err.to_string();
        assert!(message.contains(refusal.code()), "{sent}: {message}");
        assert!(!message.contains("hunter2"), "{message}");
        assert!(!message.contains("evil"), "{message}");
    }
}

#[test]
fn malformed_kubernetes_forms_are_still_refused_and_mention_urls() {
    // Act
    let err = "a/b".parse::<Resource>().unwrap_err();

    // Assert
    assert!(matches!(err, ResourceError::Form(_)));
    assert!(err.to_string().contains("url:"), "{err}");
    assert!("URL:https://a.example.com/".parse::<Resource>().is_err());
}

#[test]
fn a_url_resource_covers_exactly_its_url_whatever_the_query() {
    // Arrange
    let bound = parse("url:https://api.internal.example.com/v1/tickets");

    // Act / Assert
    assert!(bound.covers_url(&url("https://api.internal.example.com/v1/tickets")));
    assert!(bound.covers_url(&url("https://API.internal.example.com:443/v1/tickets?x=1")));
    for other in [
        "https://api.internal.example.com/v1/tickets/",
        "https://api.internal.example.com/v1/tickets/7",
        "https://api.internal.example.com/v1/ticket",
        "https://api.internal.example.com/v1",
        "http://api.internal.example.com/v1/tickets",
        "https://api.internal.example.com:8443/v1/tickets",
        "https://x.api.internal.example.com/v1/tickets",
        "https://api.internal.example.com.evil.com/v1/tickets",
    ] {
        assert!(!bound.covers_url(&url(other)), "{other}");
    }
    assert!(!bound.covers_object("default", "pod", "tickets"));
}

#[test]
fn an_object_resource_covers_objects_and_no_url() {
    // Arrange
    let bound = parse("production:resource");

    // Act / Assert
    assert!(bound.covers_object("production", "pods", "web-1"));
    assert!(!bound.covers_object("staging", "pod", "web-1"));
    assert!(!bound.covers_url(&url("https://production/")));
}

#[test]
fn a_url_built_with_a_query_is_read_without_it() {
    // Arrange
    let with_query = url("https://a.example.com/v1?token=s3cret");

    // Act
    let via_constructor = Resource::url(with_query.clone());
    let by_hand = Resource::Url(with_query.clone());

    // Assert
    assert_eq!(via_constructor.as_url().unwrap().query(), None);
    assert_eq!(by_hand.to_string(), "url:https://a.example.com/v1");
    assert!(by_hand.covers_url(&url("https://a.example.com/v1")));
    assert!(via_constructor.covers_url(&with_query));
}

#[test]
fn serde_uses_the_canonical_string() {
    // Arrange
    let resources = vec![parse("url:https://A.example.com/x?q=1"), parse("pod:web")];

    // Act
    let json = serde_json::to_string(&resources).unwrap();
    let back: Vec<Resource> = serde_json::from_str(&json).unwrap();

    // Assert
    assert_eq!(json, r#"["url:https://a.example.com/x","default/pod/web"]"#);
    assert_eq!(back, resources);
    let err = serde_json::from_str::<Resource>(r#""url:https://u@a.example.com/""#).unwrap_err();
    assert!(err.to_string().contains("userinfo"), "{err}");
}
