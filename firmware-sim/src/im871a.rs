//! Emulation of the IMST iM871A wM-Bus USB dongle: its HCI framing, answers to the host's
//! ping and device-info requests, and walk-by sessions of a handheld reading set.
//!
//! HCI message (host ↔ dongle):
//! `A5 | ctrl | msg id | len | payload[len] | [timestamp u32 LE] | [RSSI u8] | [CRC16 LE]`
//! where `ctrl` = flags (0x80 CRC present, 0x40 RSSI present, 0x20 timestamp present) | endpoint
//! (0x01 device management, 0x02 radio link). The CRC is CRC-16/CCITT in its reflected
//! (X.25) form: polynomial 0x1021 reflected (0x8408), initial 0xFFFF, complemented, sent low
//! byte first, computed over ctrl … RSSI (everything but the SOF).
//!
//! A received telegram is `WMBUSGW_RX_MESSAGE_IND` (endpoint 0x02, id 0x03) whose payload is
//! the wM-Bus frame without link CRCs and, as on the real dongle, without the L-field (the
//! HCI length carries it): C-field, M-field, A-field, CI, … ([`RxOptions::include_l_field`]
//! keeps it for hosts that want it).
//!
//! Device management: `PING_REQ` (0x01) → `PING_RSP` (0x02, empty payload);
//! `GET_DEVICEINFO_REQ` (0x03) → `GET_DEVICEINFO_RSP` (0x04) with payload
//! `[module type 0x33 (iM871A), device mode 0x00, firmware version, HCI version, device id
//! u32 LE]`. Other requests are ignored, as is garbage between messages.
//!
//! Public API: [`HciMessage`] (encode/parse), [`crc16_x25`], [`rx_message`], [`Dongle::spawn`]
//! → [`DongleHandle`] (`send_frame`, `close`), [`WalkBy`] (a route of meters read in order,
//! each telegram repeated) and [`WalkBy::run`] to stream it through a dongle.

use crate::fleet::Fleet;
use crate::truth::SimClock;
use crate::wmbus::FrameFormat;
use crate::SimError;
use chrono::{DateTime, Duration, Utc};
use ewoda_common::rng::Rng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// Start of frame.
pub const SOF: u8 = 0xA5;
/// Device management endpoint.
pub const EP_DEVMGMT: u8 = 0x01;
/// Radio link endpoint.
pub const EP_RADIOLINK: u8 = 0x02;
/// Control-field flag: a timestamp follows the payload.
pub const FLAG_TIMESTAMP: u8 = 0x20;
/// Control-field flag: an RSSI byte follows.
pub const FLAG_RSSI: u8 = 0x40;
/// Control-field flag: a CRC16 ends the message.
pub const FLAG_CRC: u8 = 0x80;
/// Ping request.
pub const MSG_PING_REQ: u8 = 0x01;
/// Ping response.
pub const MSG_PING_RSP: u8 = 0x02;
/// Device information request.
pub const MSG_GET_DEVICEINFO_REQ: u8 = 0x03;
/// Device information response.
pub const MSG_GET_DEVICEINFO_RSP: u8 = 0x04;
/// A received wM-Bus telegram (radio link endpoint).
pub const WMBUSGW_RX_MESSAGE_IND: u8 = 0x03;
/// Module type byte of an iM871A.
pub const MODULE_IM871A: u8 = 0x33;

/// CRC-16/X-25 (reflected CCITT, init 0xFFFF, complemented); check value 0x906E.
pub fn crc16_x25(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &b in data {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x8408
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// One HCI message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HciMessage {
    /// Endpoint (low nibble of the control field).
    pub endpoint: u8,
    /// Message id.
    pub msg_id: u8,
    /// Payload (at most 255 bytes).
    pub payload: Vec<u8>,
    /// Optional 32-bit timestamp.
    pub timestamp: Option<u32>,
    /// Optional RSSI byte.
    pub rssi: Option<u8>,
    /// Whether a CRC16 is appended.
    pub crc: bool,
}

/// Result of looking for a message at the start of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes are needed.
    Incomplete,
    /// `n` leading bytes are not a message start (or a message with a bad CRC): drop them.
    Skip(usize),
    /// A message, and the number of bytes it used.
    Message(HciMessage, usize),
}

