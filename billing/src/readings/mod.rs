//! The volume source of a premises for a billing period from stored readings: walks the meter
//! installation history (meter replacement Δold + Δnew, rollover at the register size), takes
//! the read at or nearest each period bound, sums sub-meters (deducted from sewage only), and
//! falls back to an estimate (average of previous months, flagged) or a norm (no meter). The
//! result feeds [`crate::quote::quote`], the same code as `ewoda billing quote`.

use crate::consumption::{volume_from_reads, Estimate, Norm, Read, Replacement, VolumeSource};
use crate::tariff::Period;
use chrono::{DateTime, Days, Utc};
use ewoda_common::time::{day_start, local_day};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use std::collections::HashMap;

pub mod query;

/// How a meter is used on a premises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeterRole {
    /// The billing meter.
    Main,
    /// A garden sub-meter (deducted from sewage only).
    Sub,
    /// A network bulk meter (never billed).
    Bulk,
}

impl MeterRole {
    /// Parses `meter_installation.role`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "main" => Some(MeterRole::Main),
            "sub" => Some(MeterRole::Sub),
            "bulk" => Some(MeterRole::Bulk),
            _ => None,
        }
    }
}

/// One row of the installation history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    /// The meter.
    pub meter_id: i64,
    /// Its role.
    pub role: MeterRole,
    /// When it was installed.
    pub installed_at: DateTime<Utc>,
    /// Its register then, ml.
    pub installed_read_ml: i64,
    /// When it was removed, if it was.
    pub removed_at: Option<DateTime<Utc>>,
    /// Its register then, ml.
    pub removed_read_ml: Option<i64>,
    /// Digits of the register (rollover at 10^digits m³).
    pub register_digits: u32,
}

/// Where a register value comes from: a source of `reading.source`, the installation history,
/// or the billing run's own estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReadSource {
    /// A reading of the collector with this `reading.source` (`wmbus`, `handheld`, …).
    Reading(&'static str),
    /// The register noted when the meter was installed.
    Installed,
    /// The register noted when the meter was removed.
    Removed,
    /// Estimated by a billing run (opening + estimated volume).
    Estimate,
}

/// `reading.source` values, so a parsed source is a `&'static str`.
const READING_SOURCES: [&str; 10] = [
    "wmbus", "mbus", "modbus", "mqtt", "handheld", "file", "manual", "ebok", "estimate", "seed",
];

impl ReadSource {
    /// Parses a stored source name (`installed`, `removed`, `run_estimate` or a reading's).
    pub fn parse(s: &str) -> Self {
        match s {
            "installed" => ReadSource::Installed,
            "removed" => ReadSource::Removed,
            "run_estimate" => ReadSource::Estimate,
            other => ReadSource::Reading(
                READING_SOURCES
                    .iter()
                    .find(|k| **k == other)
                    .copied()
                    .unwrap_or("manual"),
            ),
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReadSource::Reading(s) => s,
            ReadSource::Installed => "installed",
            ReadSource::Removed => "removed",
            ReadSource::Estimate => "run_estimate",
        }
    }

    /// True for a value nobody read off the meter.
    pub fn estimated(self) -> bool {
        matches!(self, ReadSource::Estimate | ReadSource::Reading("estimate"))
    }
}

/// A register value at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredRead {
    /// When.
    pub at: DateTime<Utc>,
    /// Register, ml.
    pub volume_ml: i64,
    /// Where it comes from.
    pub source: ReadSource,
}

/// The two reads a meter's part of a billed period runs between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterReads {
    /// The meter.
    pub meter_id: i64,
    /// Its role.
    pub role: MeterRole,
    /// Where the period starts for it.
    pub opening: StoredRead,
    /// Where it ends (an [`ReadSource::Estimate`] for an estimated period).
    pub closing: StoredRead,
}

