//! The JSON API (`/api/v1`): the eBOK data for apps and integrations — money, meters,
//! profile, applications — scoped by the session's customer exactly as the pages are
//! (another customer's id: 404), and its OpenAPI document at `/api/v1/openapi.json`.
//! Every error under `/api/` answers JSON `{"error": code, "message": …, "fields": […]}`
//! (401 not logged in, 403, 404, 422 with the refused fields), never an HTML page
//! ([`errors::json`]).

mod ebok;
pub mod errors;
pub mod openapi;

use crate::app::{Access, AppState, Area, IdKind, RouteRule};
use crate::auth::Customer;
use crate::ebok::money::{internal, today};
use crate::error::AppError;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use ewoda_billing::customer;
use ewoda_billing::invoice::query::{self, InvoiceFilter, InvoiceKind, PaymentStatus};
use ewoda_billing::payments::history;
use ewoda_common::scope::{CustomerId, FieldError, PageRequest};
use serde::Deserialize;

pub const ROUTES: &[RouteRule] = &[
    RouteRule::get("/api/v1/openapi.json", Access::Public),
    // ebok: money
    RouteRule::get("/api/v1/me/balance", Access::Customer),
    RouteRule::get("/api/v1/invoices", Access::Customer),
    RouteRule::get("/api/v1/invoices/{id}", Access::Customer).with_ids(&[IdKind::Invoice]),
    RouteRule::get("/api/v1/payments", Access::Customer),
    // end ebok: money
    // ebok: meters, profile, applications
    RouteRule::get("/api/v1/meters", Access::Customer),
    RouteRule::get("/api/v1/meters/{id}/readings", Access::Customer).with_ids(&[IdKind::Meter]),
    RouteRule::get("/api/v1/meters/{id}/consumption", Access::Customer).with_ids(&[IdKind::Meter]),
    RouteRule::get("/api/v1/me/profile", Access::Customer),
    RouteRule::get("/api/v1/applications", Access::Customer),
    RouteRule::get("/api/v1/applications/{id}", Access::Customer).with_ids(&[IdKind::Application]),
    // end ebok: meters, profile, applications
];

pub fn router() -> Router<AppState> {
    Area::new(ROUTES)
        .get("/api/v1/openapi.json", openapi::document)
        // ebok: money
        .get("/api/v1/me/balance", balance)
        .get("/api/v1/invoices", invoices)
        .get("/api/v1/invoices/{id}", invoice)
        .get("/api/v1/payments", payments)
        // end ebok: money
        .get("/api/v1/meters", ebok::meters)
        .get("/api/v1/meters/{id}/readings", ebok::readings)
        .get("/api/v1/meters/{id}/consumption", ebok::consumption)
        .get("/api/v1/me/profile", ebok::profile)
        .get("/api/v1/applications", ebok::applications)
        .get("/api/v1/applications/{id}", ebok::application)
        .into_router()
}

async fn balance(customer: Customer, State(state): State<AppState>) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let s = customer::account_summary(&mut conn, CustomerId::new(customer.customer_id), today())
        .await
        .map_err(internal)?;
    Ok(Json(s).into_response())
}

/// Filters and paging of `/api/v1/invoices`; a value that does not parse is 422 naming it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct InvoiceParams {
    status: Option<String>,
    kind: Option<String>,
    issued_from: Option<chrono::NaiveDate>,
    issued_to: Option<chrono::NaiveDate>,
    contract_id: Option<i64>,
    page: Option<u32>,
    per_page: Option<u32>,
}

/// 422 with the refused fields.
pub(crate) fn invalid(fields: Vec<FieldError>) -> Response {
    errors::body(
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "the request was refused: see fields",
        &fields,
    )
}

fn bad_request(field: &str, message: String) -> Response {
    invalid(vec![FieldError::new(field, "invalid", message)])
}

async fn invoices(
    customer: Customer,
    State(state): State<AppState>,
    Query(p): Query<InvoiceParams>,
) -> Result<Response, AppError> {
    let status = match p.status.as_deref().map(PaymentStatus::parse).transpose() {
        Ok(s) => s,
        Err(e) => return Ok(bad_request("status", e.to_string())),
    };
    let kind = match p.kind.as_deref().map(InvoiceKind::parse).transpose() {
        Ok(k) => k,
        Err(e) => return Ok(bad_request("kind", e.to_string())),
    };
    let filter = InvoiceFilter {
        status,
        kind,
        issued_from: p.issued_from,
        issued_to: p.issued_to,
        contract_id: p.contract_id,
    };
    let page = PageRequest::new(p.page.unwrap_or(1), p.per_page.unwrap_or(50));
    let mut conn = state.pool.acquire().await?;
    let listed = query::list(
        &mut conn,
        CustomerId::new(customer.customer_id),
        &filter,
        page,
        today(),
    )
    .await
    .map_err(internal)?;
    Ok(Json(listed).into_response())
}

async fn invoice(
    customer: Customer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let detail = crate::ebok::find_invoice(&state, &customer, &id).await?;
    Ok(Json(detail).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PageParams {
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

async fn payments(
    customer: Customer,
    State(state): State<AppState>,
    Query(p): Query<PageParams>,
) -> Result<Response, AppError> {
    let page = PageRequest::new(p.page.unwrap_or(1), p.per_page.unwrap_or(50));
    let mut conn = state.pool.acquire().await?;
    let listed = history::history(&mut conn, CustomerId::new(customer.customer_id), page)
        .await
        .map_err(internal)?;
    Ok(Json(listed).into_response())
}
