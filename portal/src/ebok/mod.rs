//! eBOK, the customers' portal (`/ebok/`). One file per page group; every handler takes the
//! [`Customer`] extractor and scopes its queries by `customer.customer_id`.

pub mod applications;
mod dashboard;
mod documents;
mod invoices;
pub mod meters;
pub mod money;
mod payments;
pub mod profile;
pub mod push;
pub mod upload;

use crate::app::{Access, AppState, Area, IdKind, RouteRule};
use crate::error::AppError;
use axum::Router;

/// Routes of eBOK: the one list the security matrix walks.
pub const ROUTES: &[RouteRule] = &[
    RouteRule::get("/ebok/", Access::Customer),
    // ebok: meters and profile
    RouteRule::get("/ebok/meters", Access::Customer),
    RouteRule::get("/ebok/meters/{id}", Access::Customer).with_ids(&[IdKind::Meter]),
    RouteRule::post("/ebok/meters/{id}/readings", Access::Customer).with_ids(&[IdKind::Meter]),
    RouteRule::get("/ebok/profile", Access::Customer),
    RouteRule::post("/ebok/profile/contact", Access::Customer),
    RouteRule::post("/ebok/profile/consents", Access::Customer),
    RouteRule::post("/ebok/profile/preferences", Access::Customer),
    RouteRule::get("/ebok/applications", Access::Customer),
    RouteRule::get("/ebok/applications/new", Access::Customer),
    RouteRule::get("/ebok/applications/new/{kind}", Access::Customer).with_ids(&[IdKind::FormCode]),
    RouteRule::post("/ebok/applications/new/{kind}", Access::Customer)
        .with_ids(&[IdKind::FormCode]),
    RouteRule::get("/ebok/applications/{id}", Access::Customer).with_ids(&[IdKind::Application]),
    RouteRule::get("/ebok/attachments/{id}", Access::Customer).with_ids(&[IdKind::Attachment]),
    RouteRule::post("/ebok/push/subscribe", Access::Customer),
    RouteRule::post("/ebok/push/unsubscribe", Access::Customer),
    RouteRule::post("/ebok/push/test", Access::Customer),
    // end ebok: meters and profile
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
    let area = Area::new(ROUTES).get("/ebok/", dashboard::dashboard);
    meters_and_profile(money(area)).into_router()
}

/// ebok: meters and profile — the routes of this page group, kept together.
fn meters_and_profile(area: Area) -> Area {
    area.get("/ebok/meters", meters::list)
        .get("/ebok/meters/{id}", meters::detail)
        .post("/ebok/meters/{id}/readings", meters::submit)
        .get("/ebok/profile", profile::show)
        .post("/ebok/profile/contact", profile::contact)
        .post("/ebok/profile/consents", profile::consents)
        .post("/ebok/profile/preferences", profile::preferences)
        .get("/ebok/applications", applications::list)
        .get("/ebok/applications/new", applications::forms)
        .get("/ebok/applications/new/{kind}", applications::new)
        .post("/ebok/applications/new/{kind}", applications::submit)
        .get("/ebok/applications/{id}", applications::detail)
        .get("/ebok/attachments/{id}", applications::attachment)
        .post("/ebok/push/subscribe", push::subscribe)
        .post("/ebok/push/unsubscribe", push::unsubscribe)
        .post("/ebok/push/test", push::test)
}

/// A data-layer failure of the collector's customer view: refusals are handled by the pages
/// that expect them; anything reaching here is a logged 500 (or 404 for NotFound).
pub(crate) fn view_error(e: ewoda_collector::query::ViewError) -> AppError {
    match e {
        ewoda_collector::query::ViewError::NotFound(_) => AppError::NotFound,
        other => AppError::Internal(other.to_string()),
    }
}

/// A failure of the portal's own store: NotFound is a 404, anything else a logged 500.
pub(crate) fn store_error(e: crate::store::StoreError) -> AppError {
    use crate::store::StoreError;
    match e {
        StoreError::NotFound(_) => AppError::NotFound,
        StoreError::Db(e) => AppError::Db(e),
        other => AppError::Internal(other.to_string()),
    }
}

/// ebok: money — the routes of this page group, kept together.
fn money(area: Area) -> Area {
    area.get("/ebok/invoices", invoices::list)
        .get("/ebok/invoices/{id}", invoices::detail)
        .get("/ebok/invoices/{id}/pdf", invoices::pdf)
        .get("/ebok/payments", payments::list)
        .post("/ebok/payments/online", payments::start)
        .get("/ebok/payments/return", payments::returned)
        .get("/ebok/documents", documents::list)
        .get("/ebok/documents/{id}", documents::download)
        .get("/ebok/notices", documents::notices)
}

/// Routes the payment operator calls server to server: outside sessions and CSRF (the
/// notification is authenticated by its signature).
pub fn operator_router() -> Router<AppState> {
    Area::new(ROUTES)
        .post("/ebok/payments/notify", payments::notify)
        .into_router()
}

pub use invoices::find as find_invoice;
