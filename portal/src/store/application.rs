//! Applications (wnioski) as data-driven forms: a `form_definition` row lists a form's fields
//! (type, required, PL/EN labels and help, options) and whether attachments are allowed; staff
//! add or change forms with [`save_form`], no code. A submission is validated against its
//! definition (errors name `fields.<name>`), gets a gap-free case number per year
//! (`WN/2026/00001`), its attachments and a first `case_event`, in one transaction.

use super::attachment::{self, AttachmentInfo};
use super::StoreError;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use ewoda_common::scope::{CustomerId, FieldError};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::{PgConnection, PgPool, Row};
use std::collections::BTreeMap;

/// The input types a form field can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// One line, up to 500 characters.
    Text,
    /// Several lines, up to 5,000 characters.
    Textarea,
    /// `YYYY-MM-DD`.
    Date,
    /// A decimal number (`,` or `.`), stored exactly as text.
    Number,
    /// An e-mail address.
    Email,
    /// A phone number.
    Phone,
    /// One of `options`.
    Select,
    /// A yes/no box.
    Checkbox,
    /// A Polish bank account (26 digits or `PL` + 26).
    Iban,
    /// A meter number.
    Meter,
}

/// One field of a form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDef {
    /// Name posted by the form (`[a-z][a-z0-9_]*`).
    pub name: String,
    /// Input type.
    #[serde(rename = "type")]
    pub kind: FieldType,
    /// Must be filled in.
    #[serde(default)]
    pub required: bool,
    /// Polish label.
    pub label_pl: String,
    /// English label.
    pub label_en: String,
    /// Polish help text.
    #[serde(default)]
    pub help_pl: String,
    /// English help text.
    #[serde(default)]
    pub help_en: String,
    /// Allowed values of a select.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// A form as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FormDefinition {
    /// Stable code (also `application.kind`).
    pub code: String,
    /// Polish title.
    pub title_pl: String,
    /// English title.
    pub title_en: String,
    /// Polish description.
    pub description_pl: String,
    /// English description.
    pub description_en: String,
    /// Fields in order.
    pub fields: Vec<FieldDef>,
    /// Whether files may be attached.
    pub attachments_allowed: bool,
    /// At most this many files.
    pub max_attachments: i16,
    /// Offered to customers.
    pub active: bool,
    /// Sort key of the list.
    pub position: i32,
}

fn definition_row(r: &sqlx::postgres::PgRow) -> Result<FormDefinition, StoreError> {
    let code: String = r.try_get("code")?;
    let fields: Value = r.try_get("fields")?;
    let fields = serde_json::from_value(fields).map_err(|e| {
        StoreError::field(
            format!("form_definition {code}.fields"),
            "invalid",
            e.to_string(),
        )
    })?;
    Ok(FormDefinition {
        code,
        title_pl: r.try_get("title_pl")?,
        title_en: r.try_get("title_en")?,
        description_pl: r.try_get("description_pl")?,
        description_en: r.try_get("description_en")?,
        fields,
        attachments_allowed: r.try_get("attachments_allowed")?,
        max_attachments: r.try_get("max_attachments")?,
        active: r.try_get("active")?,
        position: r.try_get("position")?,
    })
}

const FORM_SELECT: &str = "select code, title_pl, title_en, description_pl, description_en, fields,
    attachments_allowed, max_attachments, active, position from form_definition";

/// The forms offered to customers, in list order.
pub async fn forms(conn: &mut PgConnection) -> Result<Vec<FormDefinition>, StoreError> {
    let rows = sqlx::query(&format!(
        "{FORM_SELECT} where active order by position, code"
    ))
    .fetch_all(conn)
    .await?;
    rows.iter().map(definition_row).collect()
}

/// One offered form by code; None when unknown or withdrawn.
pub async fn form(
    conn: &mut PgConnection,
    code: &str,
) -> Result<Option<FormDefinition>, StoreError> {
    let r = sqlx::query(&format!("{FORM_SELECT} where active and code = $1"))
        .bind(code)
        .fetch_optional(conn)
        .await?;
    r.as_ref().map(definition_row).transpose()
}

