//! The strict, order-keeping JSON parser behind [`SignedPayload::from_body`]: RFC 8259
//! grammar over valid UTF-8, objects kept in body order, numbers kept as their lexeme,
//! strings decoded to WTF-8, duplicate keys refused at any depth, and only the signed
//! members of the top-level object kept (the rest is validated, not copied).
//!
//! [`SignedPayload::from_body`]: super::SignedPayload::from_body

use std::borrow::Cow;

use super::{MAX_DEPTH, SignatureError};

/// The signed members, by their (decoded) key in the body.
const SIGNED_MEMBERS: [&[u8]; 3] = [b"actionType", b"actionParams", b"requestedBy"];

/// A UTF-8 byte order mark, which RFC 8259 forbids in JSON text on the wire.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A JSON value as the signature needs it: objects keep body order, numbers their lexeme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Value {
    Null,
    Bool(bool),
    /// The number exactly as written in the body (already checked against the grammar).
    Number(Box<str>),
    /// The decoded string as WTF-8: UTF-8 that may also hold lone surrogates.
    String(Box<[u8]>),
    Array(Vec<Value>),
    /// Members in body order; keys are unique.
    Object(Vec<Member>),
}

/// One object member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Member {
    /// Decoded key, WTF-8.
    pub(super) key: Box<[u8]>,
    /// The member's value.
    pub(super) value: Value,
}

impl AsRef<[u8]> for Member {
    fn as_ref(&self) -> &[u8] {
        &self.key
    }
}

type Parsed<T> = Result<T, SignatureError>;

/// Parses a raw execute request body and returns its signed members, in body order, and a
/// render buffer size hint.
pub(super) fn parse(body: &[u8]) -> Parsed<(Vec<Member>, usize)> {
    if body.starts_with(BOM) {
        return Err(SignatureError::Body(
            "the body starts with a byte order mark, which JSON text must not".into(),
        ));
    }
    // Validating once up front lets the parser copy string bytes without re-checking them.
    if let Err(err) = std::str::from_utf8(body) {
        return Err(SignatureError::Body(format!(
            "the body is not valid UTF-8 (at byte {})",
            err.valid_up_to()
        )));
    }
    let mut parser = Parser {
        bytes: body,
        pos: 0,
        keys: Vec::new(),
    };
    parser.skip_ws();
    if parser.peek() != Some(b'{') {
        return Err(SignatureError::Body("the body is not a JSON object".into()));
    }
    let parsed = parser.top_object()?;
    parser.skip_ws();
    if parser.pos != body.len() {
        return Err(parser.error("unexpected data after the JSON object"));
    }
    Ok(parsed)
}

/// A recursive-descent parser over a body already known to be valid UTF-8.
struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Keys of the unkept objects being parsed, as a stack shared by all levels (each
    /// object checks and pops its own slice), so that skipping `policyDecision` allocates
    /// one vector rather than one per object.
    keys: Vec<Cow<'a, [u8]>>,
}

impl<'a> Parser<'a> {
    fn error(&self, what: &str) -> SignatureError {
        SignatureError::Body(format!("invalid JSON at byte {}: {what}", self.pos))
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Consumes `byte` (after whitespace) if it comes next.
    fn eat(&mut self, byte: u8) -> bool {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// After a member: `true` if another follows, `false` at the closing `close`.
    fn more(&mut self, close: u8, what: &str) -> Parsed<bool> {
        if self.eat(b',') {
            Ok(true)
        } else if self.eat(close) {
            Ok(false)
        } else {
            Err(self.error(what))
        }
    }

    /// The body's object: keeps only the signed members, checks every key for duplicates.
    /// Returns the members and a render buffer size hint.
    fn top_object(&mut self) -> Parsed<(Vec<Member>, usize)> {
        let start = self.pos;
        self.pos += 1;
        let mark = self.keys.len();
        let mut members = Vec::with_capacity(SIGNED_MEMBERS.len());
        // Python's ensure_ascii can print a short body character as up to 12 bytes; the
        // buffer grows in that case, which is rare enough not to size for.
        let mut size_hint = 2;
        if !self.eat(b'}') {
            loop {
                let key = self.key()?;
                let keep = SIGNED_MEMBERS.contains(&key.as_ref());
                let value_start = self.pos;
                let value = self.value(2, keep)?;
                if keep {
                    size_hint += key.len() + 8 + (self.pos - value_start);
                    members.push(Member {
                        key: key.as_ref().into(),
                        value,
                    });
                }
                self.keys.push(key);
                if !self.more(b'}', "expected ',' or '}' after an object member")? {
                    break;
                }
            }
        }
        self.check_key_stack(mark, start)?;
        Ok((members, size_hint))
    }

    /// A JSON value at nesting level `depth` (if it is a container); `keep: false` only
    /// validates and returns `Null`, so unsigned members cost no allocation beyond keys.
    fn value(&mut self, depth: usize, keep: bool) -> Parsed<Value> {
        self.skip_ws();
        match self.peek() {
            Some(b'{') => self.object(depth, keep),
            Some(b'[') => self.array(depth, keep),
            Some(b'"') => {
                let text = self.string()?;
                Ok(if keep {
                    Value::String(text.into_owned().into_boxed_slice())
                } else {
                    Value::Null
                })
            }
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(b'-' | b'0'..=b'9') => {
                let lexeme = self.number()?;
                Ok(if keep {
                    Value::Number(lexeme.into())
                } else {
                    Value::Null
                })
            }
            Some(_) => Err(self.error("expected a JSON value")),
            None => Err(self.error("unexpected end of the body")),
        }
    }

    fn object(&mut self, depth: usize, keep: bool) -> Parsed<Value> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested deeper than 64 levels"));
        }
        let start = self.pos;
        self.pos += 1;
        // Kept objects check duplicates on their members; skipped ones on borrowed keys.
        let mut members = Vec::new();
        let mark = self.keys.len();
        if !self.eat(b'}') {
            loop {
                let key = self.key()?;
                let value = self.value(depth + 1, keep)?;
                if keep {
                    members.push(Member {
                        key: key.into_owned().into_boxed_slice(),
                        value,
                    });
                } else {
                    self.keys.push(key);
                }
                if !self.more(b'}', "expected ',' or '}' after an object member")? {
                    break;
                }
            }
        }
        if keep {
            self.check_duplicates(&members, start)?;
            Ok(Value::Object(members))
        } else {
            self.check_key_stack(mark, start)?;
            Ok(Value::Null)
        }
    }

