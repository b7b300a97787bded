//! Readings customers submit in eBOK (main or sub-meter, optional photo): validated against
//! the meter's installation and history, stored in `submitted_reading` as pending, then
//! accepted by a clerk — written through the collector's normal batch path
//! ([`process_batch`], so VEE and the daily rollups apply) with source `customer` — or
//! rejected with an answer the customer sees.

use super::{windows, MeterWindow, ViewError};
use crate::pipeline::vee::VeeConfig;
use crate::pipeline::writer::{process_batch, PartitionCover};
use crate::pipeline::{Item, MeterReading, MeterRef};
use crate::store::Source;
use chrono::{DateTime, Duration, Utc};
use ewoda_common::scope::{CustomerId, FieldError};
use ewoda_common::Volume;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgConnection, PgPool, Row};

/// What the customer submits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubmission {
    /// The meter (main or sub-meter) read.
    pub meter_id: i64,
    /// When the customer read it.
    pub read_at: DateTime<Utc>,
    /// The register in m³ as on the dial (up to 6 decimals).
    pub value_m3: Decimal,
    /// A photo of the dial (an `attachment` of the same customer).
    pub attachment_id: Option<i64>,
    /// A note for the clerk.
    pub note: Option<String>,
}

/// How strict the plausibility checks are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plausibility {
    /// The use since the last reading may be at most this many times the highest daily use
    /// seen in the last year, per day elapsed.
    pub factor: i64,
    /// The daily use assumed when the history is lower or missing (millilitres).
    pub min_daily_ml: i64,
    /// How far back a reading may be dated.
    pub max_age_days: i64,
    /// How far into the future a reading may be dated (clock differences).
    pub future_tolerance_secs: i64,
}

impl Default for Plausibility {
    fn default() -> Self {
        Plausibility {
            factor: 3,
            min_daily_ml: 1_000_000,
            max_age_days: 31,
            future_tolerance_secs: 300,
        }
    }
}

struct Baseline {
    read_at: DateTime<Utc>,
    ml: i64,
}

/// The latest reading at or before `t` within the installation, else the installation read.
async fn baseline(
    conn: &mut PgConnection,
    w: &MeterWindow,
    t: DateTime<Utc>,
) -> Result<Baseline, sqlx::Error> {
    let row = sqlx::query(
        "select read_at, volume_ml from reading
         where meter_id = $1 and read_at >= $2 and read_at <= $3
         order by read_at desc limit 1",
    )
    .bind(w.meter_id)
    .bind(w.installed_at)
    .bind(t)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        Some(r) => Baseline {
            read_at: r.try_get("read_at")?,
            ml: r.try_get("volume_ml")?,
        },
        None => Baseline {
            read_at: w.installed_at,
            ml: w.installed_read_ml,
        },
    })
}

fn m3(ml: i64) -> Decimal {
    Volume::from_ml(ml).m3().normalize()
}

/// Checks of the value and date alone; returns the register in millilitres.
fn check_input(
    s: &NewSubmission,
    w: &MeterWindow,
    register_digits: i16,
    p: &Plausibility,
    now: DateTime<Utc>,
) -> Result<i64, ViewError> {
    let mut errors = Vec::new();
    let max_m3 = Decimal::from(10i64.pow(u32::try_from(register_digits).unwrap_or(5)));
    let ml = match Volume::from_m3(s.value_m3) {
        _ if s.value_m3.is_sign_negative() => {
            errors.push(FieldError::new(
                "value",
                "invalid",
                "a reading cannot be negative",
            ));
            0
        }
        _ if s.value_m3 >= max_m3 => {
            errors.push(FieldError::new(
                "value",
                "invalid",
                format!(
                    "{} m³ does not fit the meter's {register_digits}-digit register",
                    s.value_m3
                ),
            ));
            0
        }
        Some(v) => v.ml(),
        None => {
            errors.push(FieldError::new("value", "invalid", "at most 6 decimals"));
            0
        }
    };
    if s.read_at > now + Duration::seconds(p.future_tolerance_secs) {
        errors.push(FieldError::new(
            "read_at",
            "invalid",
            "the reading date is in the future",
        ));
    } else if s.read_at < now - Duration::days(p.max_age_days) {
        errors.push(FieldError::new(
            "read_at",
            "invalid",
            format!("the reading may be at most {} days old", p.max_age_days),
        ));
    } else if s.read_at < w.installed_at {
        errors.push(FieldError::new(
            "read_at",
            "invalid",
            format!("the meter was installed on {}", w.installed_at.date_naive()),
        ));
    }
    if s.note.as_ref().is_some_and(|n| n.chars().count() > 500) {
        errors.push(FieldError::new(
            "note",
            "too_long",
            "at most 500 characters",
        ));
    }
    if errors.is_empty() {
        Ok(ml)
    } else {
        Err(ViewError::Invalid(errors))
    }
}

