//! The serial radio source: a wM-Bus receiver dongle (IMST iM871A framing) or a receiver
//! that prints one hex telegram per line, and the walk-by session a handheld reading set
//! uploads over the same serial link. Bytes → frames → [`wmbus::decode`] with the DB key
//! store → status profile → [`MeterReading`] → the [`SpillQueue`] (a serial line cannot be
//! asked again, so while PostgreSQL is down readings wait in memory, then on disk) → the
//! pipeline. Undecodable telegrams become dead letters with the decoder's error; garbage on
//! the line is counted and the decoder resynchronises on the next frame.

use crate::alarms::AlarmKind;
use crate::error::Error;
use crate::im871a::{self, Event, FrameError, HexLineDecoder, Im871aDecoder};
use crate::keystore::KeyStore;
use crate::pipeline::{DeadLetter, Input, Item, MeterReading, MeterRef, StatusFlag};
use crate::spill::{self, SpillQueue};
use crate::store::Source;
use crate::wmbus::status_map::StatusProfile;
use crate::wmbus::{self, Alarm, DecodeError, KeyLookup, Quantity, Telegram, Value};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::Deserialize;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

/// Device-management endpoint of the iM871A HCI.
const EP_DEVMGMT: u8 = 0x01;
const MSG_PING_REQ: u8 = 0x01;
const MSG_PING_RSP: u8 = 0x02;
const MSG_DEVICEINFO_REQ: u8 = 0x03;
const MSG_DEVICEINFO_RSP: u8 = 0x04;

/// How the receiver frames telegrams on the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Framing {
    /// IMST iM871A / WiMOD HCI frames.
    #[default]
    Im871a,
    /// One hex telegram per line.
    HexLines,
}

/// Which instant a reading is taken at, before the meter's own clock is considered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadClock {
    /// When the collector received the bytes (a live dongle).
    #[default]
    Receive,
    /// The HCI timestamp as Unix seconds (a handheld set stamps each reception so), falling
    /// back to the receive time when a frame carries none.
    DongleUnix,
}

/// `[[sources]] kind = "radio_serial"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RadioSerialConfig {
    /// Serial device, e.g. `/dev/ttyUSB0`.
    pub path: String,
    /// Baud rate (the iM871A runs at 57600).
    #[serde(default = "default_baud")]
    pub baud: u32,
    #[serde(default)]
    pub framing: Framing,
    /// Name of the status profile of the meters heard (see `wmbus::status_map`), or "none".
    #[serde(default = "default_profile")]
    pub status_profile: String,
    /// The line carries a handheld set's walk-by session (readings stored as `handheld`).
    #[serde(default)]
    pub handheld: bool,
    #[serde(default)]
    pub clock: ReadClock,
    /// The meter's own date-time record is used as the reading time when it is this close
    /// to the reception time; 0 never trusts meter clocks.
    #[serde(default = "default_tolerance")]
    pub meter_clock_tolerance_secs: u64,
    /// Readings kept in memory before spilling to disk.
    #[serde(default = "default_spill_memory")]
    pub spill_memory_items: usize,
    /// Largest spill file.
    #[serde(default = "default_spill_bytes")]
    pub spill_max_bytes: u64,
}

fn default_baud() -> u32 {
    57_600
}
fn default_profile() -> String {
    "water-flags".into()
}
fn default_tolerance() -> u64 {
    300
}
fn default_spill_memory() -> usize {
    10_000
}
fn default_spill_bytes() -> u64 {
    256 << 20
}

impl RadioSerialConfig {
    /// A config with the defaults for `path`.
    pub fn new(path: impl Into<String>) -> Self {
        RadioSerialConfig {
            path: path.into(),
            baud: default_baud(),
            framing: Framing::default(),
            status_profile: default_profile(),
            handheld: false,
            clock: ReadClock::default(),
            meter_clock_tolerance_secs: default_tolerance(),
            spill_memory_items: default_spill_memory(),
            spill_max_bytes: default_spill_bytes(),
        }
    }

