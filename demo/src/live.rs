//! The live half of `ewoda demo`: the simulated fleet keeps running from where the seeded
//! history ends, over its real transports (radio dongle and wired M-Bus on ptys, Modbus TCP,
//! MQTT devices), and the collector reads it into the database like a real installation.

use crate::seed::{demo_fleet, SeedError, SeedOptions};
use chrono::Utc;
use ewoda_common::time;
use ewoda_sim::mqtt::DeviceSelection;
use ewoda_sim::runner::{self, MqttConfig, RunningSim, SimConfig};
use ewoda_sim::{Fault, FaultKind, Fleet};
use sqlx::{PgPool, Row};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What can stop the live feed from starting.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("the database holds no seeded readings to continue")]
    NoHistory,
    #[error("simulator: {0}")]
    Sim(#[from] ewoda_sim::SimError),
    #[error("collector: {0}")]
    Collector(#[from] ewoda_collector::error::Error),
    #[error("demo fleet: {0}")]
    Seed(#[from] SeedError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("reading the broker password {path}: {source}")]
    Password {
        path: String,
        source: std::io::Error,
    },
}

/// How the live feed logs in to a broker that requires it (the demo's private Mosquitto).
#[derive(Debug, Clone)]
pub struct BrokerLogin {
    pub username: String,
    /// The file holding the password (the collector reads it from there too).
    pub password_file: PathBuf,
}

impl BrokerLogin {
    /// The simulator's credentials and the collector's `[sources.security]` lines.
    fn read(&self) -> Result<((String, ewoda_common::secret::Password), String), LiveError> {
        let password =
            std::fs::read_to_string(&self.password_file).map_err(|source| LiveError::Password {
                path: self.password_file.display().to_string(),
                source,
            })?;
        let toml = format!(
            "[sources.security]\nusername = {:?}\npassword_file = {:?}\n",
            self.username,
            self.password_file.display().to_string()
        );
        let password = ewoda_common::secret::Password::new(password.trim_end());
        Ok(((self.username.clone(), password), toml))
    }
}

/// The running simulation and collector.
pub struct Live {
    sim: RunningSim,
    collector: JoinHandle<()>,
    stop: watch::Sender<bool>,
    /// One line per device, for the console.
    pub devices: String,
}

impl Live {
    /// Stops the collector (it drains and commits) and then the simulation.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.collector.await;
        if let Err(e) = self.sim.stop().await {
            tracing::warn!(error = %e, "stopping the simulation");
        }
    }
}

/// Starts the live feed continuing the history seeded with `seeded` (same seed, size and
/// months; its `today` is recovered from the stored readings).
pub async fn start(
    pool: &PgPool,
    seeded: &SeedOptions,
    database_url: &str,
    mqtt_url: &str,
    login: Option<&BrokerLogin>,
    data_dir: &Path,
) -> Result<Live, LiveError> {
    let (credentials, security) = match login.map(BrokerLogin::read).transpose()? {
        Some((c, toml)) => (Some(c), toml),
        None => (None, String::new()),
    };
    // The seed's "today" is `months` after its first reading day.
    let first: Option<chrono::DateTime<Utc>> =
        sqlx::query_scalar("select min(read_at) from reading where source = 'seed'")
            .fetch_one(pool)
            .await?;
    let first_day = time::local_day(first.ok_or(LiveError::NoHistory)?);
    let today = first_day
        .checked_add_months(chrono::Months::new(seeded.months))
        .ok_or(LiveError::NoHistory)?;
    let opts = SeedOptions {
        today,
        ..seeded.clone()
    };
    let demo = demo_fleet(&opts)?;
    let mut faults = demo.faults.clone();
    faults.extend(demo_alarm_faults(pool, &demo.fleet, demo.epoch).await?);

    let cfg = SimConfig {
        seed: opts.seed,
        meters: opts.meters,
        start: demo.epoch,
        resume_at: Some(Utc::now()),
        speed: 1,
        dongle: true,
        // A real receiver hears a few telegrams a second; enough to watch readings arrive.
        dongle_rate: 20,
        walkby: false,
        mbus_slaves: 8,
        modbus_tcp: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        modbus_rtu: false,
        mqtt: Some(MqttConfig {
            devices: DeviceSelection::PerMille(30),
            interval: chrono::Duration::minutes(5),
            credentials,
            ..MqttConfig::new(mqtt_url, opts.seed)
        }),
        faults,
        ..SimConfig::default()
    };
    let (sim, endpoints) = runner::start(cfg).await?;
    let paths = endpoints.paths()?;
    let fleet = sim.fleet();
    let now = Utc::now();
    let mut units = String::new();
    for u in &sim.layout().modbus {
        let serial = fleet.generation_at(u.meter, now)?.serial.clone();
        let model = format!("{:?}", u.model);
        units.push_str(&format!(
            "[[sources.devices.units]]\nunit = {}\nmodel = \"{model}\"\nmeter_serial = \"{serial}\"\n",
            u.unit
        ));
    }
    let addresses: Vec<String> = sim
        .layout()
        .mbus
        .iter()
        .map(|s| s.primary_address.to_string())
        .collect();
    let spill = data_dir.join("spill");
    let toml = format!(
        r#"
database_url = "{database_url}"
mqtt_url = "{mqtt_url}"
metrics_port = 0
master_key_file = "{key}"
spill_dir = "{spill}"
drain_secs = 5

[[sources]]
kind = "radio_serial"
path = "{dongle}"
framing = "im871a"
status_profile = "water-flags"

[[sources]]
kind = "mbus_serial"
path = "{mbus}"
addresses = [{addresses}]
interval_secs = 900

[[sources]]
kind = "mqtt"
client_id = "ewoda-demo-collector-{port}"
share_group = "demo-{port}"
{security}
[[sources]]
kind = "modbus"
[sources.models.A]
table = "holding"
address = 0
count = 2
data_type = "u32"
word_order = "big"
scale = "1"
unit = "l"
[sources.models.B]
table = "input"
address = 256
count = 2
data_type = "f32"
word_order = "little"
scale = "1"
unit = "m3"
resolution = "1"
[sources.models.C]
table = "holding"
address = 512
count = 2
data_type = "u32"
word_order = "little"
scale = "10"
unit = "l"
[[sources.devices]]
link = {{ transport = "tcp", endpoint = "{modbus}" }}
interval_ms = 60000
{units}"#,
        key = data_dir.join("master.key").display(),
        spill = spill.display(),
        dongle = paths.dongle.clone().unwrap_or_default(),
        mbus = paths.mbus.clone().unwrap_or_default(),
        addresses = addresses.join(", "),
        port = paths.modbus_tcp.map(|a| a.port()).unwrap_or_default(),
        modbus = paths.modbus_tcp.map(|a| a.to_string()).unwrap_or_default(),
    );
    let config = ewoda_collector::config::CollectConfig::parse(&toml, "demo collector")?;
    drop(endpoints);
    let (stop, mut stopped) = watch::channel(false);
    let collector = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.changed().await;
        };
        if let Err(e) = ewoda_collector::collect::run(config, shutdown).await {
            tracing::error!(error = %e, "the demo collector stopped");
        }
    });
    Ok(Live {
        sim,
        collector,
        stop,
        devices: paths.to_string(),
    })
}

/// The seed opens a low-battery alarm for each demo customer's meter (the eBOK shows it);
/// the live feed reports that meter's battery as low too, so its normal telegrams keep the
/// alarm open instead of clearing it a minute after the start.
async fn demo_alarm_faults(
    pool: &PgPool,
    fleet: &Fleet,
    epoch: chrono::DateTime<Utc>,
) -> Result<Vec<(usize, Fault)>, LiveError> {
    let rows = sqlx::query(
        "select m.serial from alarm a join meter m on m.meter_id = a.meter_id
         where a.kind = 'battery_low' and a.state = 'open' and a.details ->> 'demo' = 'true'",
    )
    .fetch_all(pool)
    .await?;
    let mut serials = std::collections::HashSet::new();
    for row in rows {
        serials.insert(row.try_get::<String, _>("serial")?);
    }
    let now = Utc::now();
    let mut faults = Vec::new();
    for i in 0..fleet.len() {
        if serials.contains(&fleet.generation_at(i, now)?.serial) {
            faults.push((i, Fault::new(FaultKind::LowBattery, epoch)));
        }
    }
    Ok(faults)
}
