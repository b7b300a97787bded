//! Public information pages: the accessibility statement (deklaracja dostępności, after the
//! template for the act of 4 April 2019 on digital accessibility) and help. Both are linked
//! from the layout's footer. The long prose is one template per language (legal text reads
//! better whole than cut into message ids); headings and dates come from here.

use crate::app::{Access, AppState, Area, RouteRule};
use crate::ui::{self, Page};
use askama::Template;
use axum::response::Response;
use axum::Router;

/// Routes of this feature.
pub const ROUTES: &[RouteRule] = &[
    RouteRule::get("/accessibility", Access::Public),
    RouteRule::get("/help", Access::Public),
];

pub fn router() -> Router<AppState> {
    Area::new(ROUTES)
        .get("/accessibility", accessibility)
        .get("/help", help)
        .into_router()
}

/// When the portal was first published and when the statement was prepared and last
/// reviewed (the statement must give both; change them with the statement).
pub const PUBLISHED: &str = "2026-12-01";
pub const STATEMENT_PREPARED: &str = "2026-12-01";
pub const STATEMENT_REVIEWED: &str = "2026-12-01";

#[derive(Template)]
#[template(path = "info/accessibility.html")]
struct Accessibility {
    page: Page,
    published: &'static str,
    prepared: &'static str,
    reviewed: &'static str,
}

async fn accessibility(page: Page) -> Response {
    ui::ok(&Accessibility {
        page,
        published: PUBLISHED,
        prepared: STATEMENT_PREPARED,
        reviewed: STATEMENT_REVIEWED,
    })
}

#[derive(Template)]
#[template(path = "info/help.html")]
struct Help {
    page: Page,
}

async fn help(page: Page) -> Response {
    ui::ok(&Help { page })
}
