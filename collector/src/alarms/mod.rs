//! Alarms: open (at most one open per meter and kind, or per district and kind), deduplicate
//! (occurrences, last_seen_at), escalate ([`escalation`]) and clear; each change writes its
//! notification_outbox rows in the caller's transaction (console always; email/SMS only with
//! the customer's alarm consent). Also the rules evaluated on the stored series (suspected
//! leak, no data here; night flow per district in [`night_flow`]).

pub mod escalation;
pub mod night_flow;

pub use escalation::{escalate, EscalationConfig, EscalationReport, KindEscalation};
pub use night_flow::{evaluate_night_flow, NightFlowConfig, NightFlowReport};

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use std::collections::BTreeMap;

/// The `alarm.kind` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmKind {
    Leak,
    Burst,
    Backflow,
    Tamper,
    Dry,
    BatteryLow,
    SuspectedLeak,
    NightFlow,
    NoData,
    ReverseFlow,
    Implausible,
    Stuck,
    Clock,
}

impl AlarmKind {
    /// Every kind, in schema order.
    pub const ALL: [AlarmKind; 13] = [
        AlarmKind::Leak,
        AlarmKind::Burst,
        AlarmKind::Backflow,
        AlarmKind::Tamper,
        AlarmKind::Dry,
        AlarmKind::BatteryLow,
        AlarmKind::SuspectedLeak,
        AlarmKind::NightFlow,
        AlarmKind::NoData,
        AlarmKind::ReverseFlow,
        AlarmKind::Implausible,
        AlarmKind::Stuck,
        AlarmKind::Clock,
    ];

    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmKind::Leak => "leak",
            AlarmKind::Burst => "burst",
            AlarmKind::Backflow => "backflow",
            AlarmKind::Tamper => "tamper",
            AlarmKind::Dry => "dry",
            AlarmKind::BatteryLow => "battery_low",
            AlarmKind::SuspectedLeak => "suspected_leak",
            AlarmKind::NightFlow => "night_flow",
            AlarmKind::NoData => "no_data",
            AlarmKind::ReverseFlow => "reverse_flow",
            AlarmKind::Implausible => "implausible",
            AlarmKind::Stuck => "stuck",
            AlarmKind::Clock => "clock",
        }
    }

    /// Parses a column value.
    pub fn parse(s: &str) -> Option<AlarmKind> {
        AlarmKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// How urgent an operator should treat it.
    pub fn severity(self) -> &'static str {
        match self {
            AlarmKind::Leak | AlarmKind::Burst | AlarmKind::Backflow => "critical",
            AlarmKind::BatteryLow | AlarmKind::NoData | AlarmKind::Clock => "info",
            _ => "warning",
        }
    }
}

/// What [`raise`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Raised {
    /// A new alarm was opened (and notified).
    Opened(i64),
    /// An open alarm of that kind existed; its occurrences and last_seen_at went up.
    Repeated(i64),
}

/// What an alarm is about: one meter, or a district as a whole (`meter_id` null).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Meter(i64),
    District(i64),
}

/// Opens an alarm of `kind` on the meter or, when one is open, counts the repeat.
pub async fn raise(
    conn: &mut PgConnection,
    meter_id: i64,
    kind: AlarmKind,
    at: DateTime<Utc>,
    source: &str,
    details: &serde_json::Value,
) -> Result<Raised, sqlx::Error> {
    let (id, inserted): (i64, bool) = sqlx::query_as(
        "insert into alarm (meter_id, kind, severity, source, opened_at, last_seen_at, details)
         values ($1, $2, $3, $4, $5, $5, $6)
         on conflict (meter_id, kind)
             where state in ('open', 'acknowledged', 'assigned') and meter_id is not null
         do update set occurrences = alarm.occurrences + 1,
                       last_seen_at = greatest(alarm.last_seen_at, excluded.last_seen_at),
                       details = alarm.details || excluded.details
         returning alarm_id, (xmax = 0)",
    )
    .bind(meter_id)
    .bind(kind.as_str())
    .bind(kind.severity())
    .bind(source)
    .bind(at)
    .bind(details)
    .fetch_one(&mut *conn)
    .await?;
    if inserted {
        let target = Target::Meter(meter_id);
        notify(conn, &Notice::new(id, target, kind, "opened", at)).await?;
        Ok(Raised::Opened(id))
    } else {
        Ok(Raised::Repeated(id))
    }
}

