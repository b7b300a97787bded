//! District bulk meters as Modbus servers, written by hand and independently of
//! ewoda-collector (SPEC §2): Modbus TCP (MBAP header) on a listener and Modbus RTU
//! (address, PDU, CRC-16/MODBUS) on a serial stream. Each unit id is one district bulk meter
//! with the register map of its [`BulkModel`]; values come from [`Fleet::register_at`] at
//! the [`TimeSource`]'s "now". Faults ([`ModbusFaults`]): silent units and garbled RTU replies.
//!
//! Public API: [`BulkModel`], [`BulkUnit`], [`ModbusFaults`], [`ModbusSim`], [`crc16`],
//! [`rtu_frame`], [`mbap_frame`], [`Exception`], the function-code constants.

use crate::fleet::Fleet;
use crate::mbus::TimeSource;
use crate::SimError;
use chrono::{DateTime, Duration, DurationRound, Utc};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// Function code: read holding registers.
pub const READ_HOLDING: u8 = 0x03;
/// Function code: read input registers.
pub const READ_INPUT: u8 = 0x04;
/// At most this many registers in one read (Modbus application protocol §6.3).
pub const MAX_READ: u16 = 125;

/// A Modbus exception code the simulated meters send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exception {
    /// 0x01: the function code is not supported by this device.
    IllegalFunction = 0x01,
    /// 0x02: a register in the requested range is not in the device's map.
    IllegalDataAddress = 0x02,
    /// 0x03: the request is malformed (e.g. quantity 0 or above 125).
    IllegalDataValue = 0x03,
}

/// The register layout of a make of bulk meter.
///
/// All words are sent high byte first (as Modbus requires); the *word* order of 32-bit values
/// differs by model, as it does between real vendors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkModel {
    /// Holding registers (0x03 only; 0x04 is an illegal function).
    /// 0x0000–0x0001: total volume, u32 whole litres, high word first (the device's counter
    /// wraps at 2³² l); 0x0002–0x0003: flow in the current hour, i32 l/h, high word first
    /// (signed because a bulk meter can see backflow).
    A,
    /// Input registers (0x04 only).
    /// 0x0100–0x0101: total volume in m³ as IEEE-754 f32, low word first; 0x0102–0x0103:
    /// flow m³/h as f32, low word first. The device keeps its total in whole m³ (rounded half
    /// up), which every f32 below 2²⁴ carries exactly; the float is only what goes on the wire.
    B,
    /// Holding registers (0x03 only).
    /// 0x0200–0x0201: total volume as a u32 count of 10-litre pulses (truncated, as a pulse
    /// counter does), low word first; 0x0202: status word, 0 = no alarm.
    C,
}

impl BulkModel {
    /// The function code the model answers (the other read code is an illegal function).
    pub fn function(self) -> u8 {
        match self {
            BulkModel::A | BulkModel::C => READ_HOLDING,
            BulkModel::B => READ_INPUT,
        }
    }

    /// First register address of the model's map.
    pub fn base_address(self) -> u16 {
        match self {
            BulkModel::A => 0x0000,
            BulkModel::B => 0x0100,
            BulkModel::C => 0x0200,
        }
    }

    /// The register values `(first address, words)` of a meter whose register shows `total`
    /// millilitres and which registered `flow_lph` litres in the current hour.
    pub fn registers(self, total_ml: i64, flow_lph: i64) -> (u16, Vec<u16>) {
        let words = match self {
            BulkModel::A => {
                // The device counts whole litres in 32 bits and rolls over.
                let litres = total_ml.div_euclid(1000).rem_euclid(1 << 32) as u32;
                let flow = flow_lph.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
                let mut w = hi_lo(litres).to_vec();
                w.extend_from_slice(&hi_lo(flow as u32));
                w
            }
            BulkModel::B => {
                let m3 = round_half_up_div(total_ml, 1_000_000);
                let total = m3 as f32;
                let flow = flow_lph as f32 / 1000.0;
                let mut w = lo_hi(total.to_bits()).to_vec();
                w.extend_from_slice(&lo_hi(flow.to_bits()));
                w
            }
            BulkModel::C => {
                let pulses = total_ml.div_euclid(10_000).rem_euclid(1 << 32) as u32;
                let mut w = lo_hi(pulses).to_vec();
                w.push(0);
                w
            }
        };
        (self.base_address(), words)
    }
}

