//! The user interface kit every page uses: the page context ([`Page`]: language, user, CSRF
//! token, translations), the language switch, translations (fluent, PL/EN), the list
//! component, SVG charts, form helpers and the embedded assets.

pub mod assets;
pub mod chart;
pub mod form;
pub mod format;
pub mod i18n;
pub mod lang;
pub mod list;

pub use lang::Lang;

use crate::app::AppState;
use crate::auth::{Role, SessionUser};
use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use fluent_bundle::FluentArgs;
use tower_sessions::Session;

/// What the base layout needs on every page: language, the logged-in user, the CSRF token of
/// the session, the current path (for the language switch) and the translations.
pub struct Page {
    state: AppState,
    pub lang: Lang,
    pub user: Option<SessionUser>,
    pub csrf: String,
    pub path: String,
}

impl Page {
    pub async fn build(state: &AppState, session: &Session, lang: Lang, path: &str) -> Page {
        let user = crate::auth::session_user(session).await;
        // A broken session store must not hide the error page being rendered.
        let csrf = crate::app::csrf::token(session).await.unwrap_or_default();
        Page {
            state: state.clone(),
            lang,
            user,
            csrf,
            path: path.to_string(),
        }
    }

    /// The translated text of a fluent message id.
    pub fn t(&self, id: &str) -> String {
        self.state.i18n.text(self.lang, id, None)
    }

    /// A text with a count, by the language's plural rules (Polish: one / few / many).
    /// Takes `i64` or `&i64` (askama passes template fields by reference).
    pub fn tn(&self, id: &str, count: impl std::borrow::Borrow<i64>) -> String {
        let mut args = FluentArgs::new();
        args.set("count", *count.borrow());
        self.state.i18n.text(self.lang, id, Some(&args))
    }

    /// A text with one named string argument.
    pub fn targ(&self, id: &str, name: &'static str, value: impl AsRef<str>) -> String {
        let mut args = FluentArgs::new();
        args.set(name, value.as_ref().to_string());
        self.state.i18n.text(self.lang, id, Some(&args))
    }

    pub fn lang_code(&self) -> &'static str {
        self.lang.code()
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.user
            .as_ref()
            .is_some_and(|u| u.roles.iter().any(|r| r.as_str() == role))
    }

    pub fn is_staff(&self) -> bool {
        self.user
            .as_ref()
            .is_some_and(|u| u.roles.iter().any(|r| *r != Role::Customer))
    }
}

impl FromRequestParts<AppState> for Page {
    type Rejection = crate::error::AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, e)| crate::error::AppError::Internal(format!("no session layer: {e}")))?;
        let lang = parts.extensions.get::<Lang>().copied().unwrap_or_default();
        Ok(Page::build(state, &session, lang, parts.uri.path()).await)
    }
}

/// Renders a template as an HTML response with the given status; a template error is logged
/// and answered 500.
pub fn html<T: Template>(template: &T, status: StatusCode) -> Response {
    match template.render() {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// Renders a template with 200.
pub fn ok<T: Template>(template: &T) -> Response {
    html(template, StatusCode::OK)
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("v", s)])
        .map(|e| e[2..].to_string())
        .unwrap_or_default()
}
