//! Night flow per district: in the quiet hours (02:00–04:00 Europe/Warsaw by default) the water
//! entering a district through its inlet (bulk) meter, `district.inlet_meter_id`, minus what
//! the district's customer meters (`meter.district_id`, role `main`; sub-meters sit behind a
//! main meter and are not counted again) registered is mostly leakage. When that night flow
//! exceeds the threshold a `night_flow` alarm opens on the district (`meter_id` null); a later
//! night at or under the threshold clears it.
//!
//! Volumes come from the stored cumulative registers, in integer millilitres: a meter's
//! register at each window edge is its reading at that instant or, failing that, the linear
//! interpolation between the last reading before and the first after (floored to the
//! millilitre, so an interpolated edge is at most 1 ml low), provided those two readings are at
//! most `max_gap_minutes` apart; the meter's volume in the window is the difference of the two
//! edge registers under the rollup rule (a rollover adds the register's wrap; any other decrease
//! counts as zero). A meter without such readings is uncovered; a night with the inlet
//! uncovered, or more than `max_uncovered_meters` customer meters uncovered, is not judged.

use super::{clear_on_district, raise_on_district, AlarmKind, Raised};
use crate::pipeline::{rollup, vee};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Timelike, Utc};
use ewoda_common::time::{local, local_day};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use sqlx::PgPool;
use std::collections::BTreeMap;

/// Tunables of the night-flow rule (`[rules.night_flow]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NightFlowConfig {
    /// Runs the rule at all.
    pub enabled: bool,
    /// Local (Europe/Warsaw) start of the night window, `"HH:MM"`; a start after the end
    /// means the window begins the evening before.
    #[serde(deserialize_with = "time_of_day")]
    pub start: NaiveTime,
    /// Local end of the window.
    #[serde(deserialize_with = "time_of_day")]
    pub end: NaiveTime,
    /// Night flow (litres per hour) above which the alarm opens.
    pub threshold_l_per_h: u32,
    /// Thresholds of single districts, by `district.code`.
    pub district_thresholds: BTreeMap<String, u32>,
    /// The two readings an edge register is interpolated from may be this far apart; a night
    /// is judged once this long after its end, when every such reading exists.
    pub max_gap_minutes: u32,
    /// Customer meters that may lack readings around the window edges: they are left out of
    /// the sum (so the night flow is overstated by their use) instead of leaving the night
    /// unjudged.
    pub max_uncovered_meters: u32,
}

impl Default for NightFlowConfig {
    fn default() -> Self {
        NightFlowConfig {
            enabled: true,
            start: NaiveTime::from_hms_opt(2, 0, 0).unwrap_or_default(),
            end: NaiveTime::from_hms_opt(4, 0, 0).unwrap_or_default(),
            threshold_l_per_h: 1000,
            district_thresholds: BTreeMap::new(),
            max_gap_minutes: 120,
            max_uncovered_meters: 0,
        }
    }
}

/// `"02:00"` (or a TOML local time, `02:00:00`) as a time of day.
fn time_of_day<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Toml(toml::value::Datetime),
    }
    let text = match Raw::deserialize(d)? {
        Raw::Text(s) => s,
        Raw::Toml(t) => t.to_string(),
    };
    text.trim()
        .parse::<NaiveTime>()
        .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a time of day (\"HH:MM\")")))
}

impl NightFlowConfig {
    /// Checks the values; the error names the field under `[rules.night_flow]`.
    pub fn validate(&self) -> Result<(), (String, String)> {
        for (field, t) in [("start", self.start), ("end", self.end)] {
            if t.second() != 0 || t.nanosecond() != 0 {
                return Err((field.into(), "must be a whole minute (\"HH:MM\")".into()));
            }
        }
        if self.start == self.end {
            return Err(("end".into(), "must differ from start".into()));
        }
        if self.max_gap_minutes == 0 {
            return Err(("max_gap_minutes".into(), "must be at least 1".into()));
        }
        Ok(())
    }

