//! Tariffs: versions with validity dates (water and sewage per m³, fixed fees, VAT) and the
//! lookup of the version in force on a day or across a billing period.

use crate::calc_error::{check_magnitude, CalcError};
use chrono::{Datelike, Days, NaiveDate};
use rust_decimal::Decimal;
use serde::Deserialize;

/// An inclusive range of days, `from` ≤ `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawPeriod")]
pub struct Period {
    from: NaiveDate,
    to: NaiveDate,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPeriod {
    from: NaiveDate,
    to: NaiveDate,
}

impl TryFrom<RawPeriod> for Period {
    type Error = CalcError;
    fn try_from(raw: RawPeriod) -> Result<Self, CalcError> {
        Period::new(raw.from, raw.to)
    }
}

impl Period {
    /// A period from `from` through `to`; error naming `period` when `to` is before `from`.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, CalcError> {
        if to < from {
            return Err(CalcError::invalid(
                "period",
                format!("to {to} is before from {from}"),
            ));
        }
        Ok(Period { from, to })
    }

    /// The first day.
    pub fn from(&self) -> NaiveDate {
        self.from
    }

    /// The last day (inclusive).
    pub fn to(&self) -> NaiveDate {
        self.to
    }

    /// Number of days, both ends included (at least 1).
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// The part of its calendar month this period (within one month) covers: its days over the
    /// month's days, 1 for a whole month. A move-in or move-out month pays by its own days.
    pub fn month_fraction(&self) -> Decimal {
        let month = Period {
            from: self.from.with_day(1).unwrap_or(self.from),
            to: last_day_of_month(self.from),
        };
        if self.from <= month.from && self.to >= month.to {
            Decimal::ONE
        } else {
            Decimal::from(self.days().min(month.days())) / Decimal::from(month.days())
        }
    }

    /// The share (0–1) of its touched months the period covers: Σ each month's fraction over
    /// the number of months.
    pub fn month_share(&self) -> Decimal {
        let months = self.months();
        if months.is_empty() {
            return Decimal::ONE;
        }
        let sum: Decimal = months.iter().map(Period::month_fraction).sum();
        sum / Decimal::from(months.len())
    }

    /// The calendar months touching the period, each clipped to it, in order.
    pub fn months(&self) -> Vec<Period> {
        let mut out = Vec::new();
        let mut start = self.from;
        while start <= self.to {
            let end = last_day_of_month(start).min(self.to);
            out.push(Period {
                from: start,
                to: end,
            });
            match end.checked_add_days(Days::new(1)) {
                Some(next) => start = next,
                None => break,
            }
        }
        out
    }
}

fn last_day_of_month(day: NaiveDate) -> NaiveDate {
    let (y, m) = if day.month() == 12 {
        (day.year() + 1, 1)
    } else {
        (day.year(), day.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|first_of_next| first_of_next.pred_opt())
        .unwrap_or(NaiveDate::MAX)
}

/// How often a fixed fee is charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeePer {
    /// Once per billing period, at the version in force on the period's last day.
    Period,
    /// Once per calendar month touching the period, at the version in force on its first day.
    Month,
}

/// A fixed fee (abonament) of a tariff version.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fee {
    /// The invoice line's item name, e.g. "abonament wodny".
    pub name: String,
    /// Net amount per period or per month.
    pub amount: Decimal,
    /// Per period or per month.
    pub per: FeePer,
}

/// One version of a tariff; `to` is implied by the next version's `from` when absent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TariffVersion {
    /// First day in force.
    pub from: NaiveDate,
    /// Last day in force; `None` = until the next version (or open-ended for the last one).
    #[serde(default)]
    pub to: Option<NaiveDate>,
    /// Net price of water per m³.
    pub water_m3: Decimal,
    /// Net price of sewage per m³.
    pub sewage_m3: Decimal,
    /// VAT rate in percent, e.g. 8.
    pub vat_percent: Decimal,
    /// Fixed fees.
    #[serde(default)]
    pub fees: Vec<Fee>,
    /// Net discount per invoice for customers who receive e-invoices (0: none).
    #[serde(default)]
    pub einvoice_discount: Decimal,
}

/// Validated tariff: versions sorted by `from`, none overlapping, each `to` filled in except
/// possibly the last one's (open-ended).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Vec<TariffVersion>")]
pub struct Tariff {
    versions: Vec<TariffVersion>,
}

/// A tariff version together with the part of a period it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TariffSegment<'a> {
    /// The version in force.
    pub version: &'a TariffVersion,
    /// The days of the period it covers.
    pub days: Period,
}

impl TryFrom<Vec<TariffVersion>> for Tariff {
    type Error = CalcError;
    fn try_from(versions: Vec<TariffVersion>) -> Result<Self, CalcError> {
        Tariff::new(versions)
    }
}

