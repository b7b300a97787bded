//! The public landing page, the health check and the embedded assets.

use crate::app::{Access, AppState, Area, RouteRule};
use crate::ui::Page;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// Routes of this feature.
pub const ROUTES: &[RouteRule] = &[RouteRule::get("/", Access::Public)];

pub fn router() -> Router<AppState> {
    Area::new(ROUTES).get("/", landing).into_router()
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

async fn landing(State(state): State<AppState>, page: Page) -> Result<Landing, StatusCode> {
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
        page,
        utility: row.0.unwrap_or_else(|| "ewoda".into()),
        meters: row.1,
        customers: row.2,
        readings_today: row.3,
        open_alarms: row.4,
    })
}
