//! Wireless M-Bus telegram encoder (EN 13757-4 link layer, EN 13757-3 transport and records,
//! OMS security mode 5), written from the standards independently of ewoda-collector.
//!
//! Public API:
//! - [`Manufacturer`], [`MeterNumber`], [`Address`]: the M-field and A-field.
//! - [`Telegram`]: C-field, link address, optional ELL (CI 0x8C), a short (0x7A) or long (0x72)
//!   transport header, security (none or mode 5 AES-128-CBC) and the record bytes;
//!   [`Telegram::encode`] gives the frame in [`FrameFormat::A`], [`FrameFormat::B`] or with the
//!   link CRCs stripped ([`FrameFormat::NoCrc`]); [`Telegram::apdu`] gives CI onwards (for wired
//!   M-Bus).
//! - [`crc16_en13757`]: the link-layer CRC (polynomial 0x3D65, init 0, final complement).
//! - [`water_records`]: the records a simulated water meter sends (see its doc for the layout).
//! - [`date_time_f`], [`date_g`]: the EN 13757-3 type F and G date encodings.

use crate::SimError;
use aes::cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

/// C-field of a meter's spontaneous telegram: SND_NR.
pub const C_SND_NR: u8 = 0x44;
/// CI of the short transport header (to meter's link address).
pub const CI_SHORT: u8 = 0x7A;
/// CI of the long transport header (with its own address).
pub const CI_LONG: u8 = 0x72;
/// CI of the short extended link layer (CC, ACC).
pub const CI_ELL_SHORT: u8 = 0x8C;
/// Device type of a water meter.
pub const DEVICE_WATER: u8 = 0x07;

/// The EN 13757-4 link-layer CRC: polynomial 0x3D65, initial value 0, complemented, sent MSB first.
pub fn crc16_en13757(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x3D65
            } else {
                crc << 1
            };
        }
    }
    !crc
}

/// A three-letter manufacturer code (FLAG association), e.g. `APA` for Apator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Manufacturer(pub(crate) [u8; 3]);

impl Manufacturer {
    /// Parses three letters A–Z (upper case).
    pub fn new(letters: &str) -> Result<Self, SimError> {
        let b = letters.as_bytes();
        match b {
            [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_uppercase()) => {
                Ok(Manufacturer([*a, *b, *c]))
            }
            _ => Err(SimError::Manufacturer(letters.to_string())),
        }
    }

    /// The 15-bit M-field code: each letter minus 64 in 5 bits, first letter highest.
    pub fn code(self) -> u16 {
        let [a, b, c] = self.0.map(|x| u16::from(x - 64));
        (a << 10) | (b << 5) | c
    }

    /// The letters.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl std::fmt::Display for Manufacturer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An 8-digit meter identification number as printed (sent as BCD, least significant byte first).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MeterNumber(pub(crate) String);

impl MeterNumber {
    /// Parses exactly 8 decimal digits.
    pub fn new(digits: &str) -> Result<Self, SimError> {
        if digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(MeterNumber(digits.to_string()))
        } else {
            Err(SimError::MeterNumber(digits.to_string()))
        }
    }

    /// From a number below 10^8.
    pub fn from_u32(n: u32) -> Result<Self, SimError> {
        Self::new(&format!("{n:08}"))
    }

    /// The digits as printed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 4 BCD bytes, least significant pair first (as on the air).
    pub fn bcd_le(&self) -> [u8; 4] {
        let d = self.0.as_bytes();
        let pair = |i: usize| ((d[i] - b'0') << 4) | (d[i + 1] - b'0');
        [pair(6), pair(4), pair(2), pair(0)]
    }
}

impl std::fmt::Display for MeterNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A meter's wM-Bus identity: manufacturer, id, version and device type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    /// M-field.
    pub manufacturer: Manufacturer,
    /// Identification number.
    pub id: MeterNumber,
    /// Version (generation) byte.
    pub version: u8,
    /// Device type (0x07 water).
    pub device_type: u8,
}

impl Address {
    /// M-field (little-endian) followed by the A-field (id BCD LE, version, device type), as in
    /// the link header and the mode 5 IV.
    pub fn link_bytes(&self) -> [u8; 8] {
        let m = self.manufacturer.code().to_le_bytes();
        let id = self.id.bcd_le();
        [
            m[0],
            m[1],
            id[0],
            id[1],
            id[2],
            id[3],
            self.version,
            self.device_type,
        ]
    }

