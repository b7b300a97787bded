//! eBOK, the customers' portal (`/ebok/`). One file per page group; every handler takes the
//! [`Customer`] extractor and scopes its queries by `customer.customer_id`.

mod dashboard;
mod documents;
mod invoices;
pub mod money;
mod payments;

use crate::app::{Access, AppState, Area, IdKind, RouteRule};
use axum::Router;

/// Routes of eBOK: the one list the security matrix walks.
pub const ROUTES: &[RouteRule] = &[
    RouteRule::get("/ebok/", Access::Customer),
    // ebok: money
    RouteRule::get("/ebok/invoices", Access::Customer),
    RouteRule::get("/ebok/invoices/{id}", Access::Customer).with_ids(&[IdKind::Invoice]),
    RouteRule::get("/ebok/invoices/{id}/pdf", Access::Customer).with_ids(&[IdKind::Invoice]),
    RouteRule::get("/ebok/payments", Access::Customer),
    RouteRule::post("/ebok/payments/online", Access::Customer),
    RouteRule::get("/ebok/payments/return", Access::Customer),
    // The operator's signed notification: no session, no CSRF token (see operator_router).
    RouteRule::post("/ebok/payments/notify", Access::Public),
    RouteRule::get("/ebok/documents", Access::Customer),
    RouteRule::get("/ebok/documents/{id}", Access::Customer).with_ids(&[IdKind::Document]),
    RouteRule::get("/ebok/notices", Access::Customer),
    // end ebok: money
];

pub fn router() -> Router<AppState> {
    Area::new(ROUTES)
        .get("/ebok/", dashboard::dashboard)
        // ebok: money
        .get("/ebok/invoices", invoices::list)
        .get("/ebok/invoices/{id}", invoices::detail)
        .get("/ebok/invoices/{id}/pdf", invoices::pdf)
        .get("/ebok/payments", payments::list)
        .post("/ebok/payments/online", payments::start)
        .get("/ebok/payments/return", payments::returned)
        .get("/ebok/documents", documents::list)
        .get("/ebok/documents/{id}", documents::download)
        .get("/ebok/notices", documents::notices)
        // end ebok: money
        .into_router()
}

/// Routes the payment operator calls server to server: outside sessions and CSRF (the
/// notification is authenticated by its signature).
pub fn operator_router() -> Router<AppState> {
    Area::new(ROUTES)
        .post("/ebok/payments/notify", payments::notify)
        .into_router()
}

pub use invoices::find as find_invoice;
