//! Strict query parameters (an unknown, repeated or empty one is a 400 naming it) and the
//! opaque keyset cursor of `GET /executor/audit`.

use std::collections::HashMap;

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use uuid::Uuid;

use crate::error::ExecError;
use crate::store::AuditCursor;

/// The opaque cursor of position `at`.
pub fn encode_cursor(at: AuditCursor) -> String {
    let text = format!(
        "{}|{}",
        at.created_at.to_rfc3339_opts(SecondsFormat::Nanos, true),
        at.id
    );
    URL_SAFE_NO_PAD.encode(text)
}

/// The position a cursor of [`encode_cursor`] names.
pub fn decode_cursor(cursor: &str) -> Result<AuditCursor, ExecError> {
    let bad = || {
        invalid(
            "cursor",
            "cursor: not a cursor of this API (pass `nextCursor` as is)",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (created_at, id) = text.split_once('|').ok_or_else(bad)?;
    Ok(AuditCursor {
        created_at: DateTime::parse_from_rfc3339(created_at)
            .map_err(|_| bad())?
            .with_timezone(&Utc),
        id: Uuid::parse_str(id).map_err(|_| bad())?,
    })
}

/// The query parameters of a request, checked against the ones an endpoint knows.
pub(super) struct Params(HashMap<String, String>);

impl Params {
    pub(super) fn new(
        query: Result<Query<Vec<(String, String)>>, QueryRejection>,
        known: &[&str],
    ) -> Result<Params, ExecError> {
        let Query(pairs) =
            query.map_err(|_| invalid("query", "the query string cannot be decoded"))?;
        let mut params = HashMap::new();
        for (name, value) in pairs {
            if !known.contains(&name.as_str()) {
                return Err(invalid(
                    &name,
                    format!(
                        "unknown query parameter `{name}` (known: {})",
                        known.join(", ")
                    ),
                ));
            }
            if value.is_empty() {
                return Err(invalid(
                    &name,
                    format!("{name}: empty; leave the parameter out instead"),
                ));
            }
            if params.contains_key(&name) {
                return Err(invalid(&name, format!("{name}: given more than once")));
            }
            params.insert(name, value);
        }
        Ok(Params(params))
    }

    pub(super) fn take(&mut self, name: &str) -> Option<String> {
        self.0.remove(name)
    }

    /// An RFC 3339 time.
    pub(super) fn time(&mut self, name: &str) -> Result<Option<DateTime<Utc>>, ExecError> {
        self.take(name)
            .map(|raw| {
                DateTime::parse_from_rfc3339(&raw)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| {
                        invalid(
                            name,
                            format!(
                                "{name}: expected an RFC 3339 time such as 2026-01-31T08:00:00Z \
                                 (in a URL, write `+` of an offset as `%2B`)"
                            ),
                        )
                    })
            })
            .transpose()
    }
}

/// `since` must come before `until`.
pub(super) fn ordered(since: DateTime<Utc>, until: DateTime<Utc>) -> Result<(), ExecError> {
    if since < until {
        Ok(())
    } else {
        Err(invalid("since", "since: must be before until"))
    }
}

pub(super) fn invalid(field: &str, message: impl Into<String>) -> ExecError {
    ExecError::InvalidQuery {
        message: message.into(),
        field: field.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_cursor_names_its_position_exactly() {
        // Arrange
        let at = AuditCursor {
            created_at: at("2026-03-04T05:06:07.123456789Z"),
            id: Uuid::now_v7(),
        };

        // Act
        let cursor = encode_cursor(at);

        // Assert
        assert!(
            cursor
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(decode_cursor(&cursor).unwrap(), at);
    }

    #[test]
    fn anything_else_is_not_a_cursor() {
        for bad in [
            "!!",
            "bm90IGEgY3Vyc29y",                                // "not a cursor"
            &URL_SAFE_NO_PAD.encode("2026-01-01T00:00:00Z|x"), // bad uuid
            &URL_SAFE_NO_PAD.encode(format!("yesterday|{}", Uuid::nil())),
        ] {
            let err = decode_cursor(bad).unwrap_err();
            assert_eq!(err.code(), "invalid_query", "{bad}");
        }
    }
}