/// Not below the last reading of this installation (a replaced meter starts a new one from
/// its installation read), and a plausible use since then.
async fn check_history(
    conn: &mut PgConnection,
    w: &MeterWindow,
    ml: i64,
    read_at: DateTime<Utc>,
    p: &Plausibility,
) -> Result<(), ViewError> {
    let base = baseline(&mut *conn, w, read_at).await?;
    if ml < base.ml {
        return Err(ViewError::field(
            "value",
            "below_last",
            format!(
                "{} m³ is below the last reading {} m³ of {}",
                m3(ml),
                m3(base.ml),
                base.read_at.date_naive()
            ),
        ));
    }
    let max_daily: Option<i64> = sqlx::query_scalar(
        "select max(consumption_ml) from reading_daily
         where meter_id = $1 and day >= ($2::timestamptz at time zone 'Europe/Warsaw')::date
           and day > ($3::timestamptz - interval '365 days')::date",
    )
    .bind(w.meter_id)
    .bind(w.installed_at)
    .bind(read_at)
    .fetch_one(&mut *conn)
    .await?;
    let daily = max_daily.unwrap_or(0).max(p.min_daily_ml);
    let days = ((read_at - base.read_at).num_seconds() + 86_399) / 86_400;
    let limit = p.factor.saturating_mul(daily).saturating_mul(days.max(1));
    if ml - base.ml > limit {
        return Err(ViewError::field(
            "value",
            "implausible",
            format!(
                "{} m³ used in {} day(s) since the last reading is implausible (at most {} m³ expected)",
                m3(ml - base.ml),
                days.max(1),
                m3(limit)
            ),
        ));
    }
    Ok(())
}

/// Validates and stores a customer's reading as pending; returns its id. Errors name the
/// field: `meter_id` (not the customer's, removed, or a reading already pending), `value`,
/// `read_at`, `note`, `attachment_id`.
pub async fn submit(
    pool: &PgPool,
    customer: CustomerId,
    s: &NewSubmission,
    p: &Plausibility,
    now: DateTime<Utc>,
) -> Result<i64, ViewError> {
    let mut tx = pool.begin().await?;
    let ws = windows(&mut tx, customer, s.meter_id).await?;
    let Some(w) = ws.iter().find(|w| w.removed_at.is_none()) else {
        let message = if ws.is_empty() {
            "not a meter of yours"
        } else {
            "this meter is no longer installed"
        };
        return Err(ViewError::field("meter_id", "not_found", message));
    };
    // Lock the meter so two submissions for it cannot both pass the pending check.
    let digits: i16 =
        sqlx::query_scalar("select register_digits from meter where meter_id = $1 for update")
            .bind(s.meter_id)
            .fetch_one(&mut *tx)
            .await?;
    let ml = check_input(s, w, digits, p, now)?;
    check_history(&mut tx, w, ml, s.read_at, p).await?;
    let pending: bool = sqlx::query_scalar(
        "select exists (select 1 from submitted_reading
                        where meter_id = $1 and customer_id = $2 and status = 'pending')",
    )
    .bind(s.meter_id)
    .bind(customer.get())
    .fetch_one(&mut *tx)
    .await?;
    if pending {
        return Err(ViewError::field(
            "meter_id",
            "pending",
            "a reading of this meter is already waiting for review",
        ));
    }
    if let Some(a) = s.attachment_id {
        let theirs: bool = sqlx::query_scalar(
            "select exists (select 1 from attachment where attachment_id = $1 and customer_id = $2)",
        )
        .bind(a)
        .bind(customer.get())
        .fetch_one(&mut *tx)
        .await?;
        if !theirs {
            return Err(ViewError::field(
                "attachment_id",
                "not_found",
                "no such photo of yours",
            ));
        }
    }
    let id: i64 = sqlx::query_scalar(
        "insert into submitted_reading (customer_id, meter_id, read_at, volume_ml, attachment_id, note)
         values ($1, $2, $3, $4, $5, $6) returning submitted_reading_id",
    )
    .bind(customer.get())
    .bind(s.meter_id)
    .bind(s.read_at)
    .bind(ml)
    .bind(s.attachment_id)
    .bind(&s.note)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// A submitted reading as the customer or the clerk sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubmissionView {
    /// The submission.
    pub submitted_reading_id: i64,
    /// Who submitted it.
    pub customer_id: i64,
    /// The meter.
    pub meter_id: i64,
    /// Its number.
    pub serial: String,
    /// When read.
    pub read_at: DateTime<Utc>,
    /// Register in millilitres.
    pub volume_ml: i64,
    /// Register in m³.
    pub volume_m3: Decimal,
    /// The photo.
    pub attachment_id: Option<i64>,
    /// The customer's note.
    pub note: Option<String>,
    /// `pending`, `accepted` or `rejected`.
    pub status: String,
    /// The clerk's answer.
    pub answer: Option<String>,
    /// Submitted at.
    pub created_at: DateTime<Utc>,
    /// Decided at.
    pub decided_at: Option<DateTime<Utc>>,
}