    fn array(&mut self, depth: usize, keep: bool) -> Parsed<Value> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested deeper than 64 levels"));
        }
        self.pos += 1;
        let mut items = Vec::new();
        if !self.eat(b']') {
            loop {
                let item = self.value(depth + 1, keep)?;
                if keep {
                    items.push(item);
                }
                if !self.more(b']', "expected ',' or ']' after an array element")? {
                    break;
                }
            }
        }
        Ok(if keep {
            Value::Array(items)
        } else {
            Value::Null
        })
    }

    /// An object key and the `:` after it.
    fn key(&mut self) -> Parsed<Cow<'a, [u8]>> {
        self.skip_ws();
        if self.peek() != Some(b'"') {
            return Err(self.error("expected a string key"));
        }
        let key = self.string()?;
        if !self.eat(b':') {
            return Err(self.error("expected ':' after an object key"));
        }
        Ok(key)
    }

    /// Checks the keys pushed since `mark` (one object's) and pops them.
    fn check_key_stack(&mut self, mark: usize, object_start: usize) -> Parsed<()> {
        self.check_duplicates(self.keys.get(mark..).unwrap_or_default(), object_start)?;
        self.keys.truncate(mark);
        Ok(())
    }

    fn check_duplicates<K: AsRef<[u8]>>(&self, keys: &[K], object_start: usize) -> Parsed<()> {
        match find_duplicate(keys) {
            None => Ok(()),
            Some(key) => {
                let shown: String = String::from_utf8_lossy(key).chars().take(64).collect();
                Err(SignatureError::Body(format!(
                    "duplicate key {shown:?} in the object at byte {object_start}"
                )))
            }
        }
    }

    fn literal(&mut self, word: &[u8], value: Value) -> Parsed<Value> {
        if self.bytes.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("expected a JSON value"))
        }
    }

    /// A number, checked against the RFC 8259 grammar and returned as written.
    fn number(&mut self) -> Parsed<&'a str> {
        let bytes = self.bytes;
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !self.digits() {
                return Err(self.error("invalid number: a digit must follow '.'"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !self.digits() {
                return Err(self.error("invalid number: the exponent has no digits"));
            }
        }
        bytes
            .get(start..self.pos)
            .and_then(|lexeme| std::str::from_utf8(lexeme).ok())
            .ok_or_else(|| self.error("invalid number"))
    }

    /// Skips ASCII digits; `true` if there was at least one.
    fn digits(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// A string, decoded to WTF-8. Borrowed from the body when it has no escapes (most keys
    /// and values), so skipped members and keys cost no allocation.
    fn string(&mut self) -> Parsed<Cow<'a, [u8]>> {
        let bytes = self.bytes;
        self.pos += 1;
        let start = self.pos;
        // One tight scan to the first byte that needs attention; most strings end there.
        let rest = bytes.get(start..).unwrap_or_default();
        self.pos += rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            .unwrap_or(rest.len());
        match self.peek() {
            None => return Err(self.error("unterminated string")),
            Some(b'"') => {
                let text = bytes.get(start..self.pos).unwrap_or_default();
                self.pos += 1;
                return Ok(Cow::Borrowed(text));
            }
            Some(b'\\') => {}
            Some(_) => return Err(self.error("control character in a string")),
        }
        let mut out = bytes.get(start..self.pos).unwrap_or_default().to_vec();
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(&mut out)?;
                }
                Some(0x00..=0x1F) => return Err(self.error("control character in a string")),
                Some(byte) => {
                    out.push(byte);
                    self.pos += 1;
                }
            }
        }
    }

    /// One escape, after its backslash.
    fn escape(&mut self, out: &mut Vec<u8>) -> Parsed<()> {
        let decoded = match self.peek() {
            Some(b'"') => b'"',
            Some(b'\\') => b'\\',
            Some(b'/') => b'/',
            Some(b'b') => 0x08,
            Some(b'f') => 0x0C,
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b't') => b'\t',
            Some(b'u') => {
                self.pos += 1;
                let unit = self.hex4()?;
                let code_point = if (0xD800..0xDC00).contains(&unit) {
                    self.low_surrogate_after(unit)
                } else {
                    unit
                };
                push_wtf8(out, code_point);
                return Ok(());
            }
            _ => return Err(self.error("invalid escape in a string")),
        };
        out.push(decoded);
        self.pos += 1;
        Ok(())
    }

    /// A high surrogate escape pairs with a directly following low surrogate escape (as in
    /// Python and JS); otherwise it stays a lone surrogate and the next escape is read anew.
    fn low_surrogate_after(&mut self, high: u32) -> u32 {
        let resume = self.pos;
        if self.bytes.get(self.pos..self.pos + 2) == Some(b"\\u") {
            self.pos += 2;
            if let Ok(low @ 0xDC00..=0xDFFF) = self.hex4() {
                return 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
            }
        }
        self.pos = resume;
        high
    }

    fn hex4(&mut self) -> Parsed<u32> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("truncated \\u escape"))?;
        let mut unit = 0;
        for &digit in digits {
            let nibble = char::from(digit)
                .to_digit(16)
                .ok_or_else(|| self.error("invalid \\u escape"))?;
            unit = unit * 16 + nibble;
        }
        self.pos += 4;
        Ok(unit)
    }
}

