//! Link layer: tells wired long frames from wireless ones, checks and strips the EN 13757-4
//! format A/B CRC blocks (or accepts frames whose CRCs the receiver already removed) and the
//! wired M-Bus checksum, so later layers see one contiguous byte string.

use super::error::DecodeError;

/// Largest frame we accept after CRC removal (wireless L ≤ 255, wired L ≤ 255).
pub const MAX_FRAME: usize = 262;

/// Which link-layer shape the input had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkFormat {
    /// Wired M-Bus long frame `68 L L 68 C A CI … CS 16`.
    WiredLong,
    /// Wireless frame whose CRCs were already removed by the receiver.
    WirelessNoCrc,
    /// Wireless frame format A with its CRC blocks.
    WirelessFormatA,
    /// Wireless frame format B with its CRC blocks.
    WirelessFormatB,
}

/// The CRC-less frame in a fixed buffer (no allocation on the hot path).
pub struct FrameBuf {
    /// Frame bytes; only `..len` is meaningful.
    pub bytes: [u8; MAX_FRAME],
    /// Number of valid bytes.
    pub len: usize,
}

impl FrameBuf {
    /// An empty buffer.
    pub fn new() -> Self {
        FrameBuf {
            bytes: [0; MAX_FRAME],
            len: 0,
        }
    }

    /// The valid bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn push(&mut self, data: &[u8]) -> Result<(), DecodeError> {
        let end = self.len + data.len();
        let dst = self
            .bytes
            .get_mut(self.len..end)
            .ok_or(DecodeError::LengthMismatch {
                declared: end,
                actual: MAX_FRAME,
            })?;
        dst.copy_from_slice(data);
        self.len = end;
        Ok(())
    }
}

impl Default for FrameBuf {
    fn default() -> Self {
        Self::new()
    }
}

const fn crc_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x3D65
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

static CRC_TABLE: [u16; 256] = crc_table();

/// EN 13757-4 CRC-16 (polynomial 0x3D65, initial 0, result complemented).
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc = (crc << 8) ^ CRC_TABLE[usize::from((crc >> 8) as u8 ^ b)];
    }
    !crc
}

fn crc_ok(data: &[u8], crc: &[u8]) -> bool {
    crc.len() == 2 && crc16(data) == u16::from_be_bytes([crc[0], crc[1]])
}

/// Takes `raw` as a wireless frame whose link CRCs are already stripped, whatever its
/// length says (the fall-back when another reading of the bytes did not decode).
pub fn as_stripped(raw: &[u8], out: &mut FrameBuf) -> Result<(), DecodeError> {
    out.len = 0;
    out.push(raw)
}

/// Whether `raw` looks like a wired long frame (start bytes and length agree).
fn is_wired_long(raw: &[u8]) -> bool {
    raw.len() >= 9
        && raw[0] == 0x68
        && raw[3] == 0x68
        && raw[1] == raw[2]
        && raw.len() == usize::from(raw[1]) + 6
        && raw[raw.len() - 1] == 0x16
}

/// Normalises `raw` into `out` and says which link format it was.
///
/// Wired frames are reduced to `C A CI data…` (checksum verified); wireless frames to
/// `L C M M A A A A A A CI data…` with L kept as received.
pub fn normalize(raw: &[u8], out: &mut FrameBuf) -> Result<LinkFormat, DecodeError> {
    out.len = 0;
    if is_wired_long(raw) {
        let body = &raw[4..raw.len() - 2];
        let computed = body.iter().fold(0u8, |s, &b| s.wrapping_add(b));
        let expected = raw[raw.len() - 2];
        if computed != expected {
            return Err(DecodeError::Checksum { expected, computed });
        }
        out.push(body)?;
        return Ok(LinkFormat::WiredLong);
    }
    let l = match raw.first() {
        Some(&l) => usize::from(l),
        None => return Err(truncated("L-field", 0, 1, 0)),
    };
    if raw.len() < 11 {
        return Err(truncated("link header", 0, 11, raw.len()));
    }
    let total = l + 1;
    if total < 11 {
        // L, C, M, A (10 bytes) and a CI at least.
        return Err(truncated("frame announced by L-field", 0, 11, total));
    }
    if raw.len() == total {
        if let Some(stripped_len) = format_b_payload_len(raw) {
            strip_format_b(raw, stripped_len, out)?;
            return Ok(LinkFormat::WirelessFormatB);
        }
        out.push(raw)?;
        return Ok(LinkFormat::WirelessNoCrc);
    }
    let blocks = 1 + (total.saturating_sub(10)).div_ceil(16);
    if raw.len() == total + 2 * blocks {
        strip_format_a(raw, total, out)?;
        return Ok(LinkFormat::WirelessFormatA);
    }
    if raw.len() < total {
        return Err(truncated("frame announced by L-field", 0, total, raw.len()));
    }
    Err(DecodeError::LengthMismatch {
        declared: total,
        actual: raw.len(),
    })
}

