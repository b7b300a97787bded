//! Notification preferences per topic and channel, and the Web Push subscriptions of a user.
//! A topic/channel pair never set falls back to [`default_enabled`]; delivery still needs the
//! channel's consent.

use super::StoreError;
use chrono::{DateTime, Utc};
use ewoda_common::scope::{CustomerId, FieldError};
use serde::Serialize;
use sqlx::{PgConnection, PgPool, Row};

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// A new invoice was issued.
    NewInvoice,
    /// A payment falls due soon.
    PaymentDue,
    /// A payment is overdue.
    Overdue,
    /// Meter readings are planned in the area.
    ReadingsPlanned,
    /// A leak (or similar) alarm on the customer's meter.
    LeakAlarm,
    /// An application/case changed status.
    CaseStatus,
    /// A warning for the customer's area (contamination, outage).
    AreaWarning,
}

/// How it is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// E-mail.
    Email,
    /// SMS.
    Sms,
    /// Web Push.
    Push,
}

impl Topic {
    /// Every topic, in display order.
    pub const ALL: [Topic; 7] = [
        Topic::NewInvoice,
        Topic::PaymentDue,
        Topic::Overdue,
        Topic::ReadingsPlanned,
        Topic::LeakAlarm,
        Topic::CaseStatus,
        Topic::AreaWarning,
    ];

    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::NewInvoice => "new_invoice",
            Topic::PaymentDue => "payment_due",
            Topic::Overdue => "overdue",
            Topic::ReadingsPlanned => "readings_planned",
            Topic::LeakAlarm => "leak_alarm",
            Topic::CaseStatus => "case_status",
            Topic::AreaWarning => "area_warning",
        }
    }

    /// Parses a column or form value.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::Sms, Channel::Push];

    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
        }
    }

    /// Parses a column or form value.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Before a customer chooses: e-mail for everything, SMS for alarms and area warnings, no push
/// (a browser must subscribe first).
pub fn default_enabled(topic: Topic, channel: Channel) -> bool {
    match channel {
        Channel::Email => true,
        Channel::Sms => matches!(topic, Topic::LeakAlarm | Topic::AreaWarning),
        Channel::Push => false,
    }
}

/// One cell of the preference matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Preference {
    /// Topic.
    pub topic: Topic,
    /// Channel.
    pub channel: Channel,
    /// Wanted.
    pub enabled: bool,
    /// False while it is the default.
    pub chosen: bool,
}

/// The full topic × channel matrix of the customer.
pub async fn matrix(
    conn: &mut PgConnection,
    customer: CustomerId,
) -> Result<Vec<Preference>, StoreError> {
    let rows = sqlx::query(
        "select topic, channel, enabled from notification_preference where customer_id = $1",
    )
    .bind(customer.get())
    .fetch_all(conn)
    .await?;
    let mut stored = std::collections::HashMap::new();
    for r in &rows {
        let t: String = r.try_get("topic")?;
        let c: String = r.try_get("channel")?;
        if let (Some(t), Some(c)) = (Topic::parse(&t), Channel::parse(&c)) {
            stored.insert((t, c), r.try_get::<bool, _>("enabled")?);
        }
    }
    let mut out = Vec::new();
    for topic in Topic::ALL {
        for channel in Channel::ALL {
            let chosen = stored.get(&(topic, channel)).copied();
            out.push(Preference {
                topic,
                channel,
                enabled: chosen.unwrap_or_else(|| default_enabled(topic, channel)),
                chosen: chosen.is_some(),
            });
        }
    }
    Ok(out)
}