    /// The configured profile; `Ok(None)` for "none".
    pub fn profile(&self) -> Result<Option<&'static StatusProfile>, Error> {
        if self.status_profile == "none" {
            return Ok(None);
        }
        StatusProfile::by_name(&self.status_profile)
            .map(Some)
            .ok_or_else(|| Error::Config {
                field: "status_profile".into(),
                message: format!(
                    "unknown profile {:?} (known: {}, none)",
                    self.status_profile,
                    wmbus::status_map::PROFILES
                        .iter()
                        .map(|p| p.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
    }
}

/// Counters of one radio source.
#[derive(Debug, Default)]
pub struct RadioStats {
    /// wM-Bus frames received.
    pub frames: AtomicU64,
    /// Readings queued for the pipeline.
    pub readings: AtomicU64,
    /// Bytes dropped as garbage between frames.
    pub garbage_bytes: AtomicU64,
    /// HCI frames or hex lines dropped (bad CRC, bad endpoint, not hex).
    pub bad_frames: AtomicU64,
    /// Telegrams that did not decode (dead letters).
    pub undecodable: AtomicU64,
    /// Telegrams of meters without a key in the database (dead letters).
    pub unknown_meters: AtomicU64,
    /// Dead letters that could not be handed over because the pipeline was full.
    pub dead_letters_lost: AtomicU64,
    /// Readings the spill queue refused (its disk part full or unwritable).
    pub readings_lost: AtomicU64,
    /// What the dongle said about itself.
    pub dongle: Mutex<Option<DongleInfo>>,
}

/// The dongle's answer to GET_DEVICEINFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DongleInfo {
    pub module_type: u8,
    pub firmware: u8,
    pub hci_version: u8,
    pub device_id: u32,
}

/// Why a received frame gave no reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Dead-letter class.
    pub class: &'static str,
    /// The reason, naming the meter when known.
    pub reason: String,
}

/// Turns decoded telegrams into readings: status profile, alarm flags, reading time.
#[derive(Debug, Clone, Copy)]
pub struct TelegramMapper {
    pub profile: Option<&'static StatusProfile>,
    pub source: Source,
    pub meter_clock_tolerance_secs: u64,
}

impl TelegramMapper {
    /// From a source config.
    pub fn from_config(cfg: &RadioSerialConfig) -> Result<Self, Error> {
        Ok(TelegramMapper {
            profile: cfg.profile()?,
            source: if cfg.handheld {
                Source::Handheld
            } else {
                Source::Wmbus
            },
            meter_clock_tolerance_secs: cfg.meter_clock_tolerance_secs,
        })
    }

    /// The reading of a decoded telegram received at `reference`.
    pub fn reading(
        &self,
        mut t: Telegram,
        reference: DateTime<Utc>,
    ) -> Result<MeterReading, Rejected> {
        if let Some(p) = self.profile {
            p.apply(&mut t);
        }
        let meter = MeterRef::Radio {
            manufacturer: t.manufacturer.clone(),
            id: t.id.to_ascii_uppercase(),
        };
        let Some(m3) = t.total_m3 else {
            return Err(Rejected {
                class: "no_volume",
                reason: format!("{meter}: telegram has no volume register"),
            });
        };
        let volume = crate::pipeline::stored_volume(m3).ok_or_else(|| Rejected {
            class: "malformed",
            reason: format!("{meter}: volume {m3} m3 is negative or out of range"),
        })?;
        let reference = whole_seconds(reference);
        let read_at = meter_time(&t)
            .filter(|m| {
                self.meter_clock_tolerance_secs > 0
                    && (*m - reference).num_seconds().unsigned_abs()
                        <= self.meter_clock_tolerance_secs
            })
            .unwrap_or(reference);
        Ok(MeterReading {
            meter,
            read_at,
            volume,
            status: status_flags(&t.alarms, self.profile),
            source: self.source,
        })
    }
}

/// The alarm kinds a telegram speaks for: every kind the profile names, plus the battery
/// bit every meter has. A kind not active in the telegram clears an open alarm.
pub fn status_flags(alarms: &[Alarm], profile: Option<&StatusProfile>) -> Vec<StatusFlag> {
    let mut known: Vec<AlarmKind> = vec![AlarmKind::BatteryLow];
    if let Some(p) = profile {
        for a in p
            .status_bits
            .iter()
            .map(|(_, a)| a)
            .chain(p.error_flags.iter().map(|(_, a)| a))
        {
            if let Some(k) = alarm_kind(*a) {
                if !known.contains(&k) {
                    known.push(k);
                }
            }
        }
    }
    known
        .into_iter()
        .map(|kind| StatusFlag {
            kind,
            active: alarms.iter().any(|a| alarm_kind(*a) == Some(kind)),
        })
        .collect()
}

/// The alarm table's kind of a decoder alarm, for the kinds that have one.
pub fn alarm_kind(a: Alarm) -> Option<AlarmKind> {
    Some(match a {
        Alarm::Leak => AlarmKind::Leak,
        Alarm::Burst => AlarmKind::Burst,
        Alarm::Backflow => AlarmKind::Backflow,
        Alarm::Tamper => AlarmKind::Tamper,
        Alarm::Dry => AlarmKind::Dry,
        Alarm::BatteryLow => AlarmKind::BatteryLow,
        _ => return None,
    })
}

/// `t` without its fraction of a second. Reading times are kept to whole seconds: the
/// database keeps microseconds only, and the writer matches stored rows by exact time, so a
/// nanosecond clock value would not find its own row again.
pub fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// The meter's current date-time record (local time, Europe/Warsaw) as UTC.
pub fn meter_time(t: &Telegram) -> Option<DateTime<Utc>> {
    t.records.iter().find_map(|r| {
        if r.quantity != Quantity::DateTime || r.storage != 0 {
            return None;
        }
        let Value::DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
        } = r.value
        else {
            return None;
        };
        let local = NaiveDate::from_ymd_opt(i32::from(year), u32::from(month), u32::from(day))?
            .and_hms_opt(
                u32::from(hour),
                u32::from(minute),
                u32::from(second.unwrap_or(0)),
            )?;
        chrono_tz::Europe::Warsaw
            .from_local_datetime(&local)
            .earliest()
            .map(|d| d.with_timezone(&Utc))
    })
}

