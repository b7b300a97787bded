//! Per-model register maps: where a meter model keeps its total volume, in which table, type
//! and word order, and how its registers become an exact [`Volume`].
//!
//! Floats: a device that speaks IEEE-754 f32 sends a binary fraction, not a decimal amount of
//! water. We take the float's *exact* value (mantissa × 2^exponent, no f64 detour), multiply
//! by the configured scale in exact integer arithmetic and round half away from zero
//! ("half-up") to the meter's resolution. The meter counts in steps of its resolution, so the
//! nearest step is the reading the device meant; rounding here, once and documented, keeps
//! storage and billing exact integers.

use ewoda_common::Volume;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Which register table holds the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Table {
    /// Holding registers, function 0x03.
    #[default]
    Holding,
    /// Input registers, function 0x04.
    Input,
}

impl Table {
    /// The Modbus function code that reads this table.
    pub fn function(self) -> u8 {
        match self {
            Table::Holding => 0x03,
            Table::Input => 0x04,
        }
    }
}

/// How the register words are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataType {
    /// One register, unsigned.
    U16,
    /// Two registers, unsigned.
    U32,
    /// Two registers, two's complement.
    I32,
    /// Two registers, IEEE-754 binary32.
    F32,
    /// Four registers, unsigned.
    U64,
}

impl DataType {
    /// Number of 16-bit registers the type occupies.
    pub fn registers(self) -> u16 {
        match self {
            DataType::U16 => 1,
            DataType::U32 | DataType::I32 | DataType::F32 => 2,
            DataType::U64 => 4,
        }
    }
}

/// Order of the 16-bit words of a multi-register value (bytes within a word are always
/// big-endian in Modbus).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WordOrder {
    /// Most significant word first ("ABCD").
    #[default]
    Big,
    /// Least significant word first ("CDAB").
    Little,
}

/// The unit the scaled register value is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VolumeUnit {
    /// Millilitres.
    #[serde(rename = "ml")]
    Millilitre,
    /// Litres.
    #[serde(rename = "l")]
    Litre,
    /// Cubic metres.
    #[serde(rename = "m3")]
    CubicMetre,
}

impl VolumeUnit {
    /// Millilitres in one unit.
    pub fn ml(self) -> i64 {
        match self {
            VolumeUnit::Millilitre => 1,
            VolumeUnit::Litre => 1_000,
            VolumeUnit::CubicMetre => 1_000_000,
        }
    }
}

fn one() -> Decimal {
    Decimal::ONE
}

/// Where one meter model keeps its total volume register and how to read it.
///
/// `volume = raw × scale` in `unit`, rounded half-up to `resolution` (in `unit`; default
/// one millilitre).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterMap {
    /// Register table (default holding).
    #[serde(default)]
    pub table: Table,
    /// First register address (0-based, as on the wire).
    pub address: u16,
    /// Register count; must equal the data type's width.
    pub count: u16,
    /// Data type.
    pub data_type: DataType,
    /// Word order of multi-register values (default big: high word first).
    #[serde(default)]
    pub word_order: WordOrder,
    /// Multiplier from the raw value to `unit`, a decimal string such as "10" or "0.001".
    #[serde(default = "one")]
    pub scale: Decimal,
    /// Unit of `raw × scale`.
    pub unit: VolumeUnit,
    /// Resolution of the meter in `unit` (e.g. "1" with unit m3 for whole cubic metres).
    #[serde(default)]
    pub resolution: Option<Decimal>,
}

/// A register map that cannot be used, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {reason}")]
pub struct MapError {
    /// The offending field.
    pub field: &'static str,
    /// Why.
    pub reason: String,
}

/// Registers that do not give a volume.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Fewer or more words than the map reads.
    #[error("expected {expected} registers, got {got}")]
    WordCount { expected: u16, got: usize },
    /// A float that is NaN or infinite.
    #[error("register value is not a finite number (f32 bits {bits:#010X})")]
    NotFinite { bits: u32 },
    /// The scaled value does not fit a volume.
    #[error("register value {raw} × scale does not fit a volume")]
    Overflow { raw: String },
}

