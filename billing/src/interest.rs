//! Statutory late-payment interest (odsetki ustawowe za opóźnienie; in commercial transactions
//! for businesses) over day ranges, the 40/70/100 EUR compensation, and the rate tables as data.
//!
//! Households: NBP reference rate + 5.5 pp, changing on the day the reference rate changes.
//! Businesses: reference rate in force on 1 January / 1 July + 10 pp (8 pp before 2020), fixed
//! for the half-year. A day after the table's last row uses the last known rate, so the tables
//! in `billing/data/` must be extended whenever the NBP changes the rate; a day before the
//! first row is an error.

use crate::calc_error::{check_magnitude, from_json, to_output, CalcError};
use chrono::{Datelike, NaiveDate};
use ewoda_common::units::round_half_up;
use ewoda_common::Money;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

const REFERENCE_CSV: &str = include_str!("../data/nbp_reference_rate.csv");
const MARGIN_CSV: &str = include_str!("../data/statutory_margin.csv");

/// Which statutory rate applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Debtor {
    /// A consumer: odsetki ustawowe za opóźnienie.
    Household,
    /// A business in a commercial transaction: odsetki za opóźnienie w transakcjach handlowych.
    Business,
}

/// A step function of annual rates in percent, each row in force from its date on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateTable {
    rows: Vec<(NaiveDate, Decimal)>,
}

impl RateTable {
    /// Builds a table from (first day in force, rate %) rows in any order, e.g. database rows.
    pub fn from_rows(
        rows: impl IntoIterator<Item = (NaiveDate, Decimal)>,
    ) -> Result<Self, CalcError> {
        let mut rows: Vec<(NaiveDate, Decimal)> = rows.into_iter().collect();
        if rows.is_empty() {
            return Err(CalcError::invalid("rates", "the rate table is empty"));
        }
        rows.sort_by_key(|(date, _)| *date);
        for pair in rows.windows(2) {
            if let [(a, _), (b, _)] = pair {
                if a == b {
                    return Err(CalcError::invalid("rates", format!("two rates from {a}")));
                }
            }
        }
        Ok(RateTable { rows })
    }

    /// Parses `date,rate` CSV (header line first), as in `billing/data/nbp_reference_rate.csv`.
    pub fn from_csv(text: &str) -> Result<Self, CalcError> {
        let mut rows = Vec::new();
        for (n, line) in data_lines(text) {
            let (date, rate) = match line.split(',').collect::<Vec<_>>()[..] {
                [date, rate] => (date, rate),
                _ => return Err(csv_error(n, "expected date,rate")),
            };
            rows.push((parse_date(date, n)?, parse_decimal(rate, n)?));
        }
        RateTable::from_rows(rows)
    }

    /// The rate in force on `day`; None before the first row; the last row's rate after it.
    pub fn rate_on(&self, day: NaiveDate) -> Option<Decimal> {
        self.rows
            .iter()
            .rev()
            .find(|(from, _)| *from <= day)
            .map(|(_, rate)| *rate)
    }

    /// The days on which the rate changes (each row's date).
    pub fn change_dates(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.rows.iter().map(|(date, _)| *date)
    }

    /// The rows, sorted by date.
    pub fn rows(&self) -> &[(NaiveDate, Decimal)] {
        &self.rows
    }
}

/// Lines after the header, skipping blank ones, with 1-based line numbers.
fn data_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .skip(1)
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
}

fn csv_error(line: usize, message: impl std::fmt::Display) -> CalcError {
    CalcError::invalid(format!("rates line {line}"), message.to_string())
}

fn parse_date(s: &str, line: usize) -> Result<NaiveDate, CalcError> {
    s.trim()
        .parse()
        .map_err(|e| csv_error(line, format!("date {s:?}: {e}")))
}

fn parse_decimal(s: &str, line: usize) -> Result<Decimal, CalcError> {
    s.trim()
        .parse()
        .map_err(|e| csv_error(line, format!("rate {s:?}: {e}")))
}

/// The reference rate and the statutory margins for both kinds of debtor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatutoryRates {
    /// NBP reference rate.
    pub reference: RateTable,
    /// Margin over the reference rate for households (pp).
    pub household_margin: RateTable,
    /// Margin over the reference rate for businesses (pp).
    pub business_margin: RateTable,
}

