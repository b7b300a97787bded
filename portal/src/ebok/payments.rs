//! Payments: the history with what each payment paid, and paying open items online through the
//! payment operator (choose items → the operator's page → back here; the operator's signed
//! notification posts the payment, so the balance shows it).

use super::money::{internal, today, Fmt};
use crate::app::AppState;
use crate::auth::Customer;
use crate::error::AppError;
use crate::ui::{self, Page};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use ewoda_billing::customer::{self, OpenItemView};
use ewoda_billing::payments::history::{self, PaymentView};
use ewoda_billing::payments::online::Notification;
use ewoda_billing::payments::online_items::{self, PayerLinks};
use ewoda_billing::payments::online_status::{self, OnlineStatus};
use ewoda_billing::payments::PaymentError;
use ewoda_common::scope::{CustomerId, PageRequest};
use rust_decimal::Decimal;
use serde::Deserialize;
use tower_sessions::Session;

/// Session key of the online payment last started (the return page shows it).
const STARTED_KEY: &str = "ebok.payment";

#[derive(Template)]
#[template(path = "ebok/payments.html")]
struct PaymentsPage {
    page: Page,
    fmt: Fmt,
    payments: Vec<PaymentView>,
    total: i64,
    page_no: u32,
    pages: i64,
    open: Vec<(OpenItemView, bool)>,
    /// What the customer owes after any credit on the account; 0: nothing to pay.
    to_pay: Decimal,
    /// Open items minus what is owed: the part an earlier overpayment covers.
    covered: Decimal,
    error: Option<String>,
    online: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct HistoryQuery {
    page: String,
}

pub async fn list(
    customer: Customer,
    page: Page,
    State(state): State<AppState>,
    Query(q): Query<HistoryQuery>,
) -> Result<Response, AppError> {
    let n = q.page.parse().unwrap_or(1).max(1);
    render(&state, &customer, page, n, Vec::new(), None).await
}

async fn render(
    state: &AppState,
    customer: &Customer,
    page: Page,
    page_no: u32,
    chosen: Vec<i64>,
    error: Option<String>,
) -> Result<Response, AppError> {
    let scope = CustomerId::new(customer.customer_id);
    let mut conn = state.pool.acquire().await?;
    let listed = history::history(&mut conn, scope, PageRequest::new(page_no, 25))
        .await
        .map_err(internal)?;
    let open = customer::open_items(&mut conn, scope, today())
        .await
        .map_err(internal)?;
    let to_pay = customer::to_pay(&mut conn, scope).await.map_err(internal)?;
    let open_sum: Decimal = open.iter().map(|o| o.open).sum();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(ui::html(
        &PaymentsPage {
            fmt: Fmt::of(&page),
            page,
            total: listed.total,
            pages: listed.pages().max(1),
            page_no,
            payments: listed.items,
            to_pay,
            covered: (open_sum - to_pay).max(Decimal::ZERO),
            open: open
                .into_iter()
                .map(|o| {
                    let checked = chosen.contains(&o.invoice_id);
                    (o, checked)
                })
                .collect(),
            error,
            online: state.operator.is_some(),
        },
        status,
    ))
}

/// Starts paying the chosen open items (`item`, repeated) and sends the payer to the operator.
pub async fn start(
    customer: Customer,
    page: Page,
    session: Session,
    State(state): State<AppState>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let raw: Vec<&str> = fields
        .iter()
        .filter(|(k, _)| k == "item")
        .map(|(_, v)| v.as_str())
        .collect();
    let items: Option<Vec<i64>> = raw.iter().map(|v| v.parse().ok()).collect();
    let Some(operator) = state.operator.as_ref() else {
        let msg = page.t("pay-unavailable");
        return render(&state, &customer, page, 1, Vec::new(), Some(msg)).await;
    };
    let items = match items {
        Some(items) if !items.is_empty() => items,
        _ => {
            let msg = page.t("pay-choose");
            return render(&state, &customer, page, 1, Vec::new(), Some(msg)).await;
        }
    };
    let scope = CustomerId::new(customer.customer_id);
    let mut conn = state.pool.acquire().await?;
    // An overpayment that covers everything open leaves nothing to pay online.
    let owed = customer::to_pay(&mut conn, scope).await.map_err(internal)?;
    if owed <= Decimal::ZERO {
        drop(conn);
        let msg = page.t("pay-nothing");
        return render(&state, &customer, page, 1, items, Some(msg)).await;
    }
    let profile = customer::profile(&mut conn, scope)
        .await
        .map_err(internal)?;
    drop(conn);
    let links = PayerLinks {
        email: profile.email.unwrap_or_default(),
        url_return: format!("{}/ebok/payments/return", state.config.public_url),
        url_status: format!("{}/ebok/payments/notify", state.config.public_url),
    };
    match online_items::start_online_payment(&state.pool, operator, scope, &items, &links).await {
        Ok(started) => {
            session
                .insert(STARTED_KEY, &started.session_id)
                .await
                .map_err(internal)?;
            Ok(Redirect::to(&started.redirect_url).into_response())
        }
        Err(PaymentError::Invalid { .. }) => {
            let msg = page.t("pay-not-open");
            render(&state, &customer, page, 1, items, Some(msg)).await
        }
        Err(e) => Err(internal(e)),
    }
}

#[derive(Template)]
#[template(path = "ebok/payment_return.html")]
struct ReturnPage {
    page: Page,
    fmt: Fmt,
    online: Option<OnlineStatus>,
    balance: ewoda_billing::customer::AccountSummary,
}

/// Where the payer comes back: the state of the payment last started in this session.
pub async fn returned(
    customer: Customer,
    page: Page,
    session: Session,
    State(state): State<AppState>,
) -> Result<Response, AppError> {
    let scope = CustomerId::new(customer.customer_id);
    let started: Option<String> = session.get(STARTED_KEY).await.map_err(internal)?;
    let mut conn = state.pool.acquire().await?;
    let online = match started {
        Some(id) => online_status::of_customer(&mut conn, scope, &id)
            .await
            .map_err(internal)?,
        None => None,
    };
    let balance = customer::account_summary(&mut conn, scope, today())
        .await
        .map_err(internal)?;
    Ok(ui::ok(&ReturnPage {
        fmt: Fmt::of(&page),
        page,
        online,
        balance,
    }))
}

/// The operator's notification (JSON, signed; no session, no CSRF token): posts the payment
/// and allocates it to the items chosen. A bad signature or unknown session is refused (400)
/// so the operator retries or alerts, and nothing is posted.
pub async fn notify(State(state): State<AppState>, Json(n): Json<Notification>) -> Response {
    let Some(operator) = state.operator.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match online_items::notify(&state.pool, operator, &n).await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(e) => {
            tracing::warn!(error = %e, session = %n.session_id, "online payment notification refused");
            StatusCode::BAD_REQUEST.into_response()
        }
    }
}