    /// The order of the long transport header: id, manufacturer, version, device type.
    pub fn long_header_bytes(&self) -> [u8; 8] {
        let m = self.manufacturer.code().to_le_bytes();
        let id = self.id.bcd_le();
        [
            id[0],
            id[1],
            id[2],
            id[3],
            m[0],
            m[1],
            self.version,
            self.device_type,
        ]
    }
}

/// How the frame carries its link-layer CRCs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameFormat {
    /// Format A: CRC after the 10-byte first block and after every 16 bytes (and the last part).
    A,
    /// Format B: no CRC on block 1; one CRC over blocks 1–2 (up to 126 bytes), one over block 3.
    B,
    /// CRCs stripped (what a receiver hands on); L counts the bytes after it.
    NoCrc,
}

/// Security of the transport layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Security {
    /// Plain records; configuration word mode 0.
    None,
    /// OMS mode 5: AES-128-CBC, IV = M ‖ A ‖ ACC×8, payload `2F2F` + records padded with `2F`.
    Mode5 {
        /// The meter's AES-128 key.
        key: [u8; 16],
    },
}

/// Transport header kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// CI 0x7A: ACC, status, configuration word; addressed by the link layer.
    Short,
    /// CI 0x72: its own id/manufacturer/version/type, then ACC, status, configuration word.
    Long(Address),
}

/// Short extended link layer (CI 0x8C): communication control and its own access number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ell {
    /// CC field.
    pub cc: u8,
    /// ELL access number.
    pub acc: u8,
}

/// Configuration word flags other than the mode and the block count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConfigFlags {
    /// Bit 15, B: bidirectional.
    pub bidirectional: bool,
    /// Bit 14, A: accessibility.
    pub accessibility: bool,
    /// Bit 13, S: synchronous transmission.
    pub synchronous: bool,
    /// Bits 0–3 (content of message / hop counter).
    pub low_bits: u8,
}

/// One telegram to encode.
#[derive(Debug, Clone)]
pub struct Telegram {
    /// C-field (0x44 SND_NR for a meter).
    pub c_field: u8,
    /// The link-layer address.
    pub link: Address,
    /// Optional short ELL before the transport header.
    pub ell: Option<Ell>,
    /// Transport header kind.
    pub transport: Transport,
    /// Transport access number.
    pub access_number: u8,
    /// Transport status byte (EN 13757-3).
    pub status: u8,
    /// Configuration word flags.
    pub flags: ConfigFlags,
    /// Security.
    pub security: Security,
    /// Records that go into the (encrypted) payload, without the 2F2F marker.
    pub records: Vec<u8>,
    /// Records sent in clear after the encrypted blocks (partial encryption).
    pub clear_tail: Vec<u8>,
}

impl Telegram {
    /// The address the transport layer speaks for (IV source).
    fn tpl_address(&self) -> &Address {
        match &self.transport {
            Transport::Short => &self.link,
            Transport::Long(a) => a,
        }
    }

    /// CI onwards: transport header, (encrypted) payload and clear tail.
    pub fn apdu(&self) -> Result<Vec<u8>, SimError> {
        let mut out = Vec::with_capacity(32 + self.records.len());
        match &self.transport {
            Transport::Short => out.push(CI_SHORT),
            Transport::Long(a) => {
                out.push(CI_LONG);
                out.extend_from_slice(&a.long_header_bytes());
            }
        }
        out.push(self.access_number);
        out.push(self.status);
        let (mode, payload) = match &self.security {
            Security::None => (0u16, self.records.clone()),
            Security::Mode5 { key } => {
                let mut plain = Vec::with_capacity(self.records.len() + 18);
                plain.extend_from_slice(&[0x2F, 0x2F]);
                plain.extend_from_slice(&self.records);
                while plain.len() % 16 != 0 {
                    plain.push(0x2F);
                }
                let iv = self.iv();
                (5u16, aes128_cbc_encrypt(key, &iv, &plain))
            }
        };
        let blocks = if mode == 5 { payload.len() / 16 } else { 0 };
        if blocks > 15 {
            return Err(SimError::TooLong {
                what: "encrypted payload",
                len: payload.len(),
                max: 15 * 16,
            });
        }
        let cfg: u16 = (u16::from(self.flags.bidirectional) << 15)
            | (u16::from(self.flags.accessibility) << 14)
            | (u16::from(self.flags.synchronous) << 13)
            | (mode << 8)
            | ((blocks as u16) << 4)
            | u16::from(self.flags.low_bits & 0x0F);
        out.extend_from_slice(&cfg.to_le_bytes());
        out.extend_from_slice(&payload);
        out.extend_from_slice(&self.clear_tail);
        Ok(out)
    }

