//! Documents: contracts and annexes, and every issued document (invoices, corrections,
//! reminders, interest notes), each downloadable within the customer's scope; and the list of
//! reminders and interest notes.

use super::invoices::attachment;
use super::money::{internal, Fmt};
use crate::app::AppState;
use crate::auth::Customer;
use crate::error::AppError;
use crate::ui::{self, Page};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use ewoda_billing::documents::{self, DocumentEntry, DocumentRef};
use ewoda_billing::invoice::query::{self, NoticeSummary};
use ewoda_common::scope::CustomerId;

#[derive(Template)]
#[template(path = "ebok/documents.html")]
struct DocumentsPage {
    page: Page,
    fmt: Fmt,
    /// Contracts and annexes first, then issued documents.
    contracts: Vec<DocumentEntry>,
    issued: Vec<DocumentEntry>,
}

pub async fn list(
    customer: Customer,
    page: Page,
    State(state): State<AppState>,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let all = documents::list(&mut conn, CustomerId::new(customer.customer_id))
        .await
        .map_err(internal)?;
    let (contracts, issued) = all
        .into_iter()
        .partition(|d| matches!(d.kind.as_str(), "contract" | "annex" | "other"));
    Ok(ui::ok(&DocumentsPage {
        fmt: Fmt::of(&page),
        page,
        contracts,
        issued,
    }))
}

/// One document (`invoice-12`, `notice-3`, `file-5`); a malformed id or another customer's
/// document: 404.
pub async fn download(
    customer: Customer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id = DocumentRef::parse(&id).map_err(|_| AppError::NotFound)?;
    serve(&state, &customer, id).await
}

/// Sends one of the customer's documents as a download (invoices from the PDF store: rendered
/// once, then read from there); not theirs: 404.
pub async fn serve(
    state: &AppState,
    customer: &Customer,
    id: DocumentRef,
) -> Result<Response, AppError> {
    let renderer = state
        .pdf
        .as_ref()
        .ok_or_else(|| AppError::Internal("no PDF renderer".into()))?;
    let mut conn = state.pool.acquire().await?;
    let scope = CustomerId::new(customer.customer_id);
    let file = documents::download(&mut conn, renderer, scope, id)
        .await
        .map_err(internal)?
        .ok_or(AppError::NotFound)?;
    Ok(attachment(&file.content_type, &file.filename, file.bytes))
}

#[derive(Template)]
#[template(path = "ebok/notices.html")]
struct NoticesPage {
    page: Page,
    fmt: Fmt,
    notices: Vec<NoticeSummary>,
}

/// Reminders and interest notes.
pub async fn notices(
    customer: Customer,
    page: Page,
    State(state): State<AppState>,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let notices = query::notices(&mut conn, CustomerId::new(customer.customer_id))
        .await
        .map_err(internal)?;
    Ok(ui::ok(&NoticesPage {
        fmt: Fmt::of(&page),
        page,
        notices,
    }))
}
