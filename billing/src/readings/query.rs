//! The readings query API: billing's only SQL against the collector's tables (`meter`,
//! `reading`, `reading_daily`) and the installation history, each query in bulk, columns read
//! by name.

use super::{bounds, ml_to_m3, BoundReads, Installation, MeterRole, ReadSource, StoredRead};
use crate::store_error::StoreError;
use crate::tariff::Period;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::{PgConnection, Row};
use std::collections::{BTreeMap, HashMap};
/// Installations on `premises` active at some time in [from, to), or removed in the year
/// before (the last part of a removed meter may still be unbilled).
pub async fn installations(
    conn: &mut PgConnection,
    premises: &[i64],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<HashMap<i64, Vec<Installation>>, StoreError> {
    let rows = sqlx::query(
        "select mi.premises_id, mi.meter_id, mi.role, mi.installed_at, mi.installed_read_ml,
                mi.removed_at, mi.removed_read_ml, m.register_digits
         from meter_installation mi join meter m using (meter_id)
         where mi.premises_id = any($1) and mi.installed_at < $3
           and (mi.removed_at is null or mi.removed_at > $2 - interval '1 year')",
    )
    .bind(premises)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?;
    let mut out: HashMap<i64, Vec<Installation>> = HashMap::new();
    for r in rows {
        let role: String = r.try_get("role")?;
        let Some(role) = MeterRole::parse(&role) else {
            continue;
        };
        out.entry(r.try_get("premises_id")?)
            .or_default()
            .push(Installation {
                meter_id: r.try_get("meter_id")?,
                role,
                installed_at: r.try_get("installed_at")?,
                installed_read_ml: r.try_get("installed_read_ml")?,
                removed_at: r.try_get("removed_at")?,
                removed_read_ml: r.try_get("removed_read_ml")?,
                register_digits: u32::try_from(r.try_get::<i16, _>("register_digits")?)
                    .unwrap_or(5),
            });
    }
    Ok(out)
}

/// The reads nearest the bounds of each (meter, period) — one index probe per meter and bound.
pub async fn bound_reads(
    conn: &mut PgConnection,
    wanted: &[(i64, Period)],
    tolerance_days: u32,
) -> Result<HashMap<(i64, NaiveDate, NaiveDate), BoundReads>, StoreError> {
    let mut meters = Vec::with_capacity(wanted.len());
    let mut starts = Vec::with_capacity(wanted.len());
    let mut ends = Vec::with_capacity(wanted.len());
    for (m, p) in wanted {
        let (s, e) = bounds(*p);
        meters.push(*m);
        starts.push(s);
        ends.push(e);
    }
    let tol = chrono::Duration::days(i64::from(tolerance_days));
    if meters.is_empty() {
        return Ok(HashMap::new());
    }
    let lateral = |name: &str, cond: &str, order: &str| {
        format!(
            "left join lateral (select read_at, volume_ml, source from reading r
                                where r.meter_id = x.meter_id and r.read_at between $5 and $6
                                  and {cond} order by read_at {order} limit 1) {name} on true"
        )
    };
    // $5/$6 bound the whole window by constants so the planner prunes the partitions outside
    // it; the per-meter bounds then probe the primary key.
    let sql = format!(
        "select x.n, bs.read_at as bs_at, bs.volume_ml as bs_ml, bs.source as bs_source,
                a_s.read_at as as_at, a_s.volume_ml as as_ml, a_s.source as as_source,
                be.read_at as be_at, be.volume_ml as be_ml, be.source as be_source,
                ae.read_at as ae_at, ae.volume_ml as ae_ml, ae.source as ae_source
         from unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[]) with ordinality
              as x(meter_id, s, e, n)
         {} {} {} {}",
        lateral("bs", "r.read_at <= x.s and r.read_at >= x.s - $4", "desc"),
        lateral(
            "a_s",
            "bs.read_at is null and r.read_at > x.s and r.read_at <= x.s + $4 and r.read_at < x.e",
            "",
        ),
        lateral(
            "be",
            "r.read_at <= x.e and r.read_at >= x.e - $4 and r.read_at > x.s",
            "desc",
        ),
        lateral(
            "ae",
            "be.read_at is null and r.read_at > x.e and r.read_at <= x.e + $4",
            "",
        ),
    );
    let rows = sqlx::query(&sql)
        .bind(&meters)
        .bind(&starts)
        .bind(&ends)
        .bind(tol)
        .bind(starts.iter().min().map(|s| *s - tol))
        .bind(ends.iter().max().map(|e| *e + tol))
        .fetch_all(conn)
        .await?;
    let pick = |r: &sqlx::postgres::PgRow, p: &str| -> Result<Option<StoredRead>, sqlx::Error> {
        let at: Option<DateTime<Utc>> = r.try_get(format!("{p}_at").as_str())?;
        let ml: Option<i64> = r.try_get(format!("{p}_ml").as_str())?;
        let source: Option<String> = r.try_get(format!("{p}_source").as_str())?;
        Ok(at.zip(ml).map(|(at, volume_ml)| StoredRead {
            at,
            volume_ml,
            source: ReadSource::parse(source.as_deref().unwrap_or_default()),
        }))
    };
    let mut out = HashMap::with_capacity(rows.len());
    for r in &rows {
        let n: i64 = r.try_get("n")?;
        let Some(key) = usize::try_from(n - 1).ok().and_then(|i| wanted.get(i)) else {
            continue;
        };
        out.insert(
            (key.0, key.1.from(), key.1.to()),
            BoundReads {
                before_start: pick(r, "bs")?,
                after_start: pick(r, "as")?,
                before_end: pick(r, "be")?,
                after_end: pick(r, "ae")?,
                ..BoundReads::default()
            },
        );
    }
    Ok(out)
}

