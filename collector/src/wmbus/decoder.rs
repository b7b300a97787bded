//! The layer walk: link header → ELL (0x8C/0x8D) → AFL (0x90) → transport header
//! (0x72/0x7A/0x78; compact 0x73/0x7B/0x79) with its security mode → data records, or a
//! manufacturer CI handed to a driver; then the generic total register and status alarms,
//! and driver post-processing.

use super::afl::{self, Afl};
use super::compact::{self, Formats};
use super::drivers;
use super::error::DecodeError;
use super::keys::KeyLookup;
use super::link::{self, FrameBuf, LinkFormat};
use super::records::{self, RecordsEnd};
use super::security;
use super::telegram::{status_alarms, Alarm, Function, Quantity, Telegram, Value, Warning};

/// Manufacturer (2 bytes as sent) and address (id 4 bytes LE, version, device type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address {
    /// M-field as sent (little-endian).
    pub m: [u8; 2],
    /// A-field as sent: id (4, LE), version, device type.
    pub a: [u8; 6],
}

impl Address {
    /// Three-letter manufacturer code.
    pub fn manufacturer(&self) -> String {
        let code = u16::from_le_bytes(self.m);
        let letter = |shift: u16| char::from(b'@' + ((code >> shift) & 0x1F) as u8);
        let mut s = String::with_capacity(3);
        s.push(letter(10));
        s.push(letter(5));
        s.push(letter(0));
        s
    }

    /// The id as printed: the 4 id bytes read little-endian, as 8 hex digits (BCD ids print
    /// as their decimal digits; the few non-BCD ids print as lower-case hex).
    pub fn id(&self) -> String {
        hex_id(u32::from_le_bytes([
            self.a[0], self.a[1], self.a[2], self.a[3],
        ]))
    }

    /// Manufacturer code as a number (for driver dispatch without allocating).
    pub fn m_code(&self) -> u16 {
        u16::from_le_bytes(self.m) & 0x7FFF
    }
}

/// Eight lower-case hex digits (what `format!("{:08x}")` gives, without the formatter).
pub fn hex_id(v: u32) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(8);
    for shift in (0..8).rev() {
        s.push(char::from(DIGITS[((v >> (4 * shift)) & 0xF) as usize]));
    }
    s
}

/// State shared with the drivers.
pub struct Ctx<'k> {
    /// Current identity (the TPL long header's when present).
    pub addr: Address,
    /// Link-layer identity (wireless only).
    pub dll: Option<Address>,
    /// Key source.
    pub keys: &'k dyn KeyLookup,
}

/// Decodes a frame (hex already turned into bytes).
pub fn decode(frame: &[u8], keys: &dyn KeyLookup) -> Result<Telegram, DecodeError> {
    decode_with(frame, keys, None)
}

/// [`decode`] that learns the formats of full frames into `formats` and expands compact
/// frames with them.
pub fn decode_with(
    frame: &[u8],
    keys: &dyn KeyLookup,
    formats: Option<&Formats>,
) -> Result<Telegram, DecodeError> {
    let mut buf = FrameBuf::new();
    match link::normalize(frame, &mut buf) {
        // CRC-stripped bytes pass the whole-frame format B check by chance about once in
        // 65,536 frames; when the format B reading does not decode, the plain one is tried.
        Ok(LinkFormat::WirelessFormatB) => {
            decode_normalized(&mut buf, LinkFormat::WirelessFormatB, keys, formats).or_else(|e| {
                let mut plain = FrameBuf::new();
                link::as_stripped(frame, &mut plain).map_err(|_| e.clone())?;
                decode_normalized(&mut plain, LinkFormat::WirelessNoCrc, keys, formats)
                    .map_err(|_| e)
            })
        }
        Ok(link) => decode_normalized(&mut buf, link, keys, formats),
        Err(DecodeError::LengthMismatch { declared, actual }) if actual > declared => {
            over_length(frame, declared, keys, formats)
        }
        Err(e) => Err(e),
    }
}

