//! Exact money and volume, and the one place that rounds them. Money is `rust_decimal` PLN
//! rounded half-up to the grosz; volume is integer millilitres (the time series) shown as m³
//! with three decimals. Every calculation rounds through [`Money::round`] (amounts),
//! [`Money::vat`] (VAT of a net sum) or [`round_half_up`] (volumes, rates), so one rule holds
//! everywhere: half-up, i.e. away from zero on .5 — never `round_dp`, which rounds half-even.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, Neg, Sub};

/// An amount in PLN, always held to the grosz.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(#[serde(with = "rust_decimal::serde::str")] Decimal);

/// Rounds half-up (away from zero on .5) to `dp` decimals and always shows `dp` decimals,
/// so 24.0 m³ prints as "24.000" and 7 zł as "7.00".
pub fn round_half_up(value: Decimal, dp: u32) -> Decimal {
    let mut rounded = value.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero);
    rounded.rescale(dp);
    rounded
}

impl Money {
    pub const ZERO: Money = Money(Decimal::from_parts(0, 0, 0, false, 2));

    /// Decimals of an amount: the grosz.
    pub const DP: u32 = 2;

    /// Rounds half-up (away from zero on .5) to 0.01.
    pub fn round(value: Decimal) -> Self {
        Money(round_half_up(value, Self::DP))
    }

    /// The amount when it is whole grosze already (None for 1.005), for inputs that must not
    /// be rounded silently.
    pub fn exact(value: Decimal) -> Option<Self> {
        let money = Self::round(value);
        (money.0 == value).then_some(money)
    }

    /// VAT at `percent` % of a net sum, half-up to the grosz (VAT is computed per rate on the
    /// sum of that rate's nets, never per line).
    pub fn vat(net: Decimal, percent: Decimal) -> Self {
        Self::round(net * percent / Decimal::ONE_HUNDRED)
    }

    pub fn from_grosze(grosze: i64) -> Self {
        Money(Decimal::new(grosze, 2))
    }

    /// Whole grosze (the unit of bank files and payment operators); None when it overflows.
    pub fn grosze(self) -> Option<i64> {
        i64::try_from(self.0 * Decimal::ONE_HUNDRED).ok()
    }

    pub fn amount(self) -> Decimal {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0 + rhs.0)
    }
}

impl Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money(self.0 - rhs.0)
    }
}

impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}", self.0)
    }
}

/// A water volume in whole millilitres (registers have 0.001 m³ = 1 l resolution or coarser).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Volume(i64);

impl Volume {
    pub const ZERO: Volume = Volume(0);

    pub const fn from_ml(ml: i64) -> Self {
        Volume(ml)
    }

    pub const fn from_litres(l: i64) -> Self {
        Volume(l * 1000)
    }

    pub const fn ml(self) -> i64 {
        self.0
    }

    /// Cubic metres, exact (millilitre precision: 6 decimals).
    pub fn m3(self) -> Decimal {
        Decimal::new(self.0, 6)
    }

    /// Converts m³ to millilitres; None when it has more than 6 decimals or overflows.
    pub fn from_m3(m3: Decimal) -> Option<Self> {
        let ml = m3.checked_mul(Decimal::from(1_000_000))?;
        if ml.fract() != Decimal::ZERO {
            return None;
        }
        i64::try_from(ml).ok().map(Volume)
    }

    /// m³ rounded half-up to 0.001 (the resolution of invoices).
    pub fn m3_3dp(self) -> Decimal {
        round_half_up(self.m3(), 3)
    }
}

impl Add for Volume {
    type Output = Volume;
    fn add(self, rhs: Volume) -> Volume {
        Volume(self.0 + rhs.0)
    }
}

impl Sub for Volume {
    type Output = Volume;
    fn sub(self, rhs: Volume) -> Volume {
        Volume(self.0 - rhs.0)
    }
}

impl fmt::Display for Volume {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} m³", self.m3_3dp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn money_rounds_half_up() {
        assert_eq!(Money::round(dec!(0.005)).to_string(), "0.01");
        assert_eq!(Money::round(dec!(0.004999)).to_string(), "0.00");
        assert_eq!(Money::round(dec!(-0.005)).to_string(), "-0.01");
        assert_eq!(Money::round(dec!(85.7977)).to_string(), "85.80");
        // Half-up, not the banker's rounding of `round_dp`: 0.125 → 0.13, 0.135 → 0.14.
        assert_eq!(Money::round(dec!(0.125)).amount().to_string(), "0.13");
        assert_eq!(Money::round(dec!(0.135)).amount().to_string(), "0.14");
        assert_eq!(Money::round(dec!(7)).amount().to_string(), "7.00");
    }

    #[test]
    fn general_rounding_pads_scale() {
        assert_eq!(round_half_up(dec!(19.808), 2).to_string(), "19.81");
        assert_eq!(round_half_up(dec!(0.0045), 3).to_string(), "0.005");
        assert_eq!(round_half_up(dec!(24.0), 3).to_string(), "24.000");
        assert_eq!(round_half_up(dec!(-0.0005), 3).to_string(), "-0.001");
    }

    #[test]
    fn vat_exact_and_grosze() {
        assert_eq!(Money::vat(dec!(247.60), dec!(8)).amount(), dec!(19.81));
        assert_eq!(Money::vat(dec!(0.0625), dec!(8)).amount(), dec!(0.01));
        assert_eq!(Money::exact(dec!(1.50)), Some(Money::from_grosze(150)));
        assert_eq!(Money::exact(dec!(1.005)), None);
        assert_eq!(Money::round(dec!(12.34)).grosze(), Some(1234));
        assert_eq!(Money::from_grosze(-5).grosze(), Some(-5));
    }

    #[test]
    fn volume_m3_roundtrip() {
        let v = Volume::from_m3(dec!(1234.567)).unwrap();
        assert_eq!(v.ml(), 1_234_567_000);
        assert_eq!(v.m3_3dp(), dec!(1234.567));
        assert!(Volume::from_m3(dec!(0.0000001)).is_none());
    }
}
