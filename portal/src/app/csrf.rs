//! CSRF protection, one middleware for every unsafe request (POST, PUT, PATCH, DELETE):
//!
//! 1. Cross-site requests are refused: `Sec-Fetch-Site: cross-site`, or an `Origin` whose
//!    host is not this server's `Host`.
//! 2. A synchronizer token: each session holds a random token ([`token`]); every form carries
//!    it as the hidden field `csrf` (urlencoded forms), or as the `csrf` query parameter
//!    (multipart uploads), or as the `X-CSRF-Token` header (htmx, `hx-headers`). It must equal
//!    the session's.
//!
//! `/login` and `/logout` are checked by origin only: logging in starts the session the token
//! lives in (and outside checks post the form without scraping hidden fields), and SameSite=Lax
//! cookies plus the origin check already stop a cross-site login or logout.

use super::AppState;
use crate::error::AppError;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

/// Session key of the token.
const CSRF_KEY: &str = "csrf";
/// Largest urlencoded form body read for the token.
const FORM_LIMIT: usize = 2 << 20;
/// Paths checked by origin only (see the module doc).
const ORIGIN_ONLY: &[&str] = &["/login", "/logout"];

/// The session's token, created on first use.
pub async fn token(session: &Session) -> Result<String, AppError> {
    if let Some(t) = session
        .get::<String>(CSRF_KEY)
        .await
        .map_err(AppError::session)?
    {
        return Ok(t);
    }
    renew(session).await
}

/// A new token (at login, so a token seen before login is worthless after).
pub async fn renew(session: &Session) -> Result<String, AppError> {
    let t = crate::auth::random_token();
    session
        .insert(CSRF_KEY, &t)
        .await
        .map_err(AppError::session)?;
    Ok(t)
}

pub async fn verify(
    State(_state): State<AppState>,
    session: Session,
    req: Request,
    next: Next,
) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    if is_cross_site(req.headers()) {
        tracing::warn!(path = %req.uri().path(), "cross-site request refused");
        return AppError::Csrf.into_response();
    }
    if ORIGIN_ONLY.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    let expected = match session.get::<String>(CSRF_KEY).await {
        Ok(Some(t)) => t,
        Ok(None) => return AppError::SessionExpired.into_response(),
        Err(e) => return AppError::session(e).into_response(),
    };
    let (req, sent) = match sent_token(req).await {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    match sent {
        Some(t) if same(t.as_bytes(), expected.as_bytes()) => next.run(req).await,
        _ => AppError::Csrf.into_response(),
    }
}

/// Whether the browser says the request comes from another site.
fn is_cross_site(h: &HeaderMap) -> bool {
    if h.get("sec-fetch-site").is_some_and(|v| v == "cross-site") {
        return true;
    }
    let Some(origin) = h.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = h.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest.trim_end_matches('/'));
    origin_host.is_none() || origin_host != host
}

/// The token the request carries: header, query parameter, or urlencoded form field. The
/// body is read and put back, so the handler still gets it.
async fn sent_token(req: Request) -> Result<(Request, Option<String>), AppError> {
    if let Some(t) = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
    {
        let t = t.to_string();
        return Ok((req, Some(t)));
    }
    if let Some(t) = req.uri().query().and_then(|q| field(q.as_bytes())) {
        return Ok((req, Some(t)));
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((req, None));
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, FORM_LIMIT)
        .await
        .map_err(|_| AppError::PayloadTooLarge)?;
    let t = field(&bytes);
    Ok((Request::from_parts(parts, Body::from(bytes)), t))
}

fn field(urlencoded: &[u8]) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(urlencoded)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == CSRF_KEY)
        .map(|(_, v)| v)
}

/// Constant-time comparison, so the token cannot be guessed byte by byte from timings.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