impl StatutoryRates {
    /// The tables shipped in `billing/data/`.
    pub fn embedded() -> Result<Self, CalcError> {
        StatutoryRates::from_csv(REFERENCE_CSV, MARGIN_CSV)
    }

    /// Parses a `date,rate` reference table and a `debtor,date,margin` margin table.
    pub fn from_csv(reference_csv: &str, margin_csv: &str) -> Result<Self, CalcError> {
        let mut household = Vec::new();
        let mut business = Vec::new();
        for (n, line) in data_lines(margin_csv) {
            let (kind, date, margin) = match line.split(',').collect::<Vec<_>>()[..] {
                [kind, date, margin] => {
                    (kind.trim(), parse_date(date, n)?, parse_decimal(margin, n)?)
                }
                _ => return Err(csv_error(n, "expected debtor,date,margin")),
            };
            match kind {
                "household" => household.push((date, margin)),
                "business" => business.push((date, margin)),
                other => return Err(csv_error(n, format!("unknown debtor {other:?}"))),
            }
        }
        Ok(StatutoryRates {
            reference: RateTable::from_csv(reference_csv)?,
            household_margin: RateTable::from_rows(household)?,
            business_margin: RateTable::from_rows(business)?,
        })
    }

    /// The statutory annual rate (%) for `debtor` on `day`; None before the tables begin.
    pub fn rate_on(&self, debtor: Debtor, day: NaiveDate) -> Option<Decimal> {
        match debtor {
            Debtor::Household => {
                Some(self.reference.rate_on(day)? + self.household_margin.rate_on(day)?)
            }
            Debtor::Business => {
                let half_year_start = half_year_start(day)?;
                Some(
                    self.reference.rate_on(half_year_start)?
                        + self.business_margin.rate_on(half_year_start)?,
                )
            }
        }
    }

    /// Days in (after, through] on which the debtor's rate may change.
    fn breakpoints(
        &self,
        debtor: Debtor,
        after: NaiveDate,
        through: NaiveDate,
    ) -> BTreeSet<NaiveDate> {
        let mut out: BTreeSet<NaiveDate> = match debtor {
            Debtor::Household => self
                .reference
                .change_dates()
                .chain(self.household_margin.change_dates())
                .collect(),
            Debtor::Business => (after.year()..=through.year())
                .flat_map(|y| {
                    [
                        NaiveDate::from_ymd_opt(y, 1, 1),
                        NaiveDate::from_ymd_opt(y, 7, 1),
                    ]
                })
                .flatten()
                .collect(),
        };
        out.retain(|d| *d > after && *d <= through);
        out
    }
}

fn half_year_start(day: NaiveDate) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(day.year(), if day.month() <= 6 { 1 } else { 7 }, 1)
}

/// A late payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterestInput {
    /// Household or business.
    pub debtor: Debtor,
    /// The amount paid late, PLN.
    pub amount: Decimal,
    /// The due date (no interest for this day).
    pub due: NaiveDate,
    /// The day of payment (interest for this day).
    pub paid: NaiveDate,
}

/// A run of days at one rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InterestSegment {
    /// First day.
    pub from: NaiveDate,
    /// Last day (inclusive).
    pub to: NaiveDate,
    /// Number of days.
    pub days: i64,
    /// Annual rate in percent, two decimals.
    pub rate_percent: Decimal,
}

/// Interest for a late payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Interest {
    /// Days late.
    pub days: i64,
    /// Σ amount × rate × days / 365 over the segments, rounded once half-up to 0.01.
    pub interest: Decimal,
    /// The runs of days at one rate.
    pub segments: Vec<InterestSegment>,
    /// 40/70/100 EUR for business debtors paying late; None for households or no delay.
    pub compensation_eur: Option<u32>,
}

