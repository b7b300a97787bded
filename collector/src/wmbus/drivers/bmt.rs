//! BMT (Bayerische Messtechnik) radio water meters: TPL status bit 6 (iWMTX5) and the RFM-TX1
//! module, whose TPL says security mode 16 (configuration word 0x1006): not encryption but an
//! obfuscated volume. Its four volume bytes are XORed with the access number and with one row
//! of a fixed table chosen by the access number's low nibble; the result is 8 BCD digits of
//! litres. The meter's date-time follows in plain BCD.

use super::{field, litres, unsupported};
use crate::wmbus::decoder::Ctx;
use crate::wmbus::error::DecodeError;
use crate::wmbus::records::bcd;
use crate::wmbus::telegram::{Alarm, Function, Quantity, Record, Telegram, Value};

/// The RFM-TX1 obfuscation table: row = access number & 0x0F, column = volume byte.
const RFMTX1_TABLE: [[u8; 4]; 16] = [
    [122, 16, 26, 10],
    [112, 19, 34, 19],
    [185, 11, 142, 153],
    [121, 7, 74, 22],
    [7, 154, 203, 105],
    [50, 161, 57, 14],
    [156, 126, 96, 153],
    [180, 196, 128, 163],
    [10, 206, 25, 3],
    [240, 5, 165, 134],
    [22, 152, 17, 94],
    [12, 201, 125, 162],
    [74, 72, 228, 31],
    [119, 46, 138, 232],
    [189, 120, 87, 140],
    [57, 111, 40, 5],
];

/// Whether this meter's TPL security mode is BMT's proprietary obfuscation (not a cipher).
pub(super) fn is_rfmtx1(ctx: &Ctx<'_>, security_mode: u8) -> bool {
    ctx.addr.a[4] == 0x05 && ctx.addr.a[5] == 0x07 && security_mode == 16
}

/// RFM-TX1 payload (`data` starts after the configuration word, at frame `offset`): two
/// bytes, the obfuscated volume (4), seven bytes, then second, minute, hour, day, month and
/// year in BCD.
pub(super) fn rfmtx1(
    data: &[u8],
    offset: usize,
    ctx: &Ctx<'_>,
    t: &mut Telegram,
) -> Result<(), DecodeError> {
    let raw = field(data, 2, 4, "RFM-TX1 volume")?;
    let row = RFMTX1_TABLE[usize::from(t.access_number & 0x0F)];
    let mut plain = [0u8; 4];
    for (i, p) in plain.iter_mut().enumerate() {
        *p = raw[i] ^ t.access_number ^ row[i];
    }
    // Wrong table row or corrupt bytes show up as non-decimal digits.
    let l = bcd(&plain)
        .filter(|v| *v >= 0)
        .and_then(|v| i64::try_from(v).ok())
        .ok_or_else(|| unsupported(ctx, t.ci, offset + 2, "RFM-TX1 volume is not BCD"))?;
    t.total_m3 = Some(litres(l));
    let clock = field(data, 13, 6, "RFM-TX1 date-time")?;
    let digits = |b: u8| bcd(&[b]).and_then(|v| u8::try_from(v).ok());
    let value = match (
        digits(clock[0]),
        digits(clock[1]),
        digits(clock[2]),
        digits(clock[3]),
        digits(clock[4]),
        digits(clock[5]),
    ) {
        (Some(second), Some(minute), Some(hour), Some(day), Some(month), Some(year))
            if (1..=12).contains(&month) && (1..=31).contains(&day) && hour < 24 =>
        {
            Value::DateTime {
                year: 2000 + u16::from(year),
                month,
                day,
                hour,
                minute,
                second: Some(second),
            }
        }
        _ => Value::Invalid,
    };
    t.records.push(Record {
        function: Function::Instantaneous,
        storage: 0,
        tariff: 0,
        subunit: 0,
        quantity: Quantity::DateTime,
        value,
        unit: "",
        modifier: None,
    });
    Ok(())
}

/// BMT (iwmtx5) uses TPL status bit 6 for tamper. Returns the status bits it claimed.
pub(super) fn status(t: &mut Telegram) -> u8 {
    if t.status & 0x40 != 0 {
        t.alarms.push(Alarm::Tamper);
    }
    0x40
}