/// `a / b` rounded half away from zero (`b > 0`).
fn round_half_up_div(a: i64, b: i64) -> i64 {
    let q = a.div_euclid(b);
    let r = a.rem_euclid(b);
    if a >= 0 {
        if 2 * r >= b {
            q + 1
        } else {
            q
        }
    } else if r == 0 || 2 * r > b {
        q + i64::from(r != 0)
    } else {
        q
    }
}

fn hi_lo(x: u32) -> [u16; 2] {
    [(x >> 16) as u16, x as u16]
}

fn lo_hi(x: u32) -> [u16; 2] {
    [x as u16, (x >> 16) as u16]
}

/// One simulated device: a unit id (RTU slave address / MBAP unit id) and the bulk meter
/// behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkUnit {
    /// Unit id 1–247.
    pub unit: u8,
    /// Fleet meter index (a district's `bulk_meter`).
    pub meter: usize,
    /// Register layout.
    pub model: BulkModel,
}

/// Faults switched on and off while the servers run (shared by all their connections).
#[derive(Debug, Default)]
pub struct ModbusFaults {
    silent: Mutex<BTreeSet<u8>>,
    garbled_replies: AtomicU32,
    noisy_replies: AtomicU32,
    noise_counter: AtomicU64,
}

impl ModbusFaults {
    /// Makes `unit` stop answering (`true`) or answer again (`false`).
    pub fn set_silent(&self, unit: u8, silent: bool) {
        let mut s = self.silent.lock().unwrap_or_else(|e| e.into_inner());
        if silent {
            s.insert(unit);
        } else {
            s.remove(&unit);
        }
    }

    /// Whether `unit` is silenced.
    pub fn is_silent(&self, unit: u8) -> bool {
        self.silent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&unit)
    }

    /// The next `n` RTU replies go out as line noise (random bytes, no valid frame) instead.
    pub fn garble_next_rtu_replies(&self, n: u32) {
        self.garbled_replies.store(n, Ordering::SeqCst);
    }

    /// The next `n` RTU replies are preceded on the line by a short burst of noise.
    pub fn noise_before_next_rtu_replies(&self, n: u32) {
        self.noisy_replies.store(n, Ordering::SeqCst);
    }

    /// Takes one off `counter`; true if it was positive.
    fn take(counter: &AtomicU32) -> bool {
        counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    /// A burst of pseudo-random noise (xorshift, different on every call).
    fn noise(&self, len: usize) -> Vec<u8> {
        let mut x = self
            .noise_counter
            .fetch_add(1, Ordering::SeqCst)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }
}