/// Monthly consumption (m³) of each premises's main meters, by month start — only the days a
/// meter hung on that premises (a meter moved from elsewhere brings no foreign history).
pub async fn monthly_history(
    conn: &mut PgConnection,
    premises: &[i64],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<HashMap<i64, BTreeMap<NaiveDate, Decimal>>, StoreError> {
    let rows = sqlx::query(
        "select mi.premises_id, date_trunc('month', d.day)::date as month,
                sum(d.consumption_ml)::bigint as consumption_ml
         from reading_daily d
         join meter_installation mi on mi.meter_id = d.meter_id and mi.role = 'main'
         where mi.premises_id = any($1) and d.day >= $2 and d.day < $3
           and d.day >= (mi.installed_at at time zone 'Europe/Warsaw')::date
           and (mi.removed_at is null
                or d.day < (mi.removed_at at time zone 'Europe/Warsaw')::date)
         group by 1, 2",
    )
    .bind(premises)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?;
    let mut out: HashMap<i64, BTreeMap<NaiveDate, Decimal>> = HashMap::new();
    for r in rows {
        out.entry(r.try_get("premises_id")?)
            .or_default()
            .insert(r.try_get("month")?, ml_to_m3(r.try_get("consumption_ml")?));
    }
    Ok(out)
}

/// The first reading of `meter` after `after` that somebody read off it (not an estimate).
pub async fn first_real_after(
    conn: &mut PgConnection,
    meter: i64,
    after: DateTime<Utc>,
) -> Result<Option<StoredRead>, StoreError> {
    let row = sqlx::query(
        "select read_at, volume_ml, source from reading
         where meter_id = $1 and read_at > $2 and source <> 'estimate'
         order by read_at limit 1",
    )
    .bind(meter)
    .bind(after)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        let source: String = r.try_get("source")?;
        Ok(StoredRead {
            at: r.try_get("read_at")?,
            volume_ml: r.try_get("volume_ml")?,
            source: ReadSource::parse(&source),
        })
    })
    .transpose()
}
