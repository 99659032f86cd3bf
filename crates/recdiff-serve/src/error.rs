//! Error responses: every failure is a JSON body `{"error": {"code", "message", "field"?}}` with
//! a 4xx status for the client's mistakes and 5xx for the server's. A message or field that
//! quotes the client's input quotes at most a short prefix of it ([`MAX_MESSAGE_CHARS`],
//! [`MAX_FIELD_CHARS`]): a 5 MB value must not come back as a 5 MB error.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::any::Any;

/// Longest message an error body carries, in characters; the rest is cut with a note.
pub const MAX_MESSAGE_CHARS: usize = 2_048;
/// Longest field path an error body carries, in characters.
pub const MAX_FIELD_CHARS: usize = 256;

/// `text` cut to `max` characters, with how much was left out.
pub fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}… ({} more bytes)", &text[..cut], text.len() - cut),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    /// A stable machine-readable code, e.g. `invalid_feature`.
    pub code: &'static str,
    pub message: String,
    /// Path of the offending field in the request, when there is one.
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), field: None }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// A 500 for a panic, with the panic's message when it has one.
    pub fn from_panic(payload: &(dyn Any + Send)) -> Self {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        Self::internal(format!("the handler panicked ({what}); the server keeps serving"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": shorten(&self.message, MAX_MESSAGE_CHARS) });
        if let Some(field) = self.field {
            error["field"] = json!(shorten(&field, MAX_FIELD_CHARS));
        }
        (self.status, axum::Json(json!({ "error": error }))).into_response()
    }
}

impl From<crate::request::RequestError> for ApiError {
    fn from(e: crate::request::RequestError) -> Self {
        Self::bad_request("invalid_feature", e.message).with_field(e.field)
    }
}

impl From<crate::model::ScoreError> for ApiError {
    fn from(e: crate::model::ScoreError) -> Self {
        match e {
            crate::model::ScoreError::Request(r) => r.into(),
            crate::model::ScoreError::Internal(m) => Self::internal(m),
            crate::model::ScoreError::NonFinite(at) => Self::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "non_finite_score",
                format!("the model produced a non-finite score for {at}"),
            )
            .with_field(at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_quoting_a_huge_input_quotes_only_its_prefix() {
        let huge = "x".repeat(5 << 20);
        let e = ApiError::bad_request("invalid_feature", format!("{huge:?} is not a number")).with_field(huge.clone());
        let body = e.into_response().into_body();
        let bytes = futures_body(body);
        assert!(bytes.len() < 4_096, "a {} byte error body", bytes.len());
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains("\"xxxx") && text.contains("more bytes"), "{text}");
        assert_eq!(shorten("héllo", 2), "hé… (3 more bytes)");
        assert_eq!(shorten("short", 10), "short");
    }

    fn futures_body(body: axum::body::Body) -> Vec<u8> {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(axum::body::to_bytes(body, usize::MAX)).unwrap().to_vec()
    }

    #[test]
    fn a_non_finite_score_is_a_500_with_its_own_code_not_a_score() {
        let e = ApiError::from(crate::model::ScoreError::NonFinite("candidates[3]".into()));
        assert_eq!((e.status, e.code), (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "non_finite_score"));
        assert!(e.message.contains("candidates[3]"), "{}", e.message);
        assert_eq!(e.field.as_deref(), Some("candidates[3]"));
    }
}