/// Sets cells given as (`topic`, `channel`, enabled) form values, all in one transaction;
/// an unknown topic or channel is refused naming `preferences[i].topic`/`.channel`.
pub async fn set(
    pool: &PgPool,
    customer: CustomerId,
    cells: &[(String, String, bool)],
) -> Result<(), StoreError> {
    let mut errors = Vec::new();
    let mut parsed = Vec::with_capacity(cells.len());
    for (i, (t, c, on)) in cells.iter().enumerate() {
        match (Topic::parse(t), Channel::parse(c)) {
            (Some(t), Some(c)) => parsed.push((t, c, *on)),
            (None, _) => errors.push(FieldError::new(
                format!("preferences[{i}].topic"),
                "invalid",
                format!("{t:?} is not a topic"),
            )),
            (_, None) => errors.push(FieldError::new(
                format!("preferences[{i}].channel"),
                "invalid",
                format!("{c:?} is not a channel"),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(StoreError::Invalid(errors));
    }
    let mut tx = pool.begin().await?;
    for (t, c, on) in parsed {
        sqlx::query(
            "insert into notification_preference (customer_id, channel, topic, enabled)
             values ($1, $2, $3, $4)
             on conflict (customer_id, channel, topic)
             do update set enabled = excluded.enabled, updated_at = now()",
        )
        .bind(customer.get())
        .bind(c.as_str())
        .bind(t.as_str())
        .bind(on)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A browser's Web Push subscription (from `PushSubscription.toJSON()`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushSubscription {
    /// The push service URL.
    pub endpoint: String,
    /// The browser's P-256 public key (base64url).
    pub p256dh: String,
    /// The auth secret (base64url).
    pub auth: String,
    /// The browser, for the list of devices.
    pub user_agent: Option<String>,
    /// Subscribed at.
    pub created_at: Option<DateTime<Utc>>,
}

fn base64url(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
}

impl PushSubscription {
    /// Field errors: `endpoint` must be an https URL, `p256dh` and `auth` base64url.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut e = Vec::new();
        if !self.endpoint.starts_with("https://") || self.endpoint.len() > 2000 {
            e.push(FieldError::new(
                "endpoint",
                "invalid",
                "must be an https URL",
            ));
        }
        if !base64url(&self.p256dh) || self.p256dh.len() > 200 {
            e.push(FieldError::new(
                "p256dh",
                "invalid",
                "must be a base64url key",
            ));
        }
        if !base64url(&self.auth) || self.auth.len() > 100 {
            e.push(FieldError::new(
                "auth",
                "invalid",
                "must be a base64url secret",
            ));
        }
        e
    }
}

/// Stores the subscription for the logged-in user (re-subscribing the same endpoint moves it
/// to this user with the new keys).
pub async fn subscribe(
    pool: &PgPool,
    user_id: i64,
    s: &PushSubscription,
) -> Result<(), StoreError> {
    let errors = s.validate();
    if !errors.is_empty() {
        return Err(StoreError::Invalid(errors));
    }
    sqlx::query(
        "insert into push_subscription (user_id, endpoint, p256dh, auth, user_agent)
         values ($1, $2, $3, $4, $5)
         on conflict (endpoint) do update set user_id = excluded.user_id, p256dh = excluded.p256dh,
             auth = excluded.auth, user_agent = excluded.user_agent",
    )
    .bind(user_id)
    .bind(&s.endpoint)
    .bind(&s.p256dh)
    .bind(&s.auth)
    .bind(&s.user_agent)
    .execute(pool)
    .await?;
    Ok(())
}

/// Removes one of the user's subscriptions; false when it was not theirs.
pub async fn unsubscribe(pool: &PgPool, user_id: i64, endpoint: &str) -> Result<bool, StoreError> {
    let n = sqlx::query("delete from push_subscription where user_id = $1 and endpoint = $2")
        .bind(user_id)
        .bind(endpoint)
        .execute(pool)
        .await?
        .rows_affected();
    Ok(n > 0)
}

/// The user's subscriptions, newest first.
pub async fn subscriptions(
    conn: &mut PgConnection,
    user_id: i64,
) -> Result<Vec<PushSubscription>, StoreError> {
    let rows = sqlx::query(
        "select endpoint, p256dh, auth, user_agent, created_at from push_subscription
         where user_id = $1 order by created_at desc, push_subscription_id desc",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PushSubscription {
                endpoint: r.try_get("endpoint")?,
                p256dh: r.try_get("p256dh")?,
                auth: r.try_get("auth")?,
                user_agent: r.try_get("user_agent")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}
