//! The whole simulated utility as one long-running process: the fleet on an accelerated clock,
//! its radio telegrams through an emulated iM871A dongle, walk-by sessions of a handheld set
//! through a second dongle plus the reading-set files they produce, wired M-Bus slaves,
//! district bulk meters on Modbus TCP/RTU, MQTT telemetry devices, and at the end the ground
//! truth of the run.
//!
//! Serial devices are pty pairs: the sim serves the master end, the collector opens the slave
//! end. [`start`] hands the slave ends over as [`Endpoints`] (one process: demo, tests);
//! [`run`] keeps them open itself, prints their paths ([`DevicePaths`]) for another process
//! (`ewoda collect`) and runs until shut down.
//!
//! Who is on which transport ([`Layout`]): district bulk meters on Modbus only; the first
//! business meters on the wired M-Bus; the MQTT devices by [`DeviceSelection`]; every other
//! customer meter on radio (continuous dongle stream and walk-by routes, one per district).
//!
//! Radio: each meter transmits every [`TX_INTERVAL_S`] of simulated time at its own phase;
//! at most `dongle_rate` telegrams per wall second go out, so at high speed a meter's
//! transmissions between two turns are missed, as a receiver misses them, and counted. A
//! telegram the host does not read in time is dropped and counted rather than stalling the sim.
//!
//! Public API: [`SimConfig`], [`ExportConfig`], [`MqttConfig`], [`Layout`], [`Endpoints`],
//! [`DevicePaths`], [`RunningSim`], [`RunReport`], [`start`], [`run`], [`run_reporting`],
//! [`truth_rows`], [`write_truth`].

use crate::fault::{Fault, FaultKind};
use crate::fleet::{default_epoch, Fleet, TX_INTERVAL_S};
use crate::im871a::{DeviceInfo, Dongle, DongleHandle, RxOptions, WalkBy};
use crate::mbus::{self, Slave, TimeSource};
use crate::modbus::{BulkModel, BulkUnit, ModbusSim};
use crate::mqtt::{Device, DeviceSelection, Message, MqttStats, Publisher, DEFAULT_TOPIC_PREFIX};
use crate::profile::MeterKind;
use crate::reading_set;
use crate::truth::{register_rows, use_rows, SimClock};
use crate::wmbus::FrameFormat;
use crate::SimError;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use chrono_tz::Europe::Warsaw;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_serial::{SerialPort, SerialStream};

/// Format of the reading-set export files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// `serial;local time;m³ with a decimal comma;TAK|NIE` lines.
    Txt,
    /// The CSV variant with a header.
    Csv,
}

/// Where and how often walk-by routes are read and exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportConfig {
    /// Directory for the export files (created if missing).
    pub dir: PathBuf,
    /// File format.
    pub format: ExportFormat,
}

/// MQTT telemetry devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttConfig {
    /// Broker, `mqtt://host:port`.
    pub url: String,
    /// Client id (a persistent session is kept under it).
    pub client_id: String,
    /// Topic prefix (schema v1: `ewoda/v1`).
    pub topic_prefix: String,
    /// Which meters have a telemetry module.
    pub devices: DeviceSelection,
    /// Simulated time between two readings of a device.
    pub interval: Duration,
    /// User name and password for a broker that requires them (`Debug` hides the password).
    pub credentials: Option<(String, ewoda_common::secret::Password)>,
}

impl MqttConfig {
    /// Defaults for `url`: 5% of the meters, every 15 simulated minutes, prefix `ewoda/v1`.
    pub fn new(url: &str, seed: u64) -> Self {
        MqttConfig {
            url: url.to_string(),
            client_id: format!("ewoda-sim-{seed}-{}", std::process::id()),
            topic_prefix: DEFAULT_TOPIC_PREFIX.to_string(),
            devices: DeviceSelection::PerMille(50),
            interval: Duration::minutes(15),
            credentials: None,
        }
    }
}

