//! Wireless and wired M-Bus telegram decoding (EN 13757-3/-4/-7, OMS Vol. 2): link layer
//! (format A/B CRCs or stripped, wired long frames), ELL, AFL, transport headers, security
//! modes 5 and 7, DIF/VIF records, manufacturer drivers, JSON output (SPEC §5), the
//! `ewoda decode` glue and the decode benchmark.
//!
//! Entry point: [`decode`]. Errors are [`DecodeError`]; nothing here panics on bad input.

mod afl;
pub mod bench;
pub mod cli;
mod compact;
mod decoder;
mod drivers;
mod error;
mod json;
mod keys;
mod link;
pub mod records;
mod security;
pub mod status_map;
mod telegram;

pub use compact::Formats;
pub use decoder::Address;
pub use error::DecodeError;
pub use keys::{parse_key, KeyLookup, NoKeys};
pub use link::{crc16, LinkFormat};
pub use telegram::{
    device_type_name, is_water_meter, Alarm, Function, Quantity, Record, Telegram, Value, Warning,
};

/// Decodes one telegram (wireless with or without link CRCs, or a wired long frame).
pub fn decode(frame: &[u8], keys: &dyn KeyLookup) -> Result<Telegram, DecodeError> {
    decoder::decode(frame, keys)
}

/// [`decode`] for a stream of telegrams from the same receiver: full frames teach `formats`
/// their DIF/VIF layout, and compact frames that follow are expanded with it.
pub fn decode_learning(
    frame: &[u8],
    keys: &dyn KeyLookup,
    formats: &Formats,
) -> Result<Telegram, DecodeError> {
    decoder::decode_with(frame, keys, Some(formats))
}

/// Decodes a telegram given as hex (whitespace around it is ignored).
pub fn decode_hex(hex_text: &str, keys: &dyn KeyLookup) -> Result<Telegram, DecodeError> {
    let mut buf = [0u8; 2 * link::MAX_FRAME];
    let bytes = hex_to_bytes(hex_text.trim(), &mut buf)?;
    decoder::decode(bytes, keys)
}

/// Hex text into `buf` without allocating.
pub fn hex_to_bytes<'a>(text: &str, buf: &'a mut [u8]) -> Result<&'a [u8], DecodeError> {
    let t = text.as_bytes();
    if t.len() % 2 != 0 {
        return Err(DecodeError::InvalidHex { position: t.len() });
    }
    let n = t.len() / 2;
    if n > buf.len() {
        return Err(DecodeError::LengthMismatch {
            declared: buf.len(),
            actual: n,
        });
    }
    let nibble = |i: usize| -> Result<u8, DecodeError> {
        match t[i] {
            c @ b'0'..=b'9' => Ok(c - b'0'),
            c @ b'a'..=b'f' => Ok(c - b'a' + 10),
            c @ b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(DecodeError::InvalidHex { position: i }),
        }
    };
    for (i, slot) in buf[..n].iter_mut().enumerate() {
        *slot = (nibble(2 * i)? << 4) | nibble(2 * i + 1)?;
    }
    Ok(&buf[..n])
}

impl Telegram {
    /// The SPEC §5 JSON line (no trailing newline).
    pub fn to_json_line(&self) -> String {
        json::telegram_line(self)
    }
}

/// The SPEC §5 error line for a telegram that could not be decoded; `id` is the meter id when
/// the header was readable.
pub fn error_json_line(id: Option<&str>, error: &DecodeError) -> String {
    json::error_line(id, error)
}

/// Best-effort meter id of a frame whose decoding failed (for error lines).
pub fn peek_id(frame: &[u8]) -> Option<String> {
    let mut buf = link::FrameBuf::new();
    let format = link::normalize(frame, &mut buf).ok()?;
    let b = buf.as_slice();
    let a = if format == LinkFormat::WiredLong {
        if b.get(2) != Some(&0x72) {
            return None;
        }
        b.get(3..7)?
    } else if b.get(10) == Some(&0x72) {
        b.get(11..15)?
    } else {
        b.get(9)?;
        return Some(drivers::diehl::link_address(b).id());
    };
    Some(format!(
        "{:08x}",
        u32::from_le_bytes([a[0], a[1], a[2], a[3]])
    ))
}
