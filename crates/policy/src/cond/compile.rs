//! Compiling a `when:` value: the structured forms (`field`/`op`/`value` mappings,
//! `all`/`any`/`not`, bare lists) and the checks every leaf goes through, whichever form
//! it was written in.

use warden_protocol::normalize_kind;

use super::shorthand::compile_shorthand;
use super::{Cond, Field, Leaf, Lit, Op};
use crate::error::Diagnostics;
use crate::glob::Glob;
use crate::yaml::{self, Key, Node, Pos, Value};

const OPERATORS_HELP: &str = "==, !=, in, not in, <, <=, >, >=, exists, matches";

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

/// Checks a field, an operator and its operand together, as one leaf.
pub(super) fn build_leaf(
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
                lits.push(literal(item, item.pos, field, d)?);
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
            let lit = literal(node, pos, field, d)?;
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

fn literal(node: &Node, pos: Pos, field: &Field, d: &mut Diagnostics) -> Option<Lit> {
    match &node.value {
        Value::Str(s) if *field == Field::Kind => Some(Lit::Str(normalize_kind(s).into())),
        // Requests carry hosts in canonical form; a literal in another could never be equal.
        Value::Str(s) if *field == Field::Host && !is_canonical_host(s) => {
            d.error(
                pos,
                format!(
                    "`resource.host` is compared in canonical form: lowercase ASCII (IDNA \
                     punycode for other letters), no trailing dot, so `{s}` never matches"
                ),
            );
            None
        }
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

/// Whether `s` could be a host as a canonical URL writes it.
fn is_canonical_host(s: &str) -> bool {
    !s.ends_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b.is_ascii_uppercase())
}
