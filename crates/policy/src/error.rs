//! Load-time errors: where in which file, which rule, and what is wrong.

use std::fmt;

/// One problem found while loading a policy or a test file.
///
/// Every field but `file` and `message` is optional because some problems have no
/// position (an unreadable file) or belong to no rule (a bad `principals` entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// The file as the caller named it, so editors can jump to `file:line:column`.
    pub file: String,
    /// 1-based line of the offending YAML node, when known.
    pub line: Option<u64>,
    /// 1-based column (in characters) of the offending YAML node, when known.
    pub column: Option<u64>,
    /// Id of the rule the problem is in, when it is inside one that has an id.
    pub rule: Option<String>,
    /// What is wrong, phrased for the person editing the file.
    pub message: String,
}

impl fmt::Display for PolicyError {
    /// `default.yaml:12:5: rule `allow-x`: unknown operator `=>`` with absent parts left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        f.write_str(": ")?;
        if let Some(rule) = &self.rule {
            write!(f, "rule `{rule}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for PolicyError {}

/// Every problem found in one load, in file order, so an author can fix them in one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl PolicyErrors {
    /// A single error without position, for problems such as an unreadable file.
    pub(crate) fn single(file: &str, message: impl Into<String>) -> Self {
        PolicyErrors(vec![PolicyError {
            file: file.to_owned(),
            line: None,
            column: None,
            rule: None,
            message: message.into(),
        }])
    }
}

impl fmt::Display for PolicyErrors {
    /// One error per line, no trailing newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}

/// Collects errors for one file while the loader keeps going after the first one.
pub(crate) struct Diagnostics {
    file: String,
    /// The rule being compiled, attached to every error reported meanwhile.
    pub(crate) rule: Option<String>,
    errors: Vec<PolicyError>,
    /// Every action name the rules wrote, for the known-actions check.
    pub(crate) actions: Vec<crate::actions::ActionRef>,
}

impl Diagnostics {
    pub(crate) fn new(file: &str) -> Self {
        Diagnostics {
            file: file.to_owned(),
            rule: None,
            errors: Vec::new(),
            actions: Vec::new(),
        }
    }

    pub(crate) fn error(&mut self, pos: crate::yaml::Pos, message: impl Into<String>) {
        self.errors.push(PolicyError {
            file: self.file.clone(),
            line: pos.line(),
            column: pos.column(),
            rule: self.rule.clone(),
            message: message.into(),
        });
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.errors.len()
    }

    pub(crate) fn extend(&mut self, errors: PolicyErrors) {
        self.errors.extend(errors.0);
    }

    /// The errors, this file's first in reading order, then those taken over from
    /// another file (a test file's policy) in their own order.
    pub(crate) fn into_errors(self) -> PolicyErrors {
        // A rule's missing `reason` is only known after its later keys were checked, so
        // the walk does not produce errors strictly top to bottom; a stable sort fixes that.
        let (mut own, foreign): (Vec<_>, Vec<_>) =
            self.errors.into_iter().partition(|e| e.file == self.file);
        own.sort_by_key(|e| (e.line.unwrap_or(0), e.column.unwrap_or(0)));
        own.extend(foreign);
        PolicyErrors(own)
    }
}
