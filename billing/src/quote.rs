//! One invoice's lines and totals from a period, a tariff and a volume source (SPEC §5
//! `ewoda billing quote`); the same code the billing run uses for every customer.

use crate::calc_error::{from_json, to_output, CalcError, QuoteError};
use crate::consumption::{consumption, sewage_volume, split_pro_rata, VolumeSource};
use crate::tariff::{FeePer, Period, Tariff, TariffVersion};
use chrono::NaiveDate;
use ewoda_common::units::round_half_up;
use ewoda_common::Money;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Who is billed (kept for the invoice; it does not change the arithmetic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CustomerKind {
    /// A consumer (gospodarstwo domowe).
    Household,
    /// A business customer.
    Business,
}

/// Everything needed to price one customer's period.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteInput {
    /// Household or business.
    pub customer_kind: CustomerKind,
    /// The billing period.
    pub period: Period,
    /// The customer's tariff.
    pub tariff: Tariff,
    /// Where the volume comes from.
    pub volume: VolumeSource,
    /// Garden sub-meter volume, deducted from sewage only.
    #[serde(default)]
    pub sub_meter_m3: Option<Decimal>,
    /// Whether the premises discharge to the sewer (sewage lines are billed).
    #[serde(default = "default_true")]
    pub sewage: bool,
    /// The customer receives e-invoices: the tariff's e-invoice discount applies.
    #[serde(default)]
    pub einvoice: bool,
}

/// Item name of the e-invoice discount line.
pub const EINVOICE_DISCOUNT_ITEM: &str = "rabat za e-fakturę";

fn default_true() -> bool {
    true
}

/// Unit of an invoice line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LineUnit {
    /// Cubic metres of water or sewage.
    M3,
    /// A per-period fee.
    Period,
    /// A monthly fee.
    Month,
}

/// One invoice line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteLine {
    /// `water`, `sewage` or the fee's name.
    pub item: String,
    /// First day the line covers.
    pub from: NaiveDate,
    /// Last day the line covers.
    pub to: NaiveDate,
    /// m³ (0.001) or 1 for a fee.
    pub quantity: Decimal,
    /// m3, period or month.
    pub unit: LineUnit,
    /// Net unit price as in the tariff.
    pub unit_price: Decimal,
    /// quantity × unit price, half-up to 0.01.
    pub net: Decimal,
    /// VAT rate in percent as in the tariff.
    pub vat_percent: Decimal,
}

/// A priced invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// Water volume, m³ to 0.001.
    pub volume_m3: Decimal,
    /// Sewage volume (volume less the sub-meter; 0 when not on the sewer).
    pub sewage_m3: Decimal,
    /// True when the volume is an estimate.
    pub estimated: bool,
    /// The lines.
    pub lines: Vec<QuoteLine>,
    /// Sum of the lines' nets.
    pub net: Decimal,
    /// VAT: per rate on the sum of that rate's nets, half-up, then summed.
    pub vat: Decimal,
    /// net + vat.
    pub gross: Decimal,
}

/// Prices one period: water and sewage lines per tariff version in force (volume pro rata by
/// days), per-period fees at the version in force on the last day, monthly fees per calendar
/// month at the version in force on the month's first day within the period.
pub fn quote(input: &QuoteInput) -> Result<Quote, QuoteError> {
    let period = input.period;
    let segments = input.tariff.segments(period)?;
    let usage = consumption(&input.volume)?;
    let sewage_m3 = sewage_volume(usage.volume_m3, input.sub_meter_m3)?;
    let sewage_m3 = if input.sewage {
        sewage_m3
    } else {
        round_half_up(Decimal::ZERO, 3)
    };

    let spans: Vec<Period> = segments.iter().map(|s| s.days).collect();
    let water_parts = split_pro_rata(usage.volume_m3, &spans);
    let sewage_parts = split_pro_rata(sewage_m3, &spans);

    let mut lines = Vec::new();
    for (seg, quantity) in segments.iter().zip(&water_parts) {
        lines.push(volume_line(
            "water",
            seg.days,
            *quantity,
            seg.version.water_m3,
            seg.version,
        ));
    }
    if input.sewage {
        for (seg, quantity) in segments.iter().zip(&sewage_parts) {
            lines.push(volume_line(
                "sewage",
                seg.days,
                *quantity,
                seg.version.sewage_m3,
                seg.version,
            ));
        }
    }
    let last_day_version = version_on(&input.tariff, period.to())?;
    for fee in last_day_version
        .fees
        .iter()
        .filter(|f| f.per == FeePer::Period)
    {
        lines.push(fee_line(
            &fee.name,
            period,
            LineUnit::Period,
            fee.amount,
            last_day_version,
        ));
    }
    // The e-invoice discount: once per invoice, at the version in force on the last day.
    if input.einvoice {
        let discount = last_day_version.einvoice_discount;
        if discount < Decimal::ZERO {
            return Err(CalcError::invalid(
                "tariff.einvoice_discount",
                format!("{discount} is negative"),
            ));
        }
        if discount > Decimal::ZERO {
            lines.push(fee_line(
                EINVOICE_DISCOUNT_ITEM,
                period,
                LineUnit::Period,
                -discount,
                last_day_version,
            ));
        }
    }
    for month in period.months() {
        let version = version_on(&input.tariff, month.from())?;
        // A partial month (move-in, move-out) pays by its days: quantity days/month's days.
        let fraction = month.month_fraction();
        for fee in version.fees.iter().filter(|f| f.per == FeePer::Month) {
            let mut line = fee_line(&fee.name, month, LineUnit::Month, fee.amount, version);
            if fraction != Decimal::ONE {
                line.quantity = round_half_up(fraction, 3);
                line.net = Money::round(fee.amount * fraction).amount();
            }
            lines.push(line);
        }
    }
    Ok(totals(usage.volume_m3, sewage_m3, usage.estimated, lines))
}