/// Opens an alarm of `kind` on a district (a rule on the district's series, e.g. night flow)
/// or counts a repeat on the open one. Re-evaluating a period changes nothing (None): a repeat
/// counts only when `at` is later than the open alarm's last_seen_at, and no alarm opens for a
/// period an earlier one (since resolved or cleared) was already seen at.
pub async fn raise_on_district(
    conn: &mut PgConnection,
    district_id: i64,
    kind: AlarmKind,
    at: DateTime<Utc>,
    source: &str,
    details: &serde_json::Value,
) -> Result<Option<Raised>, sqlx::Error> {
    let row: Option<(i64, bool)> = sqlx::query_as(
        "insert into alarm (district_id, kind, severity, source, opened_at, last_seen_at, details)
         select $1, $2, $3, $4, $5, $5, $6
         where not exists (select 1 from alarm a where a.district_id = $1 and a.meter_id is null
                             and a.kind = $2 and a.last_seen_at >= $5)
         on conflict (district_id, kind)
             where state in ('open', 'acknowledged', 'assigned') and meter_id is null
         do update set occurrences = alarm.occurrences + 1,
                       last_seen_at = excluded.last_seen_at,
                       details = alarm.details || excluded.details
             where alarm.last_seen_at < excluded.last_seen_at
         returning alarm_id, (xmax = 0)",
    )
    .bind(district_id)
    .bind(kind.as_str())
    .bind(kind.severity())
    .bind(source)
    .bind(at)
    .bind(details)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        Some((id, true)) => {
            let target = Target::District(district_id);
            notify(conn, &Notice::new(id, target, kind, "opened", at)).await?;
            Some(Raised::Opened(id))
        }
        Some((id, false)) => Some(Raised::Repeated(id)),
        None => None,
    })
}

/// Clears the open alarm of `kind` on the meter, unless it was seen after `at` (a stale
/// clear). Returns the cleared alarm's id.
pub async fn clear(
    conn: &mut PgConnection,
    meter_id: i64,
    kind: AlarmKind,
    at: DateTime<Utc>,
) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64, String)> = sqlx::query_as(
        "update alarm set state = 'cleared', cleared_at = $3
         where meter_id = $1 and kind = $2 and state in ('open', 'acknowledged', 'assigned')
           and last_seen_at <= $3
         returning alarm_id, severity",
    )
    .bind(meter_id)
    .bind(kind.as_str())
    .bind(at)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id, severity)) = row else {
        return Ok(None);
    };
    let mut n = Notice::new(id, Target::Meter(meter_id), kind, "cleared", at);
    n.severity = &severity;
    notify(conn, &n).await?;
    Ok(Some(id))
}

/// [`clear`] for a district alarm; `details` (what the clearing evaluation found) are merged
/// into the alarm's.
pub async fn clear_on_district(
    conn: &mut PgConnection,
    district_id: i64,
    kind: AlarmKind,
    at: DateTime<Utc>,
    details: &serde_json::Value,
) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64, String)> = sqlx::query_as(
        "update alarm set state = 'cleared', cleared_at = $3, details = details || $4
         where district_id = $1 and meter_id is null and kind = $2
           and state in ('open', 'acknowledged', 'assigned') and last_seen_at <= $3
         returning alarm_id, severity",
    )
    .bind(district_id)
    .bind(kind.as_str())
    .bind(at)
    .bind(details)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id, severity)) = row else {
        return Ok(None);
    };
    let mut n = Notice::new(id, Target::District(district_id), kind, "cleared", at);
    n.severity = &severity;
    notify(conn, &n).await?;
    Ok(Some(id))
}

