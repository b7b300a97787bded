//! JSON errors for `/api/`: a client of the API gets `{"error", "message", "fields"}` with
//! the right status instead of the HTML error pages, the login redirect or axum's plain-text
//! rejections. Applied by [`crate::error::render_pages`] to every response under `/api/`.

use crate::error::ErrorPage;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ewoda_common::scope::FieldError;

/// The error body every API error has.
pub fn body(status: StatusCode, error: &str, message: &str, fields: &[FieldError]) -> Response {
    let json = serde_json::json!({"error": error, "message": message, "fields": fields});
    (status, Json(json)).into_response()
}

/// A response of an API route as the API answers it: JSON errors, the rest unchanged.
pub async fn json(resp: Response) -> Response {
    if let Some(page) = resp.extensions().get::<ErrorPage>().copied() {
        let message = page.status().canonical_reason().unwrap_or("error");
        return body(page.status(), page.code(), message, &[]);
    }
    let to_login = resp.status() == StatusCode::SEE_OTHER
        && resp
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|l| l.starts_with("/login"));
    if to_login {
        return body(
            StatusCode::UNAUTHORIZED,
            "login_required",
            "log in with POST /login; the session cookie authenticates the API",
            &[],
        );
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if resp.status().is_success() || resp.status().is_redirection() || is_json {
        return resp;
    }
    rejection(resp).await
}

/// axum's plain-text rejections (a query that does not parse: 400) as JSON; a bad query
/// is a refused field, 422, named when axum names it.
async fn rejection(resp: Response) -> Response {
    let status = resp.status();
    let text = axum::body::to_bytes(resp.into_body(), 16 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    if status != StatusCode::BAD_REQUEST {
        let code = status.canonical_reason().unwrap_or("error").to_lowercase();
        return body(status, &code.replace(' ', "_"), &text, &[]);
    }
    // "Failed to deserialize query string: issued_from: input contains invalid characters"
    let detail = text.split_once(": ").map(|(_, d)| d).unwrap_or(&text);
    let fields = match detail.split_once(": ") {
        Some((field, why)) if !field.contains(' ') => vec![FieldError::new(field, "invalid", why)],
        _ => Vec::new(),
    };
    body(StatusCode::UNPROCESSABLE_ENTITY, "invalid", &text, &fields)
}