impl HciMessage {
    /// The bytes on the wire.
    pub fn encode(&self) -> Result<Vec<u8>, SimError> {
        let len = u8::try_from(self.payload.len()).map_err(|_| SimError::TooLong {
            what: "HCI payload",
            len: self.payload.len(),
            max: 255,
        })?;
        let mut ctrl = self.endpoint & 0x0F;
        if self.timestamp.is_some() {
            ctrl |= FLAG_TIMESTAMP;
        }
        if self.rssi.is_some() {
            ctrl |= FLAG_RSSI;
        }
        if self.crc {
            ctrl |= FLAG_CRC;
        }
        let mut out = Vec::with_capacity(self.payload.len() + 11);
        out.extend_from_slice(&[SOF, ctrl, self.msg_id, len]);
        out.extend_from_slice(&self.payload);
        if let Some(ts) = self.timestamp {
            out.extend_from_slice(&ts.to_le_bytes());
        }
        if let Some(rssi) = self.rssi {
            out.push(rssi);
        }
        if self.crc {
            let crc = crc16_x25(&out[1..]);
            out.extend_from_slice(&crc.to_le_bytes());
        }
        Ok(out)
    }

    /// Looks for one message at the start of `buf`.
    pub fn parse(buf: &[u8]) -> Parsed {
        let Some(&first) = buf.first() else {
            return Parsed::Incomplete;
        };
        if first != SOF {
            let n = buf.iter().position(|&b| b == SOF).unwrap_or(buf.len());
            return Parsed::Skip(n);
        }
        let [_, ctrl, msg_id, len, ..] = *buf else {
            return Parsed::Incomplete;
        };
        let mut total = 4 + usize::from(len);
        let ts_at = total;
        if ctrl & FLAG_TIMESTAMP != 0 {
            total += 4;
        }
        let rssi_at = total;
        if ctrl & FLAG_RSSI != 0 {
            total += 1;
        }
        let crc_at = total;
        if ctrl & FLAG_CRC != 0 {
            total += 2;
        }
        let Some(msg) = buf.get(..total) else {
            return Parsed::Incomplete;
        };
        if ctrl & FLAG_CRC != 0 {
            let got = u16::from_le_bytes([msg[crc_at], msg[crc_at + 1]]);
            if got != crc16_x25(&msg[1..crc_at]) {
                return Parsed::Skip(1);
            }
        }
        Parsed::Message(
            HciMessage {
                endpoint: ctrl & 0x0F,
                msg_id,
                payload: msg[4..ts_at].to_vec(),
                timestamp: (ctrl & FLAG_TIMESTAMP != 0).then(|| {
                    u32::from_le_bytes([msg[ts_at], msg[ts_at + 1], msg[ts_at + 2], msg[ts_at + 3]])
                }),
                rssi: (ctrl & FLAG_RSSI != 0).then(|| msg[rssi_at]),
                crc: ctrl & FLAG_CRC != 0,
            },
            total,
        )
    }
}

/// What the dongle adds to each received telegram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxOptions {
    /// Append a timestamp.
    pub timestamp: bool,
    /// Append the RSSI byte.
    pub rssi: bool,
    /// Append the HCI CRC.
    pub crc: bool,
    /// Keep the wM-Bus L-field at the start of the payload (the real dongle drops it).
    pub include_l_field: bool,
}

impl Default for RxOptions {
    fn default() -> Self {
        RxOptions {
            timestamp: true,
            rssi: true,
            crc: true,
            include_l_field: false,
        }
    }
}

/// A `WMBUSGW_RX_MESSAGE_IND` for a wM-Bus frame given without link CRCs (L-field first).
pub fn rx_message(
    frame_no_crc: &[u8],
    opts: RxOptions,
    timestamp: u32,
    rssi: u8,
) -> Result<HciMessage, SimError> {
    if frame_no_crc.is_empty() {
        return Err(SimError::TooLong {
            what: "wM-Bus frame (empty)",
            len: 0,
            max: 255,
        });
    }
    let payload = if opts.include_l_field {
        frame_no_crc.to_vec()
    } else {
        frame_no_crc[1..].to_vec()
    };
    Ok(HciMessage {
        endpoint: EP_RADIOLINK,
        msg_id: WMBUSGW_RX_MESSAGE_IND,
        payload,
        timestamp: opts.timestamp.then_some(timestamp),
        rssi: opts.rssi.then_some(rssi),
        crc: opts.crc,
    })
}

/// What the emulated dongle says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Firmware version byte.
    pub firmware: u8,
    /// HCI protocol version byte.
    pub hci_version: u8,
    /// Device id.
    pub device_id: u32,
}