/// Interest from the day after `due` through `paid`; paying on or before `due` gives none.
/// A `due` on a Saturday, Sunday or public holiday moves to the next working day first
/// (art. 115 KC), so paying on that day gives none either.
pub fn interest(input: &InterestInput, rates: &StatutoryRates) -> Result<Interest, CalcError> {
    if input.amount <= Decimal::ZERO {
        return Err(CalcError::invalid(
            "amount",
            format!("{} is not positive", input.amount),
        ));
    }
    check_magnitude(input.amount, "amount")?;
    let due = crate::holidays::effective_due(input.due);
    let days = (input.paid - due).num_days().max(0);
    let mut segments: Vec<InterestSegment> = Vec::new();
    if let Some(first) = due.succ_opt().filter(|_| days > 0) {
        let breakpoints = rates.breakpoints(input.debtor, first, input.paid);
        let starts = std::iter::once(first).chain(breakpoints.iter().copied());
        let ends = breakpoints
            .iter()
            .filter_map(|d| d.pred_opt())
            .chain(std::iter::once(input.paid));
        for (from, to) in starts.zip(ends) {
            let rate = rates.rate_on(input.debtor, from).ok_or_else(|| {
                CalcError::invalid(
                    "due",
                    format!("the rate tables have no statutory rate for {from} (they start later)"),
                )
            })?;
            let rate = round_half_up(rate, 2);
            let seg_days = (to - from).num_days() + 1;
            match segments.last_mut() {
                Some(last) if last.rate_percent == rate => {
                    last.to = to;
                    last.days += seg_days;
                }
                _ => segments.push(InterestSegment {
                    from,
                    to,
                    days: seg_days,
                    rate_percent: rate,
                }),
            }
        }
    }
    let rate_days: Decimal = segments
        .iter()
        .map(|s| s.rate_percent * Decimal::from(s.days))
        .sum();
    let exact = input
        .amount
        .checked_mul(rate_days)
        .and_then(|x| x.checked_div(Decimal::from(36_500)))
        .ok_or_else(|| CalcError::invalid("amount", "interest overflows"))?;
    Ok(Interest {
        days,
        interest: Money::round(exact).amount(),
        segments,
        compensation_eur: if days > 0 {
            compensation_eur(input.debtor, input.amount)
        } else {
            None
        },
    })
}

/// Flat compensation for recovery costs (art. 10 of the late-payment act), in EUR.
pub fn compensation_eur(debtor: Debtor, amount: Decimal) -> Option<u32> {
    match debtor {
        Debtor::Household => None,
        Debtor::Business if amount <= Decimal::from(5_000) => Some(40),
        Debtor::Business if amount < Decimal::from(50_000) => Some(70),
        Debtor::Business => Some(100),
    }
}

/// `interest` over the JSON contract of SPEC §5 with the embedded rate tables.
pub fn interest_json(input: &str) -> Result<serde_json::Value, CalcError> {
    let parsed: InterestInput = from_json(input)?;
    let result = interest(&parsed, &StatutoryRates::embedded()?)?;
    serde_json::to_value(result).map_err(|e| CalcError::invalid("output", e.to_string()))
}