/// A frame longer than its L-field announces, in no CRC layout. Receivers append bytes (RSSI,
/// a block CRC they did not strip), so the L-field's frame is tried first; when that ends
/// mid-record but everything received decodes, the L-field itself is taken to be wrong. Either
/// way the telegram says so in a warning; if neither decodes, the length mismatch is the error.
fn over_length(
    frame: &[u8],
    declared: usize,
    keys: &dyn KeyLookup,
    formats: Option<&Formats>,
) -> Result<Telegram, DecodeError> {
    let mismatch = DecodeError::LengthMismatch {
        declared,
        actual: frame.len(),
    };
    let attempt = |bytes: &[u8]| -> Option<Telegram> {
        let mut buf = FrameBuf::new();
        let link = link::normalize(bytes, &mut buf).ok()?;
        decode_normalized(&mut buf, link, keys, formats).ok()
    };
    let warn = |mut t: Telegram, decoded: usize| {
        t.warnings.push(Warning::LengthField {
            declared,
            received: frame.len(),
            decoded,
        });
        t
    };
    if let Some(t) = attempt(&frame[..declared]) {
        return Ok(warn(t, declared));
    }
    let Ok(l) = u8::try_from(frame.len() - 1) else {
        return Err(mismatch);
    };
    let mut patched = [0u8; 256];
    patched[..frame.len()].copy_from_slice(frame);
    patched[0] = l;
    match attempt(&patched[..frame.len()]) {
        Some(t) => Ok(warn(t, frame.len())),
        None => Err(mismatch),
    }
}

fn need(b: &[u8], pos: usize, n: usize, what: &'static str) -> Result<(), DecodeError> {
    if pos + n > b.len() {
        Err(DecodeError::Truncated {
            what,
            offset: pos,
            needed: n,
            available: b.len().saturating_sub(pos),
        })
    } else {
        Ok(())
    }
}

fn decode_normalized(
    buf: &mut FrameBuf,
    link: LinkFormat,
    keys: &dyn KeyLookup,
    formats: Option<&Formats>,
) -> Result<Telegram, DecodeError> {
    let len = buf.len;
    let b = &mut buf.bytes[..len];
    let (mut pos, dll) = if link == LinkFormat::WiredLong {
        need(b, 0, 3, "wired C, A and CI fields")?;
        (2, None)
    } else {
        (10, Some(drivers::diehl::link_address(b)))
    };
    let mut ctx = Ctx {
        addr: dll.unwrap_or(Address {
            m: [0, 0],
            a: [0; 6],
        }),
        dll,
        keys,
    };
    let mut t = Telegram {
        manufacturer: String::new(),
        id: String::new(),
        version: 0,
        device_type: 0,
        access_number: 0,
        status: 0,
        security_mode: 0,
        radio_id: None,
        link,
        ci: 0,
        records: Vec::new(),
        total_m3: None,
        alarms: Vec::new(),
        warnings: Vec::new(),
    };
    let mut afl: Option<Afl> = None;
    let mut has_tpl_status = false;
    let mut compact_payload = false;
    loop {
        need(b, pos, 1, "CI field")?;
        let ci = b[pos];
        t.ci = ci;
        match ci {
            0x8C if dll.is_some() => {
                need(b, pos, 3, "short ELL")?;
                t.access_number = b[pos + 2];
                pos += 3;
            }
            0x8D if dll.is_some() => {
                need(b, pos, 9, "long ELL")?;
                t.access_number = b[pos + 2];
                ell_long(b, pos, &ctx)?;
                pos += 9;
            }
            0x90 => {
                let (a, next) = afl::parse(b, pos)?;
                afl = Some(a);
                pos = next;
            }
            0x72 | 0x73 => {
                compact_payload = ci == 0x73;
                need(b, pos, 13, "long transport header")?;
                let tpl = Address {
                    m: [b[pos + 5], b[pos + 6]],
                    a: [
                        b[pos + 1],
                        b[pos + 2],
                        b[pos + 3],
                        b[pos + 4],
                        b[pos + 7],
                        b[pos + 8],
                    ],
                };
                if let Some(d) = dll {
                    if d.a[..4] != tpl.a[..4] {
                        t.radio_id = Some(d.id());
                    }
                }
                ctx.addr = tpl;
                t.access_number = b[pos + 9];
                t.status = b[pos + 10];
                has_tpl_status = true;
                let cw = u16::from_le_bytes([b[pos + 11], b[pos + 12]]);
                let tpl_ci = pos;
                pos += 13;
                pos = unsecure(
                    b,
                    tpl_ci,
                    pos,
                    cw,
                    t.access_number,
                    afl.as_ref(),
                    &ctx,
                    &mut t,
                )?;
                break;
            }
            0x7A if dll.is_some()
                && drivers::diehl::layout(b) == Some(drivers::diehl::Layout::RealData) =>
            {
                has_tpl_status = true;
                pos = drivers::diehl::real_data(b, pos, &ctx, &mut t)?;
                break;
            }
            0x7A | 0x7B if dll.is_some() => {
                compact_payload = ci == 0x7B;
                need(b, pos, 5, "short transport header")?;
                t.access_number = b[pos + 1];
                t.status = b[pos + 2];
                has_tpl_status = true;
                let cw = u16::from_le_bytes([b[pos + 3], b[pos + 4]]);
                let tpl_ci = pos;
                pos += 5;
                pos = unsecure(
                    b,
                    tpl_ci,
                    pos,
                    cw,
                    t.access_number,
                    afl.as_ref(),
                    &ctx,
                    &mut t,
                )?;
                break;
            }
            0x78 if dll.is_some() => {
                pos += 1;
                break;
            }
            0x79 if dll.is_some() => {
                fill_identity(&mut t, &ctx);
                t.warnings.extend(compact::decode(
                    &b[pos + 1..],
                    pos + 1,
                    formats,
                    &mut t.records,
                )?);
                finish(&mut t, has_tpl_status);
                drivers::post(&ctx, &[], &mut t);
                return Ok(t);
            }
            0xA0..=0xB7 if dll.is_some() => {
                fill_identity(&mut t, &ctx);
                drivers::manufacturer_ci(b, pos, &ctx, &mut t)?;
                finish(&mut t, has_tpl_status);
                drivers::post(&ctx, &[], &mut t);
                return Ok(t);
            }
            _ => return Err(DecodeError::UnsupportedCi { ci, offset: pos }),
        }
    }
    fill_identity(&mut t, &ctx);
    if compact_payload {
        let skip = b[pos..].iter().take_while(|&&x| x == 0x2F).count();
        t.warnings.extend(compact::decode(
            &b[pos + skip..],
            pos + skip,
            formats,
            &mut t.records,
        )?);
        finish(&mut t, has_tpl_status);
        drivers::post(&ctx, &[], &mut t);
        return Ok(t);
    }
    if drivers::owns_tpl_payload(&ctx, t.security_mode) {
        drivers::tpl_payload(&b[pos..], pos, &ctx, &mut t)?;
        finish(&mut t, has_tpl_status);
        drivers::post(&ctx, &[], &mut t);
        return Ok(t);
    }
    t.records.reserve(24);
    let data = &b[pos..];
    let end = records::parse(data, pos, &mut t.records)?;
    if let Some(f) = formats {
        f.learn(data);
    }
    let mfct: &[u8] = match end {
        RecordsEnd::End | RecordsEnd::TrailingBytes(_) => &[],
        RecordsEnd::ManufacturerData(at) => &data[at..],
    };
    finish(&mut t, has_tpl_status);
    if !mfct.is_empty() {
        let offset = len - mfct.len();
        drivers::manufacturer_data(mfct, offset, &ctx, &mut t)?;
    }
    drivers::post(&ctx, mfct, &mut t);
    Ok(t)
}

