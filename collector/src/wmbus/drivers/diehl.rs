//! Diehl Metering (manufacturers DME, EWT, HYD, SAP, SPL): how to read the link header, the
//! PRIOS radio frames (CI 0xA0–0xA7) and the "real data" OMS variant (CI 0x7A with bit 12
//! of the configuration field set, IZAR RS / Hydrus).
//!
//! Header layouts (as wmbusmeters documents and decodes them, frames sent with C = 0x44
//! SND_NR or 0x46 SND_IR):
//! - OMS frames (CI 0x7A without bit 12, 0x72, …): the standard A-field (id LE, version,
//!   device type) and configuration field.
//! - PRIOS frames of SAP: the id is the standard 4 bytes, but the "version" and "type" bytes
//!   carry the serial's prefix letters, so the device is a water meter (0x07), version 0.
//! - PRIOS frames of the others, PRIOS_SCR (CI 0xB1–0xB3), alarm frames (CI 0x71) and real
//!   data: the A-field starts with version and device type, the id (LE) follows.
//! - Real data: the configuration field's high byte is no security mode but a check byte,
//!   bit 4 set as the flag and the other bits those of the byte sum of the plain payload;
//!   the payload is DIF/VIF records, sent plain or scrambled with the PRIOS LFSR.
//!
//! PRIOS payload: 4 clear header bytes (alarm flags among them), then a payload scrambled
//! with the PRIOS keystream — a 32-bit LFSR (taps 1, 2, 11, 31) seeded from an 8-byte key and
//! the link header. The first descrambled byte is 0x4B; the volume in litres follows as u32 LE.

use super::{field, litres, unsupported};
use super::{DME, HYD, SAP};
use crate::wmbus::decoder::{Address, Ctx};
use crate::wmbus::error::DecodeError;
use crate::wmbus::telegram::{Alarm, Telegram};

pub(crate) const EWT: u16 = super::man(b"EWT");
pub(crate) const SPL: u16 = super::man(b"SPL");

/// The PRIOS default keys IZAR modules ship with (public).
const DEFAULT_KEYS: [[u8; 8]; 2] = [
    [0x39, 0xBC, 0x8A, 0x10, 0xE6, 0x6D, 0x83, 0xF8],
    [0x51, 0x72, 0x89, 0x10, 0xE6, 0x6D, 0x83, 0xF8],
];

/// The AES key Diehl OMS meters (security mode 5) use when none was set: the second PRIOS
/// default key twice.
pub(crate) const DEFAULT_OMS_KEY: [u8; 16] = [
    0x51, 0x72, 0x89, 0x10, 0xE6, 0x6D, 0x83, 0xF8, 0x51, 0x72, 0x89, 0x10, 0xE6, 0x6D, 0x83, 0xF8,
];

/// Security mode reported for a real-data payload that arrived LFSR-scrambled (a
/// manufacturer mode: EN 13757-7 leaves 16–31 to them).
pub const REAL_DATA_SCRAMBLED_MODE: u8 = 0x10;

/// Whether the manufacturer is one of Diehl's codes.
pub(crate) fn is_diehl(m_code: u16) -> bool {
    matches!(m_code, DME | EWT | HYD | SAP | SPL)
}

/// How a Diehl frame's header is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Standard OMS header.
    Oms,
    /// CI 0x7A real data (configuration bit 12): address swapped, check byte, LFSR.
    RealData,
    /// PRIOS (CI 0xA0–0xA7) of SAP: standard id, version/type bytes are the prefix.
    SapPrios,
    /// Any other frame whose A-field starts with version and type.
    Swapped,
}

/// The layout of a normalized wireless frame (`b` from its L-field), `None` for a frame that
/// is not a Diehl SND_NR/SND_IR.
pub(crate) fn layout(b: &[u8]) -> Option<Layout> {
    let m = u16::from_le_bytes([*b.get(2)?, *b.get(3)?]) & 0x7FFF;
    if !is_diehl(m) || !matches!(b.get(1), Some(0x44 | 0x46)) {
        return None;
    }
    Some(match *b.get(10)? {
        0x7A if b.get(14).is_some_and(|hi| hi & 0x10 != 0) => Layout::RealData,
        0xA0..=0xA7 if m == SAP => Layout::SapPrios,
        0x71 | 0xA0..=0xA7 | 0xB1..=0xB3 => Layout::Swapped,
        _ => Layout::Oms,
    })
}