/// Opens a serial port as 8N1 at `baud`.
pub fn open_port(path: &str, baud: u32) -> Result<tokio_serial::SerialStream, Error> {
    use tokio_serial::SerialPortBuilderExt;
    tokio_serial::new(path, baud)
        .data_bits(tokio_serial::DataBits::Eight)
        .parity(tokio_serial::Parity::None)
        .stop_bits(tokio_serial::StopBits::One)
        .open_native_async()
        .map_err(|e| Error::Io {
            path: path.to_string(),
            source: std::io::Error::other(e.to_string()),
        })
}

/// The requests sent when the source starts: ping and device info (with CRC).
pub fn startup_requests() -> Vec<u8> {
    let mut out = im871a::encode(EP_DEVMGMT, MSG_PING_REQ, &[], None, None, true);
    out.extend(im871a::encode(
        EP_DEVMGMT,
        MSG_DEVICEINFO_REQ,
        &[],
        None,
        None,
        true,
    ));
    out
}

/// Everything a running radio source needs besides its line.
#[derive(Debug, Clone)]
pub struct RadioContext {
    pub keys: KeyStore,
    pub queue: SpillQueue,
    pub sink: mpsc::Sender<Input>,
    pub stats: Arc<RadioStats>,
    /// How long shutdown waits for queued readings to reach the pipeline.
    pub drain: Duration,
    /// Compact-frame formats learned from the full frames this source has decoded.
    pub formats: Arc<wmbus::Formats>,
}

impl RadioContext {
    /// Opens the spill queue at `spill_path` for a source.
    pub fn new(
        cfg: &RadioSerialConfig,
        keys: KeyStore,
        spill_path: &Path,
        sink: mpsc::Sender<Input>,
        metrics: Arc<crate::metrics::Metrics>,
        drain: Duration,
    ) -> Result<Self, Error> {
        Ok(RadioContext {
            keys,
            queue: SpillQueue::open(
                spill_path,
                cfg.spill_memory_items,
                cfg.spill_max_bytes,
                metrics,
            )?,
            sink,
            stats: Arc::new(RadioStats::default()),
            drain,
            formats: Arc::new(wmbus::Formats::new()),
        })
    }
}

