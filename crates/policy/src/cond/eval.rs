//! Reading fields from a request and three-valued evaluation, with the texts the explain
//! trace shows for a false or failed condition.

use std::cmp::Ordering;

use serde_json::Value as Json;
use warden_protocol::url::NormalUrl;
use warden_protocol::{ResourceRef, Scope};

use super::{Cond, Fault, Field, Leaf, Lit, Op, Truth};
use crate::Input;
use crate::yaml::Pos;

impl Field {
    /// Reads the field from a request without allocating.
    fn read<'a>(&self, input: &Input<'a>) -> Found<'a> {
        let scope = |s: &'a Scope| match s {
            Scope::Any => Found::Wide,
            Scope::Exact(v) => Found::Str(v),
        };
        let text = |s: Option<&'a String>| s.map_or(Found::Missing, |v| Found::Str(v));
        // A URL has no namespace, kind or name, and an object no URL: missing, not wide.
        let object = |part: fn(&'a ResourceRef) -> &'a Scope| {
            input
                .resource
                .as_object()
                .map_or(Found::Missing, |r| scope(part(r)))
        };
        let url = |part: fn(&'a NormalUrl) -> &'a str| {
            input
                .resource
                .as_url()
                .map_or(Found::Missing, |u| Found::Str(part(u)))
        };
        let ctx = input.context;
        match self {
            Field::Action => Found::Str(input.action),
            Field::Type => input.request_type.map_or(Found::Missing, Found::Str),
            Field::Namespace => object(|r| &r.namespace),
            Field::Kind => object(|r| &r.kind),
            Field::Name => object(|r| &r.name),
            Field::Url => url(NormalUrl::without_query),
            Field::Host => url(host_text),
            Field::Path => url(NormalUrl::path),
            Field::SubjectId => Found::Str(input.subject),
            Field::SubjectRoles => Found::Roles(input.roles),
            Field::UserId => text(ctx.and_then(|c| c.user_id.as_ref())),
            Field::Role => text(ctx.and_then(|c| c.role.as_ref())),
            Field::IpAddress => text(ctx.and_then(|c| c.ip_address.as_ref())),
            Field::UserAgent => text(ctx.and_then(|c| c.user_agent.as_ref())),
            Field::Metadata(path) => ctx.map_or(Found::Missing, |c| walk(&c.metadata, path)),
            Field::Extra(path) => ctx.map_or(Found::Missing, |c| walk(&c.extra, path)),
            Field::Params(path) => input.params.map_or(Found::Missing, |p| walk(p, path)),
        }
    }
}

/// The host as the canonical URL writes it (lowercase ASCII, an IPv6 address in
/// brackets), borrowed from the URL's text so that reading it allocates nothing.
fn host_text(url: &NormalUrl) -> &str {
    let text = url.as_str();
    let after_scheme = text.split_once("://").map_or(text, |(_, rest)| rest);
    let end = if after_scheme.starts_with('[') {
        after_scheme.find(']').map_or(after_scheme.len(), |i| i + 1)
    } else {
        after_scheme.find([':', '/']).unwrap_or(after_scheme.len())
    };
    &after_scheme[..end]
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
