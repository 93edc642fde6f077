//! `when:` conditions: field paths, operators, literals, and three-valued evaluation.
//!
//! A condition evaluates to true, false, or *error* (it read a missing field or
//! compared values of the wrong types). Errors are not false: the rule decides what an
//! error means (see [`crate::rule`]), which is how policies fail closed.

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value as Json;
use warden_protocol::{Scope, normalize_kind};

use crate::Input;
use crate::error::Diagnostics;
use crate::glob::Glob;
use crate::yaml::{self, Key, Node, Pos, Value};

/// Every field root a condition may read, for the "unknown field" message.
const FIELDS_HELP: &str = "action, type, resource.namespace, resource.kind, resource.name, \
     subject.id, subject.roles, context.userId, context.role, context.ipAddress, \
     context.userAgent, context.metadata.<path> (or metadata.<path>), context.<name>";

const OPERATORS_HELP: &str = "==, !=, in, not in, <, <=, >, >=, exists, matches";

/// What a condition reads from the request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Field {
    Action,
    Type,
    Namespace,
    Kind,
    Name,
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
            _ => {
                if let Some(rest) = text
                    .strip_prefix("context.metadata.")
                    .or_else(|| text.strip_prefix("metadata."))
                {
                    Field::Metadata(path(rest)?)
                } else if let Some(rest) = text.strip_prefix("context.") {
                    Field::Extra(path(rest)?)
                } else {
                    return Err(unknown());
                }
            }
        })
    }

    /// Reads the field from a request without allocating.
    fn read<'a>(&self, input: &Input<'a>) -> Found<'a> {
        let scope = |s: &'a Scope| match s {
            Scope::Any => Found::Wide,
            Scope::Exact(v) => Found::Str(v),
        };
        let text = |s: Option<&'a String>| s.map_or(Found::Missing, |v| Found::Str(v));
        let ctx = input.context;
        match self {
            Field::Action => Found::Str(input.action),
            Field::Type => input.request_type.map_or(Found::Missing, Found::Str),
            Field::Namespace => scope(&input.resource.namespace),
            Field::Kind => scope(&input.resource.kind),
            Field::Name => scope(&input.resource.name),
            Field::SubjectId => Found::Str(input.subject),
            Field::SubjectRoles => Found::Roles(input.roles),
            Field::UserId => text(ctx.and_then(|c| c.user_id.as_ref())),
            Field::Role => text(ctx.and_then(|c| c.role.as_ref())),
            Field::IpAddress => text(ctx.and_then(|c| c.ip_address.as_ref())),
            Field::UserAgent => text(ctx.and_then(|c| c.user_agent.as_ref())),
            Field::Metadata(path) => ctx.map_or(Found::Missing, |c| walk(&c.metadata, path)),
            Field::Extra(path) => ctx.map_or(Found::Missing, |c| walk(&c.extra, path)),
        }
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
            Field::SubjectId => ("subject.id", None),
            Field::SubjectRoles => ("subject.roles", None),
            Field::UserId => ("context.userId", None),
            Field::Role => ("context.role", None),
            Field::IpAddress => ("context.ipAddress", None),
            Field::UserAgent => ("context.userAgent", None),
            Field::Metadata(p) => ("metadata", Some(p)),
            Field::Extra(p) => ("context", Some(p)),
        };
        f.write_str(root)?;
        for segment in path.iter().flat_map(|p| p.iter()) {
            write!(f, ".{segment}")?;
        }
        Ok(())
    }
}

/// Follows a dotted path through JSON objects (and arrays, by decimal index).
fn walk<'a>(map: &'a serde_json::Map<String, Json>, path: &[Box<str>]) -> Found<'a> {
    let Some((first, rest)) = path.split_first() else {
        return Found::Missing;
    };
    let mut current = match map.get(&**first) {
        Some(v) => v,
        None => return Found::Missing,
    };
    for segment in rest {
        let next = match current {
            Json::Object(m) => m.get(&**segment),
            Json::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        match next {
            Some(v) => current = v,
            None => return Found::Missing,
        }
    }
    match current {
        // JSON null means "no value" to every client we know; treating it as absent
        // keeps `exists` and fail-closed reads consistent.
        Json::Null => Found::Missing,
        v => Found::Json(v),
    }
}

