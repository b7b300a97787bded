//! The polling loop of one Modbus device (a TCP endpoint or a serial line), with tokio-modbus
//! as the client: every interval each unit's volume register is read (with a timeout and
//! retries with doubling backoff) and decoded by its model's [`RegisterMap`]. A failing unit
//! yields a typed error for that poll, is counted, and the loop goes on to the other units.
//!
//! After a timeout or a garbled reply the link is reset: a TCP connection is dropped and
//! reopened (a late answer must not be taken for the next one); on a serial line the context
//! is dropped, the line drained until silent and a fresh context attached.

use super::config::{DeviceConfig, Link, Parity, SerialFormat, UnitConfig};
use super::map::RegisterMap;
use super::port::{Port, SharedPort};
use super::{ExceptionCode, ModbusError, ModbusSample};
use chrono::Utc;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_modbus::client::{rtu, tcp, Context, Reader};
use tokio_modbus::prelude::SlaveContext;
use tokio_modbus::Slave;

/// Counters of one poller (shared, read while it runs).
#[derive(Debug, Default)]
pub struct PollStats {
    polls: AtomicU64,
    samples: AtomicU64,
    failures: AtomicU64,
    retries: AtomicU64,
    timeouts: AtomicU64,
    exceptions: AtomicU64,
    garbled: AtomicU64,
    resets: AtomicU64,
    /// Unix seconds of the last poll that gave a sample; 0 before the first.
    last_success: std::sync::atomic::AtomicI64,
}

/// A snapshot of [`PollStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PollCounts {
    /// Unit polls started.
    pub polls: u64,
    /// Polls that gave a sample.
    pub samples: u64,
    /// Polls that failed after all retries.
    pub failures: u64,
    /// Retries made.
    pub retries: u64,
    /// Attempts that timed out.
    pub timeouts: u64,
    /// Modbus exception responses.
    pub exceptions: u64,
    /// Garbled replies (bad CRC, wrong header, noise).
    pub garbled: u64,
    /// Link resets (reconnects, serial resyncs).
    pub resets: u64,
    /// Unix seconds of the last poll that gave a sample; 0 before the first.
    pub last_success: i64,
}

impl PollStats {
    /// Current values.
    pub fn snapshot(&self) -> PollCounts {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        PollCounts {
            polls: g(&self.polls),
            samples: g(&self.samples),
            failures: g(&self.failures),
            retries: g(&self.retries),
            timeouts: g(&self.timeouts),
            exceptions: g(&self.exceptions),
            garbled: g(&self.garbled),
            resets: g(&self.resets),
            last_success: self.last_success.load(Ordering::Relaxed),
        }
    }
}

fn bump(a: &AtomicU64) {
    a.fetch_add(1, Ordering::Relaxed);
}

enum LinkState {
    Tcp {
        endpoint: String,
        ctx: Option<Context>,
    },
    Rtu {
        port: SharedPort,
        ctx: Option<Context>,
    },
}

/// How long a serial line must stay quiet to count as resynchronised, and the most time a
/// resync may take.
const RESYNC_SILENCE: Duration = Duration::from_millis(50);
const RESYNC_LIMIT: Duration = Duration::from_secs(2);

/// Polls the units of one device.
pub struct Poller {
    endpoint: String,
    link: LinkState,
    units: Vec<(UnitConfig, RegisterMap)>,
    device: DeviceConfig,
    stats: Arc<PollStats>,
    /// Failed polls of each unit since its last sample (to log the recovery).
    failing: Vec<u64>,
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("endpoint", &self.endpoint)
            .field("units", &self.units)
            .finish_non_exhaustive()
    }
}

/// Opens a serial port with the device's settings.
pub fn open_serial(path: &str, baud: u32, format: SerialFormat) -> Result<SharedPort, ModbusError> {
    let data_bits = match format.data_bits {
        7 => tokio_serial::DataBits::Seven,
        _ => tokio_serial::DataBits::Eight,
    };
    let parity = match format.parity {
        Parity::None => tokio_serial::Parity::None,
        Parity::Even => tokio_serial::Parity::Even,
        Parity::Odd => tokio_serial::Parity::Odd,
    };
    let stop_bits = match format.stop_bits {
        2 => tokio_serial::StopBits::Two,
        _ => tokio_serial::StopBits::One,
    };
    use tokio_serial::SerialPortBuilderExt;
    let port = tokio_serial::new(path, baud)
        .data_bits(data_bits)
        .parity(parity)
        .stop_bits(stop_bits)
        .open_native_async()
        .map_err(|e| ModbusError::Connect {
            endpoint: path.to_string(),
            source: std::io::Error::other(e),
        })?;
    Ok(SharedPort::new(port))
}

