//! Meters (`/ebok/meters`): every meter of every premises with its last reading, active
//! alarms explained in plain language, the customer's submitted readings; one meter's page
//! with the consumption chart (day/month/year) and its table, the same period last year, the
//! readings history, and the form to submit a reading with an optional photo.

use super::upload::{self, Multipart};
use super::view_error;
use crate::app::AppState;
use crate::auth::Customer;
use crate::error::AppError;
use crate::store::attachment::{self, AttachmentKind, AttachmentStore};
use crate::ui::chart::{self, Chart};
use crate::ui::form::{FieldErrors, INVALID};
use crate::ui::format::m3;
use crate::ui::{self, Lang, Page};
use askama::Template;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use ewoda_collector::query::alarms::{self, AlarmView};
use ewoda_collector::query::consumption::{self, ConsumptionSeries, Granularity};
use ewoda_collector::query::meters::{self, MeterView};
use ewoda_collector::query::submission::{self, NewSubmission, Plausibility, SubmissionView};
use ewoda_collector::query::ViewError;
use ewoda_common::scope::{CustomerId, FieldError, PageRequest};
use ewoda_common::time::local_day;
use rust_decimal::Decimal;
use serde::Deserialize;

/// A meter as the pages show it.
pub struct MeterRow {
    pub meter_id: i64,
    pub serial: String,
    pub role: String,
    pub current: bool,
    pub last_value: String,
    pub last_at: String,
    pub verified_until: String,
}

/// The meters of one premises.
pub struct PremisesBlock {
    pub address: String,
    pub meters: Vec<MeterRow>,
}

/// An alarm with its explanation in the page's language.
pub struct AlarmRow {
    pub serial: String,
    pub meter_id: i64,
    pub title: &'static str,
    pub what: &'static str,
    pub advice: &'static str,
    pub opened: String,
    pub severity: String,
}

/// A submitted reading and where it stands.
pub struct SubmissionRow {
    pub serial: String,
    pub read_on: String,
    pub value: String,
    pub status: String,
    pub pending: bool,
    pub answer: String,
    /// The photo that came with it (its attachment id).
    pub photo: Option<i64>,
}

#[derive(Template)]
#[template(path = "ebok/meters.html")]
struct MetersPage {
    page: Page,
    premises: Vec<PremisesBlock>,
    alarms: Vec<AlarmRow>,
    submissions: Vec<SubmissionRow>,
}

fn day(lang: Lang, at: DateTime<Utc>) -> String {
    crate::ui::format::day(lang, local_day(at))
}

fn meter_row(page: &Page, m: &MeterView) -> MeterRow {
    MeterRow {
        meter_id: m.meter_id,
        serial: m.serial.clone(),
        role: page.t(if m.role == "sub" {
            "meter-role-sub"
        } else {
            "meter-role-main"
        }),
        current: m.removed_at.is_none(),
        last_value: m
            .last_reading
            .as_ref()
            .map(|r| m3(page.lang, r.volume_m3))
            .unwrap_or_default(),
        last_at: m
            .last_reading
            .as_ref()
            .map(|r| day(page.lang, r.read_at))
            .unwrap_or_default(),
        verified_until: m
            .verified_until
            .map(|d| crate::ui::format::day(page.lang, d))
            .unwrap_or_default(),
    }
}

fn alarm_row(page: &Page, a: &AlarmView) -> AlarmRow {
    let e = a.kind.explanation(page.lang_code());
    AlarmRow {
        serial: a.serial.clone(),
        meter_id: a.meter_id,
        title: e.title,
        what: e.what,
        advice: e.advice,
        opened: day(page.lang, a.opened_at),
        severity: page.t(&format!("alarm-severity-{}", a.severity)),
    }
}

fn submission_row(page: &Page, s: &SubmissionView) -> SubmissionRow {
    SubmissionRow {
        serial: s.serial.clone(),
        read_on: day(page.lang, s.read_at),
        value: m3(page.lang, s.volume_m3),
        status: page.t(&format!("submission-{}", s.status)),
        pending: s.status == "pending",
        answer: s.answer.clone().unwrap_or_default(),
        photo: s.attachment_id,
    }
}

