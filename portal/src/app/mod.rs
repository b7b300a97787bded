//! The application: state, configuration, the router of every area and the layers around it
//! (tracing, security headers, sessions in PostgreSQL, language, error pages, CSRF, rate
//! limits). A new area writes `pub const ROUTES` and `router()` and is added here once.

pub mod coherent;
pub mod csrf;
mod layers;
pub mod limit;
mod routes;
mod state;

pub use routes::{Access, Area, IdKind, Method, RouteRule};
pub use state::{App, AppClock, AppConfig, AppState, RateLimit};

use axum::middleware::from_fn_with_state;
use axum::Router;

/// Every area's route list, for the security matrix and for documentation.
pub fn all_routes() -> Vec<&'static RouteRule> {
    [
        crate::home::ROUTES,
        crate::info::ROUTES,
        crate::auth::ROUTES,
        crate::ebok::ROUTES,
        crate::office::ROUTES,
        crate::console::ROUTES,
        crate::api::ROUTES,
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The whole router: static routes without sessions, and the pages inside every layer.
pub fn router(state: AppState) -> Router {
    let pages = Router::new()
        .merge(crate::home::router())
        .merge(crate::info::router())
        .merge(crate::auth::router(&state))
        .merge(crate::ebok::router())
        .merge(crate::office::router())
        .merge(crate::console::router())
        .merge(crate::api::router())
        .fallback(crate::error::not_found)
        .layer(from_fn_with_state(state.clone(), csrf::verify))
        .layer(from_fn_with_state(
            state.clone(),
            crate::error::render_pages,
        ))
        .layer(from_fn_with_state(state.clone(), crate::ui::lang::resolve))
        .layer(from_fn_with_state(state.clone(), layers::touch_session))
        .layer(layers::sessions(&state))
        // Pages only: the health check answers 503 while starting, which is not an error.
        .layer(tower_http::trace::TraceLayer::new_for_http());
    Router::new()
        .merge(crate::home::static_router())
        .merge(crate::ebok::operator_router())
        .merge(pages)
        .layer(from_fn_with_state(state.clone(), layers::security_headers))
        .with_state(state)
}