/// Everything a run needs. [`SimConfig::default`] is the demo utility with the dongle, walk-by
/// and M-Bus ptys, Modbus TCP on 127.0.0.1:1502, no MQTT, no export, no truth file.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Fleet seed.
    pub seed: u64,
    /// Fleet size (bulk meters included).
    pub meters: usize,
    /// Start of simulated time (the fleet's epoch, truncated to the hour).
    pub start: DateTime<Utc>,
    /// Simulated time at which the run begins (default `start`): lets a run continue a fleet
    /// whose history (from `start`) is already stored, as the demo does.
    pub resume_at: Option<DateTime<Utc>>,
    /// Simulated seconds per wall second (3600: an hour a second).
    pub speed: u32,
    /// Continuous radio stream through an emulated dongle on a pty.
    pub dongle: bool,
    /// At most this many dongle telegrams per wall second.
    pub dongle_rate: u32,
    /// Walk-by sessions through a second dongle (the handheld set) on a pty.
    pub walkby: bool,
    /// Simulated time between two walk-by routes (also the export cadence); the first walk
    /// starts one period after `start`.
    pub walk_every: Duration,
    /// Simulated seconds between two meters on a walk.
    pub walk_seconds_per_meter: i64,
    /// Wired M-Bus slaves on a pty (0: none), primary addresses 1..=n.
    pub mbus_slaves: usize,
    /// Modbus TCP listen address (port 0: any free port).
    pub modbus_tcp: Option<SocketAddr>,
    /// Modbus RTU on a pty.
    pub modbus_rtu: bool,
    /// MQTT telemetry devices.
    pub mqtt: Option<MqttConfig>,
    /// Reading-set export of each walk.
    pub export: Option<ExportConfig>,
    /// Random faults in about this many per mille of the customer meters.
    pub faults_per_mille: u64,
    /// Random faults start within this simulated time from `start`.
    pub fault_window: Duration,
    /// Explicit faults (meter index, fault).
    pub faults: Vec<(usize, Fault)>,
    /// Ground-truth JSON lines written at the end.
    pub truth: Option<PathBuf>,
    /// Stop after this much wall time (None: only on shutdown).
    pub duration: Option<std::time::Duration>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            meters: crate::DEFAULT_FLEET_SIZE,
            start: default_epoch(),
            resume_at: None,
            speed: 60,
            dongle: true,
            dongle_rate: 200,
            walkby: true,
            walk_every: Duration::days(1),
            walk_seconds_per_meter: 20,
            mbus_slaves: 8,
            modbus_tcp: Some(SocketAddr::from(([127, 0, 0, 1], 1502))),
            modbus_rtu: false,
            mqtt: None,
            export: None,
            faults_per_mille: 0,
            fault_window: Duration::days(30),
            faults: Vec::new(),
            truth: None,
            duration: None,
        }
    }
}

/// Which meters are on which transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Meters heard by radio (dongle stream and walk-bys).
    pub radio: Vec<usize>,
    /// Walk-by routes in walking order, one per district (empty ones left out).
    pub routes: Vec<Vec<usize>>,
    /// Wired M-Bus slaves.
    pub mbus: Vec<Slave>,
    /// Modbus units (one per district bulk meter, models A, B, C in turn).
    pub modbus: Vec<BulkUnit>,
    /// MQTT telemetry devices.
    pub mqtt: Vec<usize>,
}

impl Layout {
    /// Assigns the fleet's meters to transports.
    pub fn plan(fleet: &Fleet, cfg: &SimConfig) -> Result<Layout, SimError> {
        let mqtt = match &cfg.mqtt {
            Some(m) => m.devices.select(fleet)?,
            None => Vec::new(),
        };
        let mqtt_set: BTreeSet<usize> = mqtt.iter().copied().collect();
        let customers = || {
            fleet
                .meters()
                .iter()
                .filter(|m| m.kind() != MeterKind::Bulk && !mqtt_set.contains(&m.index()))
        };
        // Wired M-Bus sits in commercial buildings; other kinds only if there are too few.
        let mut wired: Vec<usize> = customers()
            .filter(|m| m.kind() == MeterKind::Business)
            .map(|m| m.index())
            .take(cfg.mbus_slaves)
            .collect();
        if wired.len() < cfg.mbus_slaves {
            let more: Vec<usize> = customers()
                .map(|m| m.index())
                .filter(|i| !wired.contains(i))
                .take(cfg.mbus_slaves - wired.len())
                .collect();
            wired.extend(more);
        }
        if wired.len() > 250 {
            return Err(SimError::OutOfRange {
                field: "mbus slaves (at most 250)",
                value: wired.len() as i64,
            });
        }
        let mbus = wired
            .iter()
            .enumerate()
            .map(|(k, &meter)| Slave {
                primary_address: (k + 1) as u8,
                meter,
            })
            .collect();
        let radio_set: BTreeSet<usize> = customers()
            .map(|m| m.index())
            .filter(|i| !wired.contains(i))
            .collect();
        let routes = (0..fleet.districts().len())
            .map(|d| {
                fleet
                    .route_by_address(Some(d))
                    .into_iter()
                    .filter(|i| radio_set.contains(i))
                    .collect::<Vec<_>>()
            })
            .filter(|r| !r.is_empty())
            .collect();
        if fleet.districts().len() > 247 {
            return Err(SimError::OutOfRange {
                field: "modbus units (at most 247 districts)",
                value: fleet.districts().len() as i64,
            });
        }
        let models = [BulkModel::A, BulkModel::B, BulkModel::C];
        let modbus = fleet
            .districts()
            .iter()
            .map(|d| BulkUnit {
                unit: (d.index + 1) as u8,
                meter: d.bulk_meter,
                model: models[d.index % models.len()],
            })
            .collect();
        Ok(Layout {
            radio: radio_set.into_iter().collect(),
            routes,
            mbus,
            modbus,
            mqtt,
        })
    }
}