/// The value the registers hold, before scaling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RawValue {
    /// An integer type.
    Int(i128),
    /// An f32.
    Float(f32),
}

impl RegisterMap {
    /// Checks the map: count matches the type, the range fits the address space, scale and
    /// resolution are positive and the resolution is a whole number of millilitres.
    pub fn validate(&self) -> Result<(), MapError> {
        if self.count != self.data_type.registers() {
            return Err(MapError {
                field: "count",
                reason: format!(
                    "{:?} takes {} registers, not {}",
                    self.data_type,
                    self.data_type.registers(),
                    self.count
                ),
            });
        }
        if u32::from(self.address) + u32::from(self.count) > 0x1_0000 {
            return Err(MapError {
                field: "address",
                reason: format!("{} + {} registers passes 65535", self.address, self.count),
            });
        }
        if self.scale <= Decimal::ZERO || i64::try_from(self.scale.mantissa()).is_err() {
            return Err(MapError {
                field: "scale",
                reason: format!("{} must be positive with at most 18 digits", self.scale),
            });
        }
        self.resolution_ml()?;
        Ok(())
    }

    /// The resolution in whole millilitres.
    fn resolution_ml(&self) -> Result<i64, MapError> {
        let Some(r) = self.resolution else {
            return Ok(1);
        };
        let ml = r.checked_mul(Decimal::from(self.unit.ml()));
        match ml {
            Some(ml)
                if ml > Decimal::ZERO
                    && ml.fract().is_zero()
                    && ml <= Decimal::from(1_000_000_000) =>
            {
                i64::try_from(ml).map_err(|_| MapError {
                    field: "resolution",
                    reason: format!("{r} is too large"),
                })
            }
            _ => Err(MapError {
                field: "resolution",
                reason: format!(
                    "{r} {:?} must be a positive whole number of millilitres up to 1000 m3",
                    self.unit
                ),
            }),
        }
    }

    /// The raw value of `words` (as read, in address order).
    pub fn raw(&self, words: &[u16]) -> Result<RawValue, DecodeError> {
        if words.len() != usize::from(self.count) || words.len() > 4 {
            return Err(DecodeError::WordCount {
                expected: self.count,
                got: words.len(),
            });
        }
        let fold = |acc: u64, w: &u16| (acc << 16) | u64::from(*w);
        let bits = match self.word_order {
            WordOrder::Big => words.iter().fold(0, fold),
            WordOrder::Little => words.iter().rev().fold(0, fold),
        };
        Ok(match self.data_type {
            DataType::U16 | DataType::U32 | DataType::U64 => RawValue::Int(i128::from(bits)),
            DataType::I32 => RawValue::Int(i128::from(bits as u32 as i32)),
            DataType::F32 => {
                let f = f32::from_bits(bits as u32);
                if !f.is_finite() {
                    return Err(DecodeError::NotFinite { bits: bits as u32 });
                }
                RawValue::Float(f)
            }
        })
    }

