//! Properties of URL normalisation: idempotent, agreeing with the WHATWG parser `reqwest`
//! uses, an allowed URL's canonical form allowed, and no input a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use warden_protocol::url::{AllowEntry, Allowlist, NormalUrl};

/// URL-ish strings: a scheme, a host from tricky spellings, an optional port, path segments
/// and a query drawn from escapes, dots and characters that need encoding.
fn urlish() -> impl Strategy<Value = String> {
    let scheme = prop::sample::select(vec!["http", "https", "HTTPS", "hTtP"]);
    let host = prop::sample::select(vec![
        "api.internal.com",
        "API.Internal.COM.",
        "a.internal.example.com",
        "bücher.example",
        "xn--bcher-kva.example",
        "ａｐｉ.internal.com",
        "127.0.0.1",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "plain.example.com",
    ]);
    let port = prop::sample::select(vec!["", ":80", ":443", ":8080", ":018080"]);
    let segment = prop::sample::select(vec![
        "v1", "v2", "x", ".", "..", "%7e", "%41", "%3a", "%3A", "a%2eb", "é", "|", "[x]", "a;b",
        "", "'", "@", "%25", "%C3%A9",
    ]);
    let path = prop::collection::vec(segment, 0..6);
    let query = prop::option::of(prop::sample::select(vec![
        "",
        "a=1",
        "a=%2f&b=%7E",
        "x='y'",
        "q=é",
        "u=https://x/?y",
    ]));
    (scheme, host, port, path, query).prop_map(|(s, h, p, path, q)| {
        let mut url = format!("{s}://{h}{p}");
        for seg in path {
            url.push('/');
            url.push_str(seg);
        }
        if let Some(q) = q {
            url.push('?');
            url.push_str(q);
        }
        url
    })
}

proptest! {
    #[test]
    fn normalisation_is_idempotent_and_agrees_with_whatwg(input in urlish()) {
        if let Ok(url) = NormalUrl::parse(&input) {
            let again = NormalUrl::parse(url.as_str()).unwrap();
            prop_assert_eq!(&again, &url);
            let whatwg = ::url::Url::parse(url.as_str()).unwrap();
            prop_assert_eq!(whatwg.as_str(), url.as_str());
            // Had the raw input been sent as is, it would have reached the same host (but for
            // the trailing dot, which resolvers ignore) and port.
            let raw = ::url::Url::parse(&input).unwrap();
            let raw_host = raw.host().map(|h| h.to_string().trim_end_matches('.').to_owned());
            prop_assert_eq!(raw_host, Some(url.host().to_string()));
            prop_assert_eq!(raw.port_or_known_default(), Some(url.port()));
        }
    }

    #[test]
    fn an_allowed_urls_canonical_form_is_allowed(input in urlish()) {
        let list = Allowlist::parse(
            &["https://api.internal.com/", "https://*.internal.example.com/v1",
              "http://127.0.0.1:8080/", "https://xn--bcher-kva.example/"],
            true,
        ).unwrap();
        if let Ok(url) = list.check(&input) {
            prop_assert_eq!(list.check(url.as_str()), Ok(url.clone()));
            prop_assert!(list.entries().iter().any(|e| e.allows(&url)));
        }
    }

    #[test]
    fn parsing_never_panics(input in "\\PC{0,60}") {
        let _ = NormalUrl::parse(&input);
        let _ = AllowEntry::parse(&input);
    }

    #[test]
    fn parsing_never_panics_on_url_shaped_noise(
        tail in "[a-zA-Z0-9%./:@\\[\\]?;~*-]{0,40}"
    ) {
        let _ = NormalUrl::parse(&format!("https://{tail}"));
        let _ = AllowEntry::parse(&format!("https://*.{tail}"));
    }
}