impl Tariff {
    /// Validates versions (any order); errors name `tariff[i]` of the input order.
    pub fn new(versions: Vec<TariffVersion>) -> Result<Self, CalcError> {
        if versions.is_empty() {
            return Err(CalcError::tariff("tariff", "has no versions"));
        }
        let mut indexed: Vec<(usize, TariffVersion)> = versions.into_iter().enumerate().collect();
        for (i, v) in &indexed {
            for (name, price) in [("water_m3", v.water_m3), ("sewage_m3", v.sewage_m3)] {
                if price.is_sign_negative() {
                    return Err(CalcError::tariff(
                        format!("tariff[{i}].{name}"),
                        format!("{price} is negative"),
                    ));
                }
                check_magnitude(price, &format!("tariff[{i}].{name}"))?;
            }
            if v.vat_percent.is_sign_negative() || v.vat_percent > Decimal::ONE_HUNDRED {
                return Err(CalcError::tariff(
                    format!("tariff[{i}].vat_percent"),
                    format!("{} is not between 0 and 100", v.vat_percent),
                ));
            }
            for (k, fee) in v.fees.iter().enumerate() {
                check_magnitude(fee.amount, &format!("tariff[{i}].fees[{k}].amount"))?;
            }
            if let Some(to) = v.to {
                if to < v.from {
                    return Err(CalcError::tariff(
                        format!("tariff[{i}].to"),
                        format!("{to} is before from {}", v.from),
                    ));
                }
            }
        }
        indexed.sort_by_key(|(_, v)| v.from);
        for pair in indexed.windows(2) {
            let [(i, a), (j, b)] = pair else { continue };
            let overlaps = a.from == b.from || a.to.is_some_and(|to| to >= b.from);
            if overlaps {
                return Err(CalcError::tariff(
                    format!("tariff[{j}]"),
                    format!(
                        "version from {} overlaps version tariff[{i}] from {}{}",
                        b.from,
                        a.from,
                        a.to.map(|t| format!(" to {t}")).unwrap_or_default()
                    ),
                ));
            }
        }
        let mut versions: Vec<TariffVersion> = indexed.into_iter().map(|(_, v)| v).collect();
        let next_froms: Vec<Option<NaiveDate>> = versions
            .iter()
            .skip(1)
            .map(|v| Some(v.from))
            .chain([None])
            .collect();
        for (v, next_from) in versions.iter_mut().zip(next_froms) {
            if v.to.is_none() {
                v.to = next_from.and_then(|d| d.pred_opt());
            }
        }
        Ok(Tariff { versions })
    }

    /// The versions, sorted by `from`, with `to` filled in.
    pub fn versions(&self) -> &[TariffVersion] {
        &self.versions
    }

    /// The version in force on `day`, if any.
    pub fn version_on(&self, day: NaiveDate) -> Option<&TariffVersion> {
        self.versions
            .iter()
            .find(|v| v.from <= day && v.to.is_none_or(|to| day <= to))
    }

    /// The versions in force during `period`, each with the days it covers, in order; error
    /// naming `tariff` (and the period) when a day of the period has no version.
    pub fn segments(&self, period: Period) -> Result<Vec<TariffSegment<'_>>, CalcError> {
        let mut out = Vec::new();
        let mut day = period.from;
        loop {
            let Some(version) = self.version_on(day) else {
                return Err(CalcError::tariff(
                    "tariff",
                    format!(
                        "no version in force on {day}, which the period {} to {} needs",
                        period.from, period.to
                    ),
                ));
            };
            let end = version.to.map_or(period.to, |to| to.min(period.to));
            out.push(TariffSegment {
                version,
                days: Period { from: day, to: end },
            });
            match end.succ_opt() {
                Some(next) if end < period.to => day = next,
                _ => break,
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn version(from: &str, to: Option<&str>) -> TariffVersion {
        TariffVersion {
            from: d(from),
            to: to.map(d),
            water_m3: dec!(6.95),
            sewage_m3: dec!(12.35),
            vat_percent: dec!(8),
            einvoice_discount: rust_decimal::Decimal::ZERO,
            fees: vec![],
        }
    }

    #[test]
    fn implied_to_and_segments() {
        let t = Tariff::new(vec![
            version("2026-03-01", None),
            version("2025-01-01", None),
        ])
        .unwrap();
        assert_eq!(t.versions()[0].to, Some(d("2026-02-28")));
        assert_eq!(t.versions()[1].to, None);
        let segs = t
            .segments(Period::new(d("2026-01-01"), d("2026-03-31")).unwrap())
            .unwrap();
        assert_eq!(segs.len(), 2);
        assert_eq!(
            segs[0].days,
            Period::new(d("2026-01-01"), d("2026-02-28")).unwrap()
        );
        assert_eq!(
            segs[1].days,
            Period::new(d("2026-03-01"), d("2026-03-31")).unwrap()
        );
    }

    #[test]
    fn overlapping_versions_name_tariff() {
        let err = Tariff::new(vec![
            version("2025-01-01", Some("2025-06-30")),
            version("2025-06-01", None),
        ])
        .unwrap_err();
        assert_eq!(err.field(), "tariff[1]");
        let err = Tariff::new(vec![
            version("2025-01-01", None),
            version("2025-01-01", None),
        ])
        .unwrap_err();
        assert!(err.field().starts_with("tariff"));
    }

    #[test]
    fn uncovered_days_name_tariff_and_period() {
        let t = Tariff::new(vec![
            version("2025-01-01", Some("2025-01-31")),
            version("2025-03-01", None),
        ])
        .unwrap();
        let err = t
            .segments(Period::new(d("2025-01-15"), d("2025-03-15")).unwrap())
            .unwrap_err();
        assert_eq!(err.field(), "tariff");
        assert!(
            err.to_string().contains("2025-02-01") && err.to_string().contains("period"),
            "{err}"
        );
        let err = t
            .segments(Period::new(d("2024-12-01"), d("2024-12-31")).unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("2024-12-01"));
    }

    #[test]
    fn months_are_clipped() {
        let p = Period::new(d("2026-01-15"), d("2026-03-10")).unwrap();
        let months: Vec<(NaiveDate, NaiveDate)> =
            p.months().iter().map(|m| (m.from(), m.to())).collect();
        assert_eq!(
            months,
            vec![
                (d("2026-01-15"), d("2026-01-31")),
                (d("2026-02-01"), d("2026-02-28")),
                (d("2026-03-01"), d("2026-03-10"))
            ]
        );
    }
}
