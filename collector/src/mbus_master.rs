//! Wired M-Bus master (EN 13757-2) over a serial line at 2400 baud 8E1: for each configured
//! primary address SND_NKE (expects `E5`) on first contact and after any failed exchange,
//! then REQ_UD2 with the FCB alternating from one request to the next, reads the
//! RSP_UD long frame within a timeout, checks it and decodes it with [`wmbus::decode`].
//! Each address gets retries with backoff; a silent slave is a counted, typed error and the
//! others are still read. Readings go straight to the pipeline (a slave can be asked again,
//! so no spill queue is needed).

use crate::error::Error;
use crate::pipeline::{DeadLetter, Input, Item, MeterReading, MeterRef};
use crate::radio::{decode_error_class, meter_time};
use crate::store::Source;
use crate::wmbus::{self, KeyLookup};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error as ThisError;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

/// Single-character acknowledgement.
pub const ACK: u8 = 0xE5;
const C_SND_NKE: u8 = 0x40;
const C_REQ_UD2: u8 = 0x5B;
const FCB: u8 = 0x20;
/// Longest long frame: 255 bytes of L plus 6 of framing.
const MAX_LONG_FRAME: usize = 261;

/// `[[sources]] kind = "mbus_serial"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MbusSerialConfig {
    /// Serial device of the level converter, e.g. `/dev/ttyUSB1`.
    pub path: String,
    /// Baud rate (default 2400; characters are 8E1).
    #[serde(default = "default_baud")]
    pub baud: u32,
    /// Primary addresses to read, 1–250.
    pub addresses: Vec<u8>,
    /// Seconds between reading rounds.
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    /// Retries per address after a failed exchange.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// How long to wait for the first byte of an answer (the frame itself then gets the
    /// time its length needs at the baud rate).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Pause before the first retry, doubled for each next one.
    #[serde(default = "default_backoff")]
    pub backoff_ms: u64,
}

fn default_baud() -> u32 {
    2400
}
fn default_interval() -> u64 {
    900
}
fn default_retries() -> u32 {
    2
}
fn default_timeout() -> u64 {
    1000
}
fn default_backoff() -> u64 {
    200
}

impl MbusSerialConfig {
    /// A config with the defaults for `path` and `addresses`.
    pub fn new(path: impl Into<String>, addresses: Vec<u8>) -> Self {
        MbusSerialConfig {
            path: path.into(),
            baud: default_baud(),
            addresses,
            interval_secs: default_interval(),
            retries: default_retries(),
            timeout_ms: default_timeout(),
            backoff_ms: default_backoff(),
        }
    }

    /// Checks addresses and timings.
    pub fn validate(&self) -> Result<(), String> {
        if self.addresses.is_empty() {
            return Err("addresses: at least one primary address is needed".into());
        }
        if let Some(a) = self.addresses.iter().find(|a| !(1..=250).contains(*a)) {
            return Err(format!("addresses: {a} is not a primary address (1–250)"));
        }
        if self.baud == 0 {
            return Err("baud: must be positive".into());
        }
        if self.timeout_ms == 0 {
            return Err("timeout_ms: must be positive".into());
        }
        Ok(())
    }
}

/// Why one exchange with a slave failed.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
pub enum MbusError {
    /// Nothing (or not enough) came back in time.
    #[error("address {address}: no answer to {request} within {timeout_ms} ms")]
    Timeout {
        address: u8,
        request: &'static str,
        timeout_ms: u64,
    },
    /// Something came back that is not the expected frame.
    #[error("address {address}: bad answer to {request}: {detail}")]
    BadFrame {
        address: u8,
        request: &'static str,
        detail: String,
    },
    /// The long frame's checksum did not match.
    #[error("address {address}: RSP_UD checksum {got:#04x}, computed {computed:#04x}")]
    Checksum { address: u8, got: u8, computed: u8 },
    /// The line failed.
    #[error("address {address}: i/o: {message}")]
    Io { address: u8, message: String },
}

/// Counters of one master.
#[derive(Debug, Default)]
pub struct MbusStats {
    /// Successful RSP_UD frames.
    pub frames: AtomicU64,
    /// Exchanges retried.
    pub retries: AtomicU64,
    /// Addresses that gave no valid frame after all retries.
    pub failures: AtomicU64,
    /// Timeouts among the failures and retries.
    pub timeouts: AtomicU64,
    /// Frames that did not decode (dead letters).
    pub undecodable: AtomicU64,
}

