//! eBOK, the customers' portal (`/ebok/`). One file per page group; every handler takes the
//! [`Customer`] extractor and scopes its queries by `customer.customer_id`.

use crate::app::{Access, AppState, Area, RouteRule};
use crate::auth::Customer;
use crate::ui::{self, Page};
use askama::Template;
use axum::response::Response;
use axum::Router;

/// Routes of eBOK: the one list the security matrix walks.
pub const ROUTES: &[RouteRule] = &[RouteRule::get("/ebok/", Access::Customer)];

pub fn router() -> Router<AppState> {
    Area::new(ROUTES).get("/ebok/", dashboard).into_router()
}

#[derive(Template)]
#[template(path = "ebok/dashboard.html")]
struct Dashboard {
    page: Page,
    name: String,
    number: String,
}

/// The customer's home (the dashboard's content comes with the eBOK pages).
async fn dashboard(customer: Customer, page: Page) -> Response {
    ui::ok(&Dashboard {
        page,
        name: customer.user.name,
        number: customer.number,
    })
}
