//! The customer's home: what they owe or have overpaid, when the next payment is due, the last
//! reading, open alarms, reminders, their individual account with the payment QR, and the
//! premises switcher for customers with several contracts.

use super::money::{internal, today, Fmt};
use crate::app::AppState;
use crate::auth::Customer;
use crate::error::AppError;
use crate::ui::{self, Page};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use ewoda_billing::customer::{self, AccountSummary, PaymentData, PremisesContract};
use ewoda_billing::invoice::query::{self as invoices, NoticeSummary};
use ewoda_collector::query::{alarms, meters};
use ewoda_common::scope::CustomerId;
use serde::Deserialize;

/// An open alarm as the dashboard shows it: the plain-language title and advice.
pub struct AlarmLine {
    pub serial: String,
    pub title: &'static str,
    pub advice: &'static str,
}

/// The last reading of the chosen premises' meters.
pub struct LastReading {
    pub serial: String,
    pub m3: String,
    pub at: String,
}

#[derive(Template)]
#[template(path = "ebok/dashboard.html")]
struct Dashboard {
    page: Page,
    fmt: Fmt,
    name: String,
    number: String,
    premises: Vec<PremisesContract>,
    chosen: Option<PremisesContract>,
    summary: AccountSummary,
    pay: Option<PaymentData>,
    qr: Option<String>,
    reading: Option<LastReading>,
    alarms: Vec<AlarmLine>,
    notices: Vec<NoticeSummary>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Choice {
    /// The contract chosen in the switcher (empty: the first active one).
    contract: String,
}

pub async fn dashboard(
    customer: Customer,
    page: Page,
    State(state): State<AppState>,
    Query(choice): Query<Choice>,
) -> Result<Response, AppError> {
    let scope = CustomerId::new(customer.customer_id);
    let mut conn = state.pool.acquire().await?;
    let today = today();
    let premises = customer::premises(&mut conn, scope, today)
        .await
        .map_err(internal)?;
    let chosen = choose(&premises, &choice.contract)?;
    let summary = customer::account_summary(&mut conn, scope, today)
        .await
        .map_err(internal)?;
    let pay = customer::payment_data_for_balance(&summary, &customer.number).map_err(internal)?;
    let qr = pay
        .as_ref()
        .and_then(|p| state.qr.svg(&p.qr_text, &page.t("ebok-qr-label")));
    let reading = last_reading(&mut conn, scope, chosen.as_ref(), &page).await?;
    let alarms = open_alarms(&mut conn, scope, &page).await?;
    let mut notices = invoices::notices(&mut conn, scope)
        .await
        .map_err(internal)?;
    notices.truncate(3);
    Ok(ui::ok(&Dashboard {
        fmt: Fmt::of(&page),
        page,
        name: customer.user.name,
        number: customer.number,
        premises,
        chosen,
        summary,
        pay,
        qr,
        reading,
        alarms,
        notices,
    }))
}

/// The contract the switcher names (another customer's or an unknown one: 404), or the first
/// listed (active ones come first).
fn choose(premises: &[PremisesContract], id: &str) -> Result<Option<PremisesContract>, AppError> {
    if id.trim().is_empty() {
        return Ok(premises.first().cloned());
    }
    let id: i64 = id.trim().parse().map_err(|_| AppError::NotFound)?;
    premises
        .iter()
        .find(|p| p.contract_id == id)
        .cloned()
        .map(Some)
        .ok_or(AppError::NotFound)
}

async fn last_reading(
    conn: &mut sqlx::PgConnection,
    scope: CustomerId,
    chosen: Option<&PremisesContract>,
    page: &Page,
) -> Result<Option<LastReading>, AppError> {
    let Some(chosen) = chosen else {
        return Ok(None);
    };
    let all = meters::of_customer(conn, scope).await.map_err(internal)?;
    let last = all
        .into_iter()
        .filter(|m| m.premises_id == chosen.premises_id)
        .filter_map(|m| m.last_reading.map(|r| (m.role == "main", m.serial, r)))
        // The main meter's reading is the one that bills; a garden sub-meter only beside it.
        .max_by_key(|(main, _, r)| (*main, r.read_at));
    Ok(last.map(|(_, serial, r)| LastReading {
        serial,
        m3: crate::ui::format::m3(page.lang, r.volume_m3),
        at: super::money::day(page.lang, ewoda_common::time::local_day(r.read_at)),
    }))
}

async fn open_alarms(
    conn: &mut sqlx::PgConnection,
    scope: CustomerId,
    page: &Page,
) -> Result<Vec<AlarmLine>, AppError> {
    let all = alarms::of_customer(conn, scope, false)
        .await
        .map_err(internal)?;
    Ok(all
        .into_iter()
        .filter(|a| a.active)
        .map(|a| {
            let e = a.kind.explanation(page.lang_code());
            AlarmLine {
                serial: a.serial,
                title: e.title,
                advice: e.advice,
            }
        })
        .collect())
}