impl Default for DeviceInfo {
    fn default() -> Self {
        DeviceInfo {
            firmware: 0x15,
            hci_version: 0x02,
            device_id: 0x0871_0001,
        }
    }
}

enum Command {
    Frame(Vec<u8>),
}

/// The emulated dongle: owns the serial stream, answers requests, writes telegrams.
pub struct Dongle;

/// Sends telegrams through a running [`Dongle`].
pub struct DongleHandle {
    tx: mpsc::Sender<Command>,
    task: tokio::task::JoinHandle<Result<(), SimError>>,
}

impl Dongle {
    /// Starts the dongle on `stream` (e.g. the sim end of a pty pair). It runs until the
    /// handle is closed or the stream ends.
    pub fn spawn<S>(stream: S, info: DeviceInfo) -> DongleHandle
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(64);
        let task = tokio::spawn(run(stream, info, rx));
        DongleHandle { tx, task }
    }
}

impl DongleHandle {
    /// Queues HCI bytes (e.g. from [`HciMessage::encode`]) to be written.
    pub async fn send_raw(&self, bytes: Vec<u8>) -> Result<(), SimError> {
        self.tx
            .send(Command::Frame(bytes))
            .await
            .map_err(|_| SimError::Io(std::io::Error::other("dongle stopped")))
    }

    /// Sends a wM-Bus frame (no link CRCs, L-field first) as a received telegram.
    pub async fn send_frame(
        &self,
        frame_no_crc: &[u8],
        opts: RxOptions,
        timestamp: u32,
        rssi: u8,
    ) -> Result<(), SimError> {
        self.send_raw(rx_message(frame_no_crc, opts, timestamp, rssi)?.encode()?)
            .await
    }

    /// Writes what is queued, then stops the dongle and reports how it ended.
    pub async fn close(self) -> Result<(), SimError> {
        drop(self.tx);
        self.task
            .await
            .map_err(|e| SimError::Io(std::io::Error::other(e.to_string())))?
    }
}

fn response(msg_id: u8, payload: Vec<u8>, crc: bool) -> HciMessage {
    HciMessage {
        endpoint: EP_DEVMGMT,
        msg_id,
        payload,
        timestamp: None,
        rssi: None,
        crc,
    }
}

async fn run<S>(
    stream: S,
    info: DeviceInfo,
    mut rx: mpsc::Receiver<Command>,
) -> Result<(), SimError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut inbuf: Vec<u8> = Vec::with_capacity(512);
    let mut chunk = [0u8; 256];
    let mut reading = true;
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(Command::Frame(bytes)) => {
                    writer.write_all(&bytes).await?;
                    writer.flush().await?;
                }
                None => break,
            },
            n = reader.read(&mut chunk), if reading => {
                let n = match n {
                    Ok(n) => n,
                    // A pty whose other end is not open yet reports EIO; keep serving writes.
                    Err(e) if e.raw_os_error() == Some(5) => 0,
                    Err(e) => return Err(e.into()),
                };
                if n == 0 {
                    reading = false;
                    continue;
                }
                inbuf.extend_from_slice(&chunk[..n]);
                loop {
                    match HciMessage::parse(&inbuf) {
                        Parsed::Incomplete => break,
                        Parsed::Skip(k) => {
                            inbuf.drain(..k);
                        }
                        Parsed::Message(m, used) => {
                            inbuf.drain(..used);
                            if let Some(reply) = answer(&m, info) {
                                writer.write_all(&reply.encode()?).await?;
                                writer.flush().await?;
                            }
                        }
                    }
                }
                // A host cannot send more than one maximal message without a SOF.
                if inbuf.len() > 4096 {
                    inbuf.clear();
                }
            }
        }
    }
    writer.flush().await?;
    Ok(())
}

fn answer(m: &HciMessage, info: DeviceInfo) -> Option<HciMessage> {
    if m.endpoint != EP_DEVMGMT {
        tracing::debug!(endpoint = m.endpoint, msg_id = m.msg_id, "ignored request");
        return None;
    }
    match m.msg_id {
        MSG_PING_REQ => Some(response(MSG_PING_RSP, Vec::new(), m.crc)),
        MSG_GET_DEVICEINFO_REQ => {
            let mut p = vec![MODULE_IM871A, 0x00, info.firmware, info.hci_version];
            p.extend_from_slice(&info.device_id.to_le_bytes());
            Some(response(MSG_GET_DEVICEINFO_RSP, p, m.crc))
        }
        other => {
            tracing::debug!(msg_id = other, "ignored device management request");
            None
        }
    }
}

