//! Each form's text: key order per form (insertion, code points, JS array indices, UTF-16
//! code units) and the writer with each client's separators and string escaping.

use std::cmp::Ordering;

use super::SignatureForm;
use super::json::{Member, Value};

/// Which sorted forms would repeat an earlier form's text (see [`SignedPayload`]).
///
/// [`SignedPayload`]: super::SignedPayload
pub(super) struct Orders {
    /// Every object is already in code point order.
    pub(super) python_sorted_is_default: bool,
    /// No object has an array-index key and every object is already in UTF-16 order.
    pub(super) js_sorted_is_insertion: bool,
}

impl Orders {
    /// The orders of the signed members and everything inside them.
    pub(super) fn of(members: &[Member]) -> Orders {
        let mut orders = Orders {
            python_sorted_is_default: true,
            js_sorted_is_insertion: true,
        };
        orders.visit(members);
        orders
    }

    fn visit(&mut self, members: &[Member]) {
        if self.python_sorted_is_default && !in_order(SignatureForm::PythonSorted, members) {
            self.python_sorted_is_default = false;
        }
        if self.js_sorted_is_insertion
            && (members.iter().any(|m| array_index(&m.key).is_some())
                || !in_order(SignatureForm::JsSorted, members))
        {
            self.js_sorted_is_insertion = false;
        }
        for member in members {
            self.visit_value(&member.value);
        }
    }

    fn visit_value(&mut self, value: &Value) {
        if !self.python_sorted_is_default && !self.js_sorted_is_insertion {
            return;
        }
        match value {
            Value::Array(items) => items.iter().for_each(|item| self.visit_value(item)),
            Value::Object(members) => self.visit(members),
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
        }
    }
}

// ---------------------------------------------------------------------------------------
// Key order

/// Order of two members of one object (`ia`, `ib`: their body positions) in `form`.
fn compare(form: SignatureForm, ia: usize, a: &Member, ib: usize, b: &Member) -> Ordering {
    match form {
        SignatureForm::PythonDefault => ia.cmp(&ib),
        // WTF-8 byte order is code point order, which is how Python compares str.
        SignatureForm::PythonSorted => a.key.cmp(&b.key),
        SignatureForm::JsInsertion => match (array_index(&a.key), array_index(&b.key)) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => ia.cmp(&ib),
        },
        SignatureForm::JsSorted => Utf16::new(&a.key).cmp(Utf16::new(&b.key)),
    }
}

/// Whether body order already is `form`'s order (then no permutation is needed).
fn in_order(form: SignatureForm, members: &[Member]) -> bool {
    form == SignatureForm::PythonDefault
        || members
            .windows(2)
            .enumerate()
            .all(|(i, w)| compare(form, i, &w[0], i + 1, &w[1]) != Ordering::Greater)
}

/// The key as a JS array index: a canonical decimal integer below 2³²−1. JS objects list
/// these keys first, in ascending numeric order, whatever their insertion order.
fn array_index(key: &[u8]) -> Option<u32> {
    if key.is_empty() || key.len() > 10 || (key.len() > 1 && key.first() == Some(&b'0')) {
        return None;
    }
    let mut value: u64 = 0;
    for &digit in key {
        if !digit.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u64::from(digit - b'0');
    }
    u32::try_from(value).ok().filter(|&index| index != u32::MAX)
}

/// The UTF-16 code units of a WTF-8 string, which is what JS compares strings by.
struct Utf16<'a> {
    rest: &'a [u8],
    low: Option<u16>,
}

impl<'a> Utf16<'a> {
    fn new(text: &'a [u8]) -> Self {
        Utf16 {
            rest: text,
            low: None,
        }
    }
}

