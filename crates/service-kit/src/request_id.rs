//! Which client request ids are kept.
//!
//! A client's `x-request-id` is stored in the executor's audit row and echoed in the answer,
//! so an unbounded one lets anyone without a credential grow the audit table by the size of
//! a header per request. Only short, plain ids are kept: at most [`MAX_LEN`] visible ASCII
//! characters (which also rules out bytes that are not UTF-8, so the id in the answer is
//! always the one in the row). Any other value is dropped before the id layer runs, which
//! then generates one; the answer says so in [`REPLACED_HEADER`], and a warning names the
//! length of what was refused, never the value.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The longest client request id kept, in bytes (all visible ASCII).
pub const MAX_LEN: usize = 128;

/// Set to `true` on an answer whose client-sent `x-request-id` was replaced.
pub const REPLACED_HEADER: &str = "x-request-id-replaced";

/// Whether a client-sent request id is kept as it is.
pub fn acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= MAX_LEN && bytes.iter().all(|b| b.is_ascii_graphic())
}

/// Middleware: drops every `x-request-id` unless there is exactly one and it is
/// [`acceptable`], and marks the answer when it did.
pub async fn screen(mut request: Request, next: Next) -> Response {
    let name = HeaderName::from_static("x-request-id");
    // Counted without collecting: this runs on every request.
    let mut values = request.headers().get_all(&name).iter();
    let refused = match (values.next(), values.next()) {
        (None, _) => None,
        (Some(one), None) if acceptable(one) => None,
        (Some(first), second) => {
            let rest = second.into_iter().chain(values);
            Some(rest.fold((1, first.len()), |(n, b), v| (n + 1, b + v.len())))
        }
    };
    if let Some((count, bytes)) = refused {
        request.headers_mut().remove(&name);
        tracing::warn!(
            headers = count,
            bytes,
            "client x-request-id not kept (at most one, of 1 to {MAX_LEN} visible ASCII characters); a new id was generated"
        );
    }
    let mut response = next.run(request).await;
    if refused.is_some() {
        response
            .headers_mut()
            .insert(REPLACED_HEADER, HeaderValue::from_static("true"));
    }
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn short_visible_ascii_ids_are_kept_and_nothing_else() {
        let kept = ["a", "req-123_ABC.x:y/z", &"x".repeat(MAX_LEN)];
        for id in kept {
            assert!(acceptable(&HeaderValue::from_str(id).unwrap()), "{id}");
        }
        let long = "x".repeat(MAX_LEN + 1);
        let refused: [&[u8]; 5] = [
            b"",
            long.as_bytes(),
            b"with space",
            b"tab\there",
            b"\xff\xfe",
        ];
        for id in refused {
            let value = HeaderValue::from_bytes(id).unwrap();
            assert!(!acceptable(&value), "{id:?}");
        }
    }
}