/// Opens the configured port and runs [`run_on`] on it.
pub async fn run(
    cfg: RadioSerialConfig,
    ctx: RadioContext,
    shutdown: watch::Receiver<bool>,
) -> Result<(), Error> {
    let port = open_port(&cfg.path, cfg.baud)?;
    run_on(port, &cfg, ctx, shutdown).await
}

/// Runs the source on an open line until `shutdown` turns true or the line closes, then
/// hands what is queued to the pipeline (waiting up to `ctx.drain`).
pub async fn run_on<S>(
    stream: S,
    cfg: &RadioSerialConfig,
    ctx: RadioContext,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mapper = TelegramMapper::from_config(cfg)?;
    let (mut reader, mut writer) = tokio::io::split(stream);
    let (pump_stop, pump_stop_rx) = watch::channel(false);
    let pump = tokio::spawn(spill::pump(
        ctx.queue.clone(),
        ctx.sink.clone(),
        pump_stop_rx,
    ));
    if cfg.framing == Framing::Im871a {
        writer
            .write_all(&startup_requests())
            .await
            .map_err(|source| Error::Io {
                path: cfg.path.clone(),
                source,
            })?;
        let _ = writer.flush().await;
    }
    let mut hci = Im871aDecoder::new();
    let mut lines = HexLineDecoder::new();
    let mut buf = vec![0u8; 4096];
    let result = loop {
        let n = tokio::select! {
            r = reader.read(&mut buf) => r,
            _ = shutdown.changed() => break Ok(()),
        };
        let n = match n {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            // A pty reports EIO once the other end has closed.
            Err(e) if e.raw_os_error() == Some(5) => break Ok(()),
            Err(source) => {
                break Err(Error::Io {
                    path: cfg.path.clone(),
                    source,
                })
            }
        };
        let received_at = Utc::now();
        let chunk = buf.get(..n).unwrap_or_default();
        match cfg.framing {
            Framing::Im871a => {
                for event in hci.push(chunk) {
                    match event {
                        Event::Frame(f) => {
                            let reference = match (cfg.clock, f.timestamp) {
                                (ReadClock::DongleUnix, Some(ts)) => {
                                    Utc.timestamp_opt(i64::from(ts), 0).single()
                                }
                                _ => None,
                            }
                            .unwrap_or(received_at);
                            handle_frame(&ctx, &mapper, &f.frame, reference).await;
                        }
                        Event::Message {
                            endpoint,
                            msg_id,
                            payload,
                        } => dongle_message(&ctx.stats, &cfg.path, endpoint, msg_id, &payload),
                        Event::Dropped(FrameError::Garbage(k)) => {
                            ctx.stats
                                .garbage_bytes
                                .fetch_add(k as u64, Ordering::Relaxed);
                        }
                        Event::Dropped(e) => {
                            ctx.stats.bad_frames.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(path = %cfg.path, error = %e, "dongle frame dropped");
                        }
                    }
                }
            }
            Framing::HexLines => {
                for line in lines.push(chunk) {
                    match line {
                        Ok(frame) => handle_frame(&ctx, &mapper, &frame, received_at).await,
                        Err(e) => {
                            ctx.stats.bad_frames.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(path = %cfg.path, error = %e, "receiver line dropped");
                        }
                    }
                }
            }
        }
    };
    // Hand over what is queued before stopping the pump.
    let deadline = tokio::time::Instant::now() + ctx.drain;
    while ctx.queue.depth() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let left = ctx.queue.depth();
    if left > 0 {
        tracing::warn!(path = %cfg.path, left, "radio source stopped with readings queued (those on disk replay on the next start)");
    }
    let _ = pump_stop.send(true);
    match pump.await {
        Ok(r) => r?,
        Err(e) => tracing::error!(error = %e, "spill pump panicked"),
    }
    result
}

fn dongle_message(stats: &RadioStats, path: &str, endpoint: u8, msg_id: u8, payload: &[u8]) {
    match (endpoint, msg_id) {
        (EP_DEVMGMT, MSG_PING_RSP) => tracing::info!(%path, "radio dongle answered ping"),
        (EP_DEVMGMT, MSG_DEVICEINFO_RSP) => {
            if let [module_type, _, firmware, hci_version, a, b, c, d, ..] = *payload {
                let info = DongleInfo {
                    module_type,
                    firmware,
                    hci_version,
                    device_id: u32::from_le_bytes([a, b, c, d]),
                };
                tracing::info!(%path, module_type = format_args!("{module_type:#04x}"), firmware = format_args!("{firmware:#04x}"), hci_version, device_id = format_args!("{:08x}", info.device_id), "radio dongle");
                if let Ok(mut d) = stats.dongle.lock() {
                    *d = Some(info);
                }
            } else {
                tracing::warn!(%path, len = payload.len(), "short device info from the dongle");
            }
        }
        _ => tracing::debug!(%path, endpoint, msg_id, "dongle message ignored"),
    }
}