/// GET /ebok/meters
pub async fn list(
    customer: Customer,
    page: Page,
    State(state): State<AppState>,
) -> Result<Response, AppError> {
    let who = CustomerId::new(customer.customer_id);
    let mut conn = state.pool.acquire().await?;
    let today = local_day(Utc::now());
    let contracts = ewoda_billing::customer::premises(&mut conn, who, today)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let all = meters::of_customer(&mut conn, who)
        .await
        .map_err(view_error)?;
    let mut premises: Vec<PremisesBlock> = Vec::new();
    let mut seen = Vec::new();
    for c in &contracts {
        if seen.contains(&c.premises_id) {
            continue;
        }
        seen.push(c.premises_id);
        let ms: Vec<MeterRow> = all
            .iter()
            .filter(|m| m.premises_id == c.premises_id)
            .map(|m| meter_row(&page, m))
            .collect();
        premises.push(PremisesBlock {
            address: c.address.clone(),
            meters: ms,
        });
    }
    let alarms = alarms::of_customer(&mut conn, who, false)
        .await
        .map_err(view_error)?
        .iter()
        .map(|a| alarm_row(&page, a))
        .collect();
    let submissions = submission::of_customer(&mut conn, who)
        .await
        .map_err(view_error)?
        .iter()
        .map(|s| submission_row(&page, s))
        .collect();
    Ok(ui::ok(&MetersPage {
        page,
        premises,
        alarms,
        submissions,
    }))
}

/// The query of a meter's page: chart granularity and readings page.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DetailQuery {
    pub g: String,
    pub page: String,
    pub sent: String,
}

/// One row of the comparison with the same period a year earlier.
pub struct CompareRow {
    pub period: String,
    pub this: String,
    pub last: String,
}

/// What the reading form keeps between attempts.
#[derive(Debug, Default, Clone)]
pub struct ReadingForm {
    pub value: String,
    pub read_on: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "ebok/meter.html")]
struct MeterPage {
    page: Page,
    meter: MeterRow,
    granularity: &'static str,
    chart: Chart,
    compare: Vec<CompareRow>,
    total: String,
    last_year_total: String,
    readings: Vec<(String, String, String)>,
    readings_page: i64,
    readings_pages: i64,
    alarms: Vec<AlarmRow>,
    submissions: Vec<SubmissionRow>,
    has_pending: bool,
    sent: bool,
    form: ReadingForm,
    errors: FieldErrors,
}

/// The customer's meter `meter_id` (current installation first); 404 when not theirs.
async fn own_meter(
    conn: &mut sqlx::PgConnection,
    who: CustomerId,
    meter_id: i64,
) -> Result<MeterView, AppError> {
    meters::of_customer(conn, who)
        .await
        .map_err(view_error)?
        .into_iter()
        .find(|m| m.meter_id == meter_id)
        .ok_or(AppError::NotFound)
}

/// The range a granularity shows, ending today: 30 days, 12 months or 5 years.
pub(crate) fn range(g: Granularity, today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let from = match g {
        Granularity::Day => today - chrono::Duration::days(29),
        Granularity::Month => today
            .with_day(1)
            .and_then(|d| d.checked_sub_months(Months::new(11)))
            .unwrap_or(today),
        Granularity::Year => NaiveDate::from_ymd_opt(today.year() - 4, 1, 1).unwrap_or(today),
    };
    (from, today)
}

fn period_label(lang: Lang, g: Granularity, d: NaiveDate) -> String {
    match g {
        Granularity::Day => crate::ui::format::day(lang, d),
        Granularity::Month => d.format("%Y-%m").to_string(),
        Granularity::Year => d.format("%Y").to_string(),
    }
}

/// Who took a reading, as the customer understands it.
fn source_label(source: &str) -> &'static str {
    match source {
        "customer" | "ebok" => "reading-source-customer",
        "handheld" | "manual" | "file" => "reading-source-reader",
        "estimate" => "reading-source-estimate",
        _ => "reading-source-remote",
    }
}

fn ml_m3(ml: i64) -> Decimal {
    ewoda_common::Volume::from_ml(ml).m3()
}

/// The comparison table: each period beside the same period a year earlier.
fn compare_rows(lang: Lang, g: Granularity, s: &ConsumptionSeries) -> Vec<CompareRow> {
    s.points
        .iter()
        .map(|p| {
            let before = p.period.checked_sub_months(Months::new(12));
            let last = s.last_year.iter().find(|l| Some(l.period) == before);
            CompareRow {
                period: period_label(lang, g, p.period),
                this: m3(lang, p.m3),
                last: last.map(|l| m3(lang, l.m3)).unwrap_or_else(|| "—".into()),
            }
        })
        .collect()
}