impl Iterator for Utf16<'_> {
    type Item = u16;

    fn next(&mut self) -> Option<u16> {
        if let Some(low) = self.low.take() {
            return Some(low);
        }
        if self.rest.is_empty() {
            return None;
        }
        let (code_point, len) = decode_wtf8(self.rest);
        self.rest = self.rest.get(len..).unwrap_or_default();
        if code_point >= 0x10000 {
            let (high, low) = surrogate_pair(code_point);
            self.low = Some(low as u16);
            Some(high as u16)
        } else {
            Some(code_point as u16)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Rendering

/// Writes one form's text of a signed object.
pub(super) struct Writer<'o> {
    out: &'o mut Vec<u8>,
    form: SignatureForm,
    /// Member permutations of the objects being written, as a stack shared by all levels
    /// (each object pushes its slice and truncates it when done), allocated only when some
    /// object is not already in the form's order.
    order: Vec<usize>,
}

impl<'o> Writer<'o> {
    /// A writer of `form` that appends to `out`.
    pub(super) fn new(out: &'o mut Vec<u8>, form: SignatureForm) -> Self {
        Writer {
            out,
            form,
            order: Vec::new(),
        }
    }

    fn value(&mut self, value: &Value) {
        match value {
            Value::Null => self.out.extend_from_slice(b"null"),
            Value::Bool(true) => self.out.extend_from_slice(b"true"),
            Value::Bool(false) => self.out.extend_from_slice(b"false"),
            Value::Number(lexeme) => self.out.extend_from_slice(lexeme.as_bytes()),
            Value::String(text) => self.string(text),
            Value::Array(items) => {
                self.out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.item_separator();
                    }
                    self.value(item);
                }
                self.out.push(b']');
            }
            Value::Object(members) => self.object(members),
        }
    }

    /// Writes an object whose members are `members`, in the form's key order.
    pub(super) fn object(&mut self, members: &[Member]) {
        self.out.push(b'{');
        let form = self.form;
        if in_order(form, members) {
            for (position, member) in members.iter().enumerate() {
                self.member(position, member);
            }
        } else {
            let start = self.order.len();
            self.order.extend(0..members.len());
            if let Some(slots) = self.order.get_mut(start..) {
                // Unstable is fine: keys are unique and insertion ties break on position.
                slots.sort_unstable_by(|&x, &y| match (members.get(x), members.get(y)) {
                    (Some(a), Some(b)) => compare(form, x, a, y, b),
                    _ => Ordering::Equal,
                });
            }
            for position in 0..members.len() {
                let index = self.order.get(start + position).copied();
                if let Some(member) = index.and_then(|i| members.get(i)) {
                    self.member(position, member);
                }
            }
            self.order.truncate(start);
        }
        self.out.push(b'}');
    }

    fn member(&mut self, position: usize, member: &Member) {
        if position > 0 {
            self.item_separator();
        }
        self.string(&member.key);
        self.out
            .extend_from_slice(if self.form.is_python() { b": " } else { b":" });
        self.value(&member.value);
    }

    fn item_separator(&mut self) {
        self.out
            .extend_from_slice(if self.form.is_python() { b", " } else { b"," });
    }

    fn string(&mut self, text: &[u8]) {
        if self.form.is_python() {
            write_python_string(self.out, text);
        } else {
            write_js_string(self.out, text);
        }
    }
}

