//! The HTTP application: state, router and the pages that exist so far (landing page,
//! health check). Features add their own `router()` merged here.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use sqlx::PgPool;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Shared application state, passed to every handler (never global).
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

pub struct App {
    pub pool: PgPool,
    /// False until migrations and seeding are done; `/healthz` answers 503 meanwhile.
    pub ready: AtomicBool,
}

impl AppState {
    pub fn new(pool: PgPool) -> Self {
        AppState(Arc::new(App {
            pool,
            ready: AtomicBool::new(false),
        }))
    }

    pub fn set_ready(&self) {
        self.0.ready.store(true, Ordering::SeqCst);
    }
}

/// The whole router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(landing))
        .route("/healthz", get(healthz))
        .route("/assets/ewoda.css", get(stylesheet))
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    if !state.0.ready.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "starting\n");
    }
    match sqlx::query_scalar::<_, i32>("select 1")
        .fetch_one(&state.0.pool)
        .await
    {
        Ok(_) => (StatusCode::OK, "ok\n"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n"),
    }
}

async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../assets/ewoda.css"),
    )
}

#[derive(Debug, Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

/// UI language: Polish first, English second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Pl,
    En,
}

impl Lang {
    fn from_query(q: Option<&str>) -> Self {
        match q {
            Some("en") => Lang::En,
            _ => Lang::Pl,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "landing.html")]
struct Landing {
    en: bool,
    utility: String,
    meters: i64,
    customers: i64,
    readings_today: i64,
    open_alarms: i64,
}

async fn landing(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
) -> Result<Landing, StatusCode> {
    let lang = Lang::from_query(q.lang.as_deref());
    let pool = &state.0.pool;
    let row: (Option<String>, i64, i64, i64, i64) = sqlx::query_as(
        "select (select name from utility order by utility_id limit 1),
                (select count(*) from meter where status = 'active'),
                (select count(*) from customer),
                (select count(*) from reading_daily where day = (select max(day) from reading_daily)),
                (select count(*) from alarm where state in ('open', 'acknowledged', 'assigned'))",
    )
    .fetch_one(pool)
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "landing page query failed");
        StatusCode::INTERNAL_SERVER_ERROR
    })?;
    Ok(Landing {
        en: lang == Lang::En,
        utility: row.0.unwrap_or_else(|| "ewoda".into()),
        meters: row.1,
        customers: row.2,
        readings_today: row.3,
        open_alarms: row.4,
    })
}
