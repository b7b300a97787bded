//! The customer's invoices and corrections: the list (the list component: filters, sorting,
//! columns, paging, CSV/XLSX), one invoice with its lines, VAT per rate, KSeF number,
//! corrections and payments, and its stored PDF.

use super::money::{internal, today, Fmt};
use crate::app::AppState;
use crate::auth::Customer;
use crate::error::AppError;
use crate::ui::list::{self, Column, Filter, Kind, ListDef, ListQuery, ListView, Listed};
use crate::ui::{self, Page};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use ewoda_billing::documents::DocumentRef;
use ewoda_billing::invoice::query::{self, InvoiceDetail};
use ewoda_common::scope::CustomerId;

/// Status of an invoice today from what is open of it; `{today}` is the app's clock's day in
/// Warsaw, not the database server's `current_date`.
const STATUS: &str = "case when i.owed - i.paid <= 0 then 'paid'
     when i.due_on < {today} then 'overdue' else 'open' end";

/// The list's rows: invoices with what is owed and what has been allocated, as the ledger
/// defines them (one definition: a lowering correction owes nothing itself and takes its
/// amount off the invoice it corrects).
fn invoice_rows() -> std::borrow::Cow<'static, str> {
    use ewoda_billing::ledger::{corrected_gross_sql, ALLOCATED_SQL, IS_DEBT_SQL};
    format!(
        "(select i.*, {ALLOCATED_SQL} as paid,
                case when {IS_DEBT_SQL} then {owed} else 0 end as owed
          from invoice i) i",
        owed = corrected_gross_sql("null"),
    )
    .into()
}

pub static INVOICES: ListDef = ListDef {
    id: "invoices",
    from: invoice_rows,
    columns: &[
        Column {
            key: "id",
            label: "invoice-number",
            sql: "i.invoice_id",
            kind: Kind::Integer,
            filter: Filter::None,
            shown: false,
        },
        Column {
            key: "number",
            label: "invoice-number",
            sql: "i.number",
            kind: Kind::Text,
            filter: Filter::Contains,
            shown: true,
        },
        Column {
            key: "kind",
            label: "invoice-kind",
            sql: "i.kind",
            kind: Kind::Text,
            filter: Filter::Choice(&[("VAT", "invoice-kind-VAT"), ("KOR", "invoice-kind-KOR")]),
            shown: true,
        },
        Column {
            key: "issued",
            label: "invoice-issued",
            sql: "i.issued_on",
            kind: Kind::Date,
            filter: Filter::Contains,
            shown: true,
        },
        Column {
            key: "due",
            label: "invoice-due",
            sql: "i.due_on",
            kind: Kind::Date,
            filter: Filter::None,
            shown: true,
        },
        Column {
            key: "gross",
            label: "invoice-gross",
            sql: "i.gross",
            kind: Kind::Money,
            filter: Filter::None,
            shown: true,
        },
        Column {
            key: "open",
            label: "invoice-open",
            sql: "i.owed - i.paid",
            kind: Kind::Money,
            filter: Filter::None,
            shown: true,
        },
        Column {
            key: "status",
            label: "invoice-status",
            sql: STATUS,
            kind: Kind::Text,
            filter: Filter::Choice(&[
                ("open", "ebok-status-open"),
                ("overdue", "ebok-status-overdue"),
                ("paid", "ebok-status-paid"),
            ]),
            shown: true,
        },
        Column {
            key: "ksef",
            label: "invoice-ksef",
            sql: "i.ksef_number",
            kind: Kind::Text,
            filter: Filter::Contains,
            shown: false,
        },
    ],
    default_sort: "issued",
    default_desc: true,
    link: Some(("id", "/ebok/invoices/")),
};

#[derive(Template)]
#[template(path = "ebok/invoices.html")]
struct InvoicesPage {
    page: Page,
    list: ListView,
}

pub async fn list(
    customer: Customer,
    page: Page,
    State(state): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let mut q = ListQuery::parse(&INVOICES, &pairs);
    q.today = Some(state.config.clock.today());
    let scope = Some(("i.customer_id", customer.customer_id));
    match list::run(&state.pool, &INVOICES, &q, scope, &page).await? {
        Listed::Export(file) => Ok(file),
        Listed::Page(mut list) => {
            localise(&mut list, &q, &page);
            Ok(ui::ok(&InvoicesPage { page, list }))
        }
    }
}

/// The page's cells as the customer reads them: money and dates in the page's language,
/// kinds and statuses by their translated names (the export keeps the raw values).
fn localise(list: &mut ListView, q: &ListQuery, page: &Page) {
    for row in &mut list.rows {
        for (cell, column) in row.cells.iter_mut().zip(&q.shown) {
            *cell = localised(column, cell, page);
        }
    }
}

fn localised(column: &Column, raw: &str, page: &Page) -> String {
    let choice = match column.filter {
        Filter::Choice(values) => values.iter().find(|(v, _)| *v == raw),
        _ => None,
    };
    if let Some((_, label)) = choice {
        return page.t(label);
    }
    match column.kind {
        Kind::Money => raw
            .parse::<rust_decimal::Decimal>()
            .map(|d| super::money::money(page.lang, d))
            .unwrap_or_else(|_| raw.to_string()),
        Kind::Date => chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .map(|d| super::money::day(page.lang, d))
            .unwrap_or_else(|_| raw.to_string()),
        Kind::Text | Kind::Integer => raw.to_string(),
    }
}

#[derive(Template)]
#[template(path = "ebok/invoice.html")]
struct InvoicePage {
    page: Page,
    fmt: Fmt,
    invoice: InvoiceDetail,
}

/// One of the customer's invoices; `id` of another customer's (or no) invoice: 404.
pub async fn find(
    state: &AppState,
    customer: &Customer,
    id: &str,
) -> Result<InvoiceDetail, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let mut conn = state.pool.acquire().await?;
    query::detail(
        &mut conn,
        CustomerId::new(customer.customer_id),
        id,
        today(),
    )
    .await
    .map_err(internal)?
    .ok_or(AppError::NotFound)
}

pub async fn detail(
    customer: Customer,
    page: Page,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let invoice = find(&state, &customer, &id).await?;
    Ok(ui::ok(&InvoicePage {
        fmt: Fmt::of(&page),
        page,
        invoice,
    }))
}

/// The invoice's PDF: rendered once on first download and stored (billing's PDF store), then
/// served from there.
pub async fn pdf(
    customer: Customer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    super::documents::serve(&state, &customer, DocumentRef::Invoice(id)).await
}

/// A download: the type, `Content-Disposition: attachment` with the file's name, the bytes.
pub fn attachment(content_type: &str, filename: &str, bytes: Vec<u8>) -> Response {
    let safe: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{safe}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}
