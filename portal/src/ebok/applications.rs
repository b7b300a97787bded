//! Applications (`/ebok/applications`): the customer's cases with their status history, the
//! list of forms, a form rendered from its definition (`store::application`) with
//! attachments, validated against the definition, submitted as a numbered case.

use super::meters::attachment_store;
use super::store_error;
use super::upload::{self, Multipart};
use crate::app::AppState;
use crate::auth::Customer;
use crate::error::AppError;
use crate::store::application::{self, FieldDef, FieldType, FormDefinition};
use crate::store::attachment::{self, AttachmentKind};
use crate::store::StoreError;
use crate::ui::form::INVALID;
use crate::ui::{self, Page};
use askama::Template;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use ewoda_common::scope::{CustomerId, FieldError};
use std::collections::BTreeMap;

fn when(at: chrono::DateTime<Utc>) -> String {
    at.with_timezone(&chrono_tz::Europe::Warsaw)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

fn pick<'a>(page: &Page, pl: &'a str, en: &'a str) -> &'a str {
    if page.lang_code() == "pl" || en.is_empty() {
        pl
    } else {
        en
    }
}

pub struct CaseRow {
    pub id: i64,
    pub number: String,
    pub title: String,
    pub status: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "ebok/applications.html")]
struct ListPage {
    page: Page,
    cases: Vec<CaseRow>,
}

/// GET /ebok/applications
pub async fn list(
    customer: Customer,
    page: Page,
    State(state): State<AppState>,
) -> Result<Response, AppError> {
    let who = CustomerId::new(customer.customer_id);
    let mut conn = state.pool.acquire().await?;
    let cases = application::of_customer(&mut conn, who)
        .await
        .map_err(store_error)?
        .iter()
        .map(|c| CaseRow {
            id: c.application_id,
            number: c.number.clone(),
            title: pick(&page, &c.title_pl, &c.title_en).to_string(),
            status: page.t(&format!("case-status-{}", c.status.replace('_', "-"))),
            created: when(c.created_at),
        })
        .collect();
    Ok(ui::ok(&ListPage { page, cases }))
}

pub struct FormRow {
    pub code: String,
    pub title: String,
    pub description: String,
}

#[derive(Template)]
#[template(path = "ebok/application_forms.html")]
struct FormsPage {
    page: Page,
    forms: Vec<FormRow>,
}

/// GET /ebok/applications/new
pub async fn forms(
    page: Page,
    _c: Customer,
    State(state): State<AppState>,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let forms = application::forms(&mut conn)
        .await
        .map_err(store_error)?
        .iter()
        .filter(|f| f.active)
        .map(|f| FormRow {
            code: f.code.clone(),
            title: pick(&page, &f.title_pl, &f.title_en).to_string(),
            description: pick(&page, &f.description_pl, &f.description_en).to_string(),
        })
        .collect();
    Ok(ui::ok(&FormsPage { page, forms }))
}

/// A field as the template renders it: `input` is the HTML input type, or `textarea`,
/// `select`, `checkbox`.
pub struct FieldView {
    pub name: String,
    pub label: String,
    pub help: String,
    pub input: &'static str,
    pub required: bool,
    pub value: String,
    pub options: Vec<String>,
    pub error: String,
}

#[derive(Template)]
#[template(path = "ebok/application_form.html")]
struct FormPage {
    page: Page,
    code: String,
    title: String,
    description: String,
    fields: Vec<FieldView>,
    attachments_allowed: bool,
    max_attachments: i64,
    attachments_error: String,
}

fn input_of(kind: FieldType) -> &'static str {
    match kind {
        FieldType::Textarea => "textarea",
        FieldType::Select => "select",
        FieldType::Checkbox => "checkbox",
        FieldType::Date => "date",
        FieldType::Email => "email",
        FieldType::Phone => "tel",
        FieldType::Text | FieldType::Number | FieldType::Iban | FieldType::Meter => "text",
    }
}

/// The message of a refused value, by the field's type.
fn field_message(page: &Page, f: &FieldDef, code: &str) -> String {
    if code == "required" {
        return page.t("app-err-required");
    }
    let kind = match f.kind {
        FieldType::Date => "date",
        FieldType::Number => "number",
        FieldType::Email => "email",
        FieldType::Phone => "phone",
        FieldType::Select => "select",
        FieldType::Iban => "iban",
        _ => "text",
    };
    page.t(&format!("app-err-{kind}"))
}

fn form_page(
    page: Page,
    def: &FormDefinition,
    values: &BTreeMap<String, String>,
    errors: &[FieldError],
) -> FormPage {
    let fields = def
        .fields
        .iter()
        .map(|f| {
            let at = format!("fields.{}", f.name);
            let error = errors
                .iter()
                .find(|e| e.field == at)
                .map(|e| field_message(&page, f, e.code))
                .unwrap_or_default();
            FieldView {
                name: f.name.clone(),
                label: pick(&page, &f.label_pl, &f.label_en).to_string(),
                help: pick(&page, &f.help_pl, &f.help_en).to_string(),
                input: input_of(f.kind),
                required: f.required,
                value: values.get(&f.name).cloned().unwrap_or_default(),
                options: f.options.clone(),
                error,
            }
        })
        .collect();
    let attachments_error = errors
        .iter()
        .find(|e| e.field.starts_with("attachments") || e.field == "file")
        .map(|e| match e.code {
            "too_many" | "not_allowed" => page.t("app-err-attachments"),
            code => page.t(upload::file_error(code)),
        })
        .unwrap_or_default();
    FormPage {
        code: def.code.clone(),
        title: pick(&page, &def.title_pl, &def.title_en).to_string(),
        description: pick(&page, &def.description_pl, &def.description_en).to_string(),
        fields,
        attachments_allowed: def.attachments_allowed,
        max_attachments: i64::from(def.max_attachments),
        attachments_error,
        page,
    }
}