/// Python's `ensure_ascii` encoder: printable ASCII as is (but `"` and `\`), the short
/// escapes, everything else (controls, DEL, non-ASCII) as lowercase `\uXXXX`, astral code
/// points as surrogate pairs.
fn write_python_string(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'"');
    let mut rest = text;
    // Copy runs of plain bytes at once; stop only where an escape is due.
    while let Some(at) = rest
        .iter()
        .position(|&b| !(0x20..0x7F).contains(&b) || b == b'"' || b == b'\\')
    {
        let (plain, tail) = rest.split_at(at);
        out.extend_from_slice(plain);
        let Some(&byte) = tail.first() else { break };
        let used = if let Some(short) = short_escape(byte) {
            out.extend_from_slice(short);
            1
        } else if byte < 0x80 {
            push_u_escape(out, u32::from(byte));
            1
        } else {
            let (code_point, len) = decode_wtf8(tail);
            if code_point >= 0x10000 {
                let (high, low) = surrogate_pair(code_point);
                push_u_escape(out, high);
                push_u_escape(out, low);
            } else {
                push_u_escape(out, code_point);
            }
            len
        };
        rest = tail.get(used..).unwrap_or_default();
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// JS `JSON.stringify`'s quoting: the short escapes, other controls as `\u00xx`, lone
/// surrogates as `\udxxx` (well-formed stringify), everything else as raw UTF-8.
fn write_js_string(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'"');
    let mut rest = text;
    // 0xED leads both the surrogates (ED A0..BF xx in WTF-8) and ordinary characters
    // U+D000..U+D7FF (ED 80..9F xx), so it only makes the scan look closer.
    while let Some(at) = rest
        .iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\' || b == 0xED)
    {
        let (plain, tail) = rest.split_at(at);
        out.extend_from_slice(plain);
        let Some(&byte) = tail.first() else { break };
        let used = if let Some(short) = short_escape(byte) {
            out.extend_from_slice(short);
            1
        } else if byte < 0x20 {
            push_u_escape(out, u32::from(byte));
            1
        } else if tail.get(1).is_some_and(|&next| next >= 0xA0) {
            let (unit, len) = decode_wtf8(tail);
            push_u_escape(out, unit);
            len
        } else {
            out.push(byte);
            1
        };
        rest = tail.get(used..).unwrap_or_default();
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// The escapes Python and JS both print in short form.
fn short_escape(byte: u8) -> Option<&'static [u8]> {
    Some(match byte {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        0x08 => b"\\b",
        0x0C => b"\\f",
        b'\n' => b"\\n",
        b'\r' => b"\\r",
        b'\t' => b"\\t",
        _ => return None,
    })
}

fn push_u_escape(out: &mut Vec<u8>, unit: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[((unit >> shift) & 0xF) as usize]);
    }
}

fn surrogate_pair(code_point: u32) -> (u32, u32) {
    let offset = code_point - 0x10000;
    (0xD800 | (offset >> 10), 0xDC00 | (offset & 0x3FF))
}

/// The first code point of a non-empty WTF-8 string and its length in bytes. Input is
/// always well formed (validated UTF-8 or our own encoding); a truncated sequence reads
/// missing bytes as zero bits rather than panicking.
fn decode_wtf8(text: &[u8]) -> (u32, usize) {
    let continuation = |i: usize| u32::from(text.get(i).copied().unwrap_or(0x80) & 0x3F);
    match text.first().copied().unwrap_or(0) {
        lead @ 0x00..=0x7F => (u32::from(lead), 1),
        lead @ 0xC0..=0xDF => ((u32::from(lead & 0x1F) << 6) | continuation(1), 2),
        lead @ 0xE0..=0xEF => (
            (u32::from(lead & 0x0F) << 12) | (continuation(1) << 6) | continuation(2),
            3,
        ),
        lead => (
            (u32::from(lead & 0x07) << 18)
                | (continuation(1) << 12)
                | (continuation(2) << 6)
                | continuation(3),
            4,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_indices_are_canonical_integers_below_two_to_the_32_minus_one() {
        for (key, index) in [
            ("0", Some(0)),
            ("10", Some(10)),
            ("4294967294", Some(4_294_967_294)),
            ("4294967295", None),
            ("99999999999", None),
            ("01", None),
            ("-1", None),
            ("1.5", None),
            ("", None),
        ] {
            assert_eq!(array_index(key.as_bytes()), index, "{key:?}");
        }
    }

    #[test]
    fn utf16_units_split_astral_code_points_and_keep_lone_surrogates() {
        // Arrange: "a", U+1F600, and a lone high surrogate in WTF-8.
        let text = b"a\xF0\x9F\x98\x80\xED\xA0\x80";

        // Act
        let units: Vec<u16> = Utf16::new(text).collect();

        // Assert
        assert_eq!(units, [0x61, 0xD83D, 0xDE00, 0xD800]);
    }
}
