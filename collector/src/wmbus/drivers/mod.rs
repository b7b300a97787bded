//! Manufacturer drivers: proprietary CI payloads, manufacturer data after DIF 0x0F, and
//! manufacturer status bits turned into alarms. Dispatch is by manufacturer code (and CI,
//! version, device type where one manufacturer has several formats).

mod apator;
mod bmt;
pub(crate) mod diehl;
mod kamstrup;
mod others;
mod techem;

use super::decoder::Ctx;
use super::error::DecodeError;
use super::telegram::{Alarm, Telegram};
use rust_decimal::Decimal;

/// Packs a three-letter manufacturer code into its M-field number.
pub(crate) const fn man(code: &[u8; 3]) -> u16 {
    (((code[0] - 64) as u16) << 10) | (((code[1] - 64) as u16) << 5) | ((code[2] - 64) as u16)
}

pub(crate) const APA: u16 = man(b"APA");
pub(crate) const APT: u16 = man(b"APT");
pub(crate) const TCH: u16 = man(b"TCH");
pub(crate) const KAM: u16 = man(b"KAM");
pub(crate) const KAW: u16 = man(b"KAW");
pub(crate) const ZRI: u16 = man(b"ZRI");
pub(crate) const QDS: u16 = man(b"QDS");
pub(crate) const DWZ: u16 = man(b"DWZ");
pub(crate) const BMT: u16 = man(b"BMT");
pub(crate) const SAP: u16 = man(b"SAP");
pub(crate) const DME: u16 = man(b"DME");
pub(crate) const HYD: u16 = man(b"HYD");

/// An error saying this manufacturer payload is not understood.
pub(crate) fn unsupported(
    ctx: &Ctx<'_>,
    ci: u8,
    offset: usize,
    reason: &'static str,
) -> DecodeError {
    DecodeError::UnsupportedPayload {
        manufacturer: ctx.addr.manufacturer(),
        version: ctx.addr.a[4],
        ci,
        offset,
        reason,
    }
}

/// Bytes `from..from + n` of `b`, or a truncation error naming the field.
pub(crate) fn field<'a>(
    b: &'a [u8],
    from: usize,
    n: usize,
    what: &'static str,
) -> Result<&'a [u8], DecodeError> {
    b.get(from..from + n).ok_or(DecodeError::Truncated {
        what,
        offset: from,
        needed: n,
        available: b.len().saturating_sub(from),
    })
}

/// Litres (integer) as m³, exactly.
pub(crate) fn litres(l: i64) -> Decimal {
    Decimal::new(l, 3)
}

/// Decodes a manufacturer-specific CI payload (CI at `pos`).
pub(crate) fn manufacturer_ci(
    b: &mut [u8],
    pos: usize,
    ctx: &Ctx<'_>,
    t: &mut Telegram,
) -> Result<(), DecodeError> {
    let ci = b[pos];
    match (ctx.addr.m_code(), ci) {
        (APT, 0xA0) => apator::apt_a0(b, pos, ctx, t),
        (APA, 0xA0 | 0xA1) => apator::na1(b, pos, ctx, t),
        (TCH, 0xA2) => techem::mkradio(b, pos, ctx, t),
        (m, _) if diehl::is_diehl(m) => diehl::prios(b, pos, ctx, t),
        _ => Err(unsupported(
            ctx,
            ci,
            pos,
            "no driver for this manufacturer CI",
        )),
    }
}

/// Whether a TPL security mode outside OMS is a manufacturer's own scheme that its driver
/// undoes (the payload is then handed to [`tpl_payload`] as it is).
pub(crate) fn proprietary_security(ctx: &Ctx<'_>, mode: u8) -> bool {
    ctx.addr.m_code() == BMT && bmt::is_rfmtx1(ctx, mode)
}

/// Whether a driver reads the whole (decrypted) TPL payload instead of DIF/VIF records.
pub(crate) fn owns_tpl_payload(ctx: &Ctx<'_>, security_mode: u8) -> bool {
    (ctx.addr.m_code() == APA && ctx.addr.a[4] == 0x05 && ctx.addr.a[5] == 0x07)
        || proprietary_security(ctx, security_mode)
}

/// Decodes a TPL payload claimed by [`owns_tpl_payload`] (`data` starts at frame `offset`).
pub(crate) fn tpl_payload(
    data: &[u8],
    offset: usize,
    ctx: &Ctx<'_>,
    t: &mut Telegram,
) -> Result<(), DecodeError> {
    if ctx.addr.m_code() == BMT {
        return bmt::rfmtx1(data, offset, ctx, t);
    }
    match data {
        [0x2F, 0x2F, rest @ ..] => apator::apator162(rest, offset + 2, ctx, t),
        _ => Err(unsupported(
            ctx,
            t.ci,
            offset,
            "payload does not start with 2F2F",
        )),
    }
}

/// Interprets manufacturer data that followed DIF 0x0F (`data` starts at frame `offset`).
pub(crate) fn manufacturer_data(
    data: &[u8],
    _offset: usize,
    ctx: &Ctx<'_>,
    t: &mut Telegram,
) -> Result<(), DecodeError> {
    match ctx.addr.m_code() {
        ZRI => others::zenner(data, t),
        _ => Ok(()),
    }
}

/// Manufacturer status bits and proprietary records, after the generic decoding.
pub(crate) fn post(ctx: &Ctx<'_>, _mfct: &[u8], t: &mut Telegram) {
    let mut claimed_status_bits = 0u8;
    match ctx.addr.m_code() {
        KAM | KAW => kamstrup::info_codes(t),
        QDS => others::qundis(t),
        DWZ => others::waterstarm(t),
        BMT => claimed_status_bits = bmt::status(t),
        _ => {}
    }
    let rest = t.status & 0xE0 & !claimed_status_bits;
    if rest != 0 {
        t.alarms.push(Alarm::ManufacturerStatus(u32::from(rest)));
    }
}