async fn definition(state: &AppState, code: &str) -> Result<FormDefinition, AppError> {
    let mut conn = state.pool.acquire().await?;
    application::form(&mut conn, code)
        .await
        .map_err(store_error)?
        .filter(|f| f.active)
        .ok_or(AppError::NotFound)
}

/// GET /ebok/applications/new/{kind}
pub async fn new(
    _c: Customer,
    page: Page,
    State(state): State<AppState>,
    Path(kind): Path<String>,
) -> Result<Response, AppError> {
    let def = definition(&state, &kind).await?;
    Ok(ui::ok(&form_page(page, &def, &BTreeMap::new(), &[])))
}

/// POST /ebok/applications/new/{kind} (multipart: `fields.<name>` and `attachments` files)
pub async fn submit(
    customer: Customer,
    page: Page,
    State(state): State<AppState>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let who = CustomerId::new(customer.customer_id);
    let def = definition(&state, &kind).await?;
    let parts = Multipart::read(&headers, body).await?;
    let values: BTreeMap<String, String> = parts
        .fields
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("fields.")
                .map(|n| (n.to_string(), v.clone()))
        })
        .collect();
    // Checked before any file is stored, so a refused form leaves no uploads behind.
    if let Err(errors) = def.validate(&values) {
        return Ok(ui::html(&form_page(page, &def, &values, &errors), INVALID));
    }
    let files: Vec<_> = parts
        .files
        .iter()
        .filter(|f| f.field == "attachments")
        .collect();
    if !files.is_empty()
        && (!def.attachments_allowed
            || files.len() > usize::try_from(def.max_attachments).unwrap_or(0))
    {
        let e = [FieldError::new("attachments", "too_many", "too many files")];
        return Ok(ui::html(&form_page(page, &def, &values, &e), INVALID));
    }
    let store = attachment_store(&state);
    let mut ids = Vec::new();
    for f in files {
        match attachment::save(
            &state.pool,
            &store,
            who,
            AttachmentKind::Attachment,
            &f.filename,
            &f.bytes,
        )
        .await
        {
            Ok(info) => ids.push(info.attachment_id),
            Err(StoreError::Invalid(e)) => {
                return Ok(ui::html(&form_page(page, &def, &values, &e), INVALID))
            }
            Err(e) => return Err(store_error(e)),
        }
    }
    match application::submit(&state.pool, who, &kind, &values, &ids, Utc::now()).await {
        Ok(case) => Ok(Redirect::to(&format!(
            "/ebok/applications/{}?sent=1",
            case.application_id
        ))
        .into_response()),
        Err(StoreError::Invalid(e)) => Ok(ui::html(&form_page(page, &def, &values, &e), INVALID)),
        Err(e) => Err(store_error(e)),
    }
}

#[derive(Template)]
#[template(path = "ebok/application.html")]
struct CasePage {
    page: Page,
    number: String,
    title: String,
    status: String,
    values: Vec<(String, String)>,
    events: Vec<(String, String, String)>,
    files: Vec<(i64, String, String)>,
}

fn event_text(page: &Page, event: &str) -> String {
    match event.strip_prefix("status:") {
        Some(s) => page.t(&format!("case-status-{}", s.replace('_', "-"))),
        None => page.t(&format!("case-event-{}", event.replace('_', "-"))),
    }
}

/// GET /ebok/applications/{id}
pub async fn detail(
    customer: Customer,
    page: Page,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let who = CustomerId::new(customer.customer_id);
    let mut conn = state.pool.acquire().await?;
    let case = application::case(&mut conn, who, id)
        .await
        .map_err(store_error)?
        .ok_or(AppError::NotFound)?;
    let def = application::form(&mut conn, &case.summary.kind)
        .await
        .map_err(store_error)?;
    let values = def
        .iter()
        .flat_map(|d| d.fields.iter())
        .filter_map(|f| {
            let v = case.form.get(&f.name)?;
            let shown = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Bool(b) => page.t(if *b { "app-yes" } else { "app-no" }),
                other => other.to_string(),
            };
            Some((pick(&page, &f.label_pl, &f.label_en).to_string(), shown))
        })
        .collect();
    let p = CasePage {
        number: case.summary.number.clone(),
        title: pick(&page, &case.summary.title_pl, &case.summary.title_en).to_string(),
        status: page.t(&format!(
            "case-status-{}",
            case.summary.status.replace('_', "-")
        )),
        values,
        events: case
            .events
            .iter()
            .map(|e| {
                (
                    when(e.at),
                    event_text(&page, &e.event),
                    e.note.clone().unwrap_or_default(),
                )
            })
            .collect(),
        files: case
            .attachments
            .iter()
            .map(|a| (a.attachment_id, a.filename.clone(), a.content_type.clone()))
            .collect(),
        page,
    };
    Ok(ui::ok(&p))
}

/// GET /ebok/attachments/{id}: one of the customer's own uploads (an application's
/// attachment, a reading's photo) as stored; 404 when it is someone else's.
pub async fn attachment(
    customer: Customer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let store = attachment_store(&state);
    let who = CustomerId::new(customer.customer_id);
    let mut conn = state.pool.acquire().await?;
    let (info, bytes) = attachment::open(&mut conn, &store, who, id)
        .await
        .map_err(store_error)?
        .ok_or(AppError::NotFound)?;
    Ok(super::invoices::attachment(
        &info.content_type,
        &info.filename,
        bytes,
    ))
}