fn truncated(what: &'static str, offset: usize, needed: usize, available: usize) -> DecodeError {
    DecodeError::Truncated {
        what,
        offset,
        needed,
        available,
    }
}

fn strip_format_a(raw: &[u8], total: usize, out: &mut FrameBuf) -> Result<(), DecodeError> {
    let mut pos = 0;
    let mut remaining = total;
    let mut block = 0;
    while remaining > 0 {
        let n = if block == 0 { 10 } else { remaining.min(16) };
        let data = &raw[pos..pos + n];
        if !crc_ok(data, &raw[pos + n..pos + n + 2]) {
            return Err(DecodeError::Crc { block, offset: pos });
        }
        out.push(data)?;
        pos += n + 2;
        remaining -= n;
        block += 1;
    }
    Ok(())
}

/// For a frame whose length equals L+1, the stripped length if its format B CRCs check out.
fn format_b_payload_len(raw: &[u8]) -> Option<usize> {
    let total = raw.len();
    if total <= 128 {
        (total >= 12 && crc_ok(&raw[..total - 2], &raw[total - 2..])).then(|| total - 2)
    } else if total < 131 {
        // A third block needs at least one data byte and its CRC.
        None
    } else {
        let ok2 = crc_ok(&raw[..126], &raw[126..128]);
        let ok3 = crc_ok(&raw[128..total - 2], &raw[total - 2..]);
        (ok2 && ok3).then(|| total - 4)
    }
}

fn strip_format_b(raw: &[u8], stripped: usize, out: &mut FrameBuf) -> Result<(), DecodeError> {
    if raw.len() <= 128 {
        out.push(&raw[..stripped])
    } else {
        out.push(&raw[..126])?;
        out.push(&raw[128..raw.len() - 2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_en13757_check_value() {
        // CRC-16/EN-13757 catalogue check value for "123456789".
        assert_eq!(crc16(b"123456789"), 0xC2B7);
    }

    #[test]
    fn format_a_roundtrip() {
        let plain: Vec<u8> =
            hex::decode("1E44A511909192937B077A9F0010052F2F04130347030002FD1700002F2F2F")
                .expect("hex");
        let mut with_crc = Vec::new();
        let mut pos = 0;
        let mut first = true;
        while pos < plain.len() {
            let n = if first {
                10
            } else {
                (plain.len() - pos).min(16)
            };
            let block = &plain[pos..pos + n];
            with_crc.extend_from_slice(block);
            with_crc.extend_from_slice(&crc16(block).to_be_bytes());
            pos += n;
            first = false;
        }
        let mut buf = FrameBuf::new();
        assert_eq!(
            normalize(&with_crc, &mut buf),
            Ok(LinkFormat::WirelessFormatA)
        );
        assert_eq!(buf.as_slice(), &plain[..]);
        with_crc[12] ^= 1;
        assert_eq!(
            normalize(&with_crc, &mut buf),
            Err(DecodeError::Crc {
                block: 1,
                offset: 12
            })
        );
    }

    #[test]
    fn format_b_roundtrip() {
        let plain: Vec<u8> =
            hex::decode("1E44A511909192937B077A9F0010052F2F04130347030002FD1700002F2F2F")
                .expect("hex");
        let mut framed = plain.clone();
        framed[0] += 2;
        let crc = crc16(&framed);
        framed.extend_from_slice(&crc.to_be_bytes());
        let mut buf = FrameBuf::new();
        assert_eq!(
            normalize(&framed, &mut buf),
            Ok(LinkFormat::WirelessFormatB)
        );
        assert_eq!(&buf.as_slice()[1..], &plain[1..]);
    }
}