/// Decodes one frame (a compact frame with the formats its full frames taught); a missing key
/// triggers one key reload (a meter added since the last load) before the frame is given up.
pub async fn decode_with_reload(
    keys: &KeyStore,
    formats: &wmbus::Formats,
    frame: &[u8],
) -> Result<Telegram, DecodeError> {
    match wmbus::decode_learning(frame, keys, formats) {
        Err(DecodeError::MissingKey {
            manufacturer, id, ..
        }) if keys.reload_after_miss(&manufacturer, &id).await => {
            wmbus::decode_learning(frame, keys, formats)
        }
        other => other,
    }
}

/// The class of a decode error as a dead letter.
pub fn decode_error_class(e: &DecodeError) -> &'static str {
    match e {
        DecodeError::MissingKey { .. } => "unknown_meter",
        DecodeError::WrongKey { .. } => "wrong_key",
        _ => "undecodable",
    }
}

async fn handle_frame(
    ctx: &RadioContext,
    mapper: &TelegramMapper,
    frame: &[u8],
    reference: DateTime<Utc>,
) {
    ctx.stats.frames.fetch_add(1, Ordering::Relaxed);
    let outcome = match decode_with_reload(&ctx.keys, &ctx.formats, frame).await {
        Ok(t) => mapper.reading(t, reference),
        Err(e) => {
            let class = decode_error_class(&e);
            if class == "unknown_meter" {
                ctx.stats.unknown_meters.fetch_add(1, Ordering::Relaxed);
            } else {
                ctx.stats.undecodable.fetch_add(1, Ordering::Relaxed);
            }
            Err(Rejected {
                class,
                reason: e.to_string(),
            })
        }
    };
    match outcome {
        Ok(r) => match ctx.queue.push(r) {
            Ok(()) => {
                ctx.stats.readings.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                ctx.stats.readings_lost.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, "radio reading lost: the spill queue refused it");
            }
        },
        Err(rej) => {
            tracing::debug!(class = rej.class, reason = %rej.reason, "radio telegram rejected");
            let item = Input {
                item: Item::DeadLetter(DeadLetter {
                    source: mapper.source,
                    payload: frame.to_vec(),
                    class: rej.class,
                    reason: rej.reason,
                }),
                ack: None,
            };
            // Never block the line for a dead letter: the serial buffer would overflow.
            if ctx.sink.try_send(item).is_err() {
                ctx.stats.dead_letters_lost.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("pipeline full: radio dead letter not stored");
            }
        }
    }
}

/// Counts of a stats block as (name, value), for reports and logs.
pub fn stats_snapshot(s: &RadioStats) -> Vec<(&'static str, u64)> {
    let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
    vec![
        ("frames", l(&s.frames)),
        ("readings", l(&s.readings)),
        ("garbage_bytes", l(&s.garbage_bytes)),
        ("bad_frames", l(&s.bad_frames)),
        ("undecodable", l(&s.undecodable)),
        ("unknown_meters", l(&s.unknown_meters)),
        ("dead_letters_lost", l(&s.dead_letters_lost)),
        ("readings_lost", l(&s.readings_lost)),
    ]
}

/// Decodes one frame with any key lookup (no reload) into a reading: the pure path, for
/// tests and tools.
pub fn frame_to_reading(
    mapper: &TelegramMapper,
    keys: &dyn KeyLookup,
    frame: &[u8],
    reference: DateTime<Utc>,
) -> Result<MeterReading, Rejected> {
    match wmbus::decode(frame, keys) {
        Ok(t) => mapper.reading(t, reference),
        Err(e) => Err(Rejected {
            class: decode_error_class(&e),
            reason: e.to_string(),
        }),
    }
}