    /// The mode 5 initialisation vector: M ‖ A of the transport's address ‖ ACC repeated 8 times.
    pub fn iv(&self) -> [u8; 16] {
        let mut iv = [self.access_number; 16];
        iv[..8].copy_from_slice(&self.tpl_address().link_bytes());
        iv
    }

    /// The bytes after the L-field, without CRCs: C, M, A, the optional ELL, the APDU.
    pub fn link_body(&self) -> Result<Vec<u8>, SimError> {
        let mut body = vec![self.c_field];
        body.extend_from_slice(&self.link.link_bytes());
        if let Some(ell) = self.ell {
            body.extend_from_slice(&[CI_ELL_SHORT, ell.cc, ell.acc]);
        }
        body.extend_from_slice(&self.apdu()?);
        Ok(body)
    }

    /// The whole frame, L-field first, with CRCs as `format` says.
    pub fn encode(&self, format: FrameFormat) -> Result<Vec<u8>, SimError> {
        frame(&self.link_body()?, format)
    }
}

/// Wraps a link body (C-field onwards, no CRCs) into a frame with L-field and CRCs.
pub fn frame(body: &[u8], format: FrameFormat) -> Result<Vec<u8>, SimError> {
    let too_long = |max| SimError::TooLong {
        what: "wM-Bus frame",
        len: body.len(),
        max,
    };
    let too_short = || SimError::TooShort {
        what: "wM-Bus frame body (C, M and A fields)",
        len: body.len(),
        min: 9,
    };
    match format {
        FrameFormat::NoCrc | FrameFormat::A => {
            if body.len() < 9 {
                return Err(too_short());
            }
            let l = u8::try_from(body.len()).map_err(|_| too_long(255))?;
            let mut out = vec![l];
            out.extend_from_slice(body);
            if format == FrameFormat::NoCrc {
                return Ok(out);
            }
            let mut framed = Vec::with_capacity(out.len() + 2 * (out.len() / 16 + 2));
            let (first, rest) = out.split_at(10);
            framed.extend_from_slice(first);
            framed.extend_from_slice(&crc16_en13757(first).to_be_bytes());
            for block in rest.chunks(16) {
                framed.extend_from_slice(block);
                framed.extend_from_slice(&crc16_en13757(block).to_be_bytes());
            }
            Ok(framed)
        }
        FrameFormat::B => {
            // Block 1 (9 bytes after L) and block 2 (up to 116 bytes) share one CRC.
            if body.len() < 9 {
                return Err(too_short());
            }
            let split = body.len().min(9 + 116);
            let crcs = if body.len() > split { 4 } else { 2 };
            let l = u8::try_from(body.len() + crcs).map_err(|_| too_long(255 - 4))?;
            let mut out = vec![l];
            out.extend_from_slice(&body[..split]);
            let crc = crc16_en13757(&out);
            out.extend_from_slice(&crc.to_be_bytes());
            if body.len() > split {
                let block3 = &body[split..];
                out.extend_from_slice(block3);
                out.extend_from_slice(&crc16_en13757(block3).to_be_bytes());
            }
            Ok(out)
        }
    }
}

/// AES-128-CBC without padding (the input is a multiple of 16 bytes by construction).
fn aes128_cbc_encrypt(key: &[u8; 16], iv: &[u8; 16], plain: &[u8]) -> Vec<u8> {
    let cipher = aes::Aes128::new(GenericArray::from_slice(key));
    let mut chain = *iv;
    let mut out = Vec::with_capacity(plain.len());
    for block in plain.chunks(16) {
        let mut b = [0u8; 16];
        for (i, x) in b.iter_mut().enumerate() {
            *x = block.get(i).copied().unwrap_or(0x2F) ^ chain[i];
        }
        let mut ga = GenericArray::from(b);
        cipher.encrypt_block(&mut ga);
        chain.copy_from_slice(&ga);
        out.extend_from_slice(&ga);
    }
    out
}