/// The readings of one meter nearest the two bounds of a period (each within a tolerance),
/// and the closing read of its last invoice, which — when there is one — opens the period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BoundReads {
    /// The closing read the meter's previous invoice used (the read chain).
    pub opening: Option<StoredRead>,
    /// Last read at or before the period's start.
    pub before_start: Option<StoredRead>,
    /// First read after the period's start.
    pub after_start: Option<StoredRead>,
    /// Last read at or before the period's end.
    pub before_end: Option<StoredRead>,
    /// First read after the period's end.
    pub after_end: Option<StoredRead>,
}

/// Why no measured volume could be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeProblem {
    /// A meter has no read near a period bound.
    MissingReading {
        /// The meter.
        meter_id: i64,
        /// `start` or `end`.
        bound: &'static str,
    },
    /// A register went down by more than a rollover could explain (reverse flow, wrong read).
    Negative {
        /// The meter.
        meter_id: i64,
        /// Register at the earlier read, ml.
        from_ml: i64,
        /// Register at the later read, ml.
        to_ml: i64,
    },
    /// Two main meters at once (not a replacement): needs a clerk.
    SeveralMainMeters,
    /// The reads do not make a valid sequence.
    Invalid(String),
}

impl std::fmt::Display for VolumeProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VolumeProblem::MissingReading { meter_id, bound } => {
                write!(f, "meter {meter_id}: no reading near the period {bound}")
            }
            VolumeProblem::Negative {
                meter_id,
                from_ml,
                to_ml,
            } => write!(
                f,
                "meter {meter_id}: register went down from {} to {} m³",
                ml_to_m3(*from_ml),
                ml_to_m3(*to_ml)
            ),
            VolumeProblem::SeveralMainMeters => {
                write!(f, "several main meters at the same time")
            }
            VolumeProblem::Invalid(m) => f.write_str(m),
        }
    }
}

/// Measured volume of a premises: the main meter chain as a quote volume source, plus the
/// sub-meters' volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measured {
    /// `VolumeSource::Reads` with the chain's replacements.
    pub source: VolumeSource,
    /// Σ sub-meter volumes in the period, m³ (None when there is no sub-meter).
    pub sub_meter_m3: Option<Decimal>,
    /// The reads used, per meter (mains in chain order, then sub-meters).
    pub reads: Vec<MeterReads>,
}

/// What the period's volume will be based on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Basis {
    /// Meter reads.
    Measured(Measured),
    /// No main meter in the period: bill by norm.
    NoMeter,
}

/// Register ml → m³ (exact).
pub fn ml_to_m3(ml: i64) -> Decimal {
    Decimal::new(ml, 6)
}

/// The instants bounding a period: local midnight of its first day and of the day after.
pub fn bounds(period: Period) -> (DateTime<Utc>, DateTime<Utc>) {
    let end_day = period
        .to()
        .checked_add_days(Days::new(1))
        .unwrap_or(period.to());
    (day_start(period.from()), day_start(end_day))
}

/// The read nearer to `at` of the one before and the one after.
fn nearest(
    at: DateTime<Utc>,
    before: Option<StoredRead>,
    after: Option<StoredRead>,
) -> Option<StoredRead> {
    match (before, after) {
        (Some(b), Some(a)) => Some(if at - b.at <= a.at - at { b } else { a }),
        (b, a) => b.or(a),
    }
}