/// A field's value in a request, borrowed.
#[derive(Debug, Clone, Copy)]
enum Found<'a> {
    Missing,
    /// A `*` part of a wide resource: every value at once, so no single value.
    Wide,
    Str(&'a str),
    Json(&'a Json),
    Roles(&'a [String]),
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

/// A scalar read from the request, for comparison with a [`Lit`].
#[derive(Debug, Clone, Copy)]
enum Scalar<'a> {
    Str(&'a str),
    Num(f64),
    Bool(bool),
}

impl Lit {
    fn eq_scalar(&self, s: Scalar<'_>) -> bool {
        match (self, s) {
            (Lit::Str(a), Scalar::Str(b)) => **a == *b,
            (Lit::Num(a), Scalar::Num(b)) => *a == b,
            (Lit::Bool(a), Scalar::Bool(b)) => *a == b,
            _ => false,
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

impl Cond {
    /// Evaluates strictly: an error anywhere below makes the whole condition an error,
    /// whatever the other branches say, so the result never depends on branch order.
    pub(crate) fn eval<'r>(&'r self, input: &Input<'_>) -> Truth<'r> {
        match self {
            Cond::Leaf(leaf) => match leaf.eval(input) {
                Ok(true) => Truth::True,
                Ok(false) => Truth::False(self),
                Err(fault) => Truth::Error(leaf, fault),
            },
            Cond::All(children) => {
                let mut result = Truth::True;
                for child in children {
                    match child.eval(input) {
                        error @ Truth::Error(..) => return error,
                        Truth::False(w) if matches!(result, Truth::True) => {
                            result = Truth::False(w);
                        }
                        _ => {}
                    }
                }
                result
            }
            Cond::Any(children, _) => {
                let mut any_true = false;
                for child in children {
                    match child.eval(input) {
                        error @ Truth::Error(..) => return error,
                        Truth::True => any_true = true,
                        Truth::False(_) => {}
                    }
                }
                if any_true {
                    Truth::True
                } else {
                    Truth::False(self)
                }
            }
            Cond::Not(inner, _) => match inner.eval(input) {
                Truth::True => Truth::False(self),
                Truth::False(_) => Truth::True,
                error @ Truth::Error(..) => error,
            },
        }
    }

    /// Human description of why this (witness) condition is false.
    pub(crate) fn describe_false(&self) -> String {
        match self {
            Cond::Leaf(leaf) => format!("condition `{}` is false", leaf.text),
            Cond::All(_) => "condition is false".to_owned(),
            Cond::Any(_, pos) => format!("none of the `any` conditions{} holds", at_line(*pos)),
            Cond::Not(inner, pos) => {
                let what = match &**inner {
                    Cond::Leaf(leaf) => format!("`{}`", leaf.text),
                    _ => "its condition".to_owned(),
                };
                format!("`not`{}: {what} holds", at_line(*pos))
            }
        }
    }
}

fn at_line(pos: Pos) -> String {
    pos.line().map_or(String::new(), |l| format!(" (line {l})"))
}

impl Leaf {
    /// Human description of an evaluation error of this leaf.
    pub(crate) fn describe_fault(&self, fault: Fault) -> String {
        let why = match fault {
            Fault::Missing => format!("the request has no `{}`", self.field),
            Fault::Wide => format!(
                "`{}` is `*` in this wide request, so it has no single value",
                self.field
            ),
            Fault::Type(found) => format!(
                "`{}` is {found}, which this operator cannot use",
                self.field
            ),
        };
        format!("condition `{}` cannot be evaluated: {why}", self.text)
    }

    fn eval(&self, input: &Input<'_>) -> Result<bool, Fault> {
        let found = self.field.read(input);
        if let Op::Exists(want) = self.op {
            let present = match found {
                Found::Missing | Found::Wide => false,
                Found::Roles(roles) => !roles.is_empty(),
                Found::Str(_) | Found::Json(_) => true,
            };
            return Ok(present == want);
        }
        // `!=` and `not in` are the negations of `==` and `in`, errors included, so a
        // list field reads "none of its elements" for them.
        let negated = matches!(self.op, Op::Ne(_) | Op::NotIn(_));
        let result = match found {
            Found::Missing => return Err(Fault::Missing),
            Found::Wide => return Err(Fault::Wide),
            Found::Str(s) => self.positive(Scalar::Str(s))?,
            Found::Roles(roles) => self.any_of(roles.iter().map(|r| Some(Scalar::Str(r))))?,
            Found::Json(json) => match json {
                Json::Array(items) => self.any_of(items.iter().map(scalar))?,
                Json::Object(_) => return Err(Fault::Type("an object")),
                v => match scalar(v) {
                    Some(s) => self.positive(s)?,
                    None => return Err(Fault::Missing),
                },
            },
        };
        Ok(result != negated)
    }

    /// A list satisfies `==`, `in` and `matches` when one of its elements does;
    /// ordering a list means nothing, so it is a type error.
    fn any_of<'a>(
        &self,
        mut items: impl Iterator<Item = Option<Scalar<'a>>>,
    ) -> Result<bool, Fault> {
        if matches!(self.op, Op::Lt(_) | Op::Le(_) | Op::Gt(_) | Op::Ge(_)) {
            return Err(Fault::Type("a list"));
        }
        Ok(items.any(|item| item.is_some_and(|s| self.positive(s).unwrap_or(false))))
    }

    /// The operator without its negation applied.
    fn positive(&self, value: Scalar<'_>) -> Result<bool, Fault> {
        let order = |lit: &Lit| -> Result<Ordering, Fault> {
            match (value, lit) {
                (Scalar::Num(a), Lit::Num(b)) => {
                    a.partial_cmp(b).ok_or(Fault::Type("not a number"))
                }
                (Scalar::Str(a), Lit::Str(b)) => Ok(a.cmp(&**b)),
                (Scalar::Num(_), _) => Err(Fault::Type("a number")),
                (Scalar::Str(_), _) => Err(Fault::Type("a string")),
                (Scalar::Bool(_), _) => Err(Fault::Type("a boolean")),
            }
        };
        Ok(match &self.op {
            Op::Eq(lit) | Op::Ne(lit) => lit.eq_scalar(value),
            Op::In(lits) | Op::NotIn(lits) => lits.iter().any(|l| l.eq_scalar(value)),
            Op::Lt(lit) => order(lit)? == Ordering::Less,
            Op::Le(lit) => order(lit)? != Ordering::Greater,
            Op::Gt(lit) => order(lit)? == Ordering::Greater,
            Op::Ge(lit) => order(lit)? != Ordering::Less,
            Op::Matches(glob) => match value {
                Scalar::Str(s) => glob.matches(s),
                Scalar::Num(_) => return Err(Fault::Type("a number")),
                Scalar::Bool(_) => return Err(Fault::Type("a boolean")),
            },
            // Handled before any value is read.
            Op::Exists(_) => false,
        })
    }
}

fn scalar(json: &Json) -> Option<Scalar<'_>> {
    match json {
        Json::String(s) => Some(Scalar::Str(s)),
        Json::Number(n) => n.as_f64().map(Scalar::Num),
        Json::Bool(b) => Some(Scalar::Bool(*b)),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Compilation from YAML
// ---------------------------------------------------------------------------------------

/// Compiles a `when:` value. Reports every problem found and returns `None` if any.
pub(crate) fn compile(node: &Node, d: &mut Diagnostics) -> Option<Cond> {
    match &node.value {
        Value::Str(text) => compile_shorthand(text, node.pos, d),
        // A bare list is the natural way to write "all of these".
        Value::Seq(items) => compile_list(items, node.pos, "when", d).map(Cond::All),
        Value::Map(entries) => compile_map(entries, node.pos, d),
        other => {
            d.error(
                node.pos,
                format!(
                    "a condition is a string like `metadata.severity == high`, a mapping \
                     with `field`/`op`/`value`, or `all`/`any`/`not`; found {}",
                    other.kind_name()
                ),
            );
            None
        }
    }
}

fn compile_list(items: &[Node], pos: Pos, what: &str, d: &mut Diagnostics) -> Option<Vec<Cond>> {
    if items.is_empty() {
        d.error(pos, format!("`{what}` needs at least one condition"));
        return None;
    }
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in items {
        match compile(item, d) {
            Some(c) => out.push(c),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn compile_map(entries: &[(Key, Node)], pos: Pos, d: &mut Diagnostics) -> Option<Cond> {
    let combinator = entries
        .iter()
        .find(|(k, _)| matches!(k.name.as_str(), "all" | "any" | "not"));
    if let Some((key, value)) = combinator {
        if let Some((extra, _)) = entries.iter().find(|(k, _)| k.name != key.name) {
            d.error(
                extra.pos,
                format!(
                    "unexpected key `{}` next to `{}`: a condition mapping has exactly one \
                     of `all`, `any`, `not`, or the keys `field`, `op`, `value`",
                    extra.name, key.name
                ),
            );
            return None;
        }
        return match key.name.as_str() {
            "not" => compile(value, d).map(|c| Cond::Not(Box::new(c), key.pos)),
            name => {
                let Value::Seq(items) = &value.value else {
                    d.error(
                        value.pos,
                        format!(
                            "`{name}` needs a list of conditions, found {}",
                            value.value.kind_name()
                        ),
                    );
                    return None;
                };
                let children = compile_list(items, value.pos, name, d)?;
                Some(if name == "all" {
                    Cond::All(children)
                } else {
                    Cond::Any(children, key.pos)
                })
            }
        };
    }

    let mut ok = true;
    for (key, _) in entries {
        if !matches!(key.name.as_str(), "field" | "op" | "value") {
            d.error(
                key.pos,
                format!(
                    "unknown key `{}` in a condition; expected `field`, `op`, `value` \
                     (or one of `all`, `any`, `not`)",
                    key.name
                ),
            );
            ok = false;
        }
    }
    let field = required_str(entries, "field", pos, d);
    let op = required_str(entries, "op", pos, d);
    let (Some(field), Some(op)) = (field, op) else {
        return None;
    };
    let value = yaml::get(entries, "value");
    let value_text = value.map(render_value).unwrap_or_default();
    let text = if value.is_some() {
        format!("{} {} {}", field.0, op.0, value_text)
    } else {
        format!("{} {}", field.0, op.0)
    };
    let leaf = build_leaf(
        (field.0, field.1),
        (op.0, op.1),
        value.map(|v| (v, v.pos)),
        text,
        d,
    )?;
    ok.then_some(Cond::Leaf(leaf))
}

fn required_str<'n>(
    entries: &'n [(Key, Node)],
    key: &str,
    pos: Pos,
    d: &mut Diagnostics,
) -> Option<(&'n str, Pos)> {
    match yaml::get(entries, key) {
        None => {
            d.error(pos, format!("condition is missing `{key}`"));
            None
        }
        Some(node) => match node.as_str() {
            Some(s) => Some((s, node.pos)),
            None => {
                d.error(
                    node.pos,
                    format!("`{key}` must be a string, found {}", node.value.kind_name()),
                );
                None
            }
        },
    }
}

/// Renders a YAML value the way the shorthand form would spell it.
fn render_value(node: &Node) -> String {
    match &node.value {
        Value::Seq(items) => {
            let mut s = String::from("[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                s.push_str(&render_value(item));
            }
            s.push(']');
            s
        }
        Value::Str(v) => Lit::Str(v.as_str().into()).to_string(),
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Map(_) => "{…}".to_owned(),
    }
}

/// Parses `<field> <op> [<value>]`. The value is read as YAML, so `[high, critical]`,
/// `0.8`, `true` and `"quoted text"` mean what they mean in the rest of the file.
fn compile_shorthand(text: &str, pos: Pos, d: &mut Diagnostics) -> Option<Cond> {
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

/// Checks a field, an operator and its operand together, as one leaf.
fn build_leaf(
    (field_text, field_pos): (&str, Pos),
    (op_text, op_pos): (&str, Pos),
    value: Option<(&Node, Pos)>,
    text: String,
    d: &mut Diagnostics,
) -> Option<Leaf> {
    let field = match Field::parse(field_text) {
        Ok(f) => Some(f),
        Err(message) => {
            d.error(field_pos, message);
            None
        }
    };
    let kind = OpKind::parse(op_text);
    if kind.is_none() {
        d.error(
            op_pos,
            format!("unknown operator `{op_text}`; operators are {OPERATORS_HELP}"),
        );
    }
    let (field, kind) = (field?, kind?);
    let op = operand(kind, op_text, &field, value, op_pos, d)?;
    Some(Leaf {
        field,
        op,
        text: text.into(),
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Eq,
    Ne,
    In,
    NotIn,
    Lt,
    Le,
    Gt,
    Ge,
    Exists,
    Matches,
}

impl OpKind {
    fn parse(s: &str) -> Option<OpKind> {
        Some(match s {
            "==" => OpKind::Eq,
            "!=" => OpKind::Ne,
            "in" => OpKind::In,
            "not in" => OpKind::NotIn,
            "<" => OpKind::Lt,
            "<=" => OpKind::Le,
            ">" => OpKind::Gt,
            ">=" => OpKind::Ge,
            "exists" => OpKind::Exists,
            "matches" => OpKind::Matches,
            _ => return None,
        })
    }
}

fn operand(
    kind: OpKind,
    op_text: &str,
    field: &Field,
    value: Option<(&Node, Pos)>,
    op_pos: Pos,
    d: &mut Diagnostics,
) -> Option<Op> {
    if kind == OpKind::Exists {
        return match value {
            None => Some(Op::Exists(true)),
            Some((node, pos)) => match node.value {
                Value::Bool(b) => Some(Op::Exists(b)),
                _ => {
                    d.error(pos, "`exists` takes no value, or `true` / `false`");
                    None
                }
            },
        };
    }
    let Some((node, pos)) = value else {
        d.error(op_pos, format!("operator `{op_text}` needs a value"));
        return None;
    };
    let is_kind = *field == Field::Kind;
    match kind {
        OpKind::In | OpKind::NotIn => {
            let Value::Seq(items) = &node.value else {
                d.error(
                    pos,
                    format!(
                        "`{op_text}` needs a list, e.g. `[high, critical]`; found {}",
                        node.value.kind_name()
                    ),
                );
                return None;
            };
            if items.is_empty() {
                d.error(pos, format!("`{op_text}` needs a non-empty list"));
                return None;
            }
            let mut lits = Vec::with_capacity(items.len());
            for item in items {
                lits.push(literal(item, item.pos, is_kind, d)?);
            }
            let lits = lits.into_boxed_slice();
            Some(if kind == OpKind::In {
                Op::In(lits)
            } else {
                Op::NotIn(lits)
            })
        }
        OpKind::Eq | OpKind::Ne => {
            if matches!(node.value, Value::Seq(_)) {
                d.error(
                    pos,
                    format!("`{op_text}` compares with one value; use `in` / `not in` for a list"),
                );
                return None;
            }
            let lit = literal(node, pos, is_kind, d)?;
            Some(if kind == OpKind::Eq {
                Op::Eq(lit)
            } else {
                Op::Ne(lit)
            })
        }
        OpKind::Lt | OpKind::Le | OpKind::Gt | OpKind::Ge => {
            if *field == Field::SubjectRoles {
                d.error(
                    pos,
                    format!("`subject.roles` is a list and cannot be ordered with `{op_text}`"),
                );
                return None;
            }
            let lit = match &node.value {
                Value::Str(s) => Lit::Str(s.as_str().into()),
                v => match v.as_f64() {
                    Some(n) => Lit::Num(n),
                    None => {
                        d.error(
                            pos,
                            format!(
                                "`{op_text}` needs a number or a string, found {}",
                                v.kind_name()
                            ),
                        );
                        return None;
                    }
                },
            };
            Some(match kind {
                OpKind::Lt => Op::Lt(lit),
                OpKind::Le => Op::Le(lit),
                OpKind::Gt => Op::Gt(lit),
                _ => Op::Ge(lit),
            })
        }
        OpKind::Matches => match node.as_str() {
            Some(pattern) => Some(Op::Matches(Glob::new(pattern))),
            None => {
                d.error(
                    pos,
                    format!(
                        "`matches` needs a glob string, found {}",
                        node.value.kind_name()
                    ),
                );
                None
            }
        },
        OpKind::Exists => None,
    }
}

fn literal(node: &Node, pos: Pos, is_kind: bool, d: &mut Diagnostics) -> Option<Lit> {
    match &node.value {
        Value::Str(s) if is_kind => Some(Lit::Str(normalize_kind(s).into())),
        Value::Str(s) => Some(Lit::Str(s.as_str().into())),
        Value::Bool(b) => Some(Lit::Bool(*b)),
        Value::Null => {
            d.error(
                pos,
                "null is not a value to compare with; test absence with `<field> exists false`",
            );
            None
        }
        v => match v.as_f64() {
            Some(n) => Some(Lit::Num(n)),
            None => {
                d.error(
                    pos,
                    format!(
                        "expected a string, number or boolean, found {}",
                        v.kind_name()
                    ),
                );
                None
            }
        },
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
