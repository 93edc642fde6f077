//! The one configuration error both services report (which variable, and what is wrong),
//! and the parsers of the value kinds several settings share, so that every setting of a
//! kind accepts the same words and refuses the same mistakes.

/// A setting that could not be used. Displays as `VAR: message`, so every start-up
/// failure names the variable to fix.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub var: String,
    /// What is wrong with it (never its value when the value is a secret).
    pub message: String,
}

impl ConfigError {
    /// The error for `var`, saying `message`.
    pub fn new(var: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            var: var.into(),
            message: message.into(),
        }
    }
}

/// The words [`parse_bool`] accepts, in any case, as they are listed in its error.
pub const BOOL_WORDS: &str = "true/false, yes/no, 1/0 or on/off";

/// The boolean setting `var`, from `raw`: `true`, `yes`, `1`, `on` or `false`, `no`, `0`,
/// `off`, in any case, surrounding spaces ignored. Anything else is an error listing the
/// accepted words, so a `TRUE` never silently means false.
pub fn parse_bool(var: &str, raw: &str) -> Result<bool, ConfigError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Ok(true),
        "false" | "no" | "0" | "off" => Ok(false),
        _ => Err(ConfigError::new(var, format!("expected {BOOL_WORDS}"))),
    }
}

/// Parses `var`'s `name=value,name=value` list (`form` is how the error describes it, e.g.
/// `client=secret,...`). Spaces around an entry and around its name are ignored; the value
/// is kept as written after `=`. Refused, naming the entry by position or by its name and
/// never by its value (values are secrets): an empty entry (`a=x,,b=y`, a trailing comma,
/// a value of commas only), an entry without `=`, an empty name, a name with spaces or
/// other characters that are not visible ASCII, a name given twice, and an empty value.
pub fn parse_named_list(
    var: &str,
    raw: &str,
    form: &str,
) -> Result<Vec<(String, String)>, ConfigError> {
    let err = |message: String| ConfigError::new(var, format!("{message} (expected {form})"));
    let mut out: Vec<(String, String)> = Vec::new();
    for (i, item) in raw.split(',').map(str::trim).enumerate() {
        let n = i + 1;
        if item.is_empty() {
            return Err(err(format!("entry {n} is empty")));
        }
        let Some((name, value)) = item.split_once('=') else {
            return Err(err(format!("entry {n} has no `=`")));
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(err(format!("entry {n} has an empty name")));
        }
        if !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(err(format!(
                "the name of entry {n} has spaces or characters that are not visible ASCII"
            )));
        }
        if value.is_empty() {
            return Err(err(format!("`{name}` has an empty value")));
        }
        if out.iter().any(|(existing, _)| existing == name) {
            return Err(err(format!("`{name}` appears twice")));
        }
        out.push((name.to_owned(), value.to_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_the_variable_first() {
        let err = ConfigError::new("LOG_FORMAT", "expected `text` or `json`");
        assert_eq!(err.to_string(), "LOG_FORMAT: expected `text` or `json`");
        assert_eq!(err.var, "LOG_FORMAT");
    }

    #[test]
    fn booleans_accept_four_pairs_of_words_in_any_case() {
        for word in ["true", "TRUE", "Yes", "1", "on", " On "] {
            assert!(parse_bool("X", word).unwrap(), "{word}");
        }
        for word in ["false", "False", "NO", "0", "off"] {
            assert!(!parse_bool("X", word).unwrap(), "{word}");
        }
        for word in ["", "perhaps", "2", "t", "enabled"] {
            let err = parse_bool("EXECUTOR_DRY_RUN", word).unwrap_err();
            assert_eq!(
                err.to_string(),
                "EXECUTOR_DRY_RUN: expected true/false, yes/no, 1/0 or on/off"
            );
        }
    }

    #[test]
    fn named_lists_keep_names_and_values() {
        let pairs = parse_named_list("V", " a=x=y , b= z", "name=value,...").unwrap();
        assert_eq!(
            pairs,
            [("a".into(), "x=y".into()), ("b".into(), " z".into())]
        );
    }

    #[test]
    fn named_list_mistakes_are_refused_without_echoing_values() {
        for (raw, says) in [
            ("a=hunter2,,b=hunter3", "entry 2 is empty"),
            ("a=hunter2,", "entry 2 is empty"),
            (",", "entry 1 is empty"),
            ("hunter2", "entry 1 has no `=`"),
            ("=hunter2", "entry 1 has an empty name"),
            ("ai engine=hunter2", "the name of entry 1 has spaces"),
            ("a=", "`a` has an empty value"),
            ("a=hunter2,a=hunter3", "`a` appears twice"),
        ] {
            let err = parse_named_list("V", raw, "name=value,...").unwrap_err();
            let text = err.to_string();
            assert!(text.starts_with("V: "), "{text}");
            assert!(text.contains(says), "{raw}: {text}");
            assert!(text.contains("(expected name=value,...)"), "{text}");
            assert!(!text.contains("hunter"), "{text}");
        }
    }
}