/// Register at the start and at the end of one installation's part of the period.
fn span(
    inst: &Installation,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    reads: Option<&BoundReads>,
    successor: bool,
) -> Result<(StoredRead, StoredRead), VolumeProblem> {
    let r = reads.copied().unwrap_or_default();
    // The chain first: a period starts where the meter's last invoice ended, never at a read
    // re-chosen near the bound (a late reading there would bill volume twice or not at all).
    let first = opening_of(inst, start, &r, successor).ok_or(VolumeProblem::MissingReading {
        meter_id: inst.meter_id,
        bound: "start",
    })?;
    let last = match (inst.removed_at, inst.removed_read_ml) {
        (Some(at), Some(ml)) if at <= end => StoredRead {
            at,
            volume_ml: ml,
            source: ReadSource::Removed,
        },
        _ => nearest(end, r.before_end, r.after_end).ok_or(VolumeProblem::MissingReading {
            meter_id: inst.meter_id,
            bound: "end",
        })?,
    };
    if last.at <= first.at {
        return Err(VolumeProblem::MissingReading {
            meter_id: inst.meter_id,
            bound: "end",
        });
    }
    if last.volume_ml < first.volume_ml {
        // Through a rollover the register wraps past 10^digits m³; a drop that would mean more
        // than half a register's worth of use is a fault, not a rollover.
        let modulus = 10i64
            .checked_pow(inst.register_digits)
            .and_then(|m| m.checked_mul(1_000_000))
            .unwrap_or(i64::MAX);
        let through_rollover = modulus - first.volume_ml + last.volume_ml;
        if through_rollover > modulus / 2 {
            return Err(VolumeProblem::Negative {
                meter_id: inst.meter_id,
                from_ml: first.volume_ml,
                to_ml: last.volume_ml,
            });
        }
    }
    Ok((first, last))
}

fn read(r: StoredRead) -> Read {
    Read {
        date: local_day(r.at),
        value: ml_to_m3(r.volume_ml),
    }
}

/// Installations of `role` active at some time in [start, end), in installation order.
fn active(
    installations: &[Installation],
    role: MeterRole,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<&Installation> {
    let mut v: Vec<&Installation> = installations
        .iter()
        .filter(|i| {
            i.role == role && i.installed_at < end && i.removed_at.is_none_or(|r| r > start)
        })
        .collect();
    v.sort_by_key(|i| i.installed_at);
    v
}

/// The main meters of a period in installation order: those hanging in it, and before them a
/// meter removed earlier whose billed chain had not reached its removal (its last part was
/// never billed, e.g. its month was held) — that part belongs to this period.
fn mains<'a>(
    installations: &'a [Installation],
    reads: &HashMap<i64, BoundReads>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<&'a Installation> {
    let mut v = active(installations, MeterRole::Main, start, end);
    v.extend(installations.iter().filter(|i| {
        i.role == MeterRole::Main
            && i.removed_at.is_some_and(|removed| {
                removed <= start
                    && reads
                        .get(&i.meter_id)
                        .and_then(|r| r.opening)
                        .is_some_and(|o| o.at >= i.installed_at && o.at < removed)
            })
    }));
    v.sort_by_key(|i| i.installed_at);
    v
}

/// The main meter chain of a period as `VolumeSource::Reads`: the first meter's register at
/// the start, each replacement (old meter's final, new meter's initial register), the last
/// meter's register at the end. Rollover uses the last meter's register size.
fn main_chain(
    chain: &[&Installation],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    reads: &HashMap<i64, BoundReads>,
) -> Result<(VolumeSource, Vec<MeterReads>), VolumeProblem> {
    let spans: Vec<(StoredRead, StoredRead)> = chain
        .iter()
        .enumerate()
        .map(|(n, i)| span(i, start, end, reads.get(&i.meter_id), n > 0))
        .collect::<Result<_, _>>()?;
    if chain
        .windows(2)
        .any(|w| matches!(w, [a, b] if a.removed_at.is_none_or(|r| r > b.installed_at)))
    {
        return Err(VolumeProblem::SeveralMainMeters);
    }
    let (Some(first), Some(last)) = (spans.first(), spans.last()) else {
        return Err(VolumeProblem::Invalid("no main meter".into()));
    };
    let replacements = spans
        .windows(2)
        .filter_map(|w| match w {
            [(_, old_end), (new_start, _)] => Some(Replacement {
                date: local_day(new_start.at),
                old_final: ml_to_m3(old_end.volume_ml),
                new_initial: ml_to_m3(new_start.volume_ml),
            }),
            _ => None,
        })
        .collect();
    let used = chain
        .iter()
        .zip(&spans)
        .map(|(i, (opening, closing))| MeterReads {
            meter_id: i.meter_id,
            role: i.role,
            opening: *opening,
            closing: *closing,
        })
        .collect();
    let source = VolumeSource::Reads {
        reads: vec![read(first.0), read(last.1)],
        register_digits: chain.last().map(|i| i.register_digits),
        replacements,
    };
    Ok((source, used))
}

