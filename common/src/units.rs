//! Exact money and volume. Money is `rust_decimal` PLN rounded half-up to the grosz;
//! volume is integer millilitres (the time series) shown as m³ with three decimals.

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

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// Rounds half-up (away from zero on .5) to 0.01.
    pub fn round(value: Decimal) -> Self {
        Money(value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero))
    }

    pub fn from_grosze(grosze: i64) -> Self {
        Money(Decimal::new(grosze, 2))
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
        self.m3()
            .round_dp_with_strategy(3, RoundingStrategy::MidpointAwayFromZero)
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
    }

    #[test]
    fn volume_m3_roundtrip() {
        let v = Volume::from_m3(dec!(1234.567)).unwrap();
        assert_eq!(v.ml(), 1_234_567_000);
        assert_eq!(v.m3_3dp(), dec!(1234.567));
        assert!(Volume::from_m3(dec!(0.0000001)).is_none());
    }
}