/// CRC-16/MODBUS: polynomial 0x8005 reflected (0xA001), initial value 0xFFFF, no final XOR.
/// On the wire the low byte goes first.
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &b in bytes {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// An RTU frame: address, PDU, CRC (low byte first).
pub fn rtu_frame(address: u8, pdu: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(pdu.len() + 3);
    out.push(address);
    out.extend_from_slice(pdu);
    let crc = crc16(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// A Modbus TCP frame: MBAP header (transaction id, protocol 0, length, unit id) and PDU.
pub fn mbap_frame(transaction: u16, unit: u8, pdu: &[u8]) -> Result<Vec<u8>, SimError> {
    let length = u16::try_from(pdu.len() + 1)
        .ok()
        .filter(|l| *l <= 254)
        .ok_or(SimError::TooLong {
            what: "MBAP length",
            len: pdu.len() + 1,
            max: 254,
        })?;
    let mut out = Vec::with_capacity(pdu.len() + 7);
    out.extend_from_slice(&transaction.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&length.to_be_bytes());
    out.push(unit);
    out.extend_from_slice(pdu);
    Ok(out)
}

fn exception_pdu(function: u8, e: Exception) -> Vec<u8> {
    vec![function | 0x80, e as u8]
}

/// Bulk meters served over Modbus TCP and RTU.
#[derive(Debug)]
pub struct ModbusSim {
    fleet: Arc<Fleet>,
    units: Vec<BulkUnit>,
    time: TimeSource,
    faults: Arc<ModbusFaults>,
    silence: std::time::Duration,
}

impl ModbusSim {
    /// Devices `units` over `fleet`, answering with registers at `time.now()` (use
    /// `TimeSource::Clock(SimClock::new(Utc::now(), 1))` for the real clock).
    /// Unit ids must be 1–247 and distinct, meters must exist.
    pub fn new(
        fleet: Arc<Fleet>,
        units: Vec<BulkUnit>,
        time: TimeSource,
    ) -> Result<Self, SimError> {
        let mut seen = BTreeSet::new();
        for u in &units {
            if !(1..=247).contains(&u.unit) || !seen.insert(u.unit) {
                return Err(SimError::OutOfRange {
                    field: "modbus unit id (1-247, distinct)",
                    value: i64::from(u.unit),
                });
            }
            fleet.meter(u.meter)?;
        }
        Ok(ModbusSim {
            fleet,
            units,
            time,
            faults: Arc::new(ModbusFaults::default()),
            // 3.5 character times at 9600 baud (11 bits a character) is 4 ms; a pty delivers
            // one write at once, so a little more is safe and still quick.
            silence: std::time::Duration::from_millis(10),
        })
    }

    /// The fault switches (shared with running servers).
    pub fn faults(&self) -> Arc<ModbusFaults> {
        self.faults.clone()
    }

    /// The devices.
    pub fn units(&self) -> &[BulkUnit] {
        &self.units
    }

    /// The register words `(first address, words)` unit `unit` shows at `t`.
    pub fn registers_at(&self, unit: u8, t: DateTime<Utc>) -> Result<(u16, Vec<u16>), SimError> {
        let u = self
            .units
            .iter()
            .find(|u| u.unit == unit)
            .ok_or(SimError::OutOfRange {
                field: "modbus unit id",
                value: i64::from(unit),
            })?;
        let total = self.fleet.register_at(u.meter, t)?;
        let hour = t.duration_trunc(Duration::hours(1)).unwrap_or(t);
        let flow = self
            .fleet
            .registered_use(u.meter, hour, hour + Duration::hours(1))?;
        Ok(u.model.registers(total.ml(), flow.ml() / 1000))
    }

    /// The response PDU of `unit` to request `pdu`; `None` when the device stays silent
    /// (unknown unit, silenced unit, empty PDU).
    pub fn respond(&self, unit: u8, pdu: &[u8]) -> Result<Option<Vec<u8>>, SimError> {
        let Some(u) = self.units.iter().find(|u| u.unit == unit) else {
            return Ok(None);
        };
        if self.faults.is_silent(unit) {
            return Ok(None);
        }
        let Some(&function) = pdu.first() else {
            return Ok(None);
        };
        if function != u.model.function() {
            return Ok(Some(exception_pdu(function, Exception::IllegalFunction)));
        }
        let [_, a0, a1, q0, q1] = pdu else {
            return Ok(Some(exception_pdu(function, Exception::IllegalDataValue)));
        };
        let (address, quantity) = (
            u16::from_be_bytes([*a0, *a1]),
            u16::from_be_bytes([*q0, *q1]),
        );
        if quantity == 0 || quantity > MAX_READ {
            return Ok(Some(exception_pdu(function, Exception::IllegalDataValue)));
        }
        let (base, words) = self.registers_at(unit, self.time.now())?;
        let start = usize::from(address.wrapping_sub(base));
        let Some(slice) = (address >= base)
            .then(|| words.get(start..start + usize::from(quantity)))
            .flatten()
        else {
            return Ok(Some(exception_pdu(function, Exception::IllegalDataAddress)));
        };
        let mut out = Vec::with_capacity(2 + slice.len() * 2);
        out.push(function);
        out.push((slice.len() * 2) as u8);
        for w in slice {
            out.extend_from_slice(&w.to_be_bytes());
        }
        Ok(Some(out))
    }

    /// Serves Modbus TCP on `listener`, one task per connection, until the listener fails.
    pub async fn serve_tcp(self: Arc<Self>, listener: TcpListener) -> Result<(), SimError> {
        loop {
            let (stream, peer) = listener.accept().await?;
            let sim = self.clone();
            tokio::spawn(async move {
                if let Err(e) = sim.serve_tcp_connection(stream).await {
                    tracing::debug!(%peer, error = %e, "modbus tcp connection ended");
                }
            });
        }
    }

    /// Serves one Modbus TCP connection until the client closes it. A frame whose protocol
    /// id is not 0 is dropped; a length outside 2–254 ends the connection (the stream can no
    /// longer be framed).
    pub async fn serve_tcp_connection<S>(&self, mut stream: S) -> Result<(), SimError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut buf: Vec<u8> = Vec::with_capacity(260);
        let mut chunk = [0u8; 260];
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
            while let Some(header) = buf.get(..7) {
                let transaction = u16::from_be_bytes([header[0], header[1]]);
                let protocol = u16::from_be_bytes([header[2], header[3]]);
                let length = usize::from(u16::from_be_bytes([header[4], header[5]]));
                let unit = header[6];
                if !(2..=254).contains(&length) {
                    return Err(SimError::OutOfRange {
                        field: "MBAP length",
                        value: length as i64,
                    });
                }
                let Some(pdu) = buf.get(7..6 + length) else {
                    break;
                };
                let reply = if protocol == 0 {
                    self.respond(unit, pdu)?
                } else {
                    None
                };
                buf.drain(..6 + length);
                if let Some(pdu) = reply {
                    stream
                        .write_all(&mbap_frame(transaction, unit, &pdu)?)
                        .await?;
                    stream.flush().await?;
                }
            }
        }
    }

    /// Serves Modbus RTU on `stream` (e.g. the sim end of a pty pair) until it ends.
    ///
    /// Read requests (0x03/0x04) are 8 bytes, so they are framed by length: a frame whose
    /// CRC fails is resynchronised one byte later. Anything else is framed by inter-frame
    /// silence and answered (illegal function) only if its CRC holds.
    pub async fn serve_rtu<S>(self: Arc<Self>, stream: S) -> Result<(), SimError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let (mut reader, mut writer) = tokio::io::split(stream);
        let mut buf: Vec<u8> = Vec::with_capacity(512);
        let mut chunk = [0u8; 256];
        loop {
            let read = if buf.is_empty() {
                Some(reader.read(&mut chunk).await)
            } else {
                tokio::time::timeout(self.silence, reader.read(&mut chunk))
                    .await
                    .ok()
            };
            let mut frames: Vec<Vec<u8>> = Vec::new();
            match read {
                Some(Ok(0)) => return Ok(()),
                // A pty reports EIO once the other end has closed.
                Some(Err(e)) if e.raw_os_error() == Some(5) => return Ok(()),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(n)) => {
                    buf.extend_from_slice(&chunk[..n]);
                    frames.extend(take_read_requests(&mut buf));
                }
                None => {
                    // Silence: what is buffered is one frame (or noise).
                    let frame = std::mem::take(&mut buf);
                    if frame.len() >= 4 && check_crc(&frame) {
                        frames.push(frame);
                    }
                }
            }
            for frame in frames {
                let (address, pdu) = (frame[0], &frame[1..frame.len() - 2]);
                let Some(reply) = self.respond(address, pdu)? else {
                    continue;
                };
                let bytes = if ModbusFaults::take(&self.faults.garbled_replies) {
                    self.faults.noise(24)
                } else if ModbusFaults::take(&self.faults.noisy_replies) {
                    let mut b = self.faults.noise(7);
                    b.extend_from_slice(&rtu_frame(address, &reply));
                    b
                } else {
                    rtu_frame(address, &reply)
                };
                writer.write_all(&bytes).await?;
                writer.flush().await?;
            }
        }
    }
}

