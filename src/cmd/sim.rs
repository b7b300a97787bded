//! `ewoda sim`: runs the simulated fleet on its real transports (dongle, walk-by and M-Bus
//! ptys, Modbus TCP/RTU, MQTT, reading-set files), prints where the devices are, and writes
//! the ground truth when stopped (Ctrl-C, SIGTERM or `--duration`).

use chrono::Duration;
use ewoda_sim::mqtt::{DeviceSelection, DEFAULT_TOPIC_PREFIX};
use ewoda_sim::runner::{self, ExportConfig, ExportFormat, MqttConfig, SimConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Fleet seed (the same seed gives the same fleet).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Fleet size, district bulk meters included.
    #[arg(long, default_value_t = ewoda_sim::DEFAULT_FLEET_SIZE)]
    pub meters: usize,
    /// Simulated seconds per wall second (3600: an hour a second).
    #[arg(long, default_value_t = 60)]
    pub speed: u32,
    /// Start of simulated time, a local date (YYYY-MM-DD, Europe/Warsaw midnight).
    #[arg(long, value_name = "DATE")]
    pub start: Option<chrono::NaiveDate>,
    /// MQTT broker for the telemetry devices (none: no MQTT devices).
    #[arg(long, value_name = "URL")]
    pub mqtt_url: Option<String>,
    /// Which meters are MQTT devices: all, district:N, permille:N or meters:I,J.
    #[arg(long, default_value = "permille:50", value_name = "SPEC")]
    pub mqtt_devices: String,
    /// Simulated seconds between two readings of an MQTT device.
    #[arg(long, default_value_t = 900, value_name = "SECONDS")]
    pub mqtt_interval: i64,
    /// MQTT topic prefix.
    #[arg(long, default_value = DEFAULT_TOPIC_PREFIX)]
    pub mqtt_prefix: String,
    /// Modbus TCP port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 1502, value_name = "P")]
    pub modbus_port: u16,
    /// Also serve the bulk meters over Modbus RTU on a pty.
    #[arg(long)]
    pub modbus_rtu: bool,
    /// Wired M-Bus slaves on a pty (0: none).
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub mbus_slaves: usize,
    /// No continuous radio dongle.
    #[arg(long)]
    pub no_dongle: bool,
    /// At most this many dongle telegrams per wall second.
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub dongle_rate: u32,
    /// No walk-by handheld dongle.
    #[arg(long)]
    pub no_walkby: bool,
    /// Simulated seconds between two walk-by routes (and export files).
    #[arg(long, default_value_t = 86_400, value_name = "SECONDS")]
    pub walk_every: i64,
    /// Write a reading-set file of every walk into this directory.
    #[arg(long, value_name = "D")]
    pub export_dir: Option<PathBuf>,
    /// Export format: txt or csv.
    #[arg(long, default_value = "txt", value_parser = ["txt", "csv"])]
    pub export_format: String,
    /// Write the ground truth (JSON lines, one per meter) here when stopping.
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
    /// Random faults in about this many per mille of the customer meters.
    #[arg(long, default_value_t = 0, value_name = "PER_MILLE")]
    pub faults: u64,
    /// Stop after this many wall seconds.
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u64>,
}

fn config(args: Args) -> anyhow::Result<SimConfig> {
    anyhow::ensure!(args.speed >= 1, "--speed must be at least 1");
    anyhow::ensure!(args.faults <= 1000, "--faults is per mille: 0 to 1000");
    anyhow::ensure!(
        args.mqtt_interval >= 1,
        "--mqtt-interval must be at least 1 s"
    );
    anyhow::ensure!(args.walk_every >= 60, "--walk-every must be at least 60 s");
    let mqtt = match &args.mqtt_url {
        Some(url) => {
            ewoda_sim::mqtt::parse_url(url)?;
            let mut m = MqttConfig::new(url, args.seed);
            m.devices = DeviceSelection::parse(&args.mqtt_devices)?;
            m.interval = Duration::seconds(args.mqtt_interval);
            m.topic_prefix = args.mqtt_prefix.clone();
            Some(m)
        }
        None => None,
    };
    let defaults = SimConfig::default();
    Ok(SimConfig {
        seed: args.seed,
        meters: args.meters,
        start: args
            .start
            .map(ewoda_sim::fleet::local_midnight)
            .unwrap_or(defaults.start),
        speed: args.speed,
        dongle: !args.no_dongle,
        dongle_rate: args.dongle_rate.max(1),
        walkby: !args.no_walkby,
        walk_every: Duration::seconds(args.walk_every),
        mbus_slaves: args.mbus_slaves,
        modbus_tcp: Some(SocketAddr::from(([127, 0, 0, 1], args.modbus_port))),
        modbus_rtu: args.modbus_rtu,
        mqtt,
        export: args.export_dir.map(|dir| ExportConfig {
            dir,
            format: if args.export_format == "csv" {
                ExportFormat::Csv
            } else {
                ExportFormat::Txt
            },
        }),
        faults_per_mille: args.faults,
        truth: args.truth,
        duration: args.duration.map(std::time::Duration::from_secs),
        ..defaults
    })
}

pub fn run(args: Args) -> ExitCode {
    let cfg = match config(args) {
        Ok(c) => c,
        Err(e) => return super::finish(Err(e)),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return super::finish(Err(e.into())),
    };
    super::finish(
        rt.block_on(runner::run(cfg, ewoda_common::shutdown::signal()))
            .map(|r| {
                eprintln!(
                    "sim stopped at {}: {} telegrams ({} missed, {} unread), {} walk-by, {} files, \
                     {} MQTT messages acknowledged{}",
                    r.end,
                    r.telegrams,
                    r.telegrams_missed,
                    r.telegrams_dropped,
                    r.walkby_telegrams,
                    r.export_files.len(),
                    r.mqtt.acked,
                    r.truth
                        .map(|p| format!(", truth in {}", p.display()))
                        .unwrap_or_default()
                );
            })
            .map_err(Into::into),
    )
}