/// [`clear`] for many (meter, kind, at) in one statement: each open alarm is cleared at the
/// earliest of its `at`s not before its last_seen_at (what clearing them one by one in time
/// order does). Returns the cleared alarms' ids.
pub async fn clear_many(
    conn: &mut PgConnection,
    clears: &[(i64, AlarmKind, DateTime<Utc>)],
) -> Result<Vec<i64>, sqlx::Error> {
    if clears.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = clears.iter().map(|c| c.0).collect();
    let kinds: Vec<&str> = clears.iter().map(|c| c.1.as_str()).collect();
    let ats: Vec<DateTime<Utc>> = clears.iter().map(|c| c.2).collect();
    let rows: Vec<(i64, i64, String, String, DateTime<Utc>)> = sqlx::query_as(
        "with c as (
             select a.alarm_id, min(u.at) as at
             from unnest($1::bigint[], $2::text[], $3::timestamptz[]) as u(meter_id, kind, at)
             join alarm a on a.meter_id = u.meter_id and a.kind = u.kind
              and a.state in ('open', 'acknowledged', 'assigned') and a.last_seen_at <= u.at
             group by a.alarm_id)
         update alarm a set state = 'cleared', cleared_at = c.at
         from c where a.alarm_id = c.alarm_id
         returning a.alarm_id, a.meter_id, a.kind, a.severity, c.at",
    )
    .bind(&ids)
    .bind(&kinds)
    .bind(&ats)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, meter_id, kind, severity, at) in rows {
        let Some(kind) = AlarmKind::parse(&kind) else {
            continue;
        };
        let mut n = Notice::new(id, Target::Meter(meter_id), kind, "cleared", at);
        n.severity = &severity;
        notify(conn, &n).await?;
        out.push(id);
    }
    Ok(out)
}

/// One change of an alarm, as [`notify`] announces it.
struct Notice<'a> {
    alarm_id: i64,
    target: Target,
    kind: AlarmKind,
    /// The alarm's severity after the change.
    severity: &'a str,
    /// `opened`, `cleared`, `escalated` (the template is `alarm_<event>`).
    event: &'a str,
    /// The escalation level an `escalated` change reached: part of its dedup key, since an
    /// alarm can escalate more than once.
    level: Option<i16>,
    at: DateTime<Utc>,
    /// Merged into the payload.
    extra: serde_json::Value,
}

impl<'a> Notice<'a> {
    fn new(
        alarm_id: i64,
        target: Target,
        kind: AlarmKind,
        event: &'a str,
        at: DateTime<Utc>,
    ) -> Self {
        Notice {
            alarm_id,
            target,
            kind,
            severity: kind.severity(),
            event,
            level: None,
            at,
            extra: serde_json::Value::Null,
        }
    }
}