    /// The volume `words` show: exact for integer types; for f32 the float's exact value
    /// rounded half-up to the resolution (see the module documentation).
    pub fn decode(&self, words: &[u16]) -> Result<Volume, DecodeError> {
        let raw = self.raw(words)?;
        let overflow = || DecodeError::Overflow {
            raw: match raw {
                RawValue::Int(i) => i.to_string(),
                RawValue::Float(f) => f.to_string(),
            },
        };
        // A map that failed validation still must not panic: treat it as an overflow.
        let res_ml = i128::from(self.resolution_ml().map_err(|_| overflow())?);
        let scale_m = self.scale.mantissa();
        let scale_den = 10i128
            .checked_pow(self.scale.scale())
            .ok_or_else(overflow)?;
        // volume_ml = raw × scale_m / 10^scale × unit_ml, rounded to a multiple of res_ml:
        // steps = round(numerator / denominator).
        let base = scale_m
            .checked_mul(i128::from(self.unit.ml()))
            .ok_or_else(overflow)?;
        let den0 = scale_den.checked_mul(res_ml).ok_or_else(overflow)?;
        let steps = match raw {
            RawValue::Int(v) => {
                let num = v.checked_mul(base).ok_or_else(overflow)?;
                round_half_away(num, den0)
            }
            RawValue::Float(f) => {
                let (mantissa, exp) = float_parts(f);
                let num0 = i128::from(mantissa)
                    .checked_mul(base)
                    .ok_or_else(overflow)?;
                if exp >= 0 {
                    let num = num0
                        .checked_mul(1i128.checked_shl(exp as u32).ok_or_else(overflow)?)
                        .filter(|_| exp < 127)
                        .ok_or_else(overflow)?;
                    round_half_away(num, den0)
                } else {
                    // A denominator beyond i128 is more than twice any numerator we allow,
                    // so the value rounds to zero steps.
                    match 1i128
                        .checked_shl(exp.unsigned_abs())
                        .filter(|_| exp > -127)
                        .and_then(|p| den0.checked_mul(p))
                    {
                        Some(den) => round_half_away(num0, den),
                        None => 0,
                    }
                }
            }
        };
        let ml = steps.checked_mul(res_ml).ok_or_else(overflow)?;
        i64::try_from(ml)
            .map(Volume::from_ml)
            .map_err(|_| overflow())
    }
}

/// `f` as `mantissa × 2^exp` exactly (f finite).
fn float_parts(f: f32) -> (i64, i32) {
    let bits = f.to_bits();
    let sign = if bits >> 31 == 1 { -1 } else { 1 };
    let exp_field = ((bits >> 23) & 0xFF) as i32;
    let frac = i64::from(bits & 0x7F_FFFF);
    if exp_field == 0 {
        (sign * frac, -149)
    } else {
        (sign * (frac | 0x80_0000), exp_field - 150)
    }
}