fn fill_identity(t: &mut Telegram, ctx: &Ctx<'_>) {
    t.manufacturer = ctx.addr.manufacturer();
    t.id = ctx.addr.id();
    t.version = ctx.addr.a[4];
    t.device_type = ctx.addr.a[5];
}

/// Generic total register and status alarms.
fn finish(t: &mut Telegram, has_tpl_status: bool) {
    if t.total_m3.is_none() {
        t.total_m3 = t.records.iter().find_map(|r| match r.value {
            Value::Number(v)
                if r.quantity == Quantity::Volume
                    && r.function == Function::Instantaneous
                    && r.storage == 0
                    && r.tariff == 0
                    && r.subunit == 0
                    && r.unit == "m3" =>
            {
                Some(v)
            }
            _ => None,
        });
    }
    if has_tpl_status {
        status_alarms(t.status, &mut t.alarms);
    }
    for r in &t.records {
        if r.quantity == Quantity::ErrorFlags && r.storage == 0 && r.modifier.is_none() {
            if let Value::Number(v) = r.value {
                let flags = u32::try_from(v.mantissa()).unwrap_or(0);
                if flags != 0 && v.scale() == 0 {
                    t.alarms.push(Alarm::ErrorFlags(flags));
                }
            }
        }
    }
}

/// ELL long (0x8D): verifies the payload CRC and, when the session field says so and the
/// payload is not already plaintext, decrypts with AES-128-CTR.
fn ell_long(b: &mut [u8], pos: usize, ctx: &Ctx<'_>) -> Result<(), DecodeError> {
    let cc = b[pos + 1];
    let sn = [b[pos + 3], b[pos + 4], b[pos + 5], b[pos + 6]];
    let crc_ok =
        |b: &[u8]| link::crc16(&b[pos + 9..]) == u16::from_le_bytes([b[pos + 7], b[pos + 8]]);
    if crc_ok(b) {
        return Ok(());
    }
    let encrypted = (u32::from_le_bytes(sn) >> 29) == 1;
    let dll = ctx.dll.unwrap_or(ctx.addr);
    if !encrypted {
        return Err(DecodeError::EllCrc { offset: pos + 7 });
    }
    let key = ctx
        .keys
        .key(&dll.manufacturer(), &dll.id())
        .ok_or_else(|| DecodeError::MissingKey {
            mode: 0x8D,
            manufacturer: dll.manufacturer(),
            id: dll.id(),
        })?;
    let iv = security::ell_iv(dll.m, dll.a, cc, sn);
    security::ctr_apply(&key, &iv, &mut b[pos + 7..]);
    if crc_ok(b) {
        Ok(())
    } else {
        Err(DecodeError::WrongKey {
            manufacturer: dll.manufacturer(),
            id: dll.id(),
            check: "ELL payload CRC",
            offset: pos + 7,
        })
    }
}