/// The collector's ends of the running sim's devices (for a collector in the same process).
#[derive(Debug)]
pub struct Endpoints {
    /// The radio dongle (iM871A HCI).
    pub dongle: Option<SerialStream>,
    /// The handheld set's dongle during walk-bys.
    pub walkby: Option<SerialStream>,
    /// The wired M-Bus segment.
    pub mbus: Option<SerialStream>,
    /// Modbus RTU.
    pub modbus_rtu: Option<SerialStream>,
    /// Modbus TCP server address.
    pub modbus_tcp: Option<SocketAddr>,
    /// MQTT broker the devices publish to.
    pub mqtt_url: Option<String>,
    /// Topic prefix of the devices.
    pub mqtt_topic_prefix: Option<String>,
    /// Directory of the reading-set export files.
    pub export_dir: Option<PathBuf>,
}

/// Where another process finds the devices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DevicePaths {
    /// Radio dongle pty.
    pub dongle: Option<String>,
    /// Walk-by handheld set pty.
    pub walkby: Option<String>,
    /// Wired M-Bus pty.
    pub mbus: Option<String>,
    /// Modbus RTU pty.
    pub modbus_rtu: Option<String>,
    /// Modbus TCP address.
    pub modbus_tcp: Option<SocketAddr>,
    /// MQTT broker.
    pub mqtt_url: Option<String>,
    /// Topic prefix.
    pub mqtt_topic_prefix: Option<String>,
    /// Export directory.
    pub export_dir: Option<PathBuf>,
}

impl std::fmt::Display for DevicePaths {
    /// One `name: value` line per device that runs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lines = [
            ("dongle", self.dongle.clone()),
            ("walkby", self.walkby.clone()),
            ("mbus", self.mbus.clone()),
            ("modbus-rtu", self.modbus_rtu.clone()),
            ("modbus-tcp", self.modbus_tcp.map(|a| a.to_string())),
            ("mqtt", self.mqtt_url.clone()),
            ("mqtt-topic-prefix", self.mqtt_topic_prefix.clone()),
            (
                "export-dir",
                self.export_dir.as_ref().map(|d| d.display().to_string()),
            ),
        ];
        for (name, value) in lines {
            if let Some(v) = value {
                writeln!(f, "{name}: {v}")?;
            }
        }
        Ok(())
    }
}

fn pty_name(s: &Option<SerialStream>) -> Result<Option<String>, SimError> {
    s.as_ref()
        .map(|s| {
            s.name()
                .ok_or_else(|| SimError::Io(std::io::Error::other("pty without a device name")))
        })
        .transpose()
}