fn version_on(tariff: &Tariff, day: NaiveDate) -> Result<&TariffVersion, CalcError> {
    tariff
        .version_on(day)
        .ok_or_else(|| CalcError::tariff("tariff", format!("no version in force on {day}")))
}

fn volume_line(
    item: &str,
    days: Period,
    quantity: Decimal,
    price: Decimal,
    v: &TariffVersion,
) -> QuoteLine {
    QuoteLine {
        item: item.to_string(),
        from: days.from(),
        to: days.to(),
        quantity,
        unit: LineUnit::M3,
        unit_price: price,
        net: Money::round(quantity * price).amount(),
        vat_percent: v.vat_percent,
    }
}

fn fee_line(
    name: &str,
    days: Period,
    unit: LineUnit,
    amount: Decimal,
    v: &TariffVersion,
) -> QuoteLine {
    QuoteLine {
        item: name.to_string(),
        from: days.from(),
        to: days.to(),
        quantity: Decimal::ONE,
        unit,
        unit_price: amount,
        net: Money::round(amount).amount(),
        vat_percent: v.vat_percent,
    }
}

/// Net = Σ line nets; VAT per rate on that rate's net sum (not per line), half-up.
fn totals(volume_m3: Decimal, sewage_m3: Decimal, estimated: bool, lines: Vec<QuoteLine>) -> Quote {
    let mut per_rate: BTreeMap<Decimal, Decimal> = BTreeMap::new();
    for line in &lines {
        *per_rate.entry(line.vat_percent.normalize()).or_default() += line.net;
    }
    let net = Money::round(lines.iter().map(|l| l.net).sum()).amount();
    let vat = per_rate
        .iter()
        .map(|(rate, base)| Money::vat(*base, *rate))
        .sum::<Money>()
        .amount();
    Quote {
        volume_m3,
        sewage_m3,
        estimated,
        lines,
        net,
        vat,
        gross: net + vat,
    }
}

/// `quote` over the JSON contract of SPEC §5; errors name the field.
pub fn quote_json(input: &str) -> Result<serde_json::Value, QuoteError> {
    let parsed: QuoteInput = from_json(input)?;
    let q = quote(&parsed)?;
    serde_json::to_value(q).map_err(|e| CalcError::invalid("output", e.to_string()))
}