/// The link-layer address of a normalized wireless frame as the meter means it.
pub(crate) fn link_address(b: &[u8]) -> Address {
    let mut a = Address {
        m: [b[2], b[3]],
        a: [b[4], b[5], b[6], b[7], b[8], b[9]],
    };
    match layout(b) {
        Some(Layout::RealData | Layout::Swapped) => {
            a.a = [b[6], b[7], b[8], b[9], b[4], b[5]];
        }
        Some(Layout::SapPrios) => {
            a.a[4] = 0x00;
            a.a[5] = 0x07;
        }
        Some(Layout::Oms) | None => {}
    }
    a
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Descrambles `data` into `out`; `header` is the frame from its L-field through 13 bytes
/// (as sent, before any address swap).
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

/// The meter's own LFSR key (the first 8 bytes of its configured key), if any.
fn own_key(ctx: &Ctx<'_>) -> Option<[u8; 8]> {
    ctx.keys
        .key(&ctx.addr.manufacturer(), &ctx.addr.id())
        .map(|k| [k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7]])
}

/// Tries the default keys, then the meter's own, until `ok` holds for one; the error when
/// none does names the check (a wrong key when the meter has one, else no usable key).
fn try_keys(
    ctx: &Ctx<'_>,
    ci: u8,
    check: &'static str,
    offset: usize,
    mut ok: impl FnMut(&[u8; 8]) -> bool,
) -> Result<(), DecodeError> {
    let own = own_key(ctx);
    if DEFAULT_KEYS.iter().chain(own.as_ref()).any(&mut ok) {
        return Ok(());
    }
    match own {
        Some(_) => Err(DecodeError::WrongKey {
            manufacturer: ctx.addr.manufacturer(),
            id: ctx.addr.id(),
            check,
            offset,
        }),
        None => Err(unsupported(
            ctx,
            ci,
            offset,
            "payload not scrambled with a default key (set the meter's key)",
        )),
    }
}

/// Real data (CI 0x7A at `pos`, configuration bit 12): reads the short header into `t` and
/// makes the payload plain in place; returns where its records begin.
pub(crate) fn real_data(
    b: &mut [u8],
    pos: usize,
    ctx: &Ctx<'_>,
    t: &mut Telegram,
) -> Result<usize, DecodeError> {
    let head = field(b, pos, 5, "Diehl real-data header")?;
    t.access_number = head[1];
    t.status = head[2];
    let check = head[4] & 0xEF;
    let start = pos + 5;
    let sums_to =
        |p: &[u8]| p.iter().map(|&x| u32::from(x)).sum::<u32>() & 0xEF == u32::from(check);
    if sums_to(&b[start..]) {
        t.security_mode = 0;
        return Ok(start);
    }
    let mut plain = [0u8; crate::wmbus::link::MAX_FRAME];
    let n = b.len() - start;
    try_keys(ctx, 0x7A, "Diehl real-data check byte", start, |key| {
        descramble(key, &b[..14], &b[start..], &mut plain[..n]);
        sums_to(&plain[..n])
    })?;
    b[start..].copy_from_slice(&plain[..n]);
    t.security_mode = REAL_DATA_SCRAMBLED_MODE;
    Ok(start)
}

/// A PRIOS frame (CI 0xA0–0xA7 at `pos`); any other Diehl CI is reported unsupported.
pub(super) fn prios(
    b: &[u8],
    pos: usize,
    ctx: &Ctx<'_>,
    t: &mut Telegram,
) -> Result<(), DecodeError> {
    if !(0xA0..=0xA7).contains(&b[pos]) {
        return Err(unsupported(
            ctx,
            b[pos],
            pos,
            "unsupported proprietary frame (Diehl PRIOS)",
        ));
    }
    let flags = field(b, pos + 1, 4, "IZAR header")?;
    let scrambled = field(b, pos + 5, 5, "IZAR payload")?;
    let header = field(b, 0, 14, "IZAR link header")?;
    let mut plain = [0u8; 5];
    try_keys(ctx, b[pos], "IZAR 0x4B marker", pos + 5, |key| {
        descramble(key, header, scrambled, &mut plain);
        plain[0] == 0x4B
    })?;
    let l = u32::from_le_bytes([plain[1], plain[2], plain[3], plain[4]]);
    t.total_m3 = Some(litres(i64::from(l)));
    prios_alarms(flags, t);
    Ok(())
}

/// The alarm bits of the clear PRIOS header bytes.
fn prios_alarms(flags: &[u8], t: &mut Telegram) {
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
}