impl Endpoints {
    /// The device paths (pty slave names) and addresses.
    pub fn paths(&self) -> Result<DevicePaths, SimError> {
        Ok(DevicePaths {
            dongle: pty_name(&self.dongle)?,
            walkby: pty_name(&self.walkby)?,
            mbus: pty_name(&self.mbus)?,
            modbus_rtu: pty_name(&self.modbus_rtu)?,
            modbus_tcp: self.modbus_tcp,
            mqtt_url: self.mqtt_url.clone(),
            mqtt_topic_prefix: self.mqtt_topic_prefix.clone(),
            export_dir: self.export_dir.clone(),
        })
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// Simulated start.
    pub start: DateTime<Utc>,
    /// Simulated end (the truth's `to`).
    pub end: DateTime<Utc>,
    /// Fleet size.
    pub meters: usize,
    /// Faults injected (random and explicit).
    pub faults: usize,
    /// Telegrams written to the radio dongle.
    pub telegrams: u64,
    /// Transmissions not sent because the stream was rate-limited (a receiver missed them).
    pub telegrams_missed: u64,
    /// Telegrams dropped because the host did not read the dongle.
    pub telegrams_dropped: u64,
    /// Receptions sent through the walk-by dongle.
    pub walkby_telegrams: u64,
    /// Reading-set files written.
    pub export_files: Vec<PathBuf>,
    /// MQTT counts (zero without MQTT).
    pub mqtt: MqttStats,
    /// The truth file, if written.
    pub truth: Option<PathBuf>,
}

#[derive(Debug, Default)]
struct Counters {
    telegrams: AtomicU64,
    missed: AtomicU64,
    dropped: AtomicU64,
    walkby: AtomicU64,
    files: Mutex<Vec<PathBuf>>,
}

/// A started simulation.
pub struct RunningSim {
    fleet: Arc<Fleet>,
    clock: SimClock,
    layout: Layout,
    injected: Vec<(usize, Fault)>,
    truth: Option<PathBuf>,
    duration: Option<std::time::Duration>,
    stop: watch::Sender<bool>,
    counters: Arc<Counters>,
    /// Tasks that finish on their own once `stop` is set.
    graceful: Vec<JoinHandle<Result<(), SimError>>>,
    mqtt: Option<JoinHandle<Result<MqttStats, SimError>>>,
    /// Servers that run until aborted.
    servers: Vec<JoinHandle<Result<(), SimError>>>,
    /// Collector ends held open for another process (see [`run`]).
    held: Vec<SerialStream>,
    drains: Vec<Drain>,
}

/// Extra handles on a pty pair so that stopping does not discard what the host has not read
/// yet: closing the master hangs the slave up, which flushes its input.
struct Drain {
    _master: serialport::TTYPort,
    slave: serialport::TTYPort,
}

fn pair(drains: &mut Vec<Drain>) -> Result<(SerialStream, SerialStream), SimError> {
    let io = |e: serialport::Error| SimError::Io(std::io::Error::other(format!("pty pair: {e}")));
    let (master, slave) = serialport::TTYPort::pair().map_err(io)?;
    drains.push(Drain {
        _master: master.try_clone_native().map_err(io)?,
        slave: slave.try_clone_native().map_err(io)?,
    });
    Ok((
        SerialStream::try_from(master).map_err(io)?,
        SerialStream::try_from(slave).map_err(io)?,
    ))
}

/// Waits (at most `limit`) until the hosts have read everything written to them. The kernel
/// moves written bytes to the slave's input asynchronously, so the queue must be seen empty
/// twice, a little apart.
async fn drain(drains: Vec<Drain>, limit: std::time::Duration) {
    let until = tokio::time::Instant::now() + limit;
    let mut empty_checks = 0;
    while empty_checks < 2 && tokio::time::Instant::now() < until {
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        let empty = drains
            .iter()
            .all(|d| d.slave.bytes_to_read().map(|n| n == 0).unwrap_or(true));
        empty_checks = if empty { empty_checks + 1 } else { 0 };
    }
}

/// Starts every configured device and returns the collector's ends.
pub async fn start(cfg: SimConfig) -> Result<(RunningSim, Endpoints), SimError> {
    let mut fleet = Fleet::generate_at(cfg.seed, cfg.meters, cfg.start);
    let start = fleet.epoch();
    let mut injected = fleet.inject_random_faults(
        cfg.faults_per_mille,
        start,
        start + cfg.fault_window.max(Duration::hours(1)),
    )?;
    for &(meter, fault) in &cfg.faults {
        fleet.inject(meter, fault)?;
        injected.push((meter, fault));
    }
    let layout = Layout::plan(&fleet, &cfg)?;
    let fleet = Arc::new(fleet);
    let clock = SimClock::new(cfg.resume_at.unwrap_or(start).max(start), cfg.speed);
    let (stop, stop_rx) = watch::channel(false);
    let counters = Arc::new(Counters::default());
    let mut graceful = Vec::new();
    let mut drains = Vec::new();
    let mut servers = Vec::new();
    let mut endpoints = Endpoints {
        dongle: None,
        walkby: None,
        mbus: None,
        modbus_rtu: None,
        modbus_tcp: None,
        mqtt_url: None,
        mqtt_topic_prefix: None,
        export_dir: None,
    };

    if cfg.dongle {
        let (sim_end, host) = pair(&mut drains)?;
        endpoints.dongle = Some(host);
        let handle = Dongle::spawn(sim_end, DeviceInfo::default());
        graceful.push(tokio::spawn(stream_dongle(
            fleet.clone(),
            layout.radio.clone(),
            clock,
            handle,
            cfg.dongle_rate.max(1),
            counters.clone(),
            stop_rx.clone(),
        )));
    }
    let walk_dongle = if cfg.walkby {
        let (sim_end, host) = pair(&mut drains)?;
        endpoints.walkby = Some(host);
        Some(Dongle::spawn(
            sim_end,
            DeviceInfo {
                device_id: 0x0871_0002,
                ..DeviceInfo::default()
            },
        ))
    } else {
        None
    };
    if let Some(export) = &cfg.export {
        std::fs::create_dir_all(&export.dir)?;
        endpoints.export_dir = Some(export.dir.clone());
    }
    if walk_dongle.is_some() || cfg.export.is_some() {
        graceful.push(tokio::spawn(walk_and_export(
            fleet.clone(),
            layout.routes.clone(),
            clock,
            walk_dongle,
            cfg.export.clone(),
            cfg.walk_every.max(Duration::minutes(1)),
            cfg.walk_seconds_per_meter.max(1),
            counters.clone(),
            stop_rx.clone(),
        )));
    }
    if !layout.mbus.is_empty() {
        let (sim_end, host) = pair(&mut drains)?;
        endpoints.mbus = Some(host);
        servers.push(tokio::spawn(mbus::serve(
            sim_end,
            fleet.clone(),
            layout.mbus.clone(),
            TimeSource::Clock(clock),
        )));
    }
    if cfg.modbus_tcp.is_some() || cfg.modbus_rtu {
        let sim = Arc::new(ModbusSim::new(
            fleet.clone(),
            layout.modbus.clone(),
            TimeSource::Clock(clock),
        )?);
        if let Some(addr) = cfg.modbus_tcp {
            let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                SimError::Io(std::io::Error::new(
                    e.kind(),
                    format!("modbus tcp bind {addr}: {e}"),
                ))
            })?;
            endpoints.modbus_tcp = Some(listener.local_addr()?);
            servers.push(tokio::spawn(sim.clone().serve_tcp(listener)));
        }
        if cfg.modbus_rtu {
            let (sim_end, host) = pair(&mut drains)?;
            endpoints.modbus_rtu = Some(host);
            servers.push(tokio::spawn(sim.serve_rtu(sim_end)));
        }
    }
    let mqtt = match &cfg.mqtt {
        Some(m) => {
            let login = m
                .credentials
                .as_ref()
                .map(|(u, p)| (u.as_str(), p.expose()));
            let publisher = Publisher::connect_as(&m.url, &m.client_id, login).await?;
            endpoints.mqtt_url = Some(m.url.clone());
            endpoints.mqtt_topic_prefix = Some(m.topic_prefix.clone());
            Some(tokio::spawn(run_devices(
                fleet.clone(),
                layout.mqtt.clone(),
                m.topic_prefix.clone(),
                m.interval.max(Duration::seconds(1)),
                clock,
                publisher,
                stop_rx.clone(),
            )))
        }
        None => None,
    };
    tracing::info!(
        meters = fleet.len(),
        radio = layout.radio.len(),
        mbus = layout.mbus.len(),
        modbus = layout.modbus.len(),
        mqtt = layout.mqtt.len(),
        faults = injected.len(),
        speed = cfg.speed,
        "simulation started"
    );
    Ok((
        RunningSim {
            fleet,
            clock,
            layout,
            injected,
            truth: cfg.truth,
            duration: cfg.duration,
            stop,
            counters,
            graceful,
            mqtt,
            servers,
            held: Vec::new(),
            drains,
        },
        endpoints,
    ))
}