/// Sum of bytes modulo 256 (the M-Bus checksum).
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |a, b| a.wrapping_add(*b))
}

/// A short frame `10 C A CS 16`.
pub fn short_frame(c: u8, a: u8) -> [u8; 5] {
    [0x10, c, a, c.wrapping_add(a), 0x16]
}

/// Where a long frame starts in `buf` and whether it is complete.
enum Scan {
    /// Need more bytes; `skip` leading bytes are garbage.
    More { skip: usize },
    /// A complete, checked frame at `start..end`.
    Frame { start: usize, end: usize },
    /// A frame-shaped run that fails checks; drop `skip` bytes and look again.
    Bad { skip: usize, error: MbusError },
}

fn scan_long(buf: &[u8], address: u8) -> Scan {
    let Some(start) = buf.iter().position(|&b| b == 0x68) else {
        return Scan::More { skip: buf.len() };
    };
    let b = &buf[start..];
    let Some(h) = b.get(..4) else {
        return Scan::More { skip: start };
    };
    if h[1] != h[2] || h[3] != 0x68 || h[1] < 3 {
        return Scan::Bad {
            skip: start + 1,
            error: MbusError::BadFrame {
                address,
                request: "REQ_UD2",
                detail: format!("bad long-frame header {:02X?}", h),
            },
        };
    }
    let total = usize::from(h[1]) + 6;
    let Some(f) = b.get(..total) else {
        return Scan::More { skip: start };
    };
    let computed = checksum(&f[4..total - 2]);
    if f[total - 1] != 0x16 {
        return Scan::Bad {
            skip: start + 1,
            error: MbusError::BadFrame {
                address,
                request: "REQ_UD2",
                detail: format!("stop byte {:#04x}, expected 0x16", f[total - 1]),
            },
        };
    }
    if f[total - 2] != computed {
        return Scan::Bad {
            skip: start + 1,
            error: MbusError::Checksum {
                address,
                got: f[total - 2],
                computed,
            },
        };
    }
    Scan::Frame {
        start,
        end: start + total,
    }
}

/// The master on one line.
#[derive(Debug)]
pub struct MbusMaster<S> {
    port: S,
    timeout: Duration,
    baud: u32,
    retries: u32,
    backoff: Duration,
    /// Next FCB per address (toggled after each successful REQ_UD2).
    fcb: HashMap<u8, bool>,
    stats: Arc<MbusStats>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> MbusMaster<S> {
    /// A master on `port` with the config's timings.
    pub fn new(port: S, cfg: &MbusSerialConfig) -> Self {
        MbusMaster {
            port,
            timeout: Duration::from_millis(cfg.timeout_ms),
            baud: cfg.baud.max(1),
            retries: cfg.retries,
            backoff: Duration::from_millis(cfg.backoff_ms),
            fcb: HashMap::new(),
            stats: Arc::new(MbusStats::default()),
        }
    }

    /// The counters.
    pub fn stats(&self) -> Arc<MbusStats> {
        self.stats.clone()
    }

    /// Time `n` characters take on the line (11 bits each), plus the first-byte timeout.
    fn budget(&self, n: usize) -> Duration {
        self.timeout + Duration::from_micros((n as u64) * 11 * 1_000_000 / u64::from(self.baud))
    }

    async fn send(&mut self, address: u8, frame: &[u8]) -> Result<(), MbusError> {
        // Bytes left from an earlier, late answer must not be taken for this one.
        self.discard_pending().await;
        let io = |e: std::io::Error| MbusError::Io {
            address,
            message: e.to_string(),
        };
        self.port.write_all(frame).await.map_err(io)?;
        self.port.flush().await.map_err(io)
    }

    async fn discard_pending(&mut self) {
        let mut junk = [0u8; 256];
        while let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(1), self.port.read(&mut junk)).await
        {
            if n == 0 {
                break;
            }
        }
    }