/// EN 13757-3 type F date-time (4 bytes): minute; hour with the hundred-year bits 5–6 (1 for
/// the 2000s) and the summer-time bit 7; day + year low bits; month + year high bits.
pub fn date_time_f(t: NaiveDateTime, summer_time: bool) -> Result<[u8; 4], SimError> {
    let year = t.year() - 2000;
    if !(0..=99).contains(&year) {
        return Err(SimError::OutOfRange {
            field: "date-time year",
            value: i64::from(t.year()),
        });
    }
    let y = year as u8;
    Ok([
        t.minute() as u8 & 0x3F,
        (t.hour() as u8 & 0x1F) | 0x20 | if summer_time { 0x80 } else { 0 },
        (t.day() as u8 & 0x1F) | ((y & 0x07) << 5),
        (t.month() as u8 & 0x0F) | ((y >> 3) << 4),
    ])
}

/// EN 13757-3 type G date (2 bytes): day + year low bits, month + year high bits.
pub fn date_g(d: NaiveDate) -> Result<[u8; 2], SimError> {
    let year = d.year() - 2000;
    if !(0..=99).contains(&year) {
        return Err(SimError::OutOfRange {
            field: "date year",
            value: i64::from(d.year()),
        });
    }
    let y = year as u8;
    Ok([
        (d.day() as u8 & 0x1F) | ((y & 0x07) << 5),
        (d.month() as u8 & 0x0F) | ((y >> 3) << 4),
    ])
}

/// What a simulated water meter reports in one telegram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaterRecords {
    /// Current register in whole litres.
    pub volume_l: u32,
    /// The meter's own clock, local time (it may drift).
    pub meter_time: NaiveDateTime,
    /// Whether `meter_time` is summer time.
    pub summer_time: bool,
    /// 16-bit error flags (Apator-style layout, see [`crate::fault::MeterStatus`]).
    pub error_flags: u16,
    /// Register at the last due date, whole litres.
    pub due_volume_l: u32,
    /// The last due date.
    pub due_date: NaiveDate,
}

/// Encodes the records, in this order:
/// - `04 13` current volume, 32-bit integer, litres (storage 0);
/// - `04 6D` current date-time, type F;
/// - `02 FD 17` error flags, 16-bit;
/// - `44 13` volume at the last due date, 32-bit, litres (storage 1);
/// - `42 6C` the last due date, type G (storage 1).
pub fn water_records(r: &WaterRecords) -> Result<Vec<u8>, SimError> {
    let mut out = Vec::with_capacity(27);
    out.extend_from_slice(&[0x04, 0x13]);
    out.extend_from_slice(&r.volume_l.to_le_bytes());
    out.extend_from_slice(&[0x04, 0x6D]);
    out.extend_from_slice(&date_time_f(r.meter_time, r.summer_time)?);
    out.extend_from_slice(&[0x02, 0xFD, 0x17]);
    out.extend_from_slice(&r.error_flags.to_le_bytes());
    out.extend_from_slice(&[0x44, 0x13]);
    out.extend_from_slice(&r.due_volume_l.to_le_bytes());
    out.extend_from_slice(&[0x42, 0x6C]);
    out.extend_from_slice(&date_g(r.due_date)?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manufacturer_codes() {
        assert_eq!(Manufacturer::new("ELS").unwrap().code(), 0x1593);
        assert_eq!(Manufacturer::new("APA").unwrap().code(), 0x0601);
        assert!(Manufacturer::new("apa").is_err());
        assert!(Manufacturer::new("AP").is_err());
    }

    #[test]
    fn bcd_is_little_endian() {
        let n = MeterNumber::new("12345678").unwrap();
        assert_eq!(n.bcd_le(), [0x78, 0x56, 0x34, 0x12]);
        assert!(MeterNumber::new("1234567A").is_err());
    }

    #[test]
    fn type_f_matches_oms_example() {
        let t = NaiveDate::from_ymd_opt(2008, 5, 31)
            .unwrap()
            .and_hms_opt(23, 50, 0)
            .unwrap();
        assert_eq!(date_time_f(t, false).unwrap(), [0x32, 0x37, 0x1F, 0x15]);
    }
}