/// The basis of a premises's volume in `period`: its main meters' reads (with the sub-meters'
/// volume), or `NoMeter` when no main meter hangs there during the period.
pub fn basis(
    period: Period,
    installations: &[Installation],
    reads: &HashMap<i64, BoundReads>,
) -> Result<Basis, VolumeProblem> {
    let (start, end) = bounds(period);
    let mains = mains(installations, reads, start, end);
    if mains.is_empty() {
        return Ok(Basis::NoMeter);
    }
    let (source, mut used) = main_chain(&mains, start, end, reads)?;
    let subs = active(installations, MeterRole::Sub, start, end);
    let mut sub_total: Option<Decimal> = None;
    for sub in subs {
        let (a, b) = span(sub, start, end, reads.get(&sub.meter_id), false)?;
        let v = volume_from_reads(&[read(a), read(b)], Some(sub.register_digits), &[])
            .map_err(|e| VolumeProblem::Invalid(format!("sub-meter {}: {e}", sub.meter_id)))?;
        sub_total = Some(sub_total.unwrap_or(Decimal::ZERO) + v);
        used.push(MeterReads {
            meter_id: sub.meter_id,
            role: sub.role,
            opening: a,
            closing: b,
        });
    }
    Ok(Basis::Measured(Measured {
        source,
        sub_meter_m3: sub_total,
        reads: used,
    }))
}

/// The register a meter's part of a period opens at: the read chain, its installation, or the
/// read nearest the period's start.
/// A meter that replaced another in the chain (`successor`) and was never billed opens at its
/// installation, wherever the period starts.
fn opening_of(
    inst: &Installation,
    start: DateTime<Utc>,
    r: &BoundReads,
    successor: bool,
) -> Option<StoredRead> {
    match r.opening.filter(|o| o.at >= inst.installed_at) {
        Some(o) => Some(o),
        None if successor || inst.installed_at >= start => Some(StoredRead {
            at: inst.installed_at,
            volume_ml: inst.installed_read_ml,
            source: ReadSource::Installed,
        }),
        None => nearest(start, r.before_start, r.after_start),
    }
}

/// The reads an estimated period stands on: the main meters' reads where known (a replaced
/// meter's full span) and, as the last meter's closing, its opening plus what the estimate
/// leaves after the earlier spans, at the period's end — so the next period continues from
/// what was billed. None when an opening is unknown or the earlier spans already exceed the
/// estimate (then the next period starts from reads near its bound, and the estimate is
/// reconciled from the period's own reads).
pub fn estimated_reads(
    period: Period,
    installations: &[Installation],
    reads: &HashMap<i64, BoundReads>,
    volume_m3: Decimal,
) -> Vec<MeterReads> {
    let (start, end) = bounds(period);
    let mains = mains(installations, reads, start, end);
    let Some((last, earlier)) = mains.split_last() else {
        return Vec::new();
    };
    let mut left = (volume_m3 * Decimal::from(1_000_000)).trunc().to_i64();
    let mut out = Vec::with_capacity(mains.len());
    for (n, inst) in earlier.iter().enumerate() {
        let Ok((opening, closing)) = span(inst, start, end, reads.get(&inst.meter_id), n > 0)
        else {
            return Vec::new();
        };
        left = left.and_then(|l| l.checked_sub(closing.volume_ml - opening.volume_ml));
        out.push(MeterReads {
            meter_id: inst.meter_id,
            role: inst.role,
            opening,
            closing,
        });
    }
    let r = reads.get(&last.meter_id).copied().unwrap_or_default();
    let (Some(opening), Some(left)) = (
        opening_of(last, start, &r, !earlier.is_empty()),
        left.filter(|l| *l >= 0),
    ) else {
        return Vec::new();
    };
    if opening.at >= end || last.removed_at.is_some_and(|at| at <= end) {
        return Vec::new();
    }
    let Some(closing_ml) = opening.volume_ml.checked_add(left) else {
        return Vec::new();
    };
    out.push(MeterReads {
        meter_id: last.meter_id,
        role: last.role,
        opening,
        closing: StoredRead {
            at: end,
            volume_ml: closing_ml,
            source: ReadSource::Estimate,
        },
    });
    out
}

