//! Wired M-Bus (EN 13757-2 link layer) slaves written independently of ewoda-collector:
//! the long frame `68 L L 68 C A CI … CS 16` a slave answers REQ_UD2 with, the single
//! character `E5` acknowledgement of SND_NKE, and [`serve`], which runs a bus segment of fleet
//! meters on a serial stream (2400 baud 8E1 is a port setting, irrelevant on a pty).
//!
//! Public API: [`long_frame`], [`checksum`], [`rsp_ud`], [`Slave`], [`TimeSource`], [`serve`].

use crate::fleet::Fleet;
use crate::truth::SimClock;
use crate::wmbus::{ConfigFlags, Security, Transport};
use crate::SimError;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Single-character acknowledgement.
pub const ACK: u8 = 0xE5;
/// C-field of RSP_UD (slave to master, user data).
pub const C_RSP_UD: u8 = 0x08;

/// The checksum of the link layer: the arithmetic sum of the bytes modulo 256.
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |a, b| a.wrapping_add(*b))
}

/// A long frame carrying `apdu` (CI onwards) with C-field `c` and primary address `a`.
pub fn long_frame(c: u8, a: u8, apdu: &[u8]) -> Result<Vec<u8>, SimError> {
    let l = u8::try_from(apdu.len() + 2).map_err(|_| SimError::TooLong {
        what: "M-Bus long frame",
        len: apdu.len() + 2,
        max: 255,
    })?;
    let mut out = Vec::with_capacity(apdu.len() + 8);
    out.extend_from_slice(&[0x68, l, l, 0x68, c, a]);
    out.extend_from_slice(apdu);
    out.push(checksum(&out[4..]));
    out.push(0x16);
    Ok(out)
}

/// C-field of SND_NKE (link reset).
pub const C_SND_NKE: u8 = 0x40;
/// C-field of REQ_UD2 (with FCB clear; 0x7B with FCB set).
pub const C_REQ_UD2: u8 = 0x5B;
/// The test address every slave answers.
pub const ADDRESS_TEST: u8 = 0xFE;

/// Where a slave takes "now" from.
#[derive(Debug, Clone, Copy)]
pub enum TimeSource {
    /// Always this instant (tests).
    Fixed(DateTime<Utc>),
    /// An accelerated simulation clock.
    Clock(SimClock),
}

impl TimeSource {
    /// The current simulated instant.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            TimeSource::Fixed(t) => *t,
            TimeSource::Clock(c) => c.now(),
        }
    }
}

/// A fleet meter answering on the bus at a primary address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slave {
    /// Primary address 1–250.
    pub primary_address: u8,
    /// Fleet meter index.
    pub meter: usize,
}

/// The RSP_UD a meter sends at `t`: long header (CI 0x72) with its id, unencrypted records of
/// [`crate::wmbus::water_records`].
pub fn rsp_ud(
    fleet: &Fleet,
    meter: usize,
    address: u8,
    t: DateTime<Utc>,
    access_number: u8,
) -> Result<Vec<u8>, SimError> {
    let readout = fleet.readout(meter, t)?;
    let mut telegram = readout.telegram(access_number)?;
    telegram.transport = Transport::Long(readout.generation.address.clone());
    telegram.security = Security::None;
    telegram.flags = ConfigFlags::default();
    long_frame(C_RSP_UD, address, &telegram.apdu()?)
}

/// A frame from the master.
#[derive(Debug, Clone, PartialEq, Eq)]
enum MasterFrame {
    Short { c: u8, a: u8 },
    Other,
}

/// Looks for one master frame at the start of `buf`: Ok(Some((frame, used))), Ok(None) when
/// more bytes are needed, Err(n) to drop n bytes that are not a valid frame.
fn parse_master(buf: &[u8]) -> Result<Option<(MasterFrame, usize)>, usize> {
    match buf.first() {
        None => Ok(None),
        Some(0xE5) => Ok(Some((MasterFrame::Other, 1))),
        Some(0x10) => {
            let Some(f) = buf.get(..5) else {
                return Ok(None);
            };
            if f[4] != 0x16 || checksum(&f[1..3]) != f[3] {
                return Err(1);
            }
            Ok(Some((MasterFrame::Short { c: f[1], a: f[2] }, 5)))
        }
        Some(0x68) => {
            let Some(h) = buf.get(..4) else {
                return Ok(None);
            };
            if h[1] != h[2] || h[3] != 0x68 {
                return Err(1);
            }
            let total = usize::from(h[1]) + 6;
            let Some(f) = buf.get(..total) else {
                return Ok(None);
            };
            if f[total - 1] != 0x16 || checksum(&f[4..total - 2]) != f[total - 2] {
                return Err(1);
            }
            Ok(Some((MasterFrame::Other, total)))
        }
        Some(_) => Err(1),
    }
}

/// Serves a wired M-Bus segment on `stream` (e.g. the sim end of a pty pair): SND_NKE to a
/// slave's address (or 0xFE) → `E5`; REQ_UD2 → its RSP_UD; other addresses and frames are
/// ignored. Runs until the stream ends.
pub async fn serve<S>(
    stream: S,
    fleet: Arc<Fleet>,
    slaves: Vec<Slave>,
    time: TimeSource,
) -> Result<(), SimError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut buf: Vec<u8> = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    let mut access: Vec<u8> = slaves.iter().map(|s| (s.meter % 256) as u8).collect();
    loop {
        let n = match reader.read(&mut chunk).await {
            Ok(n) => n,
            // A pty reports EIO once the other end has closed.
            Err(e) if e.raw_os_error() == Some(5) => 0,
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        loop {
            let (frame, used) = match parse_master(&buf) {
                Ok(Some(x)) => x,
                Ok(None) => break,
                Err(skip) => {
                    buf.drain(..skip);
                    continue;
                }
            };
            buf.drain(..used);
            let MasterFrame::Short { c, a } = frame else {
                continue;
            };
            let Some(k) = slaves
                .iter()
                .position(|s| s.primary_address == a || (a == ADDRESS_TEST && slaves.len() == 1))
            else {
                continue;
            };
            let reply = match c & 0x4F {
                C_SND_NKE => vec![ACK],
                x if x == C_REQ_UD2 & 0x4F => {
                    access[k] = access[k].wrapping_add(1);
                    rsp_ud(&fleet, slaves[k].meter, a, time.now(), access[k])?
                }
                _ => continue,
            };
            writer.write_all(&reply).await?;
            writer.flush().await?;
        }
    }
}