fn name_ok(s: &str, max: usize) -> bool {
    let mut chars = s.chars();
    s.len() <= max
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Checks a definition before staff save it: code and field names, unique names, labels in
/// both languages, options of selects.
pub fn check_definition(def: &FormDefinition) -> Vec<FieldError> {
    let mut e = Vec::new();
    if !name_ok(&def.code, 50) || def.code.len() < 2 {
        e.push(FieldError::new(
            "code",
            "invalid",
            "lower-case letters, digits and _ (2–50)",
        ));
    }
    if def.title_pl.trim().is_empty() || def.title_en.trim().is_empty() {
        e.push(FieldError::new(
            "title",
            "required",
            "a title in Polish and English",
        ));
    }
    if def.fields.is_empty() {
        e.push(FieldError::new(
            "fields",
            "required",
            "a form needs at least one field",
        ));
    }
    for (i, f) in def.fields.iter().enumerate() {
        let at = format!("fields[{i}]");
        if !name_ok(&f.name, 50) {
            e.push(FieldError::new(
                format!("{at}.name"),
                "invalid",
                format!("{:?}: lower-case letters, digits and _", f.name),
            ));
        }
        if def.fields[..i].iter().any(|g| g.name == f.name) {
            e.push(FieldError::new(
                format!("{at}.name"),
                "duplicate",
                format!("{:?} is used twice", f.name),
            ));
        }
        if f.label_pl.trim().is_empty() || f.label_en.trim().is_empty() {
            e.push(FieldError::new(
                format!("{at}.label"),
                "required",
                "a label in Polish and English",
            ));
        }
        if (f.kind == FieldType::Select) == f.options.is_empty() {
            e.push(FieldError::new(
                format!("{at}.options"),
                "invalid",
                "a select needs options; other types none",
            ));
        }
    }
    e
}

/// Adds or replaces a form (staff), with an audit entry under `actor`.
pub async fn save_form(pool: &PgPool, def: &FormDefinition, actor: &str) -> Result<(), StoreError> {
    let errors = check_definition(def);
    if !errors.is_empty() {
        return Err(StoreError::Invalid(errors));
    }
    let fields = serde_json::to_value(&def.fields)
        .map_err(|e| StoreError::field("fields", "invalid", e.to_string()))?;
    let mut tx = pool.begin().await?;
    let existed: bool =
        sqlx::query_scalar("select exists (select 1 from form_definition where code = $1)")
            .bind(&def.code)
            .fetch_one(&mut *tx)
            .await?;
    sqlx::query(
        "insert into form_definition (code, title_pl, title_en, description_pl, description_en, fields,
             attachments_allowed, max_attachments, active, position)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         on conflict (code) do update set title_pl = excluded.title_pl, title_en = excluded.title_en,
             description_pl = excluded.description_pl, description_en = excluded.description_en,
             fields = excluded.fields, attachments_allowed = excluded.attachments_allowed,
             max_attachments = excluded.max_attachments, active = excluded.active,
             position = excluded.position, updated_at = now()",
    )
    .bind(&def.code)
    .bind(&def.title_pl)
    .bind(&def.title_en)
    .bind(&def.description_pl)
    .bind(&def.description_en)
    .bind(&fields)
    .bind(def.attachments_allowed)
    .bind(def.max_attachments)
    .bind(def.active)
    .bind(def.position)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into audit_log (actor, action, entity, entity_id, after) values ($1, $2, 'form_definition', $3, $4)",
    )
    .bind(actor)
    .bind(if existed { "update" } else { "insert" })
    .bind(&def.code)
    .bind(serde_json::json!({ "fields": fields, "active": def.active }))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

fn email_ok(s: &str) -> bool {
    s.split_once('@').is_some_and(|(l, d)| {
        !l.is_empty()
            && d.contains('.')
            && !d.starts_with('.')
            && !d.ends_with('.')
            && !s.contains(char::is_whitespace)
    })
}