/// An estimate from the monthly history (m³ per month, previous months), flagged estimated:
/// `share` of the `months` estimated, plus `measured_m3` known from the rest of the period.
pub fn estimate(
    history_m3: &[Decimal],
    months: u32,
    share: Decimal,
    measured_m3: Decimal,
) -> Option<VolumeSource> {
    (!history_m3.is_empty()).then(|| {
        VolumeSource::Estimate(Estimate {
            monthly_history_m3: history_m3.to_vec(),
            months,
            share: (share != Decimal::ONE).then_some(share),
            measured_m3: (!measured_m3.is_zero()).then_some(measured_m3),
        })
    })
}

/// What an estimate of a period still rests on when a main meter's read is missing: the
/// volume the earlier meters of the chain measured (a replaced meter's whole span) and the
/// share of the period the last meter's unknown part covers. (0, 1) when the earlier spans
/// are not known either.
pub fn estimate_base(
    period: Period,
    installations: &[Installation],
    reads: &HashMap<i64, BoundReads>,
) -> (Decimal, Decimal) {
    let (start, end) = bounds(period);
    let mains = mains(installations, reads, start, end);
    let whole = (Decimal::ZERO, Decimal::ONE);
    let Some((last, earlier)) = mains.split_last() else {
        return whole;
    };
    let mut measured_ml = 0i64;
    for (n, inst) in earlier.iter().enumerate() {
        match span(inst, start, end, reads.get(&inst.meter_id), n > 0) {
            Ok((a, b)) if b.volume_ml >= a.volume_ml => measured_ml += b.volume_ml - a.volume_ml,
            _ => return whole,
        }
    }
    let r = reads.get(&last.meter_id).copied().unwrap_or_default();
    let Some(opening) = opening_of(last, start, &r, !earlier.is_empty()) else {
        return whole;
    };
    let total = (end - start).num_seconds().max(1);
    let unknown = (end - opening.at.max(start)).num_seconds().clamp(0, total);
    (
        ml_to_m3(measured_ml),
        Decimal::from(unknown) / Decimal::from(total),
    )
}

