//! Diehl IZAR radio modules (manufacturers SAP, DME, HYD; CI 0xA1–0xA3): 4 clear header
//! bytes (alarm flags among them), then a payload scrambled with the PRIOS keystream — a
//! 32-bit LFSR (taps 1, 2, 11, 31) seeded from an 8-byte key and the link header. The first
//! descrambled byte is 0x4B; the volume in litres follows as u32 LE.

use super::{field, litres, unsupported};
use crate::wmbus::decoder::Ctx;
use crate::wmbus::error::DecodeError;
use crate::wmbus::telegram::{Alarm, Telegram};

/// The PRIOS default key that IZAR modules ship with (public).
const DEFAULT_KEY: [u8; 8] = [0x39, 0xBC, 0x8A, 0x10, 0xE6, 0x6D, 0x83, 0xF8];

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Descrambles `data` into `out`; `header` is the frame from its L-field through 13 bytes.
fn descramble(key: &[u8; 8], header: &[u8], data: &[u8], out: &mut [u8]) {
    let mut k = be32(key, 0) ^ be32(key, 4) ^ be32(header, 2) ^ be32(header, 6) ^ be32(header, 10);
    for (o, &x) in out.iter_mut().zip(data) {
        for _ in 0..8 {
            let bit = ((k >> 1) ^ (k >> 2) ^ (k >> 11) ^ (k >> 31)) & 1;
            k = (k << 1) | bit;
        }
        *o = x ^ (k as u8);
    }
}

/// IZAR CI 0xA1–0xA3 payload at `pos` (the CI).
pub(super) fn izar(
    b: &[u8],
    pos: usize,
    ctx: &Ctx<'_>,
    t: &mut Telegram,
) -> Result<(), DecodeError> {
    let flags = field(b, pos + 1, 4, "IZAR header")?;
    let scrambled = field(b, pos + 5, 5, "IZAR payload")?;
    let header = field(b, 0, 14, "IZAR link header")?;
    let mut plain = [0u8; 5];
    descramble(&DEFAULT_KEY, header, scrambled, &mut plain);
    if plain[0] != 0x4B {
        let key8 = ctx
            .keys
            .key(&ctx.addr.manufacturer(), &ctx.addr.id())
            .map(|k| [k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7]]);
        match key8 {
            Some(k) => descramble(&k, header, scrambled, &mut plain),
            None => {
                return Err(unsupported(
                    ctx,
                    b[pos],
                    pos + 5,
                    "IZAR payload not scrambled with the default key",
                ))
            }
        }
        if plain[0] != 0x4B {
            return Err(DecodeError::WrongKey {
                manufacturer: ctx.addr.manufacturer(),
                id: ctx.addr.id(),
                check: "IZAR 0x4B marker",
                offset: pos + 5,
            });
        }
    }
    if matches!(ctx.addr.m_code(), super::DME | super::HYD) {
        // These modules print the serial from A-field bytes 2–5 (over version and type).
        let a = ctx.addr.a;
        t.id = crate::wmbus::decoder::hex_id(u32::from_le_bytes([a[2], a[3], a[4], a[5]]));
    }
    let l = u32::from_le_bytes([plain[1], plain[2], plain[3], plain[4]]);
    t.total_m3 = Some(litres(i64::from(l)));
    let (a, bflags) = (flags[1], flags[2]);
    for (set, alarm) in [
        (a & 0x80, Alarm::Leak),
        (a & 0x40, Alarm::LeakPrevious),
        (a & 0x20, Alarm::MeterBlocked),
        (bflags & 0x80, Alarm::Backflow),
        (bflags & 0x40, Alarm::Underflow),
        (bflags & 0x20, Alarm::Overflow),
        (bflags & 0x0A, Alarm::Tamper),
    ] {
        if set != 0 {
            t.alarms.push(alarm);
        }
    }
    Ok(())
}
