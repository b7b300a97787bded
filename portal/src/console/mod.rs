//! The operators' console (`/console/`): live alarms, map, water balance (pages to come).

use crate::app::{Access, AppState, Area, RouteRule};
use crate::auth::{Operator, Role, Staff};
use crate::ui::{self, Page};
use askama::Template;
use axum::response::Response;
use axum::Router;

/// Routes of the console.
pub const ROUTES: &[RouteRule] = &[RouteRule::get(
    "/console/",
    Access::Staff(&[Role::Operator]),
)];

pub fn router() -> Router<AppState> {
    Area::new(ROUTES).get("/console/", home).into_router()
}

#[derive(Template)]
#[template(path = "console/home.html")]
struct Home {
    page: Page,
}

async fn home(_operator: Staff<Operator>, page: Page) -> Response {
    ui::ok(&Home { page })
}