/// A norm volume for a premises without a meter (`share` of the months, for partial ones).
pub fn norm(
    persons: Option<i16>,
    m3_per_person_month: Option<Decimal>,
    months: u32,
    share: Decimal,
) -> Option<VolumeSource> {
    match (
        persons.and_then(|p| u32::try_from(p).ok()),
        m3_per_person_month,
    ) {
        (Some(persons), Some(m3)) => Some(VolumeSource::Norm(Norm {
            persons,
            m3_per_person_month: m3,
            months,
            share: (share != Decimal::ONE).then_some(share),
        })),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumption::consumption;
    use chrono::NaiveDate;
    use ewoda_common::time::local;
    use rust_decimal_macros::dec;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn inst(
        meter_id: i64,
        role: MeterRole,
        from: &str,
        read_ml: i64,
        removed: Option<(&str, i64)>,
    ) -> Installation {
        Installation {
            meter_id,
            role,
            installed_at: local(d(from), 9, 0),
            installed_read_ml: read_ml,
            removed_at: removed.map(|(day, _)| local(d(day), 9, 0)),
            removed_read_ml: removed.map(|(_, ml)| ml),
            register_digits: 5,
        }
    }

    fn at(day: &str, ml: i64) -> Option<StoredRead> {
        Some(StoredRead {
            at: local(d(day), 23, 50),
            volume_ml: ml,
            source: ReadSource::Reading("wmbus"),
        })
    }

    fn october() -> Period {
        Period::new(d("2026-10-01"), d("2026-10-31")).unwrap()
    }

    fn volume(b: &Basis) -> (Decimal, Option<Decimal>) {
        match b {
            Basis::Measured(m) => (consumption(&m.source).unwrap().volume_m3, m.sub_meter_m3),
            Basis::NoMeter => panic!("no meter"),
        }
    }

    #[test]
    fn replacement_adds_old_and_new_deltas_and_sub_meter_is_separate() {
        let insts = vec![
            inst(
                1,
                MeterRole::Main,
                "2020-01-01",
                0,
                Some(("2026-10-15", 1_250_000_000)),
            ),
            inst(2, MeterRole::Main, "2026-10-15", 0, None),
            inst(3, MeterRole::Sub, "2021-01-01", 0, None),
        ];
        let reads = HashMap::from([
            (
                1,
                BoundReads {
                    before_start: at("2026-09-30", 1_240_000_000),
                    ..Default::default()
                },
            ),
            (
                2,
                BoundReads {
                    before_end: at("2026-10-31", 4_500_000),
                    ..Default::default()
                },
            ),
            (
                3,
                BoundReads {
                    before_start: at("2026-09-30", 100_000_000),
                    before_end: at("2026-10-31", 102_500_000),
                    ..Default::default()
                },
            ),
        ]);
        let b = basis(october(), &insts, &reads).unwrap();
        assert_eq!(volume(&b), (dec!(14.500), Some(dec!(2.500))));
    }

    #[test]
    fn rollover_counts_through_zero_but_a_big_drop_is_negative() {
        let insts = vec![inst(1, MeterRole::Main, "2020-01-01", 0, None)];
        let reads = HashMap::from([(
            1,
            BoundReads {
                before_start: at("2026-09-30", 99_990_000_000),
                before_end: at("2026-10-31", 5_000_000),
                ..Default::default()
            },
        )]);
        assert_eq!(
            volume(&basis(october(), &insts, &reads).unwrap()).0,
            dec!(15.000)
        );
        let reads = HashMap::from([(
            1,
            BoundReads {
                before_start: at("2026-09-30", 50_000_000),
                before_end: at("2026-10-31", 49_000_000),
                ..Default::default()
            },
        )]);
        assert!(matches!(
            basis(october(), &insts, &reads),
            Err(VolumeProblem::Negative { .. })
        ));
    }

    #[test]
    fn nearest_read_wins_and_missing_is_reported() {
        let insts = vec![inst(1, MeterRole::Main, "2020-01-01", 0, None)];
        let reads = HashMap::from([(
            1,
            BoundReads {
                before_start: at("2026-09-25", 1_000_000),
                after_start: at("2026-10-01", 2_000_000),
                before_end: None,
                after_end: at("2026-11-01", 9_000_000),
                opening: None,
            },
        )]);
        // 1 Oct 23:50 is nearer to 1 Oct 00:00 than 25 Sep 23:50.
        assert_eq!(
            volume(&basis(october(), &insts, &reads).unwrap()).0,
            dec!(7.000)
        );
        // The previous invoice's closing read opens the period, however far from the bound.
        let mut chained = reads.clone();
        if let Some(r) = chained.get_mut(&1) {
            r.opening = at("2026-09-20", 500_000);
        }
        let b = basis(october(), &insts, &chained).unwrap();
        assert_eq!(volume(&b).0, dec!(8.500));
        let Basis::Measured(m) = b else { panic!() };
        assert_eq!(m.reads[0].opening, at("2026-09-20", 500_000).unwrap());
        let none = HashMap::new();
        assert_eq!(
            basis(october(), &insts, &none),
            Err(VolumeProblem::MissingReading {
                meter_id: 1,
                bound: "start"
            })
        );
        assert_eq!(basis(october(), &[], &none), Ok(Basis::NoMeter));
        assert!(norm(Some(3), Some(dec!(3.0)), 1, Decimal::ONE).is_some());
        assert!(norm(None, Some(dec!(3.0)), 1, Decimal::ONE).is_none());
        assert!(estimate(&[], 1, Decimal::ONE, Decimal::ZERO).is_none());
    }
}