async fn detail_page(
    conn: &mut sqlx::PgConnection,
    page: Page,
    who: CustomerId,
    meter: &MeterView,
    q: &DetailQuery,
    form: ReadingForm,
    errors: FieldErrors,
) -> Result<MeterPage, AppError> {
    let g = Granularity::parse(&q.g).unwrap_or(Granularity::Month);
    let granularity = match g {
        Granularity::Day => "day",
        Granularity::Month => "month",
        Granularity::Year => "year",
    };
    let (from, to) = range(g, local_day(Utc::now()));
    let series = consumption::series(&mut *conn, who, meter.meter_id, g, from, to)
        .await
        .map_err(view_error)?
        .ok_or(AppError::NotFound)?;
    let points: Vec<(String, Decimal)> = series
        .points
        .iter()
        .map(|p| (period_label(page.lang, g, p.period), p.m3))
        .collect();
    let chart = chart::bars(
        "consumption",
        page.t(&format!("meter-chart-{granularity}")),
        page.t("meter-period"),
        page.t("meter-use-m3"),
        page.lang,
        &points,
    );
    let page_no = q.page.parse::<u32>().unwrap_or(1);
    let readings = meters::days(
        &mut *conn,
        who,
        meter.meter_id,
        PageRequest::new(page_no, 20),
    )
    .await
    .map_err(view_error)?
    .ok_or(AppError::NotFound)?;
    let alarms = alarms::of_customer(&mut *conn, who, true)
        .await
        .map_err(view_error)?
        .iter()
        .filter(|a| a.meter_id == meter.meter_id && a.active)
        .map(|a| alarm_row(&page, a))
        .collect();
    let submissions: Vec<SubmissionRow> = submission::of_customer(conn, who)
        .await
        .map_err(view_error)?
        .iter()
        .filter(|s| s.meter_id == meter.meter_id)
        .map(|s| submission_row(&page, s))
        .collect();
    Ok(MeterPage {
        meter: meter_row(&page, meter),
        granularity,
        compare: compare_rows(page.lang, g, &series),
        total: m3(page.lang, ml_m3(series.total_ml)),
        last_year_total: m3(page.lang, ml_m3(series.last_year_total_ml)),
        readings: readings
            .items
            .iter()
            .map(|r| {
                (
                    day(page.lang, r.read_at),
                    m3(page.lang, r.volume_m3),
                    page.t(source_label(&r.source)),
                )
            })
            .collect(),
        readings_page: i64::from(readings.page),
        readings_pages: readings.pages(),
        alarms,
        has_pending: submissions.iter().any(|s| s.pending),
        submissions,
        sent: q.sent == "1",
        chart,
        form,
        errors: errors.translated(&page),
        page,
    })
}

/// GET /ebok/meters/{id}
pub async fn detail(
    customer: Customer,
    page: Page,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<DetailQuery>,
) -> Result<Response, AppError> {
    let who = CustomerId::new(customer.customer_id);
    // One connection for the whole page.
    let mut conn = state.pool.acquire().await?;
    let meter = own_meter(&mut conn, who, id).await?;
    let p = detail_page(
        &mut conn,
        page,
        who,
        &meter,
        &q,
        ReadingForm::default(),
        FieldErrors::new(),
    )
    .await?;
    Ok(ui::ok(&p))
}

/// The form's own checks before the data layer's: a number and a date.
fn parse_form(
    f: &ReadingForm,
    now: DateTime<Utc>,
) -> Result<(Decimal, DateTime<Utc>), FieldErrors> {
    let mut e = FieldErrors::new();
    let value = f
        .value
        .trim()
        .replace([' ', '\u{a0}'], "")
        .replace(',', ".")
        .parse::<Decimal>()
        .ok();
    if value.is_none() {
        e.add("value", "meter-err-value-number");
    }
    let date = NaiveDate::parse_from_str(f.read_on.trim(), "%Y-%m-%d").ok();
    if date.is_none() {
        e.add("read_on", "meter-err-date-format");
    }
    let read_at = date.map(|d| read_moment(d, now)).unwrap_or(now);
    e.result((value.unwrap_or_default(), read_at))
}

/// Today's reading is taken now; an earlier day's at noon, Warsaw time.
fn read_moment(d: NaiveDate, now: DateTime<Utc>) -> DateTime<Utc> {
    if d == local_day(now) {
        return now;
    }
    ewoda_common::time::day_start(d) + chrono::Duration::hours(12)
}