const SUBMISSION_SELECT: &str = "
    select s.submitted_reading_id, s.customer_id, s.meter_id, m.serial, s.read_at, s.volume_ml,
           s.attachment_id, s.note, s.status, s.answer, s.created_at, s.decided_at
    from submitted_reading s join meter m on m.meter_id = s.meter_id";

fn submission_row(r: &sqlx::postgres::PgRow) -> Result<SubmissionView, sqlx::Error> {
    let ml: i64 = r.try_get("volume_ml")?;
    Ok(SubmissionView {
        submitted_reading_id: r.try_get("submitted_reading_id")?,
        customer_id: r.try_get("customer_id")?,
        meter_id: r.try_get("meter_id")?,
        serial: r.try_get("serial")?,
        read_at: r.try_get("read_at")?,
        volume_ml: ml,
        volume_m3: Volume::from_ml(ml).m3(),
        attachment_id: r.try_get("attachment_id")?,
        note: r.try_get("note")?,
        status: r.try_get("status")?,
        answer: r.try_get("answer")?,
        created_at: r.try_get("created_at")?,
        decided_at: r.try_get("decided_at")?,
    })
}

/// The customer's submissions, newest first.
pub async fn of_customer(
    conn: &mut PgConnection,
    customer: CustomerId,
) -> Result<Vec<SubmissionView>, ViewError> {
    let rows = sqlx::query(&format!(
        "{SUBMISSION_SELECT} where s.customer_id = $1 order by s.created_at desc, s.submitted_reading_id desc"
    ))
    .bind(customer.get())
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(submission_row).collect::<Result<_, _>>()?)
}

/// The clerk's queue: every pending submission, oldest first.
pub async fn pending(conn: &mut PgConnection) -> Result<Vec<SubmissionView>, ViewError> {
    let rows = sqlx::query(&format!(
        "{SUBMISSION_SELECT} where s.status = 'pending' order by s.created_at, s.submitted_reading_id"
    ))
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(submission_row).collect::<Result<_, _>>()?)
}

/// Locks a pending submission; NotFound when it is missing or decided already.
async fn lock_pending(
    conn: &mut PgConnection,
    id: i64,
) -> Result<(i64, String, DateTime<Utc>, i64), ViewError> {
    let r = sqlx::query(
        "select s.meter_id, m.serial, s.read_at, s.volume_ml
         from submitted_reading s join meter m on m.meter_id = s.meter_id
         where s.submitted_reading_id = $1 and s.status = 'pending' for update of s",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| ViewError::NotFound(format!("pending submitted reading {id}")))?;
    Ok((
        r.try_get("meter_id")?,
        r.try_get("serial")?,
        r.try_get("read_at")?,
        r.try_get("volume_ml")?,
    ))
}

/// Accepts a pending submission: writes the reading (source `customer`) through the batch
/// path and marks it accepted, in one transaction. A reading VEE refuses (e.g. outside the
/// installation) leaves the submission pending and names the reason under `reading`.
pub async fn accept(
    pool: &PgPool,
    id: i64,
    clerk_user_id: i64,
    vee: &VeeConfig,
    now: DateTime<Utc>,
) -> Result<(), ViewError> {
    let mut tx = pool.begin().await?;
    let (_, serial, read_at, ml) = lock_pending(&mut tx, id).await?;
    let item = Item::Reading(MeterReading {
        meter: MeterRef::Serial(serial),
        read_at,
        volume: Volume::from_ml(ml),
        status: Vec::new(),
        source: Source::Customer,
    });
    let (report, _) = process_batch(&mut tx, vee, &PartitionCover::default(), &[item], now).await?;
    if let Some((_, reason)) = report.rejected.first() {
        return Err(ViewError::field("reading", "refused", reason.clone()));
    }
    decide(&mut tx, id, "accepted", clerk_user_id, None).await?;
    tx.commit().await?;
    Ok(())
}

/// Rejects a pending submission with the clerk's `answer` (required) for the customer.
pub async fn reject(
    pool: &PgPool,
    id: i64,
    clerk_user_id: i64,
    answer: &str,
) -> Result<(), ViewError> {
    if answer.trim().is_empty() {
        return Err(ViewError::field(
            "answer",
            "required",
            "say why the reading is rejected",
        ));
    }
    let mut tx = pool.begin().await?;
    lock_pending(&mut tx, id).await?;
    decide(&mut tx, id, "rejected", clerk_user_id, Some(answer.trim())).await?;
    tx.commit().await?;
    Ok(())
}

async fn decide(
    conn: &mut PgConnection,
    id: i64,
    status: &str,
    clerk_user_id: i64,
    answer: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update submitted_reading set status = $2, decided_by = $3, decided_at = now(), answer = $4
         where submitted_reading_id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(clerk_user_id)
    .bind(answer)
    .execute(conn)
    .await?;
    Ok(())
}