/// A walk-by reading session of a handheld set: meters in route order, one every
/// `seconds_per_meter`, each heard `repeats` times (radio repeats are identical frames).
#[derive(Debug, Clone)]
pub struct WalkBy {
    /// Meter indices in walk order.
    pub route: Vec<usize>,
    /// When the walk starts.
    pub start: DateTime<Utc>,
    /// Simulated seconds between meters.
    pub seconds_per_meter: i64,
    /// How many times each telegram is received (≥ 1).
    pub repeats: u8,
}

/// One reception of a walk-by session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reception {
    /// Meter index.
    pub meter: usize,
    /// Simulated reception time.
    pub at: DateTime<Utc>,
    /// The wM-Bus frame without link CRCs.
    pub frame: Vec<u8>,
    /// Raw RSSI byte.
    pub rssi: u8,
}

impl WalkBy {
    /// Every reception in order (each meter's telegram `repeats` times, a second apart).
    pub fn receptions(&self, fleet: &Fleet) -> Result<Vec<Reception>, SimError> {
        let mut out = Vec::with_capacity(self.route.len() * usize::from(self.repeats.max(1)));
        for (k, &meter) in self.route.iter().enumerate() {
            let at = self.start + Duration::seconds(self.seconds_per_meter * k as i64);
            let frame = fleet.telegram(meter, at, FrameFormat::NoCrc)?;
            let mut rng = Rng::new(fleet.seed()).fork(0x4D55_0000 + meter as u64);
            for r in 0..self.repeats.max(1) {
                out.push(Reception {
                    meter,
                    at: at + Duration::seconds(i64::from(r)),
                    frame: frame.clone(),
                    rssi: rng.range(0x40, 0xB0) as u8,
                });
            }
        }
        Ok(out)
    }

    /// Streams the session through a dongle; with a clock, each reception waits for its
    /// simulated time. The timestamp is the reception's Unix time (low 32 bits).
    pub async fn run(
        &self,
        fleet: &Fleet,
        dongle: &DongleHandle,
        opts: RxOptions,
        clock: Option<&SimClock>,
    ) -> Result<usize, SimError> {
        let receptions = self.receptions(fleet)?;
        for r in &receptions {
            if let Some(c) = clock {
                c.sleep_until(r.at).await;
            }
            dongle
                .send_frame(&r.frame, opts, r.at.timestamp() as u32, r.rssi)
                .await?;
        }
        Ok(receptions.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x25_check_value() {
        assert_eq!(crc16_x25(b"123456789"), 0x906E);
    }

    #[test]
    fn encode_parse_round_trip_and_resync() {
        let m = HciMessage {
            endpoint: EP_RADIOLINK,
            msg_id: WMBUSGW_RX_MESSAGE_IND,
            payload: vec![0x44, 1, 2, 3],
            timestamp: Some(0x1234_5678),
            rssi: Some(0x77),
            crc: true,
        };
        let bytes = m.encode().unwrap();
        assert_eq!(&bytes[..4], &[0xA5, 0xE2, 0x03, 0x04]);
        let mut noisy = vec![0x00, 0x13];
        noisy.extend_from_slice(&bytes);
        assert_eq!(HciMessage::parse(&noisy), Parsed::Skip(2));
        assert_eq!(
            HciMessage::parse(&noisy[2..]),
            Parsed::Message(m, bytes.len())
        );
        assert_eq!(HciMessage::parse(&bytes[..6]), Parsed::Incomplete);
        let mut bad = bytes.clone();
        bad[5] ^= 1;
        assert_eq!(HciMessage::parse(&bad), Parsed::Skip(1));
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn parse_inverts_encode(
                endpoint in 0u8..16,
                msg_id in any::<u8>(),
                payload in proptest::collection::vec(any::<u8>(), 0..256),
                timestamp in proptest::option::of(any::<u32>()),
                rssi in proptest::option::of(any::<u8>()),
                crc in any::<bool>(),
            ) {
                let m = HciMessage { endpoint, msg_id, payload, timestamp, rssi, crc };
                let bytes = m.encode().unwrap();
                prop_assert_eq!(HciMessage::parse(&bytes), Parsed::Message(m, bytes.len()));
            }

            #[test]
            fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
                let _ = HciMessage::parse(&bytes);
            }
        }
    }
}
