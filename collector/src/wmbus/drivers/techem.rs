//! Techem (TCH) radio water meters on CI 0xA2.
//! - MK Radio 3 (version 0x74) and 4 (0x95): volume of the previous billing period plus the
//!   volume since, both in 0.1 m³.
//! - MK Radio 3a (version 0x50, legacy layout): two status bytes, the date of the last
//!   monthly value, the register (u32, 0.1 m³), then twelve months newest first, each two
//!   half-month consumptions (one byte each, 0.1 m³) and a reserved byte.

use super::{field, unsupported};
use crate::wmbus::decoder::Ctx;
use crate::wmbus::error::DecodeError;
use crate::wmbus::telegram::{Function, Quantity, Record, Telegram, Value};
use rust_decimal::Decimal;

/// Dispatch by version; water device types 0x62/0x72.
pub(super) fn mkradio(
    b: &[u8],
    pos: usize,
    ctx: &Ctx<'_>,
    t: &mut Telegram,
) -> Result<(), DecodeError> {
    match ctx.addr.a[4] {
        0x74 | 0x95 => mkradio3(b, pos, t),
        0x50 => mkradio3a(b, pos, t),
        _ => Err(unsupported(ctx, 0xA2, pos, "unknown MK Radio version")),
    }
}

fn mkradio3(b: &[u8], pos: usize, t: &mut Telegram) -> Result<(), DecodeError> {
    let p = field(b, pos + 1, 9, "MK Radio payload")?;
    let prev = i64::from(u16::from_le_bytes([p[3], p[4]]));
    let curr = i64::from(u16::from_le_bytes([p[7], p[8]]));
    t.total_m3 = Some(Decimal::new(prev + curr, 1));
    Ok(())
}

fn mkradio3a(b: &[u8], pos: usize, t: &mut Telegram) -> Result<(), DecodeError> {
    let p = field(b, pos + 1, 8 + 12 * 3, "MK Radio 3a payload")?;
    let date = u16::from_le_bytes([p[2], p[3]]);
    let (day, month, year) = (date & 0x1F, (date >> 5) & 0x0F, 2000 + (date >> 9));
    let register = u32::from_le_bytes([p[4], p[5], p[6], p[7]]);
    t.total_m3 = Some(Decimal::new(i64::from(register), 1));
    let date = if (1..=12).contains(&month) && day >= 1 {
        Value::Date {
            year,
            month: month as u8,
            day: day as u8,
        }
    } else {
        Value::Invalid
    };
    t.records.push(Record {
        function: Function::Instantaneous,
        storage: 1,
        tariff: 0,
        subunit: 0,
        quantity: Quantity::Date,
        value: date,
        unit: "",
        modifier: None,
    });
    Ok(())
}