/// The first key seen twice. Pairwise for the small objects of real requests; sorted for
/// large ones, so that a 64 KiB object of short keys cannot make this quadratic.
fn find_duplicate<K: AsRef<[u8]>>(keys: &[K]) -> Option<&[u8]> {
    if keys.len() <= 16 {
        for (i, a) in keys.iter().enumerate() {
            if keys.iter().skip(i + 1).any(|b| a.as_ref() == b.as_ref()) {
                return Some(a.as_ref());
            }
        }
        None
    } else {
        let mut sorted: Vec<&[u8]> = keys.iter().map(AsRef::as_ref).collect();
        sorted.sort_unstable();
        sorted.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
    }
}

/// Encodes a code point (surrogates included) as WTF-8.
fn push_wtf8(out: &mut Vec<u8>, code_point: u32) {
    // Each `as u8` keeps the low bits, which the masks and shifts have already selected.
    let continuation = |shift: u32| 0x80 | ((code_point >> shift) & 0x3F) as u8;
    match code_point {
        0..0x80 => out.push(code_point as u8),
        0x80..0x800 => out.extend_from_slice(&[0xC0 | (code_point >> 6) as u8, continuation(0)]),
        0x800..0x10000 => out.extend_from_slice(&[
            0xE0 | (code_point >> 12) as u8,
            continuation(6),
            continuation(0),
        ]),
        _ => out.extend_from_slice(&[
            0xF0 | ((code_point >> 18) & 0x07) as u8,
            continuation(12),
            continuation(6),
            continuation(0),
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_and_sorted_duplicate_checks_agree() {
        // Arrange: 16 keys take the pairwise path, 17 the sorted one.
        let keys = |n: usize| -> Vec<Vec<u8>> { (0..n).map(|i| format!("k{i}").into()).collect() };
        let (mut small, mut large) = (keys(15), keys(16));
        small.push(b"k3".to_vec());
        large.push(b"k3".to_vec());

        // Act / Assert
        assert_eq!(find_duplicate(&keys(16)), None);
        assert_eq!(find_duplicate(&keys(17)), None);
        assert_eq!(find_duplicate(&small), Some(&b"k3"[..]));
        assert_eq!(find_duplicate(&large), Some(&b"k3"[..]));
    }

    #[test]
    fn wtf8_encodes_lone_surrogates_as_three_bytes() {
        // Arrange
        let mut out = Vec::new();

        // Act
        for code_point in [0x41, 0xE9, 0xD800, 0xDFFF, 0x1F600] {
            push_wtf8(&mut out, code_point);
        }

        // Assert
        assert_eq!(out, b"A\xC3\xA9\xED\xA0\x80\xED\xBF\xBF\xF0\x9F\x98\x80");
    }
}