impl Poller {
    /// A poller for `device` (validated against `models`); an RTU device's serial port is
    /// opened now, a TCP connection on the first poll.
    pub fn new(
        device: &DeviceConfig,
        models: &BTreeMap<String, RegisterMap>,
    ) -> Result<Self, ModbusError> {
        let link = match &device.link {
            Link::Tcp { endpoint } => LinkState::Tcp {
                endpoint: endpoint.clone(),
                ctx: None,
            },
            Link::Rtu { path, baud, format } => LinkState::Rtu {
                port: open_serial(path, *baud, *format)?,
                ctx: None,
            },
        };
        Self::build(device, models, link)
    }

    /// A poller for an RTU `device` on an already open serial stream (e.g. one end of a pty
    /// pair); the configured path is only the name in samples.
    pub fn on_serial<T: Port + 'static>(
        device: &DeviceConfig,
        models: &BTreeMap<String, RegisterMap>,
        stream: T,
    ) -> Result<Self, ModbusError> {
        let link = LinkState::Rtu {
            port: SharedPort::new(stream),
            ctx: None,
        };
        Self::build(device, models, link)
    }

    fn build(
        device: &DeviceConfig,
        models: &BTreeMap<String, RegisterMap>,
        link: LinkState,
    ) -> Result<Self, ModbusError> {
        device.validate(models)?;
        let mut units = Vec::with_capacity(device.units.len());
        for u in &device.units {
            let Some(map) = models.get(&u.model) else {
                return Err(ModbusError::Config {
                    field: "model".into(),
                    reason: format!("no model {:?}", u.model),
                });
            };
            map.validate().map_err(|e| ModbusError::Config {
                field: format!("models.{}.{}", u.model, e.field),
                reason: e.reason,
            })?;
            units.push((u.clone(), map.clone()));
        }
        Ok(Poller {
            endpoint: device.link.endpoint().to_string(),
            link,
            units,
            device: device.clone(),
            stats: Arc::new(PollStats::default()),
            failing: vec![0; device.units.len()],
        })
    }

    /// The endpoint or serial path.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The poller's counters.
    pub fn stats(&self) -> Arc<PollStats> {
        self.stats.clone()
    }

    /// Polls every unit once, in configured order: one result per unit.
    pub async fn poll_once(&mut self) -> Vec<Result<ModbusSample, ModbusError>> {
        let mut out = Vec::with_capacity(self.units.len());
        for i in 0..self.units.len() {
            out.push(self.poll_unit(i).await);
        }
        out
    }

    /// Polls the `index`-th configured unit, retrying failures that may pass (timeouts,
    /// garbled replies, i/o) with doubling backoff; an exception or a bad value is final.
    pub async fn poll_unit(&mut self, index: usize) -> Result<ModbusSample, ModbusError> {
        let Some((unit, map)) = self.units.get(index).cloned() else {
            return Err(ModbusError::Config {
                field: "unit index".into(),
                reason: format!("{index}: the device has {} units", self.units.len()),
            });
        };
        bump(&self.stats.polls);
        let mut backoff = self.device.backoff();
        let mut attempt = 0;
        let result = loop {
            let r = self.read_words(unit.unit, &map).await.and_then(|words| {
                map.decode(&words).map_err(|source| ModbusError::Decode {
                    endpoint: self.endpoint.clone(),
                    unit: unit.unit,
                    source,
                })
            });
            match r {
                Err(e) if e.is_transient() && attempt < self.device.retries => {
                    tracing::debug!(endpoint = %self.endpoint, unit = unit.unit, error = %e, attempt, "modbus retry");
                    bump(&self.stats.retries);
                    attempt += 1;
                    tokio::time::sleep(backoff).await;
                    backoff = backoff.saturating_mul(2);
                }
                other => break other,
            }
        };
        match result {
            Ok(volume) => {
                bump(&self.stats.samples);
                self.stats
                    .last_success
                    .store(Utc::now().timestamp(), Ordering::Relaxed);
                if let Some(n) = self.failing.get_mut(index).filter(|n| **n > 0) {
                    tracing::info!(endpoint = %self.endpoint, unit = unit.unit, failed_polls = *n, "modbus unit recovered");
                    *n = 0;
                }
                Ok(ModbusSample {
                    endpoint: self.endpoint.clone(),
                    unit: unit.unit,
                    meter_serial: unit.meter_serial.clone(),
                    read_at: Utc::now(),
                    volume,
                })
            }
            Err(e) => {
                bump(&self.stats.failures);
                if let Some(n) = self.failing.get_mut(index) {
                    *n += 1;
                }
                tracing::warn!(endpoint = %self.endpoint, unit = unit.unit, error = %e, "modbus poll failed");
                Err(e)
            }
        }
    }

    /// Polls all units every interval and sends the samples to `out` until its receiver is
    /// dropped. Errors are logged and counted, never fatal.
    pub async fn run(mut self, out: mpsc::Sender<ModbusSample>) {
        let mut tick = tokio::time::interval(self.device.interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = out.closed() => return,
            }
            // Failures were logged and counted by poll_unit; only samples go on.
            for sample in self.poll_once().await.into_iter().flatten() {
                if out.send(sample).await.is_err() {
                    return;
                }
            }
        }
    }

    /// The connected context, connecting or attaching first if needed.
    async fn context(&mut self) -> Result<&mut Context, ModbusError> {
        match &mut self.link {
            LinkState::Tcp { endpoint, ctx } => {
                if ctx.is_none() {
                    let stream = tokio::time::timeout(
                        self.device.timeout(),
                        tokio::net::TcpStream::connect(endpoint.as_str()),
                    )
                    .await
                    .map_err(|_| ModbusError::Connect {
                        endpoint: endpoint.clone(),
                        source: std::io::ErrorKind::TimedOut.into(),
                    })?
                    .map_err(|source| ModbusError::Connect {
                        endpoint: endpoint.clone(),
                        source,
                    })?;
                    // Readings are tiny request/response pairs: do not wait to coalesce.
                    let _ = stream.set_nodelay(true);
                    *ctx = Some(tcp::attach(stream));
                }
                ctx.as_mut().ok_or_else(|| unreachable_link(endpoint))
            }
            LinkState::Rtu { port, ctx } => {
                if ctx.is_none() {
                    *ctx = Some(rtu::attach(port.clone()));
                }
                ctx.as_mut().ok_or_else(|| unreachable_link(&self.endpoint))
            }
        }
    }

    /// Drops the context (closing a TCP connection) and, on a serial line, drains it until
    /// silent; returns the bytes drained.
    async fn reset(&mut self) -> u64 {
        bump(&self.stats.resets);
        match &mut self.link {
            LinkState::Tcp { ctx, .. } => {
                *ctx = None;
                0
            }
            LinkState::Rtu { port, ctx } => {
                *ctx = None;
                port.drain(RESYNC_SILENCE, RESYNC_LIMIT).await.unwrap_or(0)
            }
        }
    }

    fn received(&self) -> u64 {
        match &self.link {
            LinkState::Tcp { .. } => 0,
            LinkState::Rtu { port, .. } => port.received(),
        }
    }

    /// One read of `map`'s registers from `unit`.
    async fn read_words(&mut self, unit: u8, map: &RegisterMap) -> Result<Vec<u16>, ModbusError> {
        let endpoint = self.endpoint.clone();
        let timeout = self.device.timeout();
        let received_before = self.received();
        let (address, count, table) = (map.address, map.count, map.table);
        let ctx = self.context().await?;
        ctx.set_slave(Slave(unit));
        let call = async {
            match table {
                super::map::Table::Holding => ctx.read_holding_registers(address, count).await,
                super::map::Table::Input => ctx.read_input_registers(address, count).await,
            }
        };
        let outcome = tokio::time::timeout(timeout, call).await;
        let garbled = |detail: String| ModbusError::Garbled {
            endpoint: endpoint.clone(),
            unit,
            detail,
        };
        match outcome {
            Ok(Ok(Ok(words))) => {
                if words.len() == usize::from(count) {
                    Ok(words)
                } else {
                    bump(&self.stats.garbled);
                    Err(garbled(format!(
                        "{} registers for {count} asked",
                        words.len()
                    )))
                }
            }
            Ok(Ok(Err(code))) => {
                bump(&self.stats.exceptions);
                Err(ModbusError::Exception {
                    endpoint,
                    unit,
                    function: table.function(),
                    code: ExceptionCode::from_u8(u8::from(code)),
                })
            }
            Ok(Err(tokio_modbus::Error::Protocol(p))) => {
                bump(&self.stats.garbled);
                let drained = self.reset().await;
                Err(garbled(format!("{p}; {drained} stray bytes drained")))
            }
            Ok(Err(tokio_modbus::Error::Transport(e)))
                if e.kind() == std::io::ErrorKind::InvalidData =>
            {
                bump(&self.stats.garbled);
                let drained = self.reset().await;
                Err(garbled(format!("{e}; {drained} stray bytes drained")))
            }
            Ok(Err(tokio_modbus::Error::Transport(source))) => {
                self.reset().await;
                Err(ModbusError::Io {
                    endpoint,
                    unit,
                    source,
                })
            }
            Err(_elapsed) => {
                let drained = self.reset().await;
                let stray = self.received().saturating_sub(received_before);
                if stray > 0 {
                    // Bytes came but no valid frame did: noise or a corrupted reply.
                    bump(&self.stats.garbled);
                    Err(garbled(format!(
                        "no valid frame within {} ms, {stray} bytes received ({drained} drained)",
                        timeout.as_millis()
                    )))
                } else {
                    bump(&self.stats.timeouts);
                    Err(ModbusError::Timeout {
                        endpoint,
                        unit,
                        timeout_ms: timeout.as_millis() as u64,
                    })
                }
            }
        }
    }
}

fn unreachable_link(endpoint: &str) -> ModbusError {
    ModbusError::Connect {
        endpoint: endpoint.to_string(),
        source: std::io::ErrorKind::NotConnected.into(),
    }
}
