//! `--json`: the API's answer as it came, indented. serde_json's own pretty printer would
//! go through a map that sorts the members; this one only re-indents the text, so the
//! members keep the executor's order and every value its exact spelling.

/// `json` (valid JSON) indented by two spaces per level, as `serde_json::to_string_pretty`
/// lays it out, with a final newline.
pub fn pretty(json: &str) -> String {
    let mut out = String::with_capacity(json.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = json.trim().chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n("  ", depth));
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
                if matches!(chars.peek(), Some('}' | ']')) {
                    // An empty object or array stays `{}` / `[]`.
                    if let Some(close) = chars.next() {
                        out.push(close);
                    }
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lays_out_as_serde_json_does_but_keeps_the_order() {
        // Arrange
        let compact =
            r#"{"z":1,"a":{"list":[1,2.50,"x, \"y\": [z]"],"empty":{},"none":[]},"b":null}"#;

        // Act
        let text = pretty(compact);

        // Assert
        let value: serde_json::Value = serde_json::from_str(compact).unwrap();
        let expected = serde_json::to_string_pretty(&value).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            value
        );
        assert!(text.starts_with("{\n  \"z\": 1,\n  \"a\": {"), "{text}");
        assert!(text.contains("2.50"), "{text}");
        assert!(text.contains(r#""x, \"y\": [z]""#), "{text}");
        // Same layout as serde_json for a document whose members are already sorted.
        let sorted = serde_json::to_string(&value).unwrap();
        assert_eq!(pretty(&sorted), format!("{expected}\n"));
    }

    #[test]
    fn an_already_indented_answer_is_laid_out_the_same() {
        assert_eq!(
            pretty("{ \"a\" : [ ] ,\n \"b\": [ 1 ] }"),
            "{\n  \"a\": [],\n  \"b\": [\n    1\n  ]\n}\n"
        );
    }
}