/// Removes TPL security (modes 0, 5, 7). Returns the offset where plaintext records begin.
#[allow(clippy::too_many_arguments)]
fn unsecure(
    b: &mut [u8],
    tpl_ci: usize,
    mut pos: usize,
    cw: u16,
    access: u8,
    afl: Option<&Afl>,
    ctx: &Ctx<'_>,
    t: &mut Telegram,
) -> Result<usize, DecodeError> {
    let mode = ((cw >> 8) & 0x1F) as u8;
    t.security_mode = mode;
    let blocks = usize::from((cw >> 4) & 0x0F);
    match mode {
        0 => return Ok(pos),
        2 | 5 | 7 => {}
        _ if drivers::proprietary_security(ctx, mode) => return Ok(pos),
        _ => {
            return Err(DecodeError::UnsupportedSecurity {
                mode,
                offset: tpl_ci,
            })
        }
    }
    if mode == 7 {
        need(b, pos, 1, "mode 7 configuration field extension")?;
        pos += 1;
    }
    if b[pos..].starts_with(&[0x2F, 0x2F]) {
        // Already decrypted by the receiver.
        return Ok(pos);
    }
    let n = if blocks == 0 {
        (b.len() - pos) / 16 * 16
    } else {
        blocks * 16
    };
    if pos + n > b.len() {
        return Err(DecodeError::BadEncryptedLength {
            length: b.len() - pos,
            offset: pos,
        });
    }
    let man = ctx.addr.manufacturer();
    let id = ctx.addr.id();
    let missing = || DecodeError::MissingKey {
        mode,
        manufacturer: ctx.addr.manufacturer(),
        id: ctx.addr.id(),
    };
    // Diehl OMS meters without a configured key use their manufacturer's default one.
    let (key, defaulted) = match ctx.keys.key(&man, &id) {
        Some(k) => (k, false),
        None if mode == 5 && drivers::diehl::is_diehl(ctx.addr.m_code()) => {
            (drivers::diehl::DEFAULT_OMS_KEY, true)
        }
        None => return Err(missing()),
    };
    if mode == 2 {
        let des_key = [
            key[0], key[1], key[2], key[3], key[4], key[5], key[6], key[7],
        ];
        security::des_cbc_decrypt(&des_key, &mut b[pos..pos + n]);
    } else if mode == 5 {
        let iv = security::mode5_iv(ctx.addr.m, ctx.addr.a, access);
        security::cbc_decrypt(&key, &iv, &mut b[pos..pos + n]);
    } else {
        let afl = afl.ok_or(DecodeError::UnsupportedSecurity {
            mode,
            offset: tpl_ci,
        })?;
        let mcr = afl.mcr.ok_or(DecodeError::UnsupportedSecurity {
            mode,
            offset: tpl_ci,
        })?;
        let id4 = [ctx.addr.a[0], ctx.addr.a[1], ctx.addr.a[2], ctx.addr.a[3]];
        if let (Some((mac_at, mac_len)), Some(mcl)) = (afl.mac, afl.mcl) {
            let kmac = security::derive_mode7_key(&key, 1, mcr, id4);
            let ml: &[u8] = match &afl.ml {
                Some(ml) => ml,
                None => &[],
            };
            let mac = security::cmac(&kmac, &[&[mcl], &mcr, ml, &b[tpl_ci..]]);
            if !ewoda_common::secret::ct_eq(&mac[..mac_len], &b[mac_at..mac_at + mac_len]) {
                return Err(DecodeError::WrongKey {
                    manufacturer: man,
                    id,
                    check: "AFL MAC",
                    offset: mac_at,
                });
            }
        }
        let kenc = security::derive_mode7_key(&key, 0, mcr, id4);
        security::cbc_decrypt(&kenc, &[0; 16], &mut b[pos..pos + n]);
    }
    if !b[pos..].starts_with(&[0x2F, 0x2F]) {
        if defaulted {
            return Err(missing());
        }
        return Err(DecodeError::WrongKey {
            manufacturer: man,
            id,
            check: "2F2F marker",
            offset: pos,
        });
    }
    Ok(pos)
}
