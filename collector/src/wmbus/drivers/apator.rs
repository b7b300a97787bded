//! Apator (APA, APT) water meters — the most common radio meters in Poland: AT-WMBUS-16-2
//! (manufacturer data after 0F), AT-WMBUS-08/17-2 (CI 0xA0 counter) and AT-WMBUS-NA-1
//! (CI 0xA0/0xA1 with its own AES block).

use super::{field, litres, unsupported};
use crate::wmbus::decoder::Ctx;
use crate::wmbus::error::DecodeError;
use crate::wmbus::security;
use crate::wmbus::telegram::Telegram;
use rust_decimal::{Decimal, RoundingStrategy};

/// APT CI 0xA0: a little-endian counter in thirds. The AT-WMBUS-17 (version 0x04, device
/// 0x11) counts thirds of a m³, the AT-WMBUS-08 thirds of a litre; the result is rounded
/// half-up to 6 decimals (1 ml would need an infinite expansion).
pub(super) fn apt_a0(
    b: &[u8],
    pos: usize,
    ctx: &Ctx<'_>,
    t: &mut Telegram,
) -> Result<(), DecodeError> {
    let raw = field(b, pos + 1, 4, "Apator counter")?;
    let thirds = i64::from(u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]));
    let per_m3 = if ctx.addr.a[4] == 0x04 && ctx.addr.a[5] == 0x11 {
        3
    } else {
        3000
    };
    let value = Decimal::from(thirds) / Decimal::from(per_m3);
    t.total_m3 = Some(value.round_dp_with_strategy(6, RoundingStrategy::MidpointAwayFromZero));
    Ok(())
}

/// APA NA-1 (CI 0xA0/0xA1): access number, one byte, then one AES-128-CBC block with the
/// mode 5 IV; plaintext starts 0x2F, the counter in litres is `b2 b3 b4` shifted by a nibble
/// with the low nibble of b1.
pub(super) fn na1(
    b: &mut [u8],
    pos: usize,
    ctx: &Ctx<'_>,
    t: &mut Telegram,
) -> Result<(), DecodeError> {
    let acc = field(b, pos + 1, 1, "NA-1 access number")?[0];
    field(b, pos + 3, 16, "NA-1 encrypted block")?;
    t.access_number = acc;
    t.security_mode = 5;
    let man = ctx.addr.manufacturer();
    let id = ctx.addr.id();
    let Some(key) = ctx.keys.key(&man, &id) else {
        return Err(DecodeError::MissingKey {
            mode: 5,
            manufacturer: man,
            id,
        });
    };
    let iv = security::mode5_iv(ctx.addr.m, ctx.addr.a, acc);
    let block = &mut b[pos + 3..pos + 19];
    security::cbc_decrypt(&key, &iv, block);
    if block[0] != 0x2F {
        return Err(DecodeError::WrongKey {
            manufacturer: man,
            id,
            check: "2F marker",
            offset: pos + 3,
        });
    }
    let l = (u32::from(block[2]) | u32::from(block[3]) << 8 | u32::from(block[4]) << 16) << 4
        | u32::from(block[1] & 0x0F);
    t.total_m3 = Some(litres(i64::from(l)));
    Ok(())
}

/// Size of an AT-WMBUS-16-2 register's data, by register code (learned from the format:
/// 0x7k carry a byte then k+1 little-endian 32-bit history values).
fn register_size(code: u8) -> Option<usize> {
    match code {
        0x10 => Some(4),
        0x40 => Some(6),
        0x41 => Some(7),
        0x43 => Some(2),
        0x71..=0x7F => Some(1 + 4 * (usize::from(code - 0x70) + 1)),
        0x80..=0x8F => Some(10),
        0xA0..=0xAF => Some(4),
        0xF0 => Some(4),
        _ => None,
    }
}

/// AT-WMBUS-16-2 payload after 2F2F: frame type (0x0F, 0x80, …), 4 bytes time, 3 bytes
/// status, then registers until 0xFF padding (or a 2-byte trailer). Register 0x10 is the
/// volume in litres.
pub(super) fn apator162(
    data: &[u8],
    offset: usize,
    ctx: &Ctx<'_>,
    t: &mut Telegram,
) -> Result<(), DecodeError> {
    let mut pos = 8;
    if data.len() < pos {
        return Err(DecodeError::Truncated {
            what: "Apator header",
            offset,
            needed: pos,
            available: data.len(),
        });
    }
    while pos + 2 < data.len() {
        let code = data[pos];
        if code == 0xFF {
            break;
        }
        let Some(size) = register_size(code) else {
            if t.total_m3.is_some() {
                // Everything we need was read; later registers are not interpreted.
                break;
            }
            return Err(unsupported(
                ctx,
                t.ci,
                offset + pos,
                "unknown Apator register",
            ));
        };
        let v =
            field(data, pos + 1, size, "Apator register").map_err(|_| DecodeError::Truncated {
                what: "Apator register",
                offset: offset + pos + 1,
                needed: size,
                available: data.len() - pos - 1,
            })?;
        if code == 0x10 {
            t.total_m3 = Some(litres(i64::from(u32::from_le_bytes([
                v[0], v[1], v[2], v[3],
            ]))));
        }
        pos += 1 + size;
    }
    if t.total_m3.is_none() {
        return Err(unsupported(
            ctx,
            t.ci,
            offset,
            "no volume register in Apator data",
        ));
    }
    Ok(())
}