/// `n / d` (d > 0) rounded to the nearest integer, halves away from zero.
fn round_half_away(n: i128, d: i128) -> i128 {
    let q = n / d;
    let r = (n % d).abs();
    // r ≥ d − r is 2r ≥ d without overflowing.
    if r >= d - r {
        q + n.signum()
    } else {
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn map(
        data_type: DataType,
        word_order: WordOrder,
        scale: &str,
        unit: VolumeUnit,
    ) -> RegisterMap {
        RegisterMap {
            table: Table::Holding,
            address: 0,
            count: data_type.registers(),
            data_type,
            word_order,
            scale: Decimal::from_str(scale).unwrap(),
            unit,
            resolution: None,
        }
    }

    #[test]
    fn integer_types_and_word_orders() {
        let m = map(DataType::U32, WordOrder::Big, "1", VolumeUnit::Litre);
        assert_eq!(
            m.decode(&[0x0001, 0x1170]).unwrap(),
            Volume::from_litres(70_000)
        );
        let m = map(DataType::U32, WordOrder::Little, "10", VolumeUnit::Litre);
        assert_eq!(
            m.decode(&[0x3039, 0x0000]).unwrap(),
            Volume::from_litres(123_450)
        );
        let m = map(DataType::I32, WordOrder::Big, "1", VolumeUnit::Litre);
        assert_eq!(
            m.decode(&[0xFFFF, 0xFFFB]).unwrap(),
            Volume::from_litres(-5)
        );
        let m = map(
            DataType::U16,
            WordOrder::Big,
            "0.001",
            VolumeUnit::CubicMetre,
        );
        assert_eq!(m.decode(&[1234]).unwrap(), Volume::from_litres(1234));
        let m = map(
            DataType::U64,
            WordOrder::Little,
            "1",
            VolumeUnit::Millilitre,
        );
        assert_eq!(
            m.decode(&[0x0004, 0x0003, 0x0002, 0x0001]).unwrap(),
            Volume::from_ml(0x0001_0002_0003_0004)
        );
    }

    #[test]
    fn floats_round_half_up_to_the_resolution() {
        let mut m = map(
            DataType::F32,
            WordOrder::Little,
            "1",
            VolumeUnit::CubicMetre,
        );
        // 1235.0 exactly.
        assert_eq!(
            m.decode(&[0x6000, 0x449A]).unwrap(),
            Volume::from_litres(1_235_000)
        );
        // 1234.5677490234375 exactly (nearest f32 to 1234.5678): to the millilitre…
        let bits = 1234.5678f32.to_bits();
        let words = [bits as u16, (bits >> 16) as u16];
        assert_eq!(m.decode(&words).unwrap(), Volume::from_ml(1_234_567_749));
        // …to the litre, and to 0.1 m³.
        m.resolution = Some(Decimal::from_str("0.001").unwrap());
        assert_eq!(m.decode(&words).unwrap(), Volume::from_ml(1_234_568_000));
        m.resolution = Some(Decimal::from_str("0.1").unwrap());
        assert_eq!(m.decode(&words).unwrap(), Volume::from_ml(1_234_600_000));
        // 0.5 m³ to whole m³ rounds up, -0.5 away from zero.
        m.resolution = Some(Decimal::ONE);
        let half = 0.5f32.to_bits();
        assert_eq!(
            m.decode(&[half as u16, (half >> 16) as u16]).unwrap(),
            Volume::from_litres(1000)
        );
        let neg = (-0.5f32).to_bits();
        assert_eq!(
            m.decode(&[neg as u16, (neg >> 16) as u16]).unwrap(),
            Volume::from_litres(-1000)
        );
        // The smallest subnormal is zero at any resolution; NaN is an error.
        assert_eq!(m.decode(&[1, 0]).unwrap(), Volume::ZERO);
        assert_eq!(
            m.decode(&[0x0000, 0x7FC0]),
            Err(DecodeError::NotFinite { bits: 0x7FC0_0000 })
        );
        // f32::MAX m³ does not fit.
        let max = f32::MAX.to_bits();
        assert!(matches!(
            m.decode(&[max as u16, (max >> 16) as u16]),
            Err(DecodeError::Overflow { .. })
        ));
    }

    #[test]
    fn bad_maps_name_the_field() {
        let mut m = map(DataType::U32, WordOrder::Big, "1", VolumeUnit::Litre);
        m.count = 1;
        assert_eq!(m.validate().unwrap_err().field, "count");
        let mut m = map(DataType::U32, WordOrder::Big, "0", VolumeUnit::Litre);
        assert_eq!(m.validate().unwrap_err().field, "scale");
        m.scale = Decimal::ONE;
        m.resolution = Some(Decimal::from_str("0.0001").unwrap());
        assert_eq!(m.validate().unwrap_err().field, "resolution");
        m.resolution = None;
        m.address = 65535;
        assert_eq!(m.validate().unwrap_err().field, "address");
        assert_eq!(
            map(DataType::U16, WordOrder::Big, "1", VolumeUnit::Litre).decode(&[1, 2]),
            Err(DecodeError::WordCount {
                expected: 1,
                got: 2
            })
        );
    }

    #[test]
    fn maps_deserialise_from_config() {
        let m: RegisterMap = serde_json::from_str(
            r#"{"table": "input", "address": 256, "count": 2, "data_type": "f32",
                "word_order": "little", "scale": "1", "unit": "m3", "resolution": "1"}"#,
        )
        .unwrap();
        assert_eq!(m.table, Table::Input);
        assert_eq!(m.resolution, Some(Decimal::ONE));
        m.validate().unwrap();
        let e = serde_json::from_str::<RegisterMap>(
            r#"{"address": 0, "count": 2, "data_type": "u24", "unit": "l"}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("u24"), "{e}");
    }
}