/// Starts the sim, keeps the collector ends open in this process, calls `ready` with their
/// paths, runs until `shutdown` completes (or the configured duration passes), then stops and
/// writes the truth.
pub async fn run_reporting<F, R>(
    cfg: SimConfig,
    shutdown: F,
    ready: R,
) -> Result<RunReport, SimError>
where
    F: Future<Output = ()>,
    R: FnOnce(&DevicePaths),
{
    let (mut sim, endpoints) = start(cfg).await?;
    ready(&endpoints.paths()?);
    sim.held.extend(
        [
            endpoints.dongle,
            endpoints.walkby,
            endpoints.mbus,
            endpoints.modbus_rtu,
        ]
        .into_iter()
        .flatten(),
    );
    let limit = async {
        match sim.duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = shutdown => {}
        _ = limit => {}
    }
    sim.stop().await
}

/// [`run_reporting`] that prints the device paths to stdout.
pub async fn run<F: Future<Output = ()>>(
    cfg: SimConfig,
    shutdown: F,
) -> Result<RunReport, SimError> {
    run_reporting(cfg, shutdown, |paths| {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "{paths}");
        let _ = out.flush();
    })
    .await
}

impl RunningSim {
    /// The fleet with its faults.
    pub fn fleet(&self) -> &Arc<Fleet> {
        &self.fleet
    }
    /// The simulation clock.
    pub fn clock(&self) -> SimClock {
        self.clock
    }
    /// Who is on which transport.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }
    /// Faults injected (random and explicit).
    pub fn injected_faults(&self) -> &[(usize, Fault)] {
        &self.injected
    }