/// Writes the outbox rows of an alarm change: one for the operator console and, for a meter
/// alarm whose meter supplies a customer who has granted `alarm_notifications`, one per contact
/// channel (email, SMS). District alarms go to the console only. `dedup_key` makes a retried
/// transaction (or a second collector doing the same change) write nothing twice.
async fn notify(conn: &mut PgConnection, n: &Notice<'_>) -> Result<(), sqlx::Error> {
    let mut payload = serde_json::json!({
        "alarm_id": n.alarm_id,
        "kind": n.kind.as_str(),
        "severity": n.severity,
        "event": n.event,
        "at": n.at.to_rfc3339(),
    });
    let mut rows: Vec<(&str, Option<i64>, Option<String>)> = vec![("console", None, None)];
    match n.target {
        Target::Meter(meter_id) => {
            let serial: Option<String> =
                sqlx::query_scalar("select serial from meter where meter_id = $1")
                    .bind(meter_id)
                    .fetch_optional(&mut *conn)
                    .await?;
            payload["meter_id"] = meter_id.into();
            payload["serial"] = serial.into();
            for (customer_id, email, phone) in consenting_customers(conn, meter_id, n.at).await? {
                if let Some(e) = email {
                    rows.push(("email", Some(customer_id), Some(e)));
                }
                if let Some(p) = phone {
                    rows.push(("sms", Some(customer_id), Some(p)));
                }
            }
        }
        Target::District(district_id) => {
            let code: Option<String> =
                sqlx::query_scalar("select code from district where district_id = $1")
                    .bind(district_id)
                    .fetch_optional(&mut *conn)
                    .await?;
            payload["district_id"] = district_id.into();
            payload["district"] = code.into();
        }
    }
    if let Some(level) = n.level {
        payload["level"] = level.into();
    }
    if let (Some(p), Some(extra)) = (payload.as_object_mut(), n.extra.as_object()) {
        p.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let template = format!("alarm_{}", n.event);
    let event = match n.level {
        Some(level) => format!("{}:{level}", n.event),
        None => n.event.to_string(),
    };
    for (channel, customer_id, recipient) in rows {
        let dedup = match customer_id {
            Some(c) => format!("alarm:{}:{event}:{channel}:{c}", n.alarm_id),
            None => format!("alarm:{}:{event}:{channel}", n.alarm_id),
        };
        sqlx::query(
            "insert into notification_outbox (topic, channel, customer_id, recipient, template,
                                              payload, dedup_key)
             values ('alarm', $1, $2, $3, $4, $5, $6)
             on conflict (dedup_key) do nothing",
        )
        .bind(channel)
        .bind(customer_id)
        .bind(recipient)
        .bind(&template)
        .bind(&payload)
        .bind(dedup)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Customers supplied by the meter at `at` (installation and contract valid then, not
/// anonymised) whose latest `alarm_notifications` consent is granted: (id, email, phone).
async fn consenting_customers(
    conn: &mut PgConnection,
    meter_id: i64,
    at: DateTime<Utc>,
) -> Result<Vec<(i64, Option<String>, Option<String>)>, sqlx::Error> {
    sqlx::query_as(
        "select distinct c.customer_id, c.email, c.phone
         from meter_installation i
         join contract k on k.premises_id = i.premises_id
              and k.valid_from <= ($2 at time zone 'Europe/Warsaw')::date
              and (k.valid_to is null or k.valid_to >= ($2 at time zone 'Europe/Warsaw')::date)
         join customer c on c.customer_id = k.customer_id and c.anonymised_at is null
         where i.meter_id = $1 and i.installed_at <= $2
           and (i.removed_at is null or i.removed_at >= $2)
           and coalesce((select s.granted from consent s
                          where s.customer_id = c.customer_id and s.kind = 'alarm_notifications'
                          order by s.at desc, s.consent_id desc limit 1), false)",
    )
    .bind(meter_id)
    .bind(at)
    .fetch_all(&mut *conn)
    .await
}

/// Tunables of the series rules.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleConfig {
    /// Raise `no_data` when an active meter's latest reading is older than this many days.
    pub no_data_days: Option<u32>,
}

impl Default for RuleConfig {
    fn default() -> Self {
        RuleConfig {
            no_data_days: Some(3),
        }
    }
}

/// What one evaluation of the series rules changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleReport {
    pub opened: u64,
    pub repeated: u64,
    pub cleared: u64,
}

/// Outcome of the suspected-leak rule for one meter's hourly registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeakVerdict {
    /// Every one of the last 24 hours had flow.
    Leak,
    /// At least one hour without flow.
    NoLeak,
    /// The 24 hours are not fully covered by readings.
    Unknown,
}

/// The suspected-leak rule on the last register of each hour (`hour start → register`):
/// the 24 hourly deltas ending at `end` (an hour boundary) need all 25 hour buckets.
pub fn leak_rule(hourly_last: &BTreeMap<DateTime<Utc>, i64>, end: DateTime<Utc>) -> LeakVerdict {
    let mut values = Vec::with_capacity(25);
    for h in (1..=25).rev() {
        match hourly_last.get(&(end - Duration::hours(h))) {
            Some(v) => values.push(*v),
            None => {
                // One zero-flow hour is enough to clear, even when others are missing.
                return if values.windows(2).any(|w| w[0] == w[1]) {
                    LeakVerdict::NoLeak
                } else {
                    LeakVerdict::Unknown
                };
            }
        }
    }
    if values.windows(2).any(|w| w[0] == w[1]) {
        LeakVerdict::NoLeak
    } else {
        LeakVerdict::Leak
    }
}

