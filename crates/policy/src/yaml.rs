//! A YAML tree that remembers where every node and key came from.
//!
//! The loader does not deserialize straight into rule structs: serde stops at the first
//! problem, and the language promises every problem with its line and column in one
//! pass. So the file is read once into this generic tree (via serde-saphyr's
//! [`Spanned`]), and `compile` walks it, reporting as many problems as it can find.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{MessageFormatter, Spanned};

/// A 1-based source position; `0` means unknown (a node rebuilt by serde without span).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    line: u64,
    column: u64,
}

impl Pos {
    pub(crate) const UNKNOWN: Pos = Pos { line: 0, column: 0 };

    fn of(location: &serde_saphyr::Location) -> Pos {
        Pos {
            line: location.line(),
            column: location.column(),
        }
    }

    pub(crate) fn line(self) -> Option<u64> {
        (self.line > 0).then_some(self.line)
    }

    pub(crate) fn column(self) -> Option<u64> {
        (self.line > 0 && self.column > 0).then_some(self.column)
    }
}

/// One YAML node with the position of its first character.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) pos: Pos,
    pub(crate) value: Value,
}

/// The node's content. Integers keep their sign class because YAML and JSON both do.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its own position, so "unknown key" errors point at the key.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub(crate) name: String,
    pub(crate) pos: Pos,
}

impl Value {
    /// Noun for error messages: "expected a list, found a string".
    pub(crate) fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::UInt(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The number as `f64`, for any of the three numeric classes.
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Int(i) => Some(i as f64),
            Value::UInt(u) => Some(u as f64),
            Value::Float(f) => Some(f),
            _ => None,
        }
    }
}

impl Node {
    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// Gives this node and everything below it the position `pos`.
    pub(crate) fn relocate(&mut self, pos: Pos) {
        self.pos = pos;
        match &mut self.value {
            Value::Seq(items) => items.iter_mut().for_each(|n| n.relocate(pos)),
            Value::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
                k.pos = pos;
                v.relocate(pos);
            }),
            _ => {}
        }
    }

    /// The value as JSON, for test requests that are handed to serde afterwards.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::UInt(u) => J::from(*u),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Finds a key in a mapping (keys are unique: the parser rejects duplicates).
pub(crate) fn get<'n>(entries: &'n [(Key, Node)], name: &str) -> Option<&'n Node> {
    entries.iter().find(|(k, _)| k.name == name).map(|(_, v)| v)
}

/// Parses a YAML document. The error carries the parser's position and a message
/// without the position prefix (callers prepend the file name themselves).
pub(crate) fn parse(source: &str) -> Result<Node, (Pos, String)> {
    let options = serde_saphyr::options! {
        // A 10,000-rule policy has about 300k nodes; the default budget (250k nodes,
        // 1M events) is sized for small configs. 4M nodes is ample for any policy a
        // person maintains and bounds memory at a few hundred MB. Depth stays at the
        // default 64, which is what keeps our recursive walks safe.
        budget: serde_saphyr::budget! {
            max_nodes: 4_000_000,
            max_events: 10_000_000,
        },
        // Anchors are handy for shared target lists, but an alias bomb should fail in
        // milliseconds, not after replaying the default million events.
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 100_000,
        },
        with_snippet: false,
        // YAML 1.2 booleans only: `reason: no` or `severity == on` must stay text, as
        // they would be in the JSON requests the policy is compared with.
        strict_booleans: true,
    };
    match serde_saphyr::from_str_with_options::<Spanned<Value>>(source, options) {
        Ok(spanned) => Ok(Node {
            pos: Pos::of(&spanned.referenced),
            value: spanned.value,
        }),
        Err(err) => {
            let pos = err.location().map_or(Pos::UNKNOWN, |l| Pos::of(&l));
            let inner = err.without_snippet();
            let message = serde_saphyr::DefaultMessageFormatter.format_message(inner);
            // The message may echo file content; keep control characters out of terminals.
            let message: String = message
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            Err((pos, message))
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::UInt(v))
    }

    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Float(v as f64))
    }

    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(Value::Float(v as f64))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Value>>()? {
            items.push(Node {
                pos: Pos::of(&item.referenced),
                value: item.value,
            });
        }
        Ok(Value::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<KeyText>>()? {
            let value = map.next_value::<Spanned<Value>>()?;
            entries.push((
                Key {
                    name: key.value.0,
                    pos: Pos::of(&key.referenced),
                },
                Node {
                    pos: Pos::of(&value.referenced),
                    value: value.value,
                },
            ));
        }
        Ok(Value::Map(entries))
    }
}

/// A mapping key: any scalar, as text (`1: x` has key `"1"`). Collections as keys are
/// refused by the visitor's default methods, which the parser reports with a position.
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<KeyText, E> {
                Ok(KeyText(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyText, E> {
                Ok(KeyText("null".to_owned()))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}