/// What `ewoda billing quote` prints and its exit code: the quote and 0, or `{"error":…}` and 2.
pub fn run_quote(input: &str) -> (serde_json::Value, u8) {
    to_output(quote_json(input))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumption::Read;
    use crate::tariff::Fee;
    use rust_decimal_macros::dec;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn version(from: &str, water: Decimal, fee: Decimal, per: FeePer) -> TariffVersion {
        TariffVersion {
            from: d(from),
            to: None,
            water_m3: water,
            sewage_m3: dec!(12.35),
            vat_percent: dec!(8),
            einvoice_discount: rust_decimal::Decimal::ZERO,
            fees: vec![Fee {
                name: "abonament".into(),
                amount: fee,
                per,
            }],
        }
    }

    fn input(tariff: Vec<TariffVersion>, from: &str, to: &str) -> QuoteInput {
        QuoteInput {
            customer_kind: CustomerKind::Household,
            period: Period::new(d(from), d(to)).unwrap(),
            tariff: Tariff::new(tariff).unwrap(),
            volume: VolumeSource::Reads {
                reads: vec![
                    Read {
                        date: d(from),
                        value: dec!(0),
                    },
                    Read {
                        date: d(to),
                        value: dec!(10),
                    },
                ],
                register_digits: None,
                replacements: vec![],
            },
            sub_meter_m3: None,
            sewage: true,
            einvoice: false,
        }
    }

    #[test]
    fn einvoice_customers_get_the_discount_once_per_invoice() {
        let mut v = version("2025-01-01", dec!(6.95), dec!(3.50), FeePer::Month);
        v.einvoice_discount = dec!(0.50);
        let paper = quote(&input(vec![v.clone()], "2026-01-01", "2026-02-28")).unwrap();
        assert!(paper.lines.iter().all(|l| l.item != EINVOICE_DISCOUNT_ITEM));
        let mut e = input(vec![v.clone()], "2026-01-01", "2026-02-28");
        e.einvoice = true;
        let q = quote(&e).unwrap();
        let discounts: Vec<&QuoteLine> = q
            .lines
            .iter()
            .filter(|l| l.item == EINVOICE_DISCOUNT_ITEM)
            .collect();
        assert_eq!(discounts.len(), 1);
        assert_eq!(
            (discounts[0].net, discounts[0].unit),
            (dec!(-0.50), LineUnit::Period)
        );
        assert_eq!(q.net, paper.net - dec!(0.50));
        v.einvoice_discount = dec!(-1);
        let mut bad = input(vec![v], "2026-01-01", "2026-02-28");
        bad.einvoice = true;
        assert_eq!(quote(&bad).unwrap_err().field(), "tariff.einvoice_discount");
    }

    #[test]
    fn month_fees_follow_the_version_on_each_months_first_day() {
        // Change on 2026-02-15: February's fee is still the old one, March's the new one;
        // the period starts mid-January, so January's line is clipped.
        let q = quote(&input(
            vec![
                version("2025-01-01", dec!(6.95), dec!(3.50), FeePer::Month),
                version("2026-02-15", dec!(7.20), dec!(3.60), FeePer::Month),
            ],
            "2026-01-10",
            "2026-03-31",
        ))
        .unwrap();
        let fees: Vec<(NaiveDate, NaiveDate, Decimal)> = q
            .lines
            .iter()
            .filter(|l| l.unit == LineUnit::Month)
            .map(|l| (l.from, l.to, l.unit_price))
            .collect();
        assert_eq!(
            fees,
            vec![
                (d("2026-01-10"), d("2026-01-31"), dec!(3.50)),
                (d("2026-02-01"), d("2026-02-28"), dec!(3.50)),
                (d("2026-03-01"), d("2026-03-31"), dec!(3.60)),
            ]
        );
        let water: Vec<(NaiveDate, NaiveDate)> = q
            .lines
            .iter()
            .filter(|l| l.item == "water")
            .map(|l| (l.from, l.to))
            .collect();
        assert_eq!(
            water,
            vec![
                (d("2026-01-10"), d("2026-02-14")),
                (d("2026-02-15"), d("2026-03-31"))
            ]
        );
    }

    #[test]
    fn period_fee_uses_the_version_on_the_last_day() {
        let q = quote(&input(
            vec![
                version("2025-01-01", dec!(6.95), dec!(7.89), FeePer::Period),
                version("2026-03-01", dec!(7.20), dec!(8.10), FeePer::Period),
            ],
            "2026-02-01",
            "2026-03-31",
        ))
        .unwrap();
        let fees: Vec<&QuoteLine> = q
            .lines
            .iter()
            .filter(|l| l.unit == LineUnit::Period)
            .collect();
        assert_eq!(fees.len(), 1);
        assert_eq!(
            (fees[0].unit_price, fees[0].from, fees[0].to),
            (dec!(8.10), d("2026-02-01"), d("2026-03-31"))
        );
    }

    #[test]
    fn vat_is_per_rate_on_the_sum() {
        // Three lines of 0.05 at 8 %: per line 0.004 → 0.00 each; on the sum 0.15 → 0.01.
        let line = |item: &str| QuoteLine {
            item: item.into(),
            from: d("2026-01-01"),
            to: d("2026-01-31"),
            quantity: Decimal::ONE,
            unit: LineUnit::Period,
            unit_price: dec!(0.05),
            net: dec!(0.05),
            vat_percent: dec!(8),
        };
        let q = totals(
            dec!(0.000),
            dec!(0.000),
            false,
            vec![line("a"), line("b"), line("c")],
        );
        assert_eq!(
            (q.net.to_string(), q.vat.to_string(), q.gross.to_string()),
            ("0.15".into(), "0.01".into(), "0.16".into())
        );
    }

    #[test]
    fn no_sewage_lines_when_not_on_the_sewer() {
        let mut i = input(
            vec![version("2025-01-01", dec!(6.95), dec!(1), FeePer::Period)],
            "2026-04-01",
            "2026-04-30",
        );
        i.sewage = false;
        let q = quote(&i).unwrap();
        assert!(q.lines.iter().all(|l| l.item != "sewage"));
        assert_eq!(q.sewage_m3.to_string(), "0.000");
    }
}