    /// The window of the night ending on local day `night`, as instants. In the spring DST
    /// gap a wall-clock time that does not exist moves to the first one after it; in the
    /// autumn overlap the earlier instant is taken (the window is then an hour longer).
    pub fn window(&self, night: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
        let end = local(night, self.end.hour(), self.end.minute());
        let start_day = if self.start < self.end {
            night
        } else {
            night.pred_opt().unwrap_or(night)
        };
        (
            local(start_day, self.start.hour(), self.start.minute()),
            end,
        )
    }

    /// The latest night that can be judged at `now`: its window ended at least
    /// `max_gap_minutes` ago.
    pub fn last_night(&self, now: DateTime<Utc>) -> NaiveDate {
        let settle = Duration::minutes(i64::from(self.max_gap_minutes));
        let mut day = local_day(now);
        while self.window(day).1 + settle > now {
            match day.pred_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
        day
    }

    /// The threshold of a district.
    pub fn threshold_for(&self, code: &str) -> u32 {
        self.district_thresholds
            .get(code)
            .copied()
            .unwrap_or(self.threshold_l_per_h)
    }
}

/// A stored reading: when, and the register in millilitres.
pub type Point = (DateTime<Utc>, i64);

/// The stored readings nearest an instant: the last at or before it and the first at or
/// after it (one reading exactly at the instant is enough).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bracket {
    pub before: Option<Point>,
    pub after: Option<Point>,
}

/// The register at `at` in millilitres (within the register, `[0, wrap)`): the reading at
/// `at`, else the floored linear interpolation between the bracketing readings when they are
/// at most `max_gap` apart (the use between them by the rollup rule); None otherwise.
pub fn register_at(b: Bracket, at: DateTime<Utc>, wrap: i64, max_gap: Duration) -> Option<i64> {
    let (t0, v0) = b.before?;
    if t0 == at {
        return Some(v0);
    }
    let (t1, v1) = b.after?;
    if t1 == at {
        return Some(v1);
    }
    if !(t0 < at && at < t1) || t1 - t0 > max_gap || wrap <= 0 {
        return None;
    }
    let used = i128::from(rollup::consumption(v0, v1, wrap));
    let span = i128::from((t1 - t0).num_microseconds()?);
    let part = i128::from((at - t0).num_microseconds()?);
    let v = (i128::from(v0) + used * part / span) % i128::from(wrap);
    i64::try_from(v).ok()
}

/// A meter's volume in `[start, end]` in millilitres (see the module comment), or None when
/// either edge is uncovered.
pub fn window_volume(
    at_start: Bracket,
    at_end: Bracket,
    window: (DateTime<Utc>, DateTime<Utc>),
    wrap: i64,
    max_gap: Duration,
) -> Option<i64> {
    let a = register_at(at_start, window.0, wrap, max_gap)?;
    let b = register_at(at_end, window.1, wrap, max_gap)?;
    Some(rollup::consumption(a, b, wrap))
}

/// A district's water balance over one night window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NightBalance {
    /// Through the inlet meter.
    pub inlet_ml: i64,
    /// Through the covered customer meters.
    pub customers_ml: i64,
    /// Customer meters counted.
    pub customer_meters: u32,
    /// Customer meters without readings around the window edges (not counted).
    pub uncovered_meters: u32,
    /// Length of the window.
    pub window_secs: i64,
}

impl NightBalance {
    /// The balance from the inlet's volume and each customer meter's (None: uncovered).
    pub fn new(inlet_ml: i64, customers: &[Option<i64>], window_secs: i64) -> NightBalance {
        let covered = customers.iter().flatten();
        NightBalance {
            inlet_ml,
            customers_ml: covered.clone().sum(),
            customer_meters: u32::try_from(covered.count()).unwrap_or(u32::MAX),
            uncovered_meters: u32::try_from(customers.iter().filter(|c| c.is_none()).count())
                .unwrap_or(u32::MAX),
            window_secs,
        }
    }

