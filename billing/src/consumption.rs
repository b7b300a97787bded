//! Consumption for a billing period: from meter reads (rollover, meter replacement), from an
//! estimate or a norm, the sewage volume after a sub-meter, and the split of a volume across
//! tariff versions (pro rata by days, or by actual readings at the change dates).

use crate::calc_error::{check_magnitude, CalcError};
use crate::tariff::Period;
use chrono::NaiveDate;
use ewoda_common::units::round_half_up;
use rust_decimal::Decimal;
use serde::Deserialize;

/// Volumes are billed to the litre (0.001 m³).
const VOLUME_DP: u32 = 3;

/// A register reading of a meter on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Read {
    /// Day of the reading.
    pub date: NaiveDate,
    /// Register value in m³.
    pub value: Decimal,
}

/// A meter exchanged on `date`: the old meter's last register and the new one's first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replacement {
    /// Day of the exchange.
    pub date: NaiveDate,
    /// The old meter's register when removed.
    pub old_final: Decimal,
    /// The new meter's register when installed.
    pub new_initial: Decimal,
}

/// Estimate: the average of the monthly history times the months billed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Estimate {
    /// Monthly consumption of the previous N months, in m³.
    pub monthly_history_m3: Vec<Decimal>,
    /// Months billed.
    pub months: u32,
    /// The share of those months estimated (0–1): a partial month counts by its days, and
    /// after a meter exchange only the new meter's part is estimated. Default 1.
    #[serde(default)]
    pub share: Option<Decimal>,
    /// Volume measured in the rest of the period (a replaced meter's span), added as it is.
    #[serde(default)]
    pub measured_m3: Option<Decimal>,
}

/// Norm for a customer without a meter: persons × m³ per person-month × months.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Norm {
    /// Persons in the household.
    pub persons: u32,
    /// Norm volume per person and month, in m³.
    pub m3_per_person_month: Decimal,
    /// Months billed.
    pub months: u32,
    /// The share of those months billed (0–1; a partial month counts by its days). Default 1.
    #[serde(default)]
    pub share: Option<Decimal>,
}

/// A share of months (0–1) from the input, checked.
fn share(share: Option<Decimal>, field: &str) -> Result<Decimal, CalcError> {
    match share {
        None => Ok(Decimal::ONE),
        Some(s) if s.is_sign_negative() || s > Decimal::ONE => Err(CalcError::invalid(
            field,
            format!("{s} is not between 0 and 1"),
        )),
        Some(s) => Ok(s),
    }
}

/// Where the period's volume comes from (JSON: exactly one of `reads`, `estimate`, `norm`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawVolume")]
pub enum VolumeSource {
    /// Meter reads; the first and the last bound the period.
    Reads {
        /// Reads in date order.
        reads: Vec<Read>,
        /// Digits of the register before the decimal point; enables rollover.
        register_digits: Option<u32>,
        /// Meter exchanges between the first and the last read.
        replacements: Vec<Replacement>,
    },
    /// An estimate (flagged on the invoice).
    Estimate(Estimate),
    /// A norm (no meter).
    Norm(Norm),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVolume {
    reads: Option<Vec<Read>>,
    register_digits: Option<u32>,
    replacements: Option<Vec<Replacement>>,
    estimate: Option<Estimate>,
    norm: Option<Norm>,
}

impl TryFrom<RawVolume> for VolumeSource {
    type Error = CalcError;
    fn try_from(raw: RawVolume) -> Result<Self, CalcError> {
        let has_read_extras = raw.register_digits.is_some() || raw.replacements.is_some();
        match (raw.reads, raw.estimate, raw.norm) {
            (Some(reads), None, None) => Ok(VolumeSource::Reads {
                reads,
                register_digits: raw.register_digits,
                replacements: raw.replacements.unwrap_or_default(),
            }),
            (None, Some(estimate), None) if !has_read_extras => {
                Ok(VolumeSource::Estimate(estimate))
            }
            (None, None, Some(norm)) if !has_read_extras => Ok(VolumeSource::Norm(norm)),
            _ => Err(CalcError::invalid(
                "volume",
                "must have exactly one of reads (with optional register_digits and replacements), \
                 estimate or norm",
            )),
        }
    }
}

/// The volume of a period and whether it is estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consumption {
    /// m³ to 0.001.
    pub volume_m3: Decimal,
    /// True for an estimate (to be reconciled by a correction later).
    pub estimated: bool,
}

