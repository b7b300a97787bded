//! The public landing page, the health check, the embedded assets, and the PWA files served
//! from the root: the web app manifest and the service worker (its scope is where it is
//! served from, so it cannot live under /assets/).

use crate::app::{Access, AppState, Area, RouteRule};
use crate::ui::Page;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// Routes of this feature.
pub const ROUTES: &[RouteRule] = &[
    RouteRule::get("/", Access::Public),
    RouteRule::get("/manifest.webmanifest", Access::Public),
    RouteRule::get("/sw.js", Access::Public),
];

pub fn router() -> Router<AppState> {
    Area::new(ROUTES)
        .get("/", landing)
        .get("/manifest.webmanifest", manifest)
        .get("/sw.js", service_worker)
        .into_router()
}

/// GET /manifest.webmanifest: the installable eBOK (name in the page's language).
async fn manifest(page: Page) -> impl IntoResponse {
    let body = serde_json::json!({
        "name": page.t("pwa-name"),
        "short_name": "eBOK",
        "lang": page.lang_code(),
        "start_url": "/ebok/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#0b5394",
        "icons": [{"src": "/assets/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any"}]
    });
    (
        [(header::CONTENT_TYPE, "application/manifest+json")],
        body.to_string(),
    )
}

/// GET /sw.js: the service worker; revalidated on every load so an update reaches browsers.
async fn service_worker() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        crate::ui::assets::SERVICE_WORKER,
    )
}

/// Routes outside sessions and page layers: health check and assets.
pub fn static_router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/assets/{name}", get(crate::ui::assets::serve))
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    if !state.is_ready() {
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

#[derive(Template, WebTemplate)]
#[template(path = "landing.html")]
struct Landing {
    page: Page,
    utility: String,
    meters: i64,
    customers: i64,
    readings_today: i64,
    open_alarms: i64,
}

/// The landing page's figures, read by column name.
#[derive(sqlx::FromRow)]
struct Figures {
    utility: Option<String>,
    meters: i64,
    customers: i64,
    readings_today: i64,
    open_alarms: i64,
}

async fn landing(State(state): State<AppState>, page: Page) -> Result<Landing, StatusCode> {
    let pool = &state.0.pool;
    let row: Figures = sqlx::query_as(
        "select (select name from utility order by utility_id limit 1) as utility,
                (select count(*) from meter where status = 'active') as meters,
                (select count(*) from customer) as customers,
                (select count(*) from reading_daily
                  where day = (select max(day) from reading_daily)) as readings_today,
                (select count(*) from alarm
                  where state in ('open', 'acknowledged', 'assigned')) as open_alarms",
    )
    .fetch_one(pool)
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "landing page query failed");
        StatusCode::INTERNAL_SERVER_ERROR
    })?;
    Ok(Landing {
        page,
        utility: row.utility.unwrap_or_else(|| "ewoda".into()),
        meters: row.meters,
        customers: row.customers,
        readings_today: row.readings_today,
        open_alarms: row.open_alarms,
    })
}