/// What `ewoda billing interest` prints and its exit code (0, or 2 with `{"error":…}`).
pub fn run_interest(input: &str) -> (serde_json::Value, u8) {
    to_output(interest_json(input))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn rates() -> StatutoryRates {
        StatutoryRates::embedded().unwrap()
    }

    /// Art. 115 KC: due Saturday 7 March 2026 is due Monday 9 March; paying then is on time,
    /// paying Tuesday costs one day, counted from Tuesday.
    #[test]
    fn due_date_on_a_day_off_moves_to_the_next_working_day() {
        let input = |due: &str, paid: &str| InterestInput {
            debtor: Debtor::Household,
            amount: Decimal::from(1000),
            due: due.parse().unwrap(),
            paid: paid.parse().unwrap(),
        };
        let monday = interest(&input("2026-03-07", "2026-03-09"), &rates()).unwrap();
        assert_eq!((monday.days, monday.interest), (0, Decimal::ZERO));
        assert!(monday.segments.is_empty());
        let tuesday = interest(&input("2026-03-07", "2026-03-10"), &rates()).unwrap();
        assert_eq!(tuesday.days, 1);
        assert_eq!(tuesday.segments[0].from.to_string(), "2026-03-10");
        // Easter Monday 2026 (6 April) after Easter Sunday: due on Sunday means Tuesday.
        let easter = interest(&input("2026-04-05", "2026-04-07"), &rates()).unwrap();
        assert_eq!(easter.days, 0);
    }

    #[test]
    fn embedded_tables_give_known_statutory_rates() {
        let r = rates();
        // 2016–2019: 1.5 + 5.5 = 7 % and 1.5 + 8 = 9.5 %; 2020 H1: 1.5 + 10 = 11.5 %.
        assert_eq!(
            r.rate_on(Debtor::Household, d("2017-06-01")),
            Some(dec!(7.00))
        );
        assert_eq!(
            r.rate_on(Debtor::Business, d("2017-06-01")),
            Some(dec!(9.50))
        );
        assert_eq!(
            r.rate_on(Debtor::Business, d("2020-06-30")),
            Some(dec!(11.50))
        );
        // 2020 H2: reference 0.10 on 1 July → 10.10 %, while households follow each change.
        assert_eq!(
            r.rate_on(Debtor::Business, d("2020-07-01")),
            Some(dec!(10.10))
        );
        assert_eq!(
            r.rate_on(Debtor::Household, d("2020-05-28")),
            Some(dec!(6.00))
        );
        assert_eq!(
            r.rate_on(Debtor::Household, d("2020-05-29")),
            Some(dec!(5.60))
        );
        // 2023-09-07 cut to 6.00; business H2 2023 stays at 6.75 + 10.
        assert_eq!(
            r.rate_on(Debtor::Household, d("2023-09-07")),
            Some(dec!(11.50))
        );
        assert_eq!(
            r.rate_on(Debtor::Business, d("2023-12-31")),
            Some(dec!(16.75))
        );
        // Beyond the last row: the last known rate.
        assert_eq!(
            r.rate_on(Debtor::Household, d("2099-01-01")),
            Some(dec!(9.25))
        );
        assert_eq!(r.rate_on(Debtor::Household, d("2015-12-31")), None);
    }

    #[test]
    fn business_rate_is_fixed_for_the_half_year() {
        // Reference fell on 2025-07-03 (5.00) and later; H2 2025 uses 1 July's 5.25.
        let input = InterestInput {
            debtor: Debtor::Business,
            amount: dec!(1000),
            due: d("2025-06-25"),
            paid: d("2025-12-31"),
        };
        let i = interest(&input, &rates()).unwrap();
        let segs: Vec<(NaiveDate, NaiveDate, Decimal)> = i
            .segments
            .iter()
            .map(|s| (s.from, s.to, s.rate_percent))
            .collect();
        assert_eq!(
            segs,
            vec![
                (d("2025-06-26"), d("2025-06-30"), dec!(15.75)),
                (d("2025-07-01"), d("2025-12-31"), dec!(15.25))
            ]
        );
        assert_eq!(i.days, 189);
        assert_eq!(i.compensation_eur, Some(40));
    }

    #[test]
    fn compensation_thresholds() {
        assert_eq!(compensation_eur(Debtor::Business, dec!(5000.00)), Some(40));
        assert_eq!(compensation_eur(Debtor::Business, dec!(5000.01)), Some(70));
        assert_eq!(compensation_eur(Debtor::Business, dec!(49999.99)), Some(70));
        assert_eq!(
            compensation_eur(Debtor::Business, dec!(50000.00)),
            Some(100)
        );
        assert_eq!(compensation_eur(Debtor::Household, dec!(90000)), None);
    }

    #[test]
    fn on_time_and_bad_input() {
        let on_time = InterestInput {
            debtor: Debtor::Business,
            amount: dec!(10),
            due: d("2025-01-10"),
            paid: d("2025-01-10"),
        };
        let i = interest(&on_time, &rates()).unwrap();
        assert_eq!(
            (
                i.days,
                i.interest.to_string(),
                i.segments.len(),
                i.compensation_eur
            ),
            (0, "0.00".into(), 0, None)
        );
        let zero = InterestInput {
            amount: dec!(0),
            ..on_time
        };
        assert_eq!(interest(&zero, &rates()).unwrap_err().field(), "amount");
        let early = InterestInput {
            debtor: Debtor::Household,
            amount: dec!(10),
            due: d("2015-12-01"),
            paid: d("2016-01-10"),
        };
        assert_eq!(interest(&early, &rates()).unwrap_err().field(), "due");
    }

    #[test]
    fn rate_table_from_rows_and_csv_errors() {
        let t =
            RateTable::from_rows([(d("2026-01-01"), dec!(2)), (d("2025-01-01"), dec!(1))]).unwrap();
        assert_eq!(t.rate_on(d("2025-12-31")), Some(dec!(1)));
        assert_eq!(t.rate_on(d("2026-01-01")), Some(dec!(2)));
        assert!(
            RateTable::from_rows([(d("2026-01-01"), dec!(2)), (d("2026-01-01"), dec!(1))]).is_err()
        );
        let err = RateTable::from_csv("date,rate\n2025-01-01,1.0\n2025-13-01,2\n").unwrap_err();
        assert_eq!(err.field(), "rates line 3");
    }
}