/// The period's volume from any source, rounded half-up to 0.001 m³.
pub fn consumption(source: &VolumeSource) -> Result<Consumption, CalcError> {
    let (volume_m3, estimated) = match source {
        VolumeSource::Reads {
            reads,
            register_digits,
            replacements,
        } => (
            volume_from_reads(reads, *register_digits, replacements)?,
            false,
        ),
        VolumeSource::Estimate(e) => (estimate_volume(e)?, true),
        VolumeSource::Norm(n) => (norm_volume(n)?, false),
    };
    check_magnitude(volume_m3, "volume")?;
    Ok(Consumption {
        volume_m3,
        estimated,
    })
}

/// Volume between the first and the last read: the sum of register differences, with a
/// replacement contributing `old_final − previous register` and restarting from `new_initial`.
/// A register going down is a rollover only when `register_digits` is given.
pub fn volume_from_reads(
    reads: &[Read],
    register_digits: Option<u32>,
    replacements: &[Replacement],
) -> Result<Decimal, CalcError> {
    let modulus = register_modulus(register_digits)?;
    let (first, last) = match reads {
        [first, .., last] => (first, last),
        _ => {
            return Err(CalcError::invalid(
                "volume.reads",
                "needs at least two reads",
            ))
        }
    };
    for (i, pair) in reads.windows(2).enumerate() {
        if let [a, b] = pair {
            if b.date <= a.date {
                return Err(CalcError::invalid(
                    format!("volume.reads[{}].date", i + 1),
                    format!("{} is not after the previous read's {}", b.date, a.date),
                ));
            }
        }
    }
    for (i, r) in reads.iter().enumerate() {
        check_register(r.value, modulus, &format!("volume.reads[{i}].value"))?;
    }
    // Events in time order; on a replacement day the replacement comes before that day's read,
    // so a read on the exchange day is the new meter's.
    enum Event<'a> {
        Read(usize, &'a Read),
        Replace(usize, &'a Replacement),
    }
    let mut events: Vec<(NaiveDate, u8, Event<'_>)> = Vec::new();
    for (i, r) in reads.iter().enumerate().skip(1) {
        events.push((r.date, 1, Event::Read(i, r)));
    }
    for (i, rep) in replacements.iter().enumerate() {
        let field = format!("volume.replacements[{i}]");
        if rep.date <= first.date || rep.date > last.date {
            return Err(CalcError::invalid(
                format!("{field}.date"),
                format!(
                    "{} is not after the first read ({}) and on or before the last ({})",
                    rep.date, first.date, last.date
                ),
            ));
        }
        check_register(rep.old_final, modulus, &format!("{field}.old_final"))?;
        check_register(rep.new_initial, modulus, &format!("{field}.new_initial"))?;
        events.push((rep.date, 0, Event::Replace(i, rep)));
    }
    events.sort_by_key(|(date, order, _)| (*date, *order));

    let mut register = first.value;
    let mut total = Decimal::ZERO;
    for (_, _, event) in &events {
        match event {
            Event::Read(i, r) => {
                total += advance(
                    register,
                    r.value,
                    modulus,
                    &format!("volume.reads[{i}].value"),
                )?;
                register = r.value;
            }
            Event::Replace(i, rep) => {
                let field = format!("volume.replacements[{i}].old_final");
                total += advance(register, rep.old_final, modulus, &field)?;
                register = rep.new_initial;
            }
        }
    }
    Ok(round_half_up(total, VOLUME_DP))
}

fn register_modulus(register_digits: Option<u32>) -> Result<Option<Decimal>, CalcError> {
    match register_digits {
        None => Ok(None),
        Some(d @ 1..=18) => Ok(Some(Decimal::from(10u64.pow(d)))),
        Some(d) => Err(CalcError::invalid(
            "volume.register_digits",
            format!("{d} is not between 1 and 18"),
        )),
    }
}

fn check_register(value: Decimal, modulus: Option<Decimal>, field: &str) -> Result<(), CalcError> {
    check_magnitude(value, field)?;
    if value.is_sign_negative() {
        return Err(CalcError::invalid(field, format!("{value} is negative")));
    }
    if let Some(m) = modulus {
        if value >= m {
            return Err(CalcError::invalid(
                field,
                format!("{value} does not fit the register ({m} rolls over to 0)"),
            ));
        }
    }
    Ok(())
}

/// Consumption from register `from` to register `to`, through a rollover if allowed.
fn advance(
    from: Decimal,
    to: Decimal,
    modulus: Option<Decimal>,
    field: &str,
) -> Result<Decimal, CalcError> {
    if to >= from {
        return Ok(to - from);
    }
    match modulus {
        Some(m) => Ok(m - from + to),
        None => Err(CalcError::invalid(
            field,
            format!(
                "{to} is lower than the previous register {from}; a rollover needs volume.register_digits"
            ),
        )),
    }
}

/// Average monthly history × months, rounded half-up to 0.001 m³.
pub fn estimate_volume(estimate: &Estimate) -> Result<Decimal, CalcError> {
    if estimate.monthly_history_m3.is_empty() {
        return Err(CalcError::invalid(
            "volume.estimate.monthly_history_m3",
            "is empty",
        ));
    }
    let mut sum = Decimal::ZERO;
    for (i, m) in estimate.monthly_history_m3.iter().enumerate() {
        check_magnitude(*m, &format!("volume.estimate.monthly_history_m3[{i}]"))?;
        if m.is_sign_negative() {
            return Err(CalcError::invalid(
                format!("volume.estimate.monthly_history_m3[{i}]"),
                format!("{m} is negative"),
            ));
        }
        sum = sum.checked_add(*m).ok_or_else(|| {
            CalcError::invalid("volume.estimate.monthly_history_m3", "sum overflows")
        })?;
    }
    let n = Decimal::from(estimate.monthly_history_m3.len());
    let part = share(estimate.share, "volume.estimate.share")?;
    let measured = estimate.measured_m3.unwrap_or(Decimal::ZERO);
    check_magnitude(measured, "volume.estimate.measured_m3")?;
    if measured.is_sign_negative() {
        return Err(CalcError::invalid(
            "volume.estimate.measured_m3",
            format!("{measured} is negative"),
        ));
    }
    // Multiply before dividing so that exact averages stay exact.
    let volume = sum
        .checked_mul(Decimal::from(estimate.months))
        .and_then(|x| x.checked_mul(part))
        .and_then(|x| x.checked_div(n))
        .ok_or_else(|| CalcError::invalid("volume.estimate", "volume overflows"))?;
    Ok(round_half_up(volume, VOLUME_DP) + round_half_up(measured, VOLUME_DP))
}

/// Persons × m³ per person-month × months, rounded half-up to 0.001 m³.
pub fn norm_volume(norm: &Norm) -> Result<Decimal, CalcError> {
    check_magnitude(norm.m3_per_person_month, "volume.norm.m3_per_person_month")?;
    if norm.m3_per_person_month.is_sign_negative() {
        return Err(CalcError::invalid(
            "volume.norm.m3_per_person_month",
            "is negative",
        ));
    }
    let volume = norm
        .m3_per_person_month
        .checked_mul(Decimal::from(norm.persons))
        .and_then(|x| x.checked_mul(Decimal::from(norm.months)))
        .and_then(|x| x.checked_mul(share(norm.share, "volume.norm.share").ok()?))
        .ok_or_else(|| CalcError::invalid("volume.norm", "volume overflows or share out of 0–1"))?;
    Ok(round_half_up(volume, VOLUME_DP))
}

/// Sewage volume: the volume less the sub-meter (garden water does not go to the sewer).
pub fn sewage_volume(
    volume_m3: Decimal,
    sub_meter_m3: Option<Decimal>,
) -> Result<Decimal, CalcError> {
    let sub = sub_meter_m3.unwrap_or(Decimal::ZERO);
    check_magnitude(sub, "sub_meter_m3")?;
    if sub.is_sign_negative() {
        return Err(CalcError::invalid(
            "sub_meter_m3",
            format!("{sub} is negative"),
        ));
    }
    if sub > volume_m3 {
        return Err(CalcError::invalid(
            "sub_meter_m3",
            format!(
                "{} exceeds the volume {}",
                round_half_up(sub, VOLUME_DP),
                round_half_up(volume_m3, VOLUME_DP)
            ),
        ));
    }
    Ok(round_half_up(volume_m3 - sub, VOLUME_DP))
}

/// Splits `volume_m3` over consecutive `spans` pro rata by days: each part rounded half-up to
/// 0.001 m³, the last part takes the remainder, so the parts always sum to the volume.
///
/// With three or more spans and a tiny volume the literal rule can leave a negative remainder
/// (e.g. 0.002 m³ over four equal spans); then the parts are taken from the rounded running
/// total instead, which keeps every part non-negative.
pub fn split_pro_rata(volume_m3: Decimal, spans: &[Period]) -> Vec<Decimal> {
    let total_days: i64 = spans.iter().map(Period::days).sum();
    let shares: Vec<Decimal> = spans
        .iter()
        .map(|s| volume_m3 * Decimal::from(s.days()) / Decimal::from(total_days.max(1)))
        .collect();
    distribute(volume_m3, &shares)
}

/// Rounds exact shares summing to `volume_m3`, the last taking the remainder.
fn distribute(volume_m3: Decimal, shares: &[Decimal]) -> Vec<Decimal> {
    let Some((_, init)) = shares.split_last() else {
        return Vec::new();
    };
    let mut parts: Vec<Decimal> = init.iter().map(|s| round_half_up(*s, VOLUME_DP)).collect();
    let rest = volume_m3 - parts.iter().copied().sum::<Decimal>();
    if rest.is_sign_negative() && !volume_m3.is_sign_negative() {
        let mut running = Decimal::ZERO;
        let mut previous = Decimal::ZERO;
        parts.clear();
        for s in init {
            running += *s;
            let rounded = round_half_up(running, VOLUME_DP);
            parts.push(rounded - previous);
            previous = rounded;
        }
        parts.push(round_half_up(volume_m3 - previous, VOLUME_DP));
    } else {
        parts.push(round_half_up(rest, VOLUME_DP));
    }
    parts
}

/// Splits `volume_m3` over consecutive `spans` using interval readings where they exist: a
/// reading dated the first day of a span (the register at the start of that day) fixes the
/// consumption before and after it; between such anchors the volume is shared pro rata by days.
/// `readings` must start with the reading on the first span's first day for any anchor to be
/// used (otherwise this is exactly [`split_pro_rata`]); consumption between readings follows the
/// same rollover rule as [`volume_from_reads`].
pub fn split_by_readings(
    volume_m3: Decimal,
    spans: &[Period],
    readings: &[Read],
    register_digits: Option<u32>,
) -> Result<Vec<Decimal>, CalcError> {
    let modulus = register_modulus(register_digits)?;
    let Some(first_span) = spans.first() else {
        return Ok(Vec::new());
    };
    // Cumulative consumption from the period start at each span boundary with a reading.
    let mut anchors: Vec<Option<Decimal>> = vec![None; spans.len() + 1];
    anchors[0] = Some(Decimal::ZERO);
    anchors[spans.len()] = Some(volume_m3);
    if let Some(start) = readings.first().filter(|r| r.date == first_span.from()) {
        let mut cumulative = Decimal::ZERO;
        let mut register = start.value;
        for (i, r) in readings.iter().enumerate().skip(1) {
            let field = format!("readings[{i}].value");
            check_register(r.value, modulus, &field)?;
            cumulative += advance(register, r.value, modulus, &field)?;
            register = r.value;
            if let Some(k) = spans.iter().skip(1).position(|s| s.from() == r.date) {
                if cumulative > volume_m3 {
                    return Err(CalcError::invalid(
                        field,
                        format!("consumption {cumulative} up to {} exceeds the period's volume {volume_m3}", r.date),
                    ));
                }
                anchors[k + 1] = Some(cumulative);
            }
        }
    }
    // Shares between consecutive anchors, pro rata by days inside each stretch.
    let mut shares = Vec::with_capacity(spans.len());
    let mut start = 0usize;
    let mut start_value = Decimal::ZERO;
    for end in 1..=spans.len() {
        let Some(Some(end_value)) = anchors.get(end).copied() else {
            continue;
        };
        let stretch = spans.get(start..end).unwrap_or_default();
        let stretch_volume = end_value - start_value;
        if stretch_volume.is_sign_negative() {
            return Err(CalcError::invalid(
                "readings",
                "readings at the tariff change dates go backwards",
            ));
        }
        let days: i64 = stretch.iter().map(Period::days).sum();
        for s in stretch {
            shares.push(stretch_volume * Decimal::from(s.days()) / Decimal::from(days.max(1)));
        }
        start = end;
        start_value = end_value;
    }
    Ok(distribute(volume_m3, &shares))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn read(date: &str, value: Decimal) -> Read {
        Read {
            date: d(date),
            value,
        }
    }

    fn period(from: &str, to: &str) -> Period {
        Period::new(d(from), d(to)).unwrap()
    }

    #[test]
    fn plain_reads() {
        let v = volume_from_reads(
            &[
                read("2026-04-01", dec!(1234.567)),
                read("2026-04-30", dec!(1246.912)),
            ],
            None,
            &[],
        )
        .unwrap();
        assert_eq!(v.to_string(), "12.345");
    }

    #[test]
    fn rollover_needs_register_digits() {
        let reads = [
            read("2026-01-01", dec!(99990.500)),
            read("2026-02-01", dec!(3.250)),
        ];
        assert_eq!(
            volume_from_reads(&reads, Some(5), &[]).unwrap().to_string(),
            "12.750"
        );
        let err = volume_from_reads(&reads, None, &[]).unwrap_err();
        assert_eq!(err.field(), "volume.reads[1].value");
        // A read beyond the register's capacity is not a rollover but an error.
        let err = volume_from_reads(
            &[
                read("2026-01-01", dec!(100000)),
                read("2026-02-01", dec!(1)),
            ],
            Some(5),
            &[],
        )
        .unwrap_err();
        assert_eq!(err.field(), "volume.reads[0].value");
    }

    #[test]
    fn replacement_adds_old_and_new_deltas() {
        let reads = [
            read("2026-01-01", dec!(1234.567)),
            read("2026-03-31", dec!(6.912)),
        ];
        let rep = [Replacement {
            date: d("2026-02-10"),
            old_final: dec!(1240.000),
            new_initial: dec!(0.500),
        }];
        // (1240.000 − 1234.567) + (6.912 − 0.500)
        assert_eq!(
            volume_from_reads(&reads, None, &rep).unwrap().to_string(),
            "11.845"
        );
        // A read between the first read and the exchange counts against the old meter.
        let reads3 = [
            read("2026-01-01", dec!(1234.567)),
            read("2026-02-01", dec!(1238.000)),
            read("2026-03-31", dec!(6.912)),
        ];
        assert_eq!(
            volume_from_reads(&reads3, None, &rep).unwrap().to_string(),
            "11.845"
        );
        // An exchange on the last read's day: that read is the new meter's.
        let rep_last = [Replacement {
            date: d("2026-03-31"),
            old_final: dec!(1240.000),
            new_initial: dec!(6.000),
        }];
        assert_eq!(
            volume_from_reads(&reads, None, &rep_last)
                .unwrap()
                .to_string(),
            "6.345"
        );
        let bad = [Replacement {
            date: d("2025-12-31"),
            old_final: dec!(1),
            new_initial: dec!(0),
        }];
        assert_eq!(
            volume_from_reads(&reads, None, &bad).unwrap_err().field(),
            "volume.replacements[0].date"
        );
    }

    #[test]
    fn reads_must_be_two_and_in_order() {
        assert_eq!(
            volume_from_reads(&[read("2026-01-01", dec!(1))], None, &[])
                .unwrap_err()
                .field(),
            "volume.reads"
        );
        let err = volume_from_reads(
            &[read("2026-02-01", dec!(1)), read("2026-01-01", dec!(2))],
            None,
            &[],
        )
        .unwrap_err();
        assert_eq!(err.field(), "volume.reads[1].date");
    }

    #[test]
    fn estimate_is_average_times_months_half_up() {
        let e = Estimate {
            monthly_history_m3: vec![dec!(10.2), dec!(9.6), dec!(11.1)],
            months: 2,
            share: None,
            measured_m3: None,
        };
        assert_eq!(estimate_volume(&e).unwrap().to_string(), "20.600");
        // 10/3 × 1 = 3.3333… → 3.333; 2.0005 × 1 → 2.001 (half-up)
        let e = Estimate {
            monthly_history_m3: vec![dec!(1), dec!(4), dec!(5)],
            months: 1,
            share: None,
            measured_m3: None,
        };
        assert_eq!(estimate_volume(&e).unwrap().to_string(), "3.333");
        let e = Estimate {
            monthly_history_m3: vec![dec!(2.0005)],
            months: 1,
            share: None,
            measured_m3: None,
        };
        assert_eq!(estimate_volume(&e).unwrap().to_string(), "2.001");
        let e = Estimate {
            monthly_history_m3: vec![],
            months: 1,
            share: None,
            measured_m3: None,
        };
        assert_eq!(
            estimate_volume(&e).unwrap_err().field(),
            "volume.estimate.monthly_history_m3"
        );
        let src = VolumeSource::Estimate(Estimate {
            monthly_history_m3: vec![dec!(3)],
            months: 2,
            share: None,
            measured_m3: None,
        });
        assert_eq!(
            consumption(&src).unwrap(),
            Consumption {
                volume_m3: dec!(6.000),
                estimated: true
            }
        );
    }

    #[test]
    fn norm_is_persons_times_rate_times_months() {
        let n = Norm {
            persons: 4,
            m3_per_person_month: dec!(3.0),
            months: 2,
            share: None,
        };
        assert_eq!(norm_volume(&n).unwrap().to_string(), "24.000");
        let src = VolumeSource::Norm(n.clone());
        assert!(!consumption(&src).unwrap().estimated);
        // Moved in on 16 October: 16 of 31 days of one month.
        let part = Norm {
            months: 1,
            share: Some(Decimal::from(16) / Decimal::from(31)),
            ..n
        };
        assert_eq!(norm_volume(&part).unwrap().to_string(), "6.194");
        let bad = Norm {
            share: Some(dec!(1.5)),
            ..part
        };
        assert!(norm_volume(&bad).is_err());
    }

    #[test]
    fn a_partial_estimate_adds_the_measured_part() {
        // A meter exchanged mid-month: the old meter measured 4.5 m³, the new one's closing
        // read is missing and its 10 days of 30 are estimated from 9 m³ a month.
        let e = Estimate {
            monthly_history_m3: vec![dec!(9)],
            months: 1,
            share: Some(Decimal::from(10) / Decimal::from(30)),
            measured_m3: Some(dec!(4.5)),
        };
        assert_eq!(estimate_volume(&e).unwrap(), dec!(7.500));
    }

    #[test]
    fn sub_meter_only_reduces_sewage() {
        assert_eq!(
            sewage_volume(dec!(30.000), Some(dec!(8.5)))
                .unwrap()
                .to_string(),
            "21.500"
        );
        assert_eq!(
            sewage_volume(dec!(30.000), None).unwrap().to_string(),
            "30.000"
        );
        let err = sewage_volume(dec!(8.500), Some(dec!(9.000))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "sub_meter_m3: 9.000 exceeds the volume 8.500"
        );
    }

    #[test]
    fn pro_rata_by_days_last_takes_remainder() {
        let spans = [
            period("2026-01-01", "2026-02-28"),
            period("2026-03-01", "2026-03-31"),
        ];
        assert_eq!(
            split_pro_rata(dec!(27.000), &spans),
            vec![dec!(17.700), dec!(9.300)]
        );
        // 10 × 59/90 = 6.5555… → 6.556; remainder 3.444
        assert_eq!(
            split_pro_rata(dec!(10.000), &spans),
            vec![dec!(6.556), dec!(3.444)]
        );
        let four = [
            period("2026-01-01", "2026-01-01"),
            period("2026-01-02", "2026-01-02"),
            period("2026-01-03", "2026-01-03"),
            period("2026-01-04", "2026-01-04"),
        ];
        let parts = split_pro_rata(dec!(0.002), &four);
        assert_eq!(parts.iter().copied().sum::<Decimal>(), dec!(0.002));
        assert!(parts.iter().all(|p| !p.is_sign_negative()), "{parts:?}");
    }

    #[test]
    fn split_follows_a_reading_at_the_change_date() {
        let spans = [
            period("2026-01-01", "2026-02-28"),
            period("2026-03-01", "2026-03-31"),
        ];
        let readings = [
            read("2026-01-01", dec!(100)),
            read("2026-02-01", dec!(110)),
            read("2026-03-01", dec!(112)),
            read("2026-03-31", dec!(127)),
        ];
        let parts = split_by_readings(dec!(27.000), &spans, &readings, None).unwrap();
        assert_eq!(parts, vec![dec!(12.000), dec!(15.000)]);
        // No reading on the change date: pro rata.
        let sparse = [read("2026-01-01", dec!(100)), read("2026-03-31", dec!(127))];
        assert_eq!(
            split_by_readings(dec!(27.000), &spans, &sparse, None).unwrap(),
            split_pro_rata(dec!(27.000), &spans)
        );
        // Three versions, reading only at the second change: the first two share pro rata.
        let spans3 = [
            period("2026-01-01", "2026-01-31"),
            period("2026-02-01", "2026-02-28"),
            period("2026-03-01", "2026-03-31"),
        ];
        let at_march = [
            read("2026-01-01", dec!(100)),
            read("2026-03-01", dec!(112)),
            read("2026-03-31", dec!(127)),
        ];
        let parts = split_by_readings(dec!(27.000), &spans3, &at_march, None).unwrap();
        // 12 over 31 + 28 days: 12 × 31/59 = 6.305…
        assert_eq!(parts, vec![dec!(6.305), dec!(5.695), dec!(15.000)]);
    }
}