    /// Inlet minus customers: what the network lost (negative when the customers registered
    /// more than the inlet, i.e. meter error).
    pub fn night_ml(&self) -> i64 {
        self.inlet_ml - self.customers_ml
    }

    /// The night flow in litres per hour, to 0.1 l/h (for people; decisions use
    /// [`NightBalance::exceeds`]).
    pub fn flow_l_per_h(&self) -> Decimal {
        if self.window_secs <= 0 {
            return Decimal::ZERO;
        }
        let mut flow = (Decimal::from(self.night_ml()) * Decimal::from(3600)
            / Decimal::from(self.window_secs * 1000))
        .round_dp(1);
        flow.rescale(1);
        flow
    }

    /// Whether the night flow is above `threshold` l/h, exactly: night_ml / secs >
    /// threshold · 1000 / 3600, compared without division.
    pub fn exceeds(&self, threshold_l_per_h: u32) -> bool {
        i128::from(self.night_ml()) * 3600
            > i128::from(threshold_l_per_h) * 1000 * i128::from(self.window_secs)
    }
}

/// What one evaluation of the night-flow rule did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NightFlowReport {
    /// The night judged (its local end day).
    pub night: Option<NaiveDate>,
    /// Districts judged.
    pub judged: u64,
    /// Districts not judged (inlet or too many customer meters uncovered).
    pub unjudged: u64,
    pub opened: u64,
    /// Open alarms counted again for a new night over the threshold.
    pub repeated: u64,
    pub cleared: u64,
}

/// One meter of a district as the bracket query returns it: the readings (at, ml) nearest
/// before (`sb`) and after (`sa`) the window start, and before (`eb`) and after (`ea`) its end.
#[derive(sqlx::FromRow)]
struct MeterRow {
    district_id: i64,
    code: String,
    inlet: bool,
    register_digits: i16,
    sb_at: Option<DateTime<Utc>>,
    sb_ml: Option<i64>,
    sa_at: Option<DateTime<Utc>>,
    sa_ml: Option<i64>,
    eb_at: Option<DateTime<Utc>>,
    eb_ml: Option<i64>,
    ea_at: Option<DateTime<Utc>>,
    ea_ml: Option<i64>,
}

fn point(at: Option<DateTime<Utc>>, ml: Option<i64>) -> Option<Point> {
    Some((at?, ml?))
}

/// The meters of one district in a night.
#[derive(Default)]
struct DistrictNight {
    code: String,
    inlet: Option<Option<i64>>,
    customers: Vec<Option<i64>>,
}