/// Evaluates the rules on the stored series as of `now`: "no zero-flow hour in 24 h →
/// suspected_leak" for meters read in the last 25 hours and, when configured, "no data for N
/// days" for active meters. One transaction.
pub async fn evaluate_series_rules(
    pool: &PgPool,
    cfg: &RuleConfig,
    now: DateTime<Utc>,
) -> Result<RuleReport, sqlx::Error> {
    let end = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
    let mut tx = pool.begin().await?;
    let rows: Vec<(i64, DateTime<Utc>, i64)> = sqlx::query_as(
        "select meter_id, date_trunc('hour', read_at) as h,
                (array_agg(volume_ml order by read_at desc))[1]
         from reading
         where read_at >= $1 - interval '25 hours' and read_at < $1
         group by meter_id, h",
    )
    .bind(end)
    .fetch_all(&mut *tx)
    .await?;
    let mut by_meter: BTreeMap<i64, BTreeMap<DateTime<Utc>, i64>> = BTreeMap::new();
    for (m, h, v) in rows {
        by_meter.entry(m).or_default().insert(h, v);
    }
    let mut report = RuleReport::default();
    for (meter_id, hours) in &by_meter {
        match leak_rule(hours, end) {
            LeakVerdict::Leak => {
                let details = serde_json::json!({"rule": "no_zero_flow_hour_24h"});
                match raise(
                    &mut tx,
                    *meter_id,
                    AlarmKind::SuspectedLeak,
                    end,
                    "rule",
                    &details,
                )
                .await?
                {
                    Raised::Opened(_) => report.opened += 1,
                    Raised::Repeated(_) => report.repeated += 1,
                }
            }
            LeakVerdict::NoLeak => {
                if clear(&mut tx, *meter_id, AlarmKind::SuspectedLeak, end)
                    .await?
                    .is_some()
                {
                    report.cleared += 1;
                }
            }
            LeakVerdict::Unknown => {}
        }
    }
    if let Some(days) = cfg.no_data_days {
        let latest: Vec<(i64, Option<DateTime<Utc>>)> = sqlx::query_as(
            "select m.meter_id,
                    (select r.read_at from reading r where r.meter_id = m.meter_id
                     order by r.read_at desc limit 1)
             from meter m where m.status = 'active'",
        )
        .fetch_all(&mut *tx)
        .await?;
        let limit = now - Duration::days(i64::from(days));
        for (meter_id, last) in latest {
            let Some(last) = last else { continue };
            if last < limit {
                let details = serde_json::json!({"rule": "no_data", "days": days,
                                                 "last_read_at": last.to_rfc3339()});
                match raise(&mut tx, meter_id, AlarmKind::NoData, now, "rule", &details).await? {
                    Raised::Opened(_) => report.opened += 1,
                    Raised::Repeated(_) => report.repeated += 1,
                }
            } else if clear(&mut tx, meter_id, AlarmKind::NoData, now)
                .await?
                .is_some()
            {
                report.cleared += 1;
            }
        }
    }
    tx.commit().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn leak_rule_needs_flow_every_hour() {
        let end = Utc.with_ymd_and_hms(2026, 5, 2, 0, 0, 0).unwrap();
        let series = |f: &dyn Fn(i64) -> i64| -> BTreeMap<DateTime<Utc>, i64> {
            (1..=25).map(|h| (end - Duration::hours(h), f(h))).collect()
        };
        assert_eq!(leak_rule(&series(&|h| 1000 - h), end), LeakVerdict::Leak);
        // The register stood still between 03:00 and 04:00.
        let still = series(&|h| if h == 21 { 1000 - 22 } else { 1000 - h });
        assert_eq!(leak_rule(&still, end), LeakVerdict::NoLeak);
        let mut gap = series(&|h| 1000 - h);
        gap.remove(&(end - Duration::hours(3)));
        assert_eq!(leak_rule(&gap, end), LeakVerdict::Unknown);
        assert_eq!(leak_rule(&BTreeMap::new(), end), LeakVerdict::Unknown);
    }

    #[test]
    fn kinds_round_trip() {
        for k in AlarmKind::ALL {
            assert_eq!(AlarmKind::parse(k.as_str()), Some(k));
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
        }
    }
}
