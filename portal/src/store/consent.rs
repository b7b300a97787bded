//! Consents (marketing, commercial, e-invoice, channels, alarm notifications) with their full
//! history: every grant or withdrawal is a new row of the append-only `consent` table and the
//! latest counts. The e-invoice consent also switches billing's `customer.einvoice`, in the
//! same transaction.

use super::StoreError;
use chrono::{DateTime, Utc};
use ewoda_common::scope::CustomerId;
use serde::Serialize;
use sqlx::{PgConnection, PgPool, Row};

/// What a consent is for (the `consent.kind` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentKind {
    /// Invoices electronically instead of on paper.
    Einvoice,
    /// Contact by e-mail.
    Email,
    /// Contact by SMS.
    Sms,
    /// Web Push notifications.
    Push,
    /// Marketing messages.
    Marketing,
    /// Commercial information by electronic means.
    Commercial,
    /// Alarm notifications (leaks and the like) by e-mail/SMS.
    AlarmNotifications,
}

impl ConsentKind {
    /// Every kind, in display order.
    pub const ALL: [ConsentKind; 7] = [
        ConsentKind::Einvoice,
        ConsentKind::AlarmNotifications,
        ConsentKind::Email,
        ConsentKind::Sms,
        ConsentKind::Push,
        ConsentKind::Marketing,
        ConsentKind::Commercial,
    ];

    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentKind::Einvoice => "einvoice",
            ConsentKind::Email => "email",
            ConsentKind::Sms => "sms",
            ConsentKind::Push => "push",
            ConsentKind::Marketing => "marketing",
            ConsentKind::Commercial => "commercial",
            ConsentKind::AlarmNotifications => "alarm_notifications",
        }
    }

    /// Parses a column or form value.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| StoreError::field("kind", "invalid", format!("{s:?} is not a consent")))
    }
}

/// Where a consent was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentChannel {
    /// In eBOK by the customer.
    Ebok,
    /// At the office by a clerk.
    Office,
    /// On a paper form.
    Paper,
}

impl ConsentChannel {
    fn as_str(self) -> &'static str {
        match self {
            ConsentChannel::Ebok => "ebok",
            ConsentChannel::Office => "office",
            ConsentChannel::Paper => "paper",
        }
    }
}

/// The state of one consent now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentState {
    /// The consent.
    pub kind: ConsentKind,
    /// Granted (false when withdrawn or never given).
    pub granted: bool,
    /// When last changed (None: never asked).
    pub at: Option<DateTime<Utc>>,
}

/// One grant or withdrawal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentEvent {
    /// The row.
    pub consent_id: i64,
    /// The consent.
    pub kind: String,
    /// Granted or withdrawn.
    pub granted: bool,
    /// When.
    pub at: DateTime<Utc>,
    /// `ebok`, `office` or `paper`.
    pub channel: String,
    /// The user who recorded it.
    pub by_user_id: Option<i64>,
}

/// Every consent kind with its current state.
pub async fn current(
    conn: &mut PgConnection,
    customer: CustomerId,
) -> Result<Vec<ConsentState>, StoreError> {
    let rows = sqlx::query(
        "select distinct on (kind) kind, granted, at from consent where customer_id = $1
         order by kind, at desc, consent_id desc",
    )
    .bind(customer.get())
    .fetch_all(conn)
    .await?;
    let mut out = Vec::with_capacity(ConsentKind::ALL.len());
    for kind in ConsentKind::ALL {
        let row = rows
            .iter()
            .find(|r| r.try_get::<&str, _>("kind").ok() == Some(kind.as_str()));
        out.push(match row {
            Some(r) => ConsentState {
                kind,
                granted: r.try_get("granted")?,
                at: Some(r.try_get("at")?),
            },
            None => ConsentState {
                kind,
                granted: false,
                at: None,
            },
        });
    }
    Ok(out)
}

/// The full history, newest first.
pub async fn history(
    conn: &mut PgConnection,
    customer: CustomerId,
) -> Result<Vec<ConsentEvent>, StoreError> {
    let rows = sqlx::query(
        "select consent_id, kind, granted, at, channel, by_user_id from consent
         where customer_id = $1 order by at desc, consent_id desc",
    )
    .bind(customer.get())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ConsentEvent {
                consent_id: r.try_get("consent_id")?,
                kind: r.try_get("kind")?,
                granted: r.try_get("granted")?,
                at: r.try_get("at")?,
                channel: r.try_get("channel")?,
                by_user_id: r.try_get("by_user_id")?,
            })
        })
        .collect()
}

/// Grants or withdraws a consent (one transaction); a change to the current state appends a
/// row, repeating the current state appends nothing. Returns whether it changed.
pub async fn set(
    pool: &PgPool,
    customer: CustomerId,
    kind: ConsentKind,
    granted: bool,
    by_user_id: Option<i64>,
    channel: ConsentChannel,
) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    let changed = set_in(&mut tx, customer, kind, granted, by_user_id, channel).await?;
    tx.commit().await?;
    Ok(changed)
}

/// [`set`] inside the caller's transaction (a form of several consents saves all or none).
pub async fn set_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    customer: CustomerId,
    kind: ConsentKind,
    granted: bool,
    by_user_id: Option<i64>,
    channel: ConsentChannel,
) -> Result<bool, StoreError> {
    // The customer row lock orders concurrent changes of one customer's consents.
    sqlx::query("select 1 from customer where customer_id = $1 for update")
        .bind(customer.get())
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("customer {customer}")))?;
    let now: Option<bool> = sqlx::query_scalar(
        "select granted from consent where customer_id = $1 and kind = $2
         order by at desc, consent_id desc limit 1",
    )
    .bind(customer.get())
    .bind(kind.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    if now.unwrap_or(false) == granted && now.is_some() {
        return Ok(false);
    }
    sqlx::query(
        "insert into consent (customer_id, kind, granted, by_user_id, channel)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(customer.get())
    .bind(kind.as_str())
    .bind(granted)
    .bind(by_user_id)
    .bind(channel.as_str())
    .execute(&mut **tx)
    .await?;
    if kind == ConsentKind::Einvoice {
        let actor = match by_user_id {
            Some(u) => format!("user:{u}"),
            None => format!("customer:{customer}"),
        };
        ewoda_billing::customer::set_einvoice(&mut *tx, customer, granted, &actor).await?;
    }
    Ok(true)
}