/// The data layer's refusals as the form's messages (PL/EN ids).
fn submission_errors(errors: &[FieldError]) -> FieldErrors {
    let mut e = FieldErrors::new();
    for f in errors {
        match (f.field.as_str(), f.code) {
            ("value", "below_last") => e.add("value", "meter-err-below-last"),
            ("value", "implausible") => e.add("value", "meter-err-implausible"),
            ("value", _) => e.add("value", "meter-err-value-invalid"),
            ("read_at", _) => e.add("read_on", "meter-err-date-range"),
            ("note", _) => e.add("note", "meter-err-note-long"),
            ("meter_id", "pending") => e.add("meter_id", "meter-err-pending"),
            ("meter_id", _) => e.add("meter_id", "meter-err-removed"),
            ("file" | "attachment_id", code) => e.add("photo", upload::file_error(code)),
            _ => e.add("meter_id", "meter-err-other"),
        }
    }
    e
}

/// POST /ebok/meters/{id}/readings (multipart: value, read_on, note, photo)
pub async fn submit(
    customer: Customer,
    page: Page,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let who = CustomerId::new(customer.customer_id);
    // Not holding a connection while the upload arrives.
    let meter = own_meter(&mut *state.pool.acquire().await?, who, id).await?;
    let parts = Multipart::read(&headers, body).await?;
    let form = ReadingForm {
        value: parts.text("value"),
        read_on: parts.text("read_on"),
        note: parts.text("note"),
    };
    let now = Utc::now();
    let outcome = match parse_form(&form, now) {
        Err(e) => Err(e),
        Ok((value_m3, read_at)) => {
            store(&state, who, &parts, id, value_m3, read_at, &form.note, now).await?
        }
    };
    match outcome {
        Ok(()) => Ok(Redirect::to(&format!("/ebok/meters/{id}?sent=1")).into_response()),
        Err(errors) => {
            let p = detail_page(
                &mut *state.pool.acquire().await?,
                page,
                who,
                &meter,
                &DetailQuery::default(),
                form,
                errors,
            )
            .await?;
            Ok(ui::html(&p, INVALID))
        }
    }
}

/// Saves the photo (if any) and the pending submission; field messages when refused.
#[allow(clippy::too_many_arguments)]
async fn store(
    state: &AppState,
    who: CustomerId,
    parts: &Multipart,
    meter_id: i64,
    value_m3: Decimal,
    read_at: DateTime<Utc>,
    note: &str,
    now: DateTime<Utc>,
) -> Result<Result<(), FieldErrors>, AppError> {
    let attachment_id = match parts.files.iter().find(|f| f.field == "photo") {
        None => None,
        Some(f) => {
            let store = attachment_store(state);
            match attachment::save(
                &state.pool,
                &store,
                who,
                AttachmentKind::Photo,
                &f.filename,
                &f.bytes,
            )
            .await
            {
                Ok(info) => Some(info.attachment_id),
                Err(crate::store::StoreError::Invalid(v)) => return Ok(Err(submission_errors(&v))),
                Err(e) => return Err(AppError::Internal(e.to_string())),
            }
        }
    };
    let note = note.trim();
    let s = NewSubmission {
        meter_id,
        read_at,
        value_m3,
        attachment_id,
        note: (!note.is_empty()).then(|| note.to_string()),
    };
    let submitted = submission::submit(&state.pool, who, &s, &Plausibility::default(), now).await;
    if submitted.is_err() {
        // A refused (or failed) reading keeps no photo behind: delete the upload and its file.
        if let Some(id) = attachment_id {
            attachment::discard(&state.pool, &attachment_store(state), who, id)
                .await
                .map_err(|e| AppError::Internal(e.to_string()))?;
        }
    }
    match submitted {
        Ok(_) => Ok(Ok(())),
        Err(ViewError::Invalid(v)) => Ok(Err(submission_errors(&v))),
        Err(e) => Err(view_error(e)),
    }
}

/// Where the customers' uploads are kept: `<data_dir>/attachments`, outside any web root.
pub fn attachment_store(state: &AppState) -> AttachmentStore {
    AttachmentStore::new(
        state.config.data_dir.join("attachments"),
        AttachmentStore::DEFAULT_MAX_BYTES,
    )
}
