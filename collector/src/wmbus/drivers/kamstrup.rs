//! Kamstrup (KAM) Multical 21 / flowIQ: info codes in the manufacturer record (VIF FF 20 or
//! FF 23) and compact frames (CI 0x79) whose format is one of the known full-frame formats.

use super::unsupported;
use crate::wmbus::decoder::Ctx;
use crate::wmbus::error::DecodeError;
use crate::wmbus::link::{crc16, MAX_FRAME};
use crate::wmbus::records::{self, expand_compact};
use crate::wmbus::telegram::{Alarm, Quantity, Telegram, Value};

/// Info codes: bit 0 dry, 1 reverse flow, 2 leak, 3 burst; for the 2-byte code the higher
/// bits are durations, for the 4-byte code they are error flags.
pub(super) fn info_codes(t: &mut Telegram) {
    let code = t.records.iter().find_map(|r| match r.value {
        Value::Bytes { data, len }
            if r.quantity == Quantity::ManufacturerSpecific && r.storage == 0 =>
        {
            match len {
                2 => Some((u32::from(u16::from_le_bytes([data[0], data[1]])), false)),
                4 => Some((
                    u32::from_le_bytes([data[0], data[1], data[2], data[3]]),
                    true,
                )),
                _ => None,
            }
        }
        _ => None,
    });
    let Some((code, wide)) = code else { return };
    for (bit, alarm) in [
        (1, Alarm::Dry),
        (2, Alarm::Backflow),
        (4, Alarm::Leak),
        (8, Alarm::Burst),
    ] {
        if code & bit != 0 {
            t.alarms.push(alarm);
        }
    }
    if wide && code & !0x0F != 0 {
        t.alarms.push(Alarm::ErrorFlags(code & !0x0F));
    }
}

/// DIF/VIF formats of the full frames Kamstrup water meters send (Multical 21, flowIQ
/// 2200/3100); a compact frame names its format by the CRC of these bytes.
const KNOWN_FORMATS: [&[u8]; 4] = [
    &[
        0x02, 0xFF, 0x20, 0x04, 0x13, 0x44, 0x13, 0x61, 0x5B, 0x61, 0x67,
    ],
    &[
        0x02, 0xFF, 0x20, 0x04, 0x13, 0x92, 0x01, 0x3B, 0xA1, 0x01, 0x5B, 0x81, 0x01, 0xE7, 0xFF,
        0x0F,
    ],
    &[
        0x04, 0xFF, 0x23, 0x04, 0x13, 0x44, 0x13, 0x42, 0x6C, 0x02, 0x3B, 0x92, 0x01, 0x3B, 0xA2,
        0x01, 0x3B, 0x06, 0xFF, 0x1B, 0xA1, 0x01, 0x5B, 0x91, 0x01, 0x5B, 0xA1, 0x01, 0x67,
    ],
    &[
        0x04, 0xFF, 0x23, 0x44, 0x13, 0x52, 0x3B, 0x06, 0xFF, 0x1B, 0x42, 0x6C, 0x61, 0x67, 0x51,
        0x67, 0x02, 0x3B, 0x04, 0x13, 0x81, 0x01, 0xE7, 0xFF, 0x0F,
    ],
];

/// Compact frame (CI 0x79): format signature (CRC of the DIF/VIF bytes), CRC of the full
/// records, then the data alone. Expanded with a known format and checked by both CRCs.
pub(super) fn compact(
    b: &[u8],
    pos: usize,
    ctx: &Ctx<'_>,
    t: &mut Telegram,
) -> Result<(), DecodeError> {
    let head = b
        .get(pos + 1..pos + 5)
        .ok_or_else(|| unsupported(ctx, 0x79, pos, "compact header"))?;
    let signature = u16::from_le_bytes([head[0], head[1]]);
    let full_crc = u16::from_le_bytes([head[2], head[3]]);
    let format =
        KNOWN_FORMATS
            .iter()
            .find(|f| crc16(f) == signature)
            .ok_or(DecodeError::UnknownFormat {
                signature,
                offset: pos + 1,
            })?;
    let mut full = [0u8; MAX_FRAME];
    let n = expand_compact(format, &b[pos + 5..], pos + 5, &mut full)?;
    if crc16(&full[..n]) != full_crc {
        return Err(DecodeError::Record {
            offset: pos + 3,
            reason: "compact frame data CRC mismatch",
        });
    }
    records::parse(&full[..n], pos + 5, &mut t.records)?;
    Ok(())
}
