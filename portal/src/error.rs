//! One HTTP error type for every handler, and the policy it follows:
//!
//! - 404 / 403 / 429 / CSRF / expired session: a page in the user's language saying what
//!   happened and what to do; never a stack trace.
//! - Not logged in: a redirect to `/login?next=<the page>`.
//! - 422 (bad form input) is not an error here: the handler re-renders its form with the
//!   messages beside the fields ([`crate::ui::form`]).
//! - Anything else (database, I/O): logged with its detail, answered 500 with a page that hides
//!   it.
//!
//! [`AppError::into_response`] only marks the response with an [`ErrorPage`]; the
//! [`render_pages`] middleware turns the mark into the page, because only it knows the
//! request's language and user.

use crate::app::AppState;
use crate::ui::{Lang, Page};
use askama::Template;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("login required")]
    LoginRequired { next: String },
    #[error("cross-site request or wrong form token")]
    Csrf,
    #[error("session expired")]
    SessionExpired,
    #[error("too many requests")]
    TooManyRequests,
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Common(#[from] ewoda_common::Error),
    /// Bad input outside a form (configuration, command line), naming the field.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    pub fn session(e: tower_sessions::session::Error) -> Self {
        AppError::Internal(format!("session store: {e}"))
    }
}

/// Which error page to render; carried in the response's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorPage {
    NotFound,
    Forbidden,
    Csrf,
    SessionExpired,
    TooManyRequests,
    PayloadTooLarge,
    Internal,
}

impl ErrorPage {
    pub(crate) fn status(self) -> StatusCode {
        match self {
            ErrorPage::NotFound => StatusCode::NOT_FOUND,
            ErrorPage::Forbidden | ErrorPage::Csrf => StatusCode::FORBIDDEN,
            ErrorPage::SessionExpired => StatusCode::FORBIDDEN,
            ErrorPage::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ErrorPage::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorPage::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable name of the error, for the JSON API.
    pub(crate) fn code(self) -> &'static str {
        match self {
            ErrorPage::NotFound => "not_found",
            ErrorPage::Forbidden => "forbidden",
            ErrorPage::Csrf => "csrf",
            ErrorPage::SessionExpired => "session_expired",
            ErrorPage::TooManyRequests => "too_many_requests",
            ErrorPage::PayloadTooLarge => "payload_too_large",
            ErrorPage::Internal => "internal",
        }
    }

    /// Fluent id prefix of the page's texts (`<id>-title`, `<id>-text`).
    fn id(self) -> &'static str {
        match self {
            ErrorPage::NotFound => "error-404",
            ErrorPage::Forbidden => "error-403",
            ErrorPage::Csrf => "error-csrf",
            ErrorPage::SessionExpired => "error-expired",
            ErrorPage::TooManyRequests => "error-429",
            ErrorPage::PayloadTooLarge => "error-413",
            ErrorPage::Internal => "error-500",
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let page = match self {
            AppError::LoginRequired { next } => {
                let to = format!("/login?next={}", crate::ui::urlencode(&next));
                return Redirect::to(&to).into_response();
            }
            AppError::NotFound => ErrorPage::NotFound,
            AppError::Forbidden => ErrorPage::Forbidden,
            AppError::Csrf => ErrorPage::Csrf,
            AppError::SessionExpired => ErrorPage::SessionExpired,
            AppError::TooManyRequests => ErrorPage::TooManyRequests,
            AppError::PayloadTooLarge => ErrorPage::PayloadTooLarge,
            AppError::Db(e) => {
                tracing::error!(error = %e, "database error");
                ErrorPage::Internal
            }
            AppError::Common(e) => {
                tracing::error!(error = %e, "internal error");
                ErrorPage::Internal
            }
            AppError::Invalid { field, reason } => {
                tracing::error!(field, reason, "invalid input outside a form");
                ErrorPage::Internal
            }
            AppError::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                ErrorPage::Internal
            }
        };
        let mut resp = page.status().into_response();
        resp.extensions_mut().insert(page);
        resp
    }
}

/// The fallback of the router: 404.
pub async fn not_found() -> AppError {
    AppError::NotFound
}

#[derive(Template)]
#[template(path = "errors/error.html")]
struct ErrorView {
    page: Page,
    title: String,
    text: String,
}

/// Renders marked error responses as pages in the request's language.
pub async fn render_pages(
    State(state): State<AppState>,
    session: Session,
    req: Request,
    next: Next,
) -> Response {
    let lang = req.extensions().get::<Lang>().copied().unwrap_or_default();
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    if path.starts_with("/api/") {
        return crate::api::errors::json(resp).await;
    }
    let Some(kind) = resp.extensions().get::<ErrorPage>().copied() else {
        return resp;
    };
    let page = Page::build(&state, &session, lang, &path).await;
    let view = ErrorView {
        title: page.t(&format!("{}-title", kind.id())),
        text: page.t(&format!("{}-text", kind.id())),
        page,
    };
    let mut out = crate::ui::html(&view, kind.status());
    out.headers_mut().extend(
        resp.headers()
            .iter()
            .filter(|(k, _)| {
                k.as_str().starts_with("retry-after") || k.as_str().starts_with("x-ratelimit")
            })
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    out
}
