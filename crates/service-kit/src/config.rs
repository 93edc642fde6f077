//! The one configuration error both services report: which variable, and what is wrong.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_variable_first() {
        let err = ConfigError::new("LOG_FORMAT", "expected `text` or `json`");
        assert_eq!(err.to_string(), "LOG_FORMAT: expected `text` or `json`");
        assert_eq!(err.var, "LOG_FORMAT");
    }
}
