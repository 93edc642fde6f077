//! Random requests as a client would hold them, printed as JSON with members in order.

use proptest::collection::vec;
use proptest::prelude::*;

/// A JSON value with ordered object members.
#[derive(Debug, Clone)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => out.push_str(&i.to_string()),
            // Rust's shortest round-trip form is valid JSON and always reads back as a
            // float in Python (`1.0`, `1e16`, `5e-324`).
            Json::Float(f) => out.push_str(&format!("{f:?}")),
            Json::Str(s) => out.push_str(&serde_json::to_string(s).unwrap()),
            Json::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Obj(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(key).unwrap());
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// A request: top-level members in a random order, signed ones sometimes missing.
#[derive(Debug, Clone)]
pub struct Request {
    pub members: Vec<(String, Json)>,
    /// No floats and no integers beyond 2^53, so Python and JS print every number
    /// alike and the JS forms must also come out of the Python client's body.
    pub portable: bool,
}

impl Request {
    pub fn body(&self) -> String {
        let mut out = String::new();
        Json::Obj(self.members.clone()).write(&mut out);
        out
    }
}

fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => proptest::char::range('a', 'z'),
        2 => proptest::char::range(' ', '~'),
        1 => proptest::char::range('\0', '\u{1f}'),
        2 => prop::sample::select(vec!['"', '\\', '/', '\u{7f}', 'é', 'ß', '中', '文', '😀', '\u{2028}', '\u{ff61}', '\u{ffff}', '\u{10ffff}']),
        1 => any::<char>(),
    ]
}

fn text() -> impl Strategy<Value = String> {
    vec(tricky_char(), 0..10).prop_map(String::from_iter)
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z]{1,8}",
        2 => prop::sample::select(vec!["0", "1", "2", "9", "10", "01", "-1", "1.5", "4294967294", "4294967295", "", "😀", "\u{ff61}", "é", "Z", "_"]).prop_map(str::to_owned),
        1 => "[0-9]{1,3}",
        1 => text(),
    ]
}

fn number(portable: bool) -> BoxedStrategy<Json> {
    const SAFE: i64 = 1 << 53;
    let int = (-SAFE..=SAFE).prop_map(Json::Int);
    if portable {
        return int.boxed();
    }
    let float = prop_oneof![
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        prop::sample::select(vec![
            0.1,
            1.0,
            -0.0,
            0.0,
            1e21,
            1e16,
            1e-7,
            0.000001,
            0.00001,
            5e-324,
            f64::MAX,
            123.456,
            1.5
        ]),
    ];
    prop_oneof![
        int,
        any::<i64>().prop_map(Json::Int),
        float.prop_map(Json::Float)
    ]
    .boxed()
}

fn value(portable: bool) -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        number(portable),
        text().prop_map(Json::Str),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![vec(inner.clone(), 0..5).prop_map(Json::Arr), object(inner),]
    })
}

fn object(values: impl Strategy<Value = Json>) -> impl Strategy<Value = Json> {
    vec((key(), values), 0..7).prop_map(|members| {
        let mut unique: Vec<(String, Json)> = Vec::new();
        for (key, value) in members {
            if unique.iter().all(|(k, _)| *k != key) {
                unique.push((key, value));
            }
        }
        Json::Obj(unique)
    })
}

pub fn request() -> impl Strategy<Value = Request> {
    any::<bool>().prop_flat_map(|portable| {
        let params = prop_oneof![4 => object(value(portable)), 1 => value(portable)];
        (
            prop::option::weighted(0.9, text()),
            prop::option::weighted(0.95, params),
            prop::option::weighted(0.9, text()),
            object(value(portable)),
            any::<bool>(),
        )
            .prop_flat_map(move |(action, params, requester, decision, dry_run)| {
                let mut members = vec![
                    ("policyDecision".to_owned(), decision),
                    ("signature".to_owned(), Json::Str("0".repeat(64))),
                ];
                if dry_run {
                    members.push(("dryRun".to_owned(), Json::Bool(true)));
                }
                let signed = [
                    ("actionType", action.map(Json::Str)),
                    ("actionParams", params),
                    ("requestedBy", requester.map(Json::Str)),
                ];
                for (name, value) in signed {
                    if let Some(value) = value {
                        members.push((name.to_owned(), value));
                    }
                }
                Just(members)
                    .prop_shuffle()
                    .prop_map(move |members| Request { members, portable })
            })
    })
}
