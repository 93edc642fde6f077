//! A JSON body extractor whose every failure is an [`ApiError`] with a JSON answer:
//! 415 for a wrong content type, 413 over the body limit, 400 naming the field at fault.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest request body accepted, in bytes.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Deepest JSON nesting accepted: `serde_json` stops at 128 anyway, but a clear 400 from
/// us is better than its generic recursion error.
const MAX_DEPTH: usize = 64;

/// Like `axum::Json`, with our error answers.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&req) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            // Over the `DefaultBodyLimit` is the only way reading a body fails with 413.
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge { limit: BODY_LIMIT }
            } else {
                ApiError::InvalidJson {
                    message: "could not read the request body".into(),
                    field: None,
                }
            }
        })?;
        parse(&bytes).map(JsonBody)
    }
}

/// Deserialises `bytes`, reporting the path of the field at fault.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if warden_protocol::json_nesting_depth(bytes) > MAX_DEPTH {
        return Err(ApiError::InvalidJson {
            message: format!("JSON is nested deeper than {MAX_DEPTH} levels"),
            field: None,
        });
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        // A syntax error has no meaningful field (serde_path_to_error reports `?`).
        let field = (inner.classify() == serde_json::error::Category::Data
            && path != "."
            && !path.is_empty())
        .then_some(path);
        let message = match (&field, inner.classify()) {
            (_, serde_json::error::Category::Syntax | serde_json::error::Category::Eof) => {
                format!("malformed JSON: {inner}")
            }
            (Some(field), _) => format!("{field}: {inner}"),
            (None, _) => format!("invalid request: {inner}"),
        };
        ApiError::InvalidJson { message, field }
    })?;
    // Trailing garbage after the document is an error, not ignored.
    de.end().map_err(|inner| ApiError::InvalidJson {
        message: format!("malformed JSON: {inner}"),
        field: None,
    })?;
    Ok(value)
}

fn is_json(req: &Request) -> bool {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let mime = value.split(';').next().unwrap_or("").trim();
    mime.eq_ignore_ascii_case("application/json")
        || (mime.len() > 5
            && mime[mime.len() - 5..].eq_ignore_ascii_case("+json")
            && mime.to_ascii_lowercase().starts_with("application/"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        action: String,
        context: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    #[serde(rename_all = "camelCase")]
    struct Inner {
        user_id: String,
    }

    fn field_of(json: &str) -> Option<String> {
        match parse::<Body>(json.as_bytes()).unwrap_err() {
            ApiError::InvalidJson { field, .. } => field,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn type_errors_name_the_nested_field() {
        assert_eq!(
            field_of(r#"{"action":"a","context":{"userId":7}}"#).as_deref(),
            Some("context.userId")
        );
        assert_eq!(field_of(r#"{"action":5}"#).as_deref(), Some("action"));
    }

    #[test]
    fn syntax_errors_and_trailing_data_are_refused() {
        assert!(parse::<Body>(b"{\"action\":").is_err());
        assert!(parse::<Body>(br#"{"action":"a"} x"#).is_err());
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(matches!(
            parse::<serde_json::Value>(deep.as_bytes()),
            Err(ApiError::InvalidJson { .. })
        ));
    }
}