    /// Stops every device (the MQTT devices finish the messages they started and wait up to
    /// 10 s for their PUBACKs), then writes the truth up to the simulated instant of the stop.
    pub async fn stop(self) -> Result<RunReport, SimError> {
        let _ = self.stop.send(true);
        let mut first_error: Option<SimError> = None;
        for mut task in self.graceful {
            match tokio::time::timeout(std::time::Duration::from_secs(5), &mut task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => {
                    first_error.get_or_insert(e);
                }
                Ok(Err(e)) => {
                    first_error.get_or_insert(SimError::Io(std::io::Error::other(e.to_string())));
                }
                Err(_) => {
                    task.abort();
                    tracing::warn!("a device task did not stop within 5 s; aborted");
                }
            }
        }
        let mut mqtt = MqttStats::default();
        if let Some(mut task) = self.mqtt {
            match tokio::time::timeout(std::time::Duration::from_secs(10), &mut task).await {
                Ok(Ok(Ok(stats))) => mqtt = stats,
                Ok(Ok(Err(e))) => {
                    first_error.get_or_insert(e);
                }
                Ok(Err(e)) => {
                    first_error.get_or_insert(SimError::Io(std::io::Error::other(e.to_string())));
                }
                Err(_) => {
                    task.abort();
                    first_error.get_or_insert(SimError::Io(std::io::Error::other(
                        "mqtt: broker did not acknowledge the last messages within 10 s",
                    )));
                }
            }
        }
        for s in &self.servers {
            s.abort();
        }
        drain(self.drains, std::time::Duration::from_secs(1)).await;
        drop(self.held);
        // Every message sent so far was read at or before now.
        let end = self.clock.now();
        let end = DateTime::from_timestamp(end.timestamp(), 0).unwrap_or(end);
        let start = self.clock.sim_start();
        if let Some(path) = &self.truth {
            write_truth(path, &self.fleet, &self.injected, start, end)?;
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        let files = self
            .counters
            .files
            .lock()
            .map(|f| f.clone())
            .unwrap_or_default();
        Ok(RunReport {
            start,
            end,
            meters: self.fleet.len(),
            faults: self.injected.len(),
            telegrams: self.counters.telegrams.load(Ordering::Relaxed),
            telegrams_missed: self.counters.missed.load(Ordering::Relaxed),
            telegrams_dropped: self.counters.dropped.load(Ordering::Relaxed),
            walkby_telegrams: self.counters.walkby.load(Ordering::Relaxed),
            export_files: files,
            mqtt,
            truth: self.truth,
        })
    }
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn fault_json(f: &Fault) -> Value {
    let (kind, litres_per_hour, seconds_per_day) = match f.kind {
        FaultKind::Leak { litres_per_hour } => ("leak", Some(litres_per_hour), None),
        FaultKind::Burst { litres_per_hour } => ("burst", Some(litres_per_hour), None),
        FaultKind::Backflow { litres_per_hour } => ("backflow", Some(litres_per_hour), None),
        FaultKind::MagneticTamper => ("tamper", None, None),
        FaultKind::DryPipe => ("dry", None, None),
        FaultKind::LowBattery => ("battery_low", None, None),
        FaultKind::Rollover => ("rollover", None, None),
        FaultKind::Replacement => ("replacement", None, None),
        FaultKind::Stuck => ("stuck", None, None),
        FaultKind::ClockDrift { seconds_per_day } => ("clock_drift", None, Some(seconds_per_day)),
    };
    let mut v = json!({"kind": kind, "start": ts(f.start), "end": f.end.map(ts)});
    if let Some(l) = litres_per_hour {
        v["litres_per_hour"] = json!(l);
    }
    if let Some(s) = seconds_per_day {
        v["seconds_per_day"] = json!(s);
    }
    v
}

/// The ground truth of a run, one JSON object per meter position:
/// `{"meter","serial","kind","district","from","to","true_ml","true_m3","registered_ml",
/// "registered_m3","end_register_ml","end_register_m3","end_error_flags","faults":[…]}` —
/// true and registered use over `[from, to)`, the register (of the meter installed at `to`)
/// and its status at `to`, and the faults injected.
pub fn truth_rows(
    fleet: &Fleet,
    injected: &[(usize, Fault)],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Value>, SimError> {
    let uses = use_rows(fleet, None, from, to)?;
    let at: Vec<(usize, DateTime<Utc>)> = (0..fleet.len()).map(|i| (i, to)).collect();
    let registers = register_rows(fleet, &at)?;
    uses.iter()
        .zip(&registers)
        .map(|(u, r)| {
            let faults: Vec<Value> = injected
                .iter()
                .filter(|(m, _)| *m == u.meter)
                .map(|(_, f)| fault_json(f))
                .collect();
            Ok(json!({
                "meter": u.meter,
                "serial": u.serial,
                "kind": u.kind.as_str(),
                "district": fleet.meter(u.meter)?.district(),
                "from": ts(u.from),
                "to": ts(u.to),
                "true_ml": u.true_use.ml(),
                "true_m3": u.true_use.m3().to_string(),
                "registered_ml": u.registered_use.ml(),
                "registered_m3": u.registered_use.m3().to_string(),
                "end_register_ml": r.register.ml(),
                "end_register_m3": r.register.m3().to_string(),
                "end_error_flags": r.status.error_flags(),
                "faults": faults,
            }))
        })
        .collect()
}

/// Writes [`truth_rows`] to `path` as JSON lines (through a temporary file, so a reader never
/// sees half of it).
pub fn write_truth(
    path: &Path,
    fleet: &Fleet,
    injected: &[(usize, Fault)],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<(), SimError> {
    let mut out = Vec::new();
    for row in truth_rows(fleet, injected, from, to)? {
        serde_json::to_writer(&mut out, &row)?;
        out.push(b'\n');
    }
    write_atomically(path, &out)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SimError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".part");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Closes a dongle after what is queued is written, unless the host does not read: a pty
/// nobody reads blocks writes for ever, and then the unread telegrams are abandoned.
async fn close_dongle(dongle: DongleHandle) -> Result<(), SimError> {
    match tokio::time::timeout(std::time::Duration::from_secs(1), dongle.close()).await {
        Ok(r) => r,
        Err(_) => {
            tracing::warn!("dongle host is not reading; unread telegrams abandoned");
            Ok(())
        }
    }
}

/// Waits for simulated instant `t`; false if the sim is stopping.
async fn wait_until(clock: &SimClock, t: DateTime<Utc>, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return false;
    }
    let stopped = tokio::select! {
        _ = clock.sleep_until(t) => false,
        _ = stop.wait_for(|s| *s) => true,
    };
    !stopped && !*stop.borrow()
}

/// Sends one reception through a dongle; false when the host did not take it in time.
async fn offer(
    dongle: &DongleHandle,
    frame: &[u8],
    at: DateTime<Utc>,
    rssi: u8,
) -> Result<bool, SimError> {
    match tokio::time::timeout(
        std::time::Duration::from_millis(50),
        dongle.send_frame(frame, RxOptions::default(), at.timestamp() as u32, rssi),
    )
    .await
    {
        Ok(r) => r.map(|()| true),
        Err(_) => Ok(false),
    }
}

async fn stream_dongle(
    fleet: Arc<Fleet>,
    radio: Vec<usize>,
    clock: SimClock,
    dongle: DongleHandle,
    rate: u32,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), SimError> {
    let n = radio.len();
    let epoch = fleet.epoch();
    let interval = Duration::seconds(TX_INTERVAL_S);
    // Meters transmit at staggered phases within the interval, as independent radios do.
    let phase = |k: usize| Duration::seconds((k as i64 * TX_INTERVAL_S) / n.max(1) as i64);
    let mut next: Vec<DateTime<Utc>> = (0..n).map(|k| epoch + phase(k)).collect();
    let paced_from = tokio::time::Instant::now();
    let mut sent: u64 = 0;
    if n == 0 {
        let _ = stop.wait_for(|s| *s).await;
        return close_dongle(dongle).await;
    }
    'outer: loop {
        for (k, &meter) in radio.iter().enumerate() {
            if !wait_until(&clock, next[k], &mut stop).await {
                break 'outer;
            }
            // Pace to `rate` telegrams per wall second on average.
            let due = paced_from
                + std::time::Duration::from_nanos(
                    sent.saturating_mul(1_000_000_000) / u64::from(rate),
                );
            tokio::time::sleep_until(due).await;
            let grid = (clock.now() - epoch - phase(k))
                .num_seconds()
                .div_euclid(TX_INTERVAL_S);
            let t = (epoch + phase(k) + Duration::seconds(grid * TX_INTERVAL_S)).max(next[k]);
            counters.missed.fetch_add(
                ((t - next[k]).num_seconds() / TX_INTERVAL_S) as u64,
                Ordering::Relaxed,
            );
            let frame = fleet.telegram(meter, t, FrameFormat::NoCrc)?;
            let rssi = 0x40 + (meter.wrapping_mul(37) % 0x70) as u8;
            if offer(&dongle, &frame, t, rssi).await? {
                counters.telegrams.fetch_add(1, Ordering::Relaxed);
            } else {
                counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
            sent += 1;
            next[k] = t + interval;
        }
    }
    close_dongle(dongle).await
}

#[allow(clippy::too_many_arguments)]
async fn walk_and_export(
    fleet: Arc<Fleet>,
    routes: Vec<Vec<usize>>,
    clock: SimClock,
    dongle: Option<DongleHandle>,
    export: Option<ExportConfig>,
    every: Duration,
    seconds_per_meter: i64,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), SimError> {
    let mut walk_start = clock.sim_start() + every;
    let mut k = 0usize;
    if routes.is_empty() {
        let _ = stop.wait_for(|s| *s).await;
        return match dongle {
            Some(d) => close_dongle(d).await,
            None => Ok(()),
        };
    }
    'walks: loop {
        let route = &routes[k % routes.len()];
        let walk = WalkBy {
            route: route.clone(),
            start: walk_start,
            seconds_per_meter,
            repeats: 2,
        };
        let receptions = walk.receptions(&fleet)?;
        let mut plan = Vec::with_capacity(route.len());
        for r in &receptions {
            if !wait_until(&clock, r.at, &mut stop).await {
                break 'walks;
            }
            if plan.last().map(|&(m, _)| m) != Some(r.meter) {
                plan.push((r.meter, r.at));
            }
            if let Some(d) = &dongle {
                if offer(d, &r.frame, r.at, r.rssi).await? {
                    counters.walkby.fetch_add(1, Ordering::Relaxed);
                } else {
                    counters.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if let Some(export) = &export {
            let readings = reading_set::readings(&fleet, &plan)?;
            let district = fleet.meter(route[0])?.district();
            let stamp = walk_start.with_timezone(&Warsaw).format("%Y%m%d-%H%M%S");
            let (ext, body) = match export.format {
                ExportFormat::Txt => ("txt", reading_set::to_txt(&readings)),
                ExportFormat::Csv => ("csv", reading_set::to_csv(&readings)),
            };
            let path = export.dir.join(format!("walk-d{district}-{stamp}.{ext}"));
            write_atomically(&path, body.as_bytes())?;
            tracing::info!(path = %path.display(), readings = readings.len(), "reading-set file written");
            if let Ok(mut files) = counters.files.lock() {
                files.push(path);
            }
        }
        k += 1;
        walk_start += every;
    }
    match dongle {
        Some(d) => close_dongle(d).await,
        None => Ok(()),
    }
}

async fn run_devices(
    fleet: Arc<Fleet>,
    meters: Vec<usize>,
    prefix: String,
    interval: Duration,
    clock: SimClock,
    mut publisher: Publisher,
    mut stop: watch::Receiver<bool>,
) -> Result<MqttStats, SimError> {
    let n = meters.len();
    let mut devices: Vec<Device> = meters.iter().map(|&m| Device::new(m)).collect();
    let secs = interval.num_seconds().max(1);
    // Devices report at staggered offsets within the interval.
    let offset = |k: usize| Duration::seconds(secs * k as i64 / n.max(1) as i64);
    let mut tick = clock.sim_start();
    let mut batch: Vec<Message> = Vec::new();
    if n == 0 {
        let _ = stop.wait_for(|s| *s).await;
        return Ok(publisher.close().await);
    }
    'outer: loop {
        for (k, device) in devices.iter_mut().enumerate() {
            let t = tick + offset(k);
            if t > clock.now() && !batch.is_empty() {
                publisher.publish_all(&batch).await?;
                batch.clear();
            }
            if !wait_until(&clock, t, &mut stop).await {
                break 'outer;
            }
            batch.extend(device.report(&fleet, &prefix, t)?);
            if batch.len() >= 500 {
                publisher.publish_all(&batch).await?;
                batch.clear();
            }
        }
        tick += Duration::seconds(secs);
    }
    publisher.publish_all(&batch).await?;
    Ok(publisher.close().await)
}
