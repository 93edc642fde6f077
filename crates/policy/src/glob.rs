//! Glob patterns: `*` matches any run of characters, `?` exactly one character,
//! everything else is literal. No escapes, no classes: policy authors match names,
//! and names never contain `*` or `?`.
//!
//! Patterns are classified once at load time so the common shapes (`restart_pod`,
//! `api-*`, `*-canary`, `*`) cost one comparison at evaluation time.

use std::fmt;

/// A compiled glob.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    source: Box<str>,
    shape: Shape,
}

#[derive(Clone, PartialEq, Eq)]
enum Shape {
    /// `*`: matches everything, and is the only pattern that covers a wide scope.
    Any,
    /// No wildcard at all.
    Literal,
    /// `prefix*` (the prefix is `source` without its last byte).
    Prefix,
    /// `*suffix` (the suffix is `source` without its first byte).
    Suffix,
    /// Anything else, matched by the general backtracking matcher.
    General,
}

impl Glob {
    /// Compiles `pattern`. Every string is a valid glob.
    pub(crate) fn new(pattern: &str) -> Glob {
        let wild = |b: u8| b == b'*' || b == b'?';
        let bytes = pattern.as_bytes();
        let count = bytes.iter().filter(|&&b| wild(b)).count();
        let shape = if pattern == "*" {
            Shape::Any
        } else if count == 0 {
            Shape::Literal
        } else if count == 1 && bytes.last() == Some(&b'*') {
            Shape::Prefix
        } else if count == 1 && bytes.first() == Some(&b'*') {
            Shape::Suffix
        } else if bytes.iter().all(|&b| b == b'*') {
            // `**` is `*`; treating it so keeps "covers a wide scope" about meaning,
            // not spelling.
            Shape::Any
        } else {
            Shape::General
        };
        Glob {
            source: pattern.into(),
            shape,
        }
    }

    /// The pattern as written.
    pub(crate) fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the pattern matches every string (written `*`).
    pub(crate) fn is_any(&self) -> bool {
        self.shape == Shape::Any
    }

    /// The literal text if the pattern has no wildcard; the index keys on these.
    pub(crate) fn literal(&self) -> Option<&str> {
        (self.shape == Shape::Literal).then_some(&*self.source)
    }

    /// Whether `text` matches the whole pattern.
    pub(crate) fn matches(&self, text: &str) -> bool {
        let src = &*self.source;
        match self.shape {
            Shape::Any => true,
            Shape::Literal => src == text,
            Shape::Prefix => text.starts_with(&src[..src.len() - 1]),
            Shape::Suffix => text.ends_with(&src[1..]),
            Shape::General => glob_match(src.as_bytes(), text.as_bytes()),
        }
    }
}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Glob({:?})", self.source)
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Length in bytes of the UTF-8 character starting with `lead`, so `?` consumes one
/// character, not one byte, of non-ASCII text.
fn char_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

/// Iterative wildcard matching with single-star backtracking: O(|p|·|t|) worst case,
/// no allocation, no recursion. Only the most recent `*` needs remembering, because a
/// later star can absorb anything an earlier one would have.
pub(crate) fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    // (pattern index after the star, text index the star's run currently ends at)
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                p += 1;
                backtrack = Some((p, t));
                continue;
            }
            Some(b'?') => {
                p += 1;
                t += char_len(text[t]);
                continue;
            }
            Some(&c) if c == text[t] => {
                p += 1;
                t += 1;
                continue;
            }
            _ => {}
        }
        match backtrack {
            Some((star_p, star_t)) => {
                let next = star_t + char_len(text[star_t]);
                backtrack = Some((star_p, next));
                p = star_p;
                t = next;
            }
            None => return false,
        }
    }
    // `?` may have stepped past the end on a truncated character; that is no match.
    if t > text.len() {
        return false;
    }
    pattern[p.min(pattern.len())..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The obvious recursive definition, over characters: slow, but plainly right.
    fn reference(pattern: &[char], text: &[char]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some(('*', rest)) => (0..=text.len()).any(|i| reference(rest, &text[i..])),
            Some(('?', rest)) => !text.is_empty() && reference(rest, &text[1..]),
            Some((c, rest)) => text.first() == Some(c) && reference(rest, &text[1..]),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn matcher_agrees_with_the_reference(pattern in "[ab*?é]{0,8}", text in "[abé]{0,10}") {
            let p: Vec<char> = pattern.chars().collect();
            let t: Vec<char> = text.chars().collect();

            let expected = reference(&p, &t);

            prop_assert_eq!(Glob::new(&pattern).matches(&text), expected, "compiled {} vs {}", pattern, text);
            prop_assert_eq!(glob_match(pattern.as_bytes(), text.as_bytes()), expected, "general {} vs {}", pattern, text);
        }
    }

    #[test]
    fn shapes_match_like_the_general_matcher() {
        let cases = [
            ("*", "anything", true),
            ("*", "", true),
            ("restart_pod", "restart_pod", true),
            ("restart_pod", "restart_pods", false),
            ("scale_*", "scale_deployment", true),
            ("scale_*", "scale_", true),
            ("scale_*", "rescale_x", false),
            ("*-canary", "web-canary", true),
            ("*-canary", "web-canary2", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("?", "é", true),
            ("é?", "éa", true),
            ("**", "x", true),
        ];
        for (pattern, text, expected) in cases {
            let glob = Glob::new(pattern);
            assert_eq!(glob.matches(text), expected, "{pattern} vs {text}");
            assert_eq!(
                glob_match(pattern.as_bytes(), text.as_bytes()),
                expected,
                "general {pattern} vs {text}"
            );
        }
    }
}
