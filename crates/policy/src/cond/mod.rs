//! `when:` conditions: field paths, operators, literals, and three-valued evaluation.
//!
//! A condition evaluates to true, false, or *error* (it read a missing field or
//! compared values of the wrong types). Errors are not false: the rule decides what an
//! error means (see [`crate::rule`]), which is how policies fail closed.
//!
//! # Layout
//!
//! - `mod.rs`: the compiled condition tree ([`Cond`], [`Leaf`], [`Field`], [`Op`], [`Lit`]).
//! - `eval.rs`: reading fields from a request, three-valued evaluation, the explain texts.
//! - `compile.rs`: the structured YAML forms (`field`/`op`/`value`, `all`/`any`/`not`)
//!   and the checks of a field, an operator and its operand.
//! - `shorthand.rs`: the `<field> <op> [<value>]` string form.

mod compile;
mod eval;
mod shorthand;

use std::fmt;

use serde_json::Value as Json;

use crate::glob::Glob;
use crate::yaml::Pos;

pub(crate) use self::compile::compile;

/// Every field root a condition may read, for the "unknown field" message.
const FIELDS_HELP: &str = "action, type, resource.namespace, resource.kind, resource.name, \
     resource.url, resource.host, resource.path, subject.id, subject.roles, context.userId, context.role, context.ipAddress, \
     context.userAgent, context.metadata.<path> (or metadata.<path>), context.<name>, \
     params.<path>";

/// What a condition reads from the request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Field {
    Action,
    Type,
    Namespace,
    Kind,
    Name,
    /// A URL resource's canonical URL without its query.
    Url,
    /// A URL resource's host.
    Host,
    /// A URL resource's path.
    Path,
    SubjectId,
    SubjectRoles,
    UserId,
    Role,
    IpAddress,
    UserAgent,
    /// A path into `context.metadata` (at least one segment).
    Metadata(Box<[Box<str>]>),
    /// `context.<name>.<path…>` read from the context's extra fields.
    Extra(Box<[Box<str>]>),
    /// A path into the request's `params`, the action's parameters (at least one segment).
    Params(Box<[Box<str>]>),
}

impl Field {
    /// Parses a dotted field path; the error is the message for the policy author.
    pub(crate) fn parse(text: &str) -> Result<Field, String> {
        let unknown = || format!("unknown field `{text}`; fields are {FIELDS_HELP}");
        let path = |rest: &str| -> Result<Box<[Box<str>]>, String> {
            let segments: Vec<Box<str>> = rest.split('.').map(Box::from).collect();
            if segments.iter().any(|s| s.is_empty()) {
                return Err(format!("field `{text}` has an empty path segment"));
            }
            Ok(segments.into())
        };
        Ok(match text {
            "action" => Field::Action,
            "type" => Field::Type,
            "resource.namespace" => Field::Namespace,
            "resource.kind" => Field::Kind,
            "resource.name" => Field::Name,
            "resource.url" => Field::Url,
            "resource.host" => Field::Host,
            "resource.path" => Field::Path,
            "subject.id" => Field::SubjectId,
            "subject.roles" => Field::SubjectRoles,
            "context.userId" => Field::UserId,
            "context.role" => Field::Role,
            "context.ipAddress" => Field::IpAddress,
            "context.userAgent" => Field::UserAgent,
            "metadata" | "context.metadata" => {
                return Err(format!(
                    "field `{text}` needs a path into the metadata, e.g. `metadata.severity`"
                ));
            }
            "params" => {
                return Err(format!(
                    "field `{text}` needs a path into the action's parameters, e.g. `params.replicas`"
                ));
            }
            _ => {
                if let Some(rest) = text
                    .strip_prefix("context.metadata.")
                    .or_else(|| text.strip_prefix("metadata."))
                {
                    Field::Metadata(path(rest)?)
                } else if let Some(rest) = text.strip_prefix("params.") {
                    Field::Params(path(rest)?)
                } else if let Some(rest) = text.strip_prefix("context.") {
                    Field::Extra(path(rest)?)
                } else {
                    return Err(unknown());
                }
            }
        })
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (root, path) = match self {
            Field::Action => ("action", None),
            Field::Type => ("type", None),
            Field::Namespace => ("resource.namespace", None),
            Field::Kind => ("resource.kind", None),
            Field::Name => ("resource.name", None),
            Field::Url => ("resource.url", None),
            Field::Host => ("resource.host", None),
            Field::Path => ("resource.path", None),
            Field::SubjectId => ("subject.id", None),
            Field::SubjectRoles => ("subject.roles", None),
            Field::UserId => ("context.userId", None),
            Field::Role => ("context.role", None),
            Field::IpAddress => ("context.ipAddress", None),
            Field::UserAgent => ("context.userAgent", None),
            Field::Metadata(p) => ("metadata", Some(p)),
            Field::Extra(p) => ("context", Some(p)),
            Field::Params(p) => ("params", Some(p)),
        };
        f.write_str(root)?;
        for segment in path.iter().flat_map(|p| p.iter()) {
            write!(f, ".{segment}")?;
        }
        Ok(())
    }
}

/// A literal in a condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Str(Box<str>),
    Num(f64),
    Bool(bool),
}

impl fmt::Display for Lit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lit::Str(s) => {
                let plain = !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_alphanumeric() || "-_./*?".contains(c))
                    && s.parse::<f64>().is_err()
                    && !matches!(&**s, "true" | "false" | "null" | "~");
                if plain {
                    f.write_str(s)
                } else {
                    write!(f, "{}", Json::String(s.to_string()))
                }
            }
            Lit::Num(n) => write!(f, "{n}"),
            Lit::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// An operator with its (checked) operand.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Eq(Lit),
    Ne(Lit),
    In(Box<[Lit]>),
    NotIn(Box<[Lit]>),
    Lt(Lit),
    Le(Lit),
    Gt(Lit),
    Ge(Lit),
    Exists(bool),
    Matches(Glob),
}

/// Why a leaf could not be evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The request has no value at this path.
    Missing,
    /// The field is a `*` part of a wide resource.
    Wide,
    /// The value is of a type the operator cannot use (named for the message).
    Type(&'static str),
}

/// A single comparison, e.g. `metadata.confidence >= 0.8`.
#[derive(Debug, Clone)]
pub(crate) struct Leaf {
    pub(crate) field: Field,
    pub(crate) op: Op,
    /// As the author wrote it (shorthand) or rendered from the structured form.
    pub(crate) text: Box<str>,
}

/// A condition tree.
#[derive(Debug, Clone)]
pub(crate) enum Cond {
    Leaf(Leaf),
    All(Vec<Cond>),
    Any(Vec<Cond>, Pos),
    Not(Box<Cond>, Pos),
}

/// Three-valued result. `False` names the condition that made it false, `Error` the
/// leaf that could not be evaluated, so the explain trace can point at them.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Truth<'r> {
    True,
    False(&'r Cond),
    Error(&'r Leaf, Fault),
}
