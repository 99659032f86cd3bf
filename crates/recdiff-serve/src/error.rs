//! Error responses: every failure is a JSON body `{"error": {"code", "message", "field"?}}` with
//! a 4xx status for the client's mistakes and 5xx for the server's.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::any::Any;

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
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(field) = self.field {
            error["field"] = json!(field);
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
            e @ crate::model::ScoreError::NonFinite(_) => {
                Self::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "non_finite_score", e.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_finite_score_is_a_500_with_its_own_code_not_a_score() {
        let e = ApiError::from(crate::model::ScoreError::NonFinite(3));
        assert_eq!((e.status, e.code), (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "non_finite_score"));
        assert!(e.message.contains("row 3"), "{}", e.message);
    }
}