/// Judges the latest night that can be judged at `now` (see [`NightFlowConfig::last_night`])
/// for every district with an inlet meter, opening, counting or clearing `night_flow` alarms
/// in one transaction. Re-running it for the same night changes nothing.
pub async fn evaluate_night_flow(
    pool: &PgPool,
    cfg: &NightFlowConfig,
    now: DateTime<Utc>,
) -> Result<NightFlowReport, sqlx::Error> {
    let mut report = NightFlowReport::default();
    if !cfg.enabled {
        return Ok(report);
    }
    let night = cfg.last_night(now);
    let (start, end) = cfg.window(night);
    if end <= start {
        return Ok(report);
    }
    report.night = Some(night);
    let gap = Duration::minutes(i64::from(cfg.max_gap_minutes));
    let rows: Vec<MeterRow> = sqlx::query_as(
        "with m as (
             select d.district_id, d.code, x.meter_id, true as inlet, x.register_digits
             from district d join meter x on x.meter_id = d.inlet_meter_id
             union all
             select d.district_id, d.code, x.meter_id, false, x.register_digits
             from district d
             join meter x on x.district_id = d.district_id and x.role = 'main'
                         and x.meter_id <> d.inlet_meter_id
             where x.status = 'active'
                or exists (select 1 from reading r where r.meter_id = x.meter_id
                             and r.read_at >= $3 and r.read_at <= $6))
         select m.district_id, m.code, m.inlet, m.register_digits,
                sb.read_at as sb_at, sb.volume_ml as sb_ml, sa.read_at as sa_at,
                sa.volume_ml as sa_ml, eb.read_at as eb_at, eb.volume_ml as eb_ml,
                ea.read_at as ea_at, ea.volume_ml as ea_ml
         from m
         left join lateral (select r.read_at, r.volume_ml from reading r
                            where r.meter_id = m.meter_id and r.read_at <= $1 and r.read_at >= $3
                            order by r.read_at desc limit 1) sb on true
         left join lateral (select r.read_at, r.volume_ml from reading r
                            where r.meter_id = m.meter_id and r.read_at >= $1 and r.read_at <= $4
                            order by r.read_at limit 1) sa on true
         left join lateral (select r.read_at, r.volume_ml from reading r
                            where r.meter_id = m.meter_id and r.read_at <= $2 and r.read_at >= $5
                            order by r.read_at desc limit 1) eb on true
         left join lateral (select r.read_at, r.volume_ml from reading r
                            where r.meter_id = m.meter_id and r.read_at >= $2 and r.read_at <= $6
                            order by r.read_at limit 1) ea on true
         order by m.district_id, m.meter_id",
    )
    .bind(start)
    .bind(end)
    .bind(start - gap)
    .bind(start + gap)
    .bind(end - gap)
    .bind(end + gap)
    .fetch_all(pool)
    .await?;
    let mut districts: BTreeMap<i64, DistrictNight> = BTreeMap::new();
    for r in rows {
        let at_start = Bracket {
            before: point(r.sb_at, r.sb_ml),
            after: point(r.sa_at, r.sa_ml),
        };
        let at_end = Bracket {
            before: point(r.eb_at, r.eb_ml),
            after: point(r.ea_at, r.ea_ml),
        };
        let wrap = vee::wrap_ml(r.register_digits);
        let volume = window_volume(at_start, at_end, (start, end), wrap, gap);
        let d = districts.entry(r.district_id).or_default();
        d.code = r.code;
        if r.inlet {
            d.inlet = Some(volume);
        } else {
            d.customers.push(volume);
        }
    }

    let window_secs = (end - start).num_seconds();
    let mut tx = pool.begin().await?;
    for (district_id, d) in &districts {
        let Some(Some(inlet_ml)) = d.inlet else {
            report.unjudged += 1;
            continue;
        };
        let balance = NightBalance::new(inlet_ml, &d.customers, window_secs);
        if balance.uncovered_meters > cfg.max_uncovered_meters {
            report.unjudged += 1;
            continue;
        }
        report.judged += 1;
        let threshold = cfg.threshold_for(&d.code);
        let details = serde_json::json!({
            "rule": "night_flow",
            "night": night.to_string(),
            "window_start": start.to_rfc3339(),
            "window_end": end.to_rfc3339(),
            "inlet_ml": balance.inlet_ml,
            "customers_ml": balance.customers_ml,
            "night_ml": balance.night_ml(),
            "flow_l_per_h": balance.flow_l_per_h(),
            "threshold_l_per_h": threshold,
            "customer_meters": balance.customer_meters,
            "uncovered_meters": balance.uncovered_meters,
        });
        if balance.exceeds(threshold) {
            match raise_on_district(
                &mut tx,
                *district_id,
                AlarmKind::NightFlow,
                end,
                "rule",
                &details,
            )
            .await?
            {
                Some(Raised::Opened(_)) => report.opened += 1,
                Some(Raised::Repeated(_)) => report.repeated += 1,
                None => {}
            }
        } else {
            let details = serde_json::json!({ "cleared_by": details });
            if clear_on_district(&mut tx, *district_id, AlarmKind::NightFlow, end, &details)
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

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 2, h, m, 0).unwrap()
    }

    const WRAP: i64 = 100_000 * 1_000_000; // 5 digits

    #[test]
    fn edge_registers_are_exact_or_interpolated() {
        let gap = Duration::minutes(120);
        let exact = Bracket {
            before: Some((t(0, 0), 5_000)),
            after: Some((t(0, 0), 5_000)),
        };
        assert_eq!(register_at(exact, t(0, 0), WRAP, gap), Some(5_000));
        // Only the reading at the edge is needed.
        let only = Bracket {
            before: Some((t(0, 0), 5_000)),
            after: None,
        };
        assert_eq!(register_at(only, t(0, 0), WRAP, gap), Some(5_000));
        // 1 000 ml over 60 min, 20 min in: 333.3 → 333 (floored).
        let b = Bracket {
            before: Some((t(0, 0), 10_000)),
            after: Some((t(1, 0), 11_000)),
        };
        assert_eq!(register_at(b, t(0, 20), WRAP, gap), Some(10_333));
        assert_eq!(register_at(b, t(0, 30), WRAP, gap), Some(10_500));
        // Too far apart, or one side missing.
        assert_eq!(register_at(b, t(0, 30), WRAP, Duration::minutes(59)), None);
        let half = Bracket {
            before: Some((t(0, 0), 10_000)),
            after: None,
        };
        assert_eq!(register_at(half, t(0, 30), WRAP, gap), None);
        // Across a rollover of a 5-digit register: 99 999.9 m³ → 0.1 m³ is 200 l.
        let roll = Bracket {
            before: Some((t(0, 0), WRAP - 100_000)),
            after: Some((t(1, 0), 100_000)),
        };
        assert_eq!(register_at(roll, t(0, 15), WRAP, gap), Some(WRAP - 50_000));
        assert_eq!(register_at(roll, t(0, 45), WRAP, gap), Some(50_000));
    }

    #[test]
    fn window_volume_is_the_edge_difference() {
        let gap = Duration::minutes(120);
        let w = (t(0, 0), t(2, 0));
        let at_start = Bracket {
            before: Some((t(23, 30) - Duration::days(1), 1_000_000)),
            after: Some((t(0, 30), 1_003_000)),
        };
        let at_end = Bracket {
            before: Some((t(1, 30), 1_009_000)),
            after: Some((t(2, 30), 1_013_000)),
        };
        // Start: 1 000 000 + 3 000·30/60 = 1 001 500; end: 1 009 000 + 4 000·30/60 = 1 011 000.
        assert_eq!(window_volume(at_start, at_end, w, WRAP, gap), Some(9_500));
        // The rollover rule carries across the window; a net decrease is no use.
        let s = Bracket {
            before: Some((t(0, 0), WRAP - 1_000)),
            after: None,
        };
        let e = Bracket {
            before: Some((t(2, 0), 4_000)),
            after: None,
        };
        assert_eq!(window_volume(s, e, w, WRAP, gap), Some(5_000));
        let down = Bracket {
            before: Some((t(2, 0), 10)),
            after: None,
        };
        let up = Bracket {
            before: Some((t(0, 0), 20)),
            after: None,
        };
        assert_eq!(window_volume(up, down, w, WRAP, gap), Some(0));
        assert_eq!(window_volume(up, Bracket::default(), w, WRAP, gap), None);
    }

    #[test]
    fn balance_and_threshold_are_exact() {
        // 2 h window; the inlet took 2 500 001 ml, customers 500 000 ml: 2 000 001 ml lost,
        // just over 1 000 l/h.
        let b = NightBalance::new(2_500_001, &[Some(300_000), Some(200_000), None], 7200);
        assert_eq!(b.night_ml(), 2_000_001);
        assert_eq!((b.customer_meters, b.uncovered_meters), (2, 1));
        assert!(b.exceeds(1000));
        assert!(!b.exceeds(1001));
        assert_eq!(b.flow_l_per_h().to_string(), "1000.0");
        let exact = NightBalance::new(2_000_000, &[], 7200);
        assert!(
            !exact.exceeds(1000),
            "equal to the threshold is not above it"
        );
        let negative = NightBalance::new(0, &[Some(1_000)], 7200);
        assert_eq!(negative.night_ml(), -1_000);
        assert!(!negative.exceeds(0));
        assert_eq!(negative.flow_l_per_h().to_string(), "-0.5");
    }

    #[test]
    fn windows_in_local_time_across_dst() {
        let cfg = NightFlowConfig::default();
        let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        let rfc = |(a, b): (DateTime<Utc>, DateTime<Utc>)| (a.to_rfc3339(), b.to_rfc3339());
        // Summer: CEST (UTC+2).
        assert_eq!(
            rfc(cfg.window(day(5, 2))),
            (
                "2026-05-02T00:00:00+00:00".to_string(),
                "2026-05-02T02:00:00+00:00".to_string()
            )
        );
        // Spring forward (29 March): 02:00 does not exist, the window is 03:00–04:00 CEST.
        assert_eq!(
            rfc(cfg.window(day(3, 29))),
            (
                "2026-03-29T01:00:00+00:00".to_string(),
                "2026-03-29T02:00:00+00:00".to_string()
            )
        );
        // Fall back (25 October): 02:00 CEST to 04:00 CET is three hours.
        let (s, e) = cfg.window(day(10, 25));
        assert_eq!((e - s).num_hours(), 3);
        // A window over midnight starts the evening before.
        let late = NightFlowConfig {
            start: NaiveTime::from_hms_opt(23, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(1, 0, 0).unwrap(),
            ..NightFlowConfig::default()
        };
        assert_eq!(
            rfc(late.window(day(5, 2))),
            (
                "2026-05-01T21:00:00+00:00".to_string(),
                "2026-05-01T23:00:00+00:00".to_string()
            )
        );
        // The night ending 2 May 04:00 CEST is judged from 06:00 CEST (2 h settle).
        assert_eq!(cfg.last_night(t(3, 59)), day(5, 1));
        assert_eq!(cfg.last_night(t(4, 0)), day(5, 2));
        assert_eq!(cfg.last_night(t(23, 0)), day(5, 2));
    }

    #[test]
    fn config_parses_times_and_checks_them() {
        #[derive(Deserialize)]
        struct W {
            night_flow: NightFlowConfig,
        }
        let w: W = toml::from_str(
            "[night_flow]\nstart = \"01:30\"\nend = 04:00:00\n[night_flow.district_thresholds]\nD1 = 400\n",
        )
        .unwrap();
        assert_eq!(
            w.night_flow.start,
            NaiveTime::from_hms_opt(1, 30, 0).unwrap()
        );
        assert_eq!(w.night_flow.end, NaiveTime::from_hms_opt(4, 0, 0).unwrap());
        assert_eq!(w.night_flow.threshold_for("D1"), 400);
        assert_eq!(w.night_flow.threshold_for("D2"), 1000);
        let e = toml::from_str::<W>("[night_flow]\nstart = \"2am\"\n")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("\"2am\" is not a time of day"), "{e}");
        let same = NightFlowConfig {
            end: NaiveTime::from_hms_opt(2, 0, 0).unwrap(),
            ..NightFlowConfig::default()
        };
        assert_eq!(
            same.validate(),
            Err(("end".into(), "must differ from start".into()))
        );
        let secs = NightFlowConfig {
            start: NaiveTime::from_hms_opt(2, 0, 30).unwrap(),
            ..NightFlowConfig::default()
        };
        assert_eq!(
            secs.validate(),
            Err(("start".into(), "must be a whole minute (\"HH:MM\")".into()))
        );
    }
}