fn check_crc(frame: &[u8]) -> bool {
    match frame.len().checked_sub(2) {
        Some(n) if n > 0 => crc16(&frame[..n]).to_le_bytes() == frame[n..],
        _ => false,
    }
}

/// Takes complete, CRC-valid read requests out of `buf`, dropping the noise before each;
/// what follows the last one stays (an incomplete request, or another kind of frame that
/// only silence can end).
fn take_read_requests(buf: &mut Vec<u8>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(i) = buf
        .windows(8)
        .position(|w| (w[1] == READ_HOLDING || w[1] == READ_INPUT) && check_crc(w))
    {
        out.push(buf[i..i + 8].to_vec());
        buf.drain(..i + 8);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_of_the_classic_request() {
        // Read 10 holding registers from 0 at slave 1: CRC C5 CD on the wire.
        let frame = rtu_frame(0x01, &[0x03, 0x00, 0x00, 0x00, 0x0A]);
        assert_eq!(frame, [0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD]);
        // The catalogue check value of CRC-16/MODBUS.
        assert_eq!(crc16(b"123456789"), 0x4B37);
        assert_eq!(crc16(&[]), 0xFFFF);
        // 11 03 00 6B 00 03 → CRC 76 87 (the Modbus-over-serial guide's example).
        assert_eq!(
            rtu_frame(0x11, &[0x03, 0x00, 0x6B, 0x00, 0x03])[6..],
            [0x76, 0x87]
        );
    }

    #[test]
    fn a_frame_with_its_crc_checks_and_a_flipped_bit_does_not() {
        let mut f = rtu_frame(7, &[0x04, 0x01, 0x00, 0x00, 0x02]);
        assert!(check_crc(&f));
        f[3] ^= 0x10;
        assert!(!check_crc(&f));
        assert!(!check_crc(&[0x01, 0xFF]));
    }

    #[test]
    fn mbap_header_fields() {
        let f = mbap_frame(0x1234, 9, &[0x03, 0x02, 0xAB, 0xCD]).unwrap();
        assert_eq!(
            f,
            [0x12, 0x34, 0x00, 0x00, 0x00, 0x05, 0x09, 0x03, 0x02, 0xAB, 0xCD]
        );
        assert!(mbap_frame(1, 1, &[0; 254]).is_err());
    }

    #[test]
    fn read_requests_are_framed_by_length_and_resynced_past_noise() {
        let req = rtu_frame(0x01, &[0x03, 0x00, 0x00, 0x00, 0x0A]);
        let mut buf = vec![0x55, 0x03, 0x03];
        buf.extend_from_slice(&req);
        buf.extend_from_slice(&req[..5]);
        let frames = take_read_requests(&mut buf);
        assert_eq!(frames, vec![req.clone()]);
        assert_eq!(buf, req[..5]);
    }

    #[test]
    fn model_words() {
        // 4,294,967,296 + 70,000 l wraps to 70,000 = 0x0001_1170, high word first.
        let (base, w) = BulkModel::A.registers((1i64 << 32) * 1000 + 70_000_999, -5);
        assert_eq!((base, w), (0, vec![0x0001, 0x1170, 0xFFFF, 0xFFFB]));
        // 1234.5 m³ rounds half up to 1235 m³ = 0x449A6000 as f32, low word first.
        let (base, w) = BulkModel::B.registers(1_234_500_000, 0);
        assert_eq!((base, &w[..2]), (0x100, &[0x6000, 0x449A][..]));
        let (_, w) = BulkModel::B.registers(1_234_499_999, 0);
        assert_eq!(
            f32::from_bits(u32::from(w[1]) << 16 | u32::from(w[0])),
            1234.0
        );
        // 123,456.789 l is 12,345 whole 10-litre pulses = 0x3039, low word first.
        let (base, w) = BulkModel::C.registers(123_456_789, 0);
        assert_eq!((base, w), (0x200, vec![0x3039, 0x0000, 0x0000]));
    }

    #[test]
    fn rounding_half_up() {
        assert_eq!(round_half_up_div(1_500_000, 1_000_000), 2);
        assert_eq!(round_half_up_div(1_499_999, 1_000_000), 1);
        assert_eq!(round_half_up_div(-1_500_000, 1_000_000), -2);
        assert_eq!(round_half_up_div(-1_499_999, 1_000_000), -1);
        assert_eq!(round_half_up_div(-2_000_000, 1_000_000), -2);
    }
}