/// One value checked against its field; the stored JSON value or the reason.
fn check_value(f: &FieldDef, v: &str) -> Result<Value, String> {
    match f.kind {
        FieldType::Text if v.chars().count() > 500 => Err("at most 500 characters".into()),
        FieldType::Meter if v.chars().count() > 40 => Err("at most 40 characters".into()),
        FieldType::Textarea if v.chars().count() > 5000 => Err("at most 5000 characters".into()),
        FieldType::Text | FieldType::Textarea | FieldType::Meter => {
            Ok(Value::String(v.to_string()))
        }
        FieldType::Date => NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map(|d| Value::String(d.to_string()))
            .map_err(|_| format!("{v:?} is not a date (YYYY-MM-DD)")),
        FieldType::Number => v
            .replace(',', ".")
            .replace(' ', "")
            .parse::<Decimal>()
            .map(|d| Value::String(d.normalize().to_string()))
            .map_err(|_| format!("{v:?} is not a number")),
        FieldType::Email if email_ok(v) => Ok(Value::String(v.to_string())),
        FieldType::Email => Err(format!("{v:?} is not an e-mail address")),
        FieldType::Phone => {
            let digits = v.strip_prefix('+').unwrap_or(v);
            if (9..=15).contains(&digits.len())
                && digits.chars().all(|c| c.is_ascii_digit() || c == ' ')
            {
                Ok(Value::String(v.to_string()))
            } else {
                Err(format!("{v:?} is not a phone number"))
            }
        }
        FieldType::Select if f.options.iter().any(|o| o == v) => Ok(Value::String(v.to_string())),
        FieldType::Select => Err(format!("{v:?} is not one of {}", f.options.join(", "))),
        FieldType::Checkbox => match v {
            "on" | "true" | "1" | "yes" => Ok(Value::Bool(true)),
            "false" | "0" | "no" => Ok(Value::Bool(false)),
            _ => Err(format!("{v:?} is not yes or no")),
        },
        FieldType::Iban => {
            let compact: String = v.chars().filter(|c| !c.is_whitespace()).collect();
            let parsed = if compact.starts_with("PL") {
                ewoda_billing::account::Iban::parse(&compact)
            } else {
                ewoda_billing::account::Nrb::parse(&compact).map(|n| n.to_iban())
            };
            parsed
                .map(|i| Value::String(i.as_str().to_string()))
                .map_err(|e| e.to_string())
        }
    }
}

impl FormDefinition {
    /// Checks posted values (name → text, empty = not given) against the fields: required ones
    /// present, each value of its type, no unknown names. Errors name `fields.<name>`.
    pub fn validate(
        &self,
        values: &BTreeMap<String, String>,
    ) -> Result<Map<String, Value>, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut out = Map::new();
        for name in values.keys() {
            if !self.fields.iter().any(|f| &f.name == name) {
                errors.push(FieldError::new(
                    format!("fields.{name}"),
                    "unknown",
                    "not a field of this form",
                ));
            }
        }
        for f in &self.fields {
            let at = format!("fields.{}", f.name);
            let v = values.get(&f.name).map(|s| s.trim()).unwrap_or_default();
            if v.is_empty() {
                if f.required && f.kind != FieldType::Checkbox {
                    errors.push(FieldError::new(at, "required", "required"));
                }
                continue;
            }
            match check_value(f, v) {
                Ok(value) => {
                    out.insert(f.name.clone(), value);
                }
                Err(message) => errors.push(FieldError::new(at, "invalid", message)),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }
}

/// A submitted application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubmittedCase {
    /// The application.
    pub application_id: i64,
    /// Its case number, e.g. `WN/2026/00001`.
    pub number: String,
}

/// Takes the next case number of `year` under a row lock (gap-free: a rolled-back submission
/// gives its number back).
async fn next_number(conn: &mut PgConnection, year: i32) -> Result<String, StoreError> {
    let n: i32 = sqlx::query_scalar(
        "insert into application_number (year, last_number) values ($1, 1)
         on conflict (year) do update set last_number = application_number.last_number + 1
         returning last_number",
    )
    .bind(year)
    .fetch_one(conn)
    .await?;
    Ok(format!("WN/{year}/{n:05}"))
}

/// Links the customer's unlinked uploads to the application; refuses others (`attachments[i]`).
async fn link_attachments(
    conn: &mut PgConnection,
    customer: CustomerId,
    application_id: i64,
    ids: &[i64],
) -> Result<(), StoreError> {
    for (i, id) in ids.iter().enumerate() {
        let n = sqlx::query(
            "update attachment set application_id = $1
             where attachment_id = $2 and customer_id = $3 and application_id is null
               and failure_report_id is null",
        )
        .bind(application_id)
        .bind(id)
        .bind(customer.get())
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if n == 0 || ids[..i].contains(id) {
            return Err(StoreError::field(
                format!("attachments[{i}]"),
                "not_found",
                "no such upload of yours",
            ));
        }
    }
    Ok(())
}

