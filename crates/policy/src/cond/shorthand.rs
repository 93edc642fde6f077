//! The shorthand condition form, `<field> <op> [<value>]`, with a fast path for the
//! common value shapes.

use super::Cond;
use super::compile::build_leaf;
use crate::error::Diagnostics;
use crate::yaml::{self, Node, Pos, Value};

/// Parses `<field> <op> [<value>]`. The value is read as YAML, so `[high, critical]`,
/// `0.8`, `true` and `"quoted text"` mean what they mean in the rest of the file.
pub(super) fn compile_shorthand(text: &str, pos: Pos, d: &mut Diagnostics) -> Option<Cond> {
    let trimmed = text.trim();
    let (field, rest) = split_token(trimmed);
    if field.is_empty() {
        d.error(
            pos,
            "empty condition; expected `<field> <operator> <value>`",
        );
        return None;
    }
    if field.contains(['=', '<', '>', '!']) {
        d.error(
            pos,
            format!(
                "cannot read condition `{trimmed}`: put spaces around the operator, \
                 as in `<field> <operator> <value>`"
            ),
        );
        return None;
    }
    let (mut op, mut rest) = split_token(rest);
    if op == "not" {
        let (next, after) = split_token(rest);
        if next == "in" {
            op = "not in";
            rest = after;
        }
    }
    if op.is_empty() {
        d.error(
            pos,
            format!("condition `{trimmed}` has no operator; expected `<field> <operator> <value>`"),
        );
        return None;
    }
    let value_text = rest.trim();
    let parsed;
    let value = if value_text.is_empty() {
        None
    } else {
        match simple_value(value_text).map_or_else(|| yaml::parse(value_text), Ok) {
            Ok(mut node) => {
                // Positions inside the value are relative to the string; point every
                // later message at the condition itself instead.
                node.relocate(pos);
                parsed = node;
                Some((&parsed, pos))
            }
            Err((_, message)) => {
                d.error(
                    pos,
                    format!(
                        "cannot read the value `{value_text}` in condition `{trimmed}`: {message}"
                    ),
                );
                return None;
            }
        }
    };
    build_leaf((field, pos), (op, pos), value, trimmed.to_owned(), d).map(Cond::Leaf)
}

/// Reads the common value shapes (`high`, `0.8`, `10`, `[high, critical]`) without
/// starting a YAML parser, which dominates load time for large policies. Returns `None`
/// for anything it is not certain to read exactly as YAML would; the caller then asks
/// the YAML parser.
fn simple_value(text: &str) -> Option<Node> {
    fn scalar(token: &str) -> Option<Value> {
        let bytes = token.as_bytes();
        let first = *bytes.first()?;
        if first.is_ascii_alphabetic() || first == b'_' {
            let plain = bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'));
            // YAML 1.2 core schema words, in every spelling it accepts.
            let special = matches!(
                token,
                "true" | "True" | "TRUE" | "false" | "False" | "FALSE" | "null" | "Null" | "NULL"
            ) || token.eq_ignore_ascii_case(".inf")
                || token.eq_ignore_ascii_case(".nan");
            return (plain && !special).then(|| Value::Str(token.to_owned()));
        }
        // Plain decimals only: `-?digits(.digits)?` with no leading zero before digits.
        let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
        let (int, frac) = match digits.iter().position(|&b| b == b'.') {
            Some(i) => (&digits[..i], Some(&digits[i + 1..])),
            None => (digits, None),
        };
        let all_digits = |d: &[u8]| !d.is_empty() && d.iter().all(u8::is_ascii_digit);
        if !all_digits(int)
            || (int.len() > 1 && int[0] == b'0')
            || frac.is_some_and(|f| !all_digits(f))
        {
            return None;
        }
        if frac.is_none() && int.len() <= 18 {
            let n: i64 = token.parse().ok()?;
            return Some(if n >= 0 {
                Value::UInt(n.unsigned_abs())
            } else {
                Value::Int(n)
            });
        }
        token.parse::<f64>().ok().map(Value::Float)
    }
    let value = match text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        Some(inner) => {
            let items = inner
                .split(',')
                .map(|item| {
                    scalar(item.trim()).map(|value| Node {
                        pos: Pos::UNKNOWN,
                        value,
                    })
                })
                .collect::<Option<Vec<Node>>>()?;
            Value::Seq(items)
        }
        None => scalar(text)?,
    };
    Some(Node {
        pos: Pos::UNKNOWN,
        value,
    })
}

fn split_token(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(char::is_whitespace) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// The shortcut must read exactly what the YAML parser reads, or decline.
        #[test]
        fn simple_values_read_like_yaml(text in "[\\[\\]a-zA-Z0-9_./, \\-]{1,14}") {
            if let Some(fast) = simple_value(&text) {
                let slow = yaml::parse(&text).expect("the shortcut accepted invalid YAML");
                prop_assert_eq!(fast.to_json(), slow.to_json(), "{}", text);
            }
        }
    }

    #[test]
    fn simple_values_cover_the_common_shapes() {
        for text in [
            "high",
            "0.8",
            "10",
            "-3",
            "[high, critical]",
            "[1, 2.5]",
            "ai-engine/1.2",
        ] {
            assert!(simple_value(text).is_some(), "{text}");
        }
        for text in [
            "true",
            "null",
            "01",
            "1e3",
            "[]",
            "\"x\"",
            "a b",
            "2026-01-01",
            ".inf",
        ] {
            assert!(simple_value(text).is_none(), "{text}");
        }
    }
}