    /// SND_NKE: resets the slave's link layer; expects `E5`.
    pub async fn reset(&mut self, address: u8) -> Result<(), MbusError> {
        self.send(address, &short_frame(C_SND_NKE, address)).await?;
        let deadline = tokio::time::Instant::now() + self.budget(1);
        let mut b = [0u8; 64];
        loop {
            let n = match tokio::time::timeout_at(deadline, self.port.read(&mut b)).await {
                Err(_) => {
                    return Err(MbusError::Timeout {
                        address,
                        request: "SND_NKE",
                        timeout_ms: self.timeout.as_millis() as u64,
                    })
                }
                Ok(Err(e)) => {
                    return Err(MbusError::Io {
                        address,
                        message: e.to_string(),
                    })
                }
                Ok(Ok(n)) => n,
            };
            if n == 0 {
                return Err(MbusError::Io {
                    address,
                    message: "line closed".into(),
                });
            }
            if b[..n].contains(&ACK) {
                self.fcb.insert(address, true);
                return Ok(());
            }
        }
    }

    /// REQ_UD2: returns the slave's RSP_UD long frame (checksum verified).
    pub async fn request_ud2(&mut self, address: u8) -> Result<Vec<u8>, MbusError> {
        let fcb = self.fcb.get(&address).copied().unwrap_or(true);
        let c = if fcb { C_REQ_UD2 | FCB } else { C_REQ_UD2 };
        self.send(address, &short_frame(c, address)).await?;
        let mut deadline = tokio::time::Instant::now() + self.budget(MAX_LONG_FRAME);
        let mut buf: Vec<u8> = Vec::with_capacity(MAX_LONG_FRAME);
        let mut chunk = [0u8; 256];
        let mut last_bad = None;
        loop {
            match scan_long(&buf, address) {
                Scan::Frame { start, end } => {
                    self.fcb.insert(address, !fcb);
                    return Ok(buf[start..end].to_vec());
                }
                // A whole frame arrived damaged: no use waiting, the caller retries.
                Scan::Bad {
                    error: e @ MbusError::Checksum { .. },
                    ..
                } => return Err(e),
                Scan::Bad { skip, error } => {
                    buf.drain(..skip.min(buf.len()));
                    last_bad = Some(error);
                    continue;
                }
                Scan::More { skip } => {
                    buf.drain(..skip.min(buf.len()));
                }
            }
            let n = match tokio::time::timeout_at(deadline, self.port.read(&mut chunk)).await {
                Err(_) => {
                    return Err(last_bad.unwrap_or(MbusError::Timeout {
                        address,
                        request: "REQ_UD2",
                        timeout_ms: self.timeout.as_millis() as u64,
                    }))
                }
                Ok(Err(e)) => {
                    return Err(MbusError::Io {
                        address,
                        message: e.to_string(),
                    })
                }
                Ok(Ok(0)) => {
                    return Err(MbusError::Io {
                        address,
                        message: "line closed".into(),
                    })
                }
                Ok(Ok(n)) => n,
            };
            if buf.is_empty() {
                // The answer started: give it the time its longest length needs.
                deadline = deadline.max(tokio::time::Instant::now() + self.budget(MAX_LONG_FRAME));
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// (SND_NKE +) REQ_UD2 with retries and backoff; the RSP_UD frame.
    pub async fn read_address(&mut self, address: u8) -> Result<Vec<u8>, MbusError> {
        let mut backoff = self.backoff;
        let mut attempt = 0;
        loop {
            // SND_NKE on first contact and after a failure; later rounds only toggle the FCB,
            // which tells the slave its previous answer arrived.
            let reset = if self.fcb.contains_key(&address) {
                Ok(())
            } else {
                self.reset(address).await
            };
            let r = match reset {
                Ok(()) => self.request_ud2(address).await,
                Err(e) => Err(e),
            };
            if r.is_err() {
                self.fcb.remove(&address);
            }
            match r {
                Ok(f) => {
                    self.stats.frames.fetch_add(1, Ordering::Relaxed);
                    return Ok(f);
                }
                Err(e) => {
                    if matches!(e, MbusError::Timeout { .. }) {
                        self.stats.timeouts.fetch_add(1, Ordering::Relaxed);
                    }
                    if attempt >= self.retries || matches!(e, MbusError::Io { .. }) {
                        self.stats.failures.fetch_add(1, Ordering::Relaxed);
                        return Err(e);
                    }
                    attempt += 1;
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(error = %e, attempt, "M-Bus exchange retried");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
            }
        }
    }
}

/// The pipeline item of one RSP_UD frame received at `at`.
pub fn frame_to_item(frame: &[u8], keys: &dyn KeyLookup, at: DateTime<Utc>) -> Item {
    let dead = |class: &'static str, reason: String| {
        Item::DeadLetter(DeadLetter {
            source: Source::Mbus,
            payload: frame.to_vec(),
            class,
            reason,
        })
    };
    let t = match wmbus::decode(frame, keys) {
        Ok(t) => t,
        Err(e) => return dead(decode_error_class(&e), e.to_string()),
    };
    let meter = MeterRef::Radio {
        manufacturer: t.manufacturer.clone(),
        id: t.id.to_ascii_uppercase(),
    };
    let Some(m3) = t.total_m3 else {
        return dead(
            "no_volume",
            format!("{meter}: RSP_UD has no volume register"),
        );
    };
    let Some(volume) = crate::pipeline::stored_volume(m3) else {
        return dead(
            "malformed",
            format!("{meter}: volume {m3} m3 is negative or out of range"),
        );
    };
    let at = crate::radio::whole_seconds(at);
    // A wired meter is read on request: its clock is trusted when close to ours.
    let read_at = meter_time(&t)
        .filter(|m| (*m - at).num_seconds().abs() <= 300)
        .unwrap_or(at);
    Item::Reading(MeterReading {
        meter,
        read_at,
        volume,
        status: crate::radio::status_flags(&t.alarms, None),
        source: Source::Mbus,
    })
}

/// Reads every address once; returns how many gave a frame.
pub async fn read_round<S: AsyncRead + AsyncWrite + Unpin>(
    master: &mut MbusMaster<S>,
    addresses: &[u8],
    keys: &(dyn KeyLookup + Sync),
    sink: &mpsc::Sender<Input>,
) -> Result<usize, Error> {
    let mut ok = 0;
    for &a in addresses {
        match master.read_address(a).await {
            Ok(frame) => {
                ok += 1;
                let item = frame_to_item(&frame, keys, Utc::now());
                if matches!(item, Item::DeadLetter(_)) {
                    master.stats.undecodable.fetch_add(1, Ordering::Relaxed);
                }
                sink.send(Input { item, ack: None })
                    .await
                    .map_err(|_| Error::Config {
                        field: "mbus_serial".into(),
                        message: "the pipeline stopped".into(),
                    })?;
            }
            Err(e) => tracing::warn!(error = %e, "M-Bus slave not read"),
        }
    }
    Ok(ok)
}

/// Runs the master on an open line: a round over all addresses every `interval_secs`,
/// until `shutdown` turns true.
pub async fn run_on<S: AsyncRead + AsyncWrite + Unpin>(
    port: S,
    cfg: &MbusSerialConfig,
    keys: Arc<dyn KeyLookup + Send + Sync>,
    sink: mpsc::Sender<Input>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<Arc<MbusStats>, Error> {
    let mut master = MbusMaster::new(port, cfg);
    let mut tick = tokio::time::interval(Duration::from_secs(cfg.interval_secs.max(1)));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return Ok(master.stats()),
        }
        tokio::select! {
            r = read_round(&mut master, &cfg.addresses, keys.as_ref(), &sink) => {
                let n = r?;
                tracing::debug!(path = %cfg.path, read = n, of = cfg.addresses.len(), "M-Bus round");
            }
            _ = shutdown.changed() => return Ok(master.stats()),
        }
    }
}

/// Opens the port (8E1 at the configured baud) and runs the master.
pub async fn run(
    cfg: MbusSerialConfig,
    keys: Arc<dyn KeyLookup + Send + Sync>,
    sink: mpsc::Sender<Input>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), Error> {
    use tokio_serial::SerialPortBuilderExt;
    let port = tokio_serial::new(&cfg.path, cfg.baud)
        .data_bits(tokio_serial::DataBits::Eight)
        .parity(tokio_serial::Parity::Even)
        .stop_bits(tokio_serial::StopBits::One)
        .open_native_async()
        .map_err(|e| Error::Io {
            path: cfg.path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
    run_on(port, &cfg, keys, sink, shutdown).await.map(|_| ())
}
