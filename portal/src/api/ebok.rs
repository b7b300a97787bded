//! The eBOK's meters (with readings and consumption), profile (contact data, consents,
//! preferences) and applications (list, detail with status history) as JSON: the same
//! scoped data functions the pages call (docs/ebok-data.md), so another customer's id is 404.

use super::{invalid, PageParams};
use crate::app::AppState;
use crate::auth::Customer;
use crate::ebok::meters::range;
use crate::ebok::money::today;
use crate::ebok::view_error;
use crate::error::AppError;
use crate::store::{application, consent, contact_change, preference, StoreError};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use ewoda_collector::query::consumption::{self, Granularity};
use ewoda_collector::query::meters;
use ewoda_collector::query::ViewError;
use ewoda_common::scope::{CustomerId, FieldError, PageRequest};
use serde::Deserialize;

fn who(c: &Customer) -> CustomerId {
    CustomerId::new(c.customer_id)
}

/// A path id that is not a number names no record of the customer: 404.
fn id_of(raw: &str) -> Result<i64, AppError> {
    raw.parse().map_err(|_| AppError::NotFound)
}

fn store_error(e: StoreError) -> AppError {
    match e {
        StoreError::Db(e) => AppError::Db(e),
        StoreError::NotFound(_) => AppError::NotFound,
        e => AppError::Internal(e.to_string()),
    }
}

/// GET /api/v1/meters: every meter on the customer's premises with its last reading.
pub async fn meters(
    customer: Customer,
    State(state): State<AppState>,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let list = meters::of_customer(&mut conn, who(&customer))
        .await
        .map_err(view_error)?;
    Ok(Json(list).into_response())
}

/// GET /api/v1/meters/{id}/readings: the meter's readings, newest first, paged.
pub async fn readings(
    customer: Customer,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<PageParams>,
) -> Result<Response, AppError> {
    let page = PageRequest::new(p.page.unwrap_or(1), p.per_page.unwrap_or(50));
    let mut conn = state.pool.acquire().await?;
    let listed = meters::readings(&mut conn, who(&customer), id_of(&id)?, page)
        .await
        .map_err(view_error)?
        .ok_or(AppError::NotFound)?;
    Ok(Json(listed).into_response())
}

/// Query of `/api/v1/meters/{id}/consumption`: as the meter page, month by month over the
/// last 12 months unless told otherwise.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ConsumptionParams {
    granularity: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

fn date(field: &str, raw: Option<&str>, errors: &mut Vec<FieldError>) -> Option<NaiveDate> {
    let raw = raw?;
    match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(FieldError::new(field, "invalid", "a date as YYYY-MM-DD"));
            None
        }
    }
}

/// GET /api/v1/meters/{id}/consumption: use per period with the same range a year earlier.
pub async fn consumption(
    customer: Customer,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<ConsumptionParams>,
) -> Result<Response, AppError> {
    let id = id_of(&id)?;
    let mut errors = Vec::new();
    let g = match Granularity::parse(p.granularity.as_deref().unwrap_or("month")) {
        Ok(g) => g,
        Err(_) => {
            errors.push(FieldError::new(
                "granularity",
                "invalid",
                "day, month or year",
            ));
            Granularity::Month
        }
    };
    let from = date("from", p.from.as_deref(), &mut errors);
    let to = date("to", p.to.as_deref(), &mut errors);
    if !errors.is_empty() {
        return Ok(invalid(errors));
    }
    let (default_from, default_to) = range(g, to.unwrap_or_else(today));
    let mut conn = state.pool.acquire().await?;
    let from = from.unwrap_or(default_from);
    match consumption::series(&mut conn, who(&customer), id, g, from, default_to).await {
        Ok(Some(series)) => Ok(Json(series).into_response()),
        Ok(None) => Err(AppError::NotFound),
        Err(ViewError::Invalid(fields)) => Ok(invalid(fields)),
        Err(e) => Err(view_error(e)),
    }
}

/// GET /api/v1/me/profile: contact data, pending and decided contact changes, consents with
/// their history, notification preferences (topic × channel).
pub async fn profile(
    customer: Customer,
    State(state): State<AppState>,
) -> Result<Response, AppError> {
    let who = who(&customer);
    let mut conn = state.pool.acquire().await?;
    let contact = ewoda_billing::customer::profile(&mut conn, who)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let contact_changes = contact_change::of_customer(&mut conn, who)
        .await
        .map_err(store_error)?;
    let consents = consent::current(&mut conn, who)
        .await
        .map_err(store_error)?;
    let consent_history = consent::history(&mut conn, who)
        .await
        .map_err(store_error)?;
    let preferences = preference::matrix(&mut conn, who)
        .await
        .map_err(store_error)?;
    Ok(Json(serde_json::json!({
        "contact": contact,
        "contact_changes": contact_changes,
        "consents": consents,
        "consent_history": consent_history,
        "preferences": preferences,
    }))
    .into_response())
}

/// GET /api/v1/applications: the customer's cases, newest first.
pub async fn applications(
    customer: Customer,
    State(state): State<AppState>,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let cases = application::of_customer(&mut conn, who(&customer))
        .await
        .map_err(store_error)?;
    Ok(Json(cases).into_response())
}

/// GET /api/v1/applications/{id}: one case with its values, status history and attachments.
pub async fn application(
    customer: Customer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let case = application::case(&mut conn, who(&customer), id_of(&id)?)
        .await
        .map_err(store_error)?
        .ok_or(AppError::NotFound)?;
    Ok(Json(case).into_response())
}