/// Validates and submits an application of the customer with uploads from
/// [`attachment::save`]; returns its case number. Nothing is stored when anything is refused.
pub async fn submit(
    pool: &PgPool,
    customer: CustomerId,
    code: &str,
    values: &BTreeMap<String, String>,
    attachment_ids: &[i64],
    now: DateTime<Utc>,
) -> Result<SubmittedCase, StoreError> {
    let mut conn = pool.acquire().await?;
    let def = form(&mut conn, code).await?.ok_or_else(|| {
        StoreError::field(
            "form",
            "not_found",
            format!("{code:?} is not an offered form"),
        )
    })?;
    drop(conn);
    let form_values = def.validate(values).map_err(StoreError::Invalid)?;
    if !attachment_ids.is_empty() && !def.attachments_allowed {
        return Err(StoreError::field(
            "attachments",
            "not_allowed",
            "this form takes no attachments",
        ));
    }
    if attachment_ids.len() > usize::try_from(def.max_attachments).unwrap_or(0) {
        return Err(StoreError::field(
            "attachments",
            "too_many",
            format!("at most {} files", def.max_attachments),
        ));
    }
    let mut tx = pool.begin().await?;
    let number = next_number(&mut tx, ewoda_common::time::local_day(now).year()).await?;
    let application_id: i64 = sqlx::query_scalar(
        "insert into application (number, customer_id, kind, form) values ($1, $2, $3, $4)
         returning application_id",
    )
    .bind(&number)
    .bind(customer.get())
    .bind(&def.code)
    .bind(Value::Object(form_values))
    .fetch_one(&mut *tx)
    .await?;
    link_attachments(&mut tx, customer, application_id, attachment_ids).await?;
    sqlx::query(
        "insert into case_event (application_id, event, note) values ($1, 'submitted', null)",
    )
    .bind(application_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(SubmittedCase {
        application_id,
        number,
    })
}

/// A case in the customer's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseSummary {
    /// The application.
    pub application_id: i64,
    /// Case number.
    pub number: String,
    /// Form code.
    pub kind: String,
    /// Form title (PL).
    pub title_pl: String,
    /// Form title (EN).
    pub title_en: String,
    /// `submitted`, `in_progress`, `waiting_for_customer`, `approved`, `rejected`, `done`, …
    pub status: String,
    /// Submitted at.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// One entry of a case's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// What (`submitted`, `status:in_progress`, `note`, …).
    pub event: String,
    /// The note or answer.
    pub note: Option<String>,
}

/// A case with what was filed, its history and files.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseDetail {
    /// The list entry.
    pub summary: CaseSummary,
    /// The submitted values by field name.
    pub form: Value,
    /// History, oldest first.
    pub events: Vec<CaseEvent>,
    /// Attached files.
    pub attachments: Vec<AttachmentInfo>,
}

const CASE_SELECT: &str =
    "select a.application_id, a.number, a.kind, f.title_pl, f.title_en, a.status,
    a.created_at, a.updated_at, a.form
    from application a join form_definition f on f.code = a.kind";

fn case_row(r: &sqlx::postgres::PgRow) -> Result<CaseSummary, StoreError> {
    Ok(CaseSummary {
        application_id: r.try_get("application_id")?,
        number: r.try_get("number")?,
        kind: r.try_get("kind")?,
        title_pl: r.try_get("title_pl")?,
        title_en: r.try_get("title_en")?,
        status: r.try_get("status")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// The customer's cases, newest first.
pub async fn of_customer(
    conn: &mut PgConnection,
    customer: CustomerId,
) -> Result<Vec<CaseSummary>, StoreError> {
    let rows = sqlx::query(&format!(
        "{CASE_SELECT} where a.customer_id = $1 order by a.created_at desc, a.application_id desc"
    ))
    .bind(customer.get())
    .fetch_all(conn)
    .await?;
    rows.iter().map(case_row).collect()
}

/// One case of the customer; None when it is not theirs.
pub async fn case(
    conn: &mut PgConnection,
    customer: CustomerId,
    application_id: i64,
) -> Result<Option<CaseDetail>, StoreError> {
    let Some(r) = sqlx::query(&format!(
        "{CASE_SELECT} where a.customer_id = $1 and a.application_id = $2"
    ))
    .bind(customer.get())
    .bind(application_id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let events = sqlx::query(
        "select at, event, note from case_event where application_id = $1 order by at, case_event_id",
    )
    .bind(application_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|e| {
        Ok(CaseEvent {
            at: e.try_get("at")?,
            event: e.try_get("event")?,
            note: e.try_get("note")?,
        })
    })
    .collect::<Result<_, StoreError>>()?;
    Ok(Some(CaseDetail {
        summary: case_row(&r)?,
        form: r.try_get("form")?,
        events,
        attachments: attachment::of_application(conn, customer, application_id).await?,
    }))
}
