//! Typed configuration of `ewoda collect` (TOML), validated at start-up. URLs come from the
//! file or, when absent there, from `DATABASE_URL` / `MQTT_URL`.

use crate::alarms::{EscalationConfig, NightFlowConfig, RuleConfig};
use crate::error::Error;
use crate::mbus_master::MbusSerialConfig;
use crate::modbus::ModbusConfig;
use crate::mqtt::MqttSourceConfig;
use crate::pipeline::WriterConfig;
use crate::radio::RadioSerialConfig;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The whole collector configuration. `Debug` blanks the database password (MQTT passwords
/// are redacted by their own type).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectConfig {
    pub database_url: Option<String>,
    pub mqtt_url: Option<String>,
    /// Port of the Prometheus `/metrics` endpoint (on `metrics_host`); 0 turns it off.
    #[serde(default = "default_metrics_port")]
    pub metrics_port: u16,
    #[serde(default = "default_metrics_host")]
    pub metrics_host: String,
    /// File holding the 64-hex-digit master key that seals meter AES keys, used when
    /// `EWODA_MASTER_KEY` is not set (radio sources need it).
    #[serde(default)]
    pub master_key_file: Option<PathBuf>,
    /// Seconds between reloads of the meter keys (a miss also reloads, rate-limited).
    #[serde(default = "default_key_refresh_secs")]
    pub key_refresh_secs: u64,
    /// Where sources that cannot be re-asked spill their backlog.
    #[serde(default = "default_spill_dir")]
    pub spill_dir: PathBuf,
    /// How long shutdown waits for the last batch and its acks.
    #[serde(default = "default_drain_secs")]
    pub drain_secs: u64,
    /// A source down (being restarted) longer than this makes `/healthz` answer 503.
    #[serde(default = "default_source_grace_secs")]
    pub source_grace_secs: u64,
    #[serde(default)]
    pub writer: WriterConfig,
    #[serde(default)]
    pub rules: RulesSchedule,
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
}

impl std::fmt::Debug for CollectConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use ewoda_common::secret::redact_url;
        f.debug_struct("CollectConfig")
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("mqtt_url", &self.mqtt_url.as_deref().map(redact_url))
            .field("metrics_port", &self.metrics_port)
            .field("metrics_host", &self.metrics_host)
            .field("master_key_file", &self.master_key_file)
            .field("key_refresh_secs", &self.key_refresh_secs)
            .field("spill_dir", &self.spill_dir)
            .field("drain_secs", &self.drain_secs)
            .field("source_grace_secs", &self.source_grace_secs)
            .field("writer", &self.writer)
            .field("rules", &self.rules)
            .field("sources", &self.sources)
            .finish()
    }
}

fn default_metrics_port() -> u16 {
    9464
}
fn default_metrics_host() -> String {
    "127.0.0.1".into()
}
fn default_spill_dir() -> PathBuf {
    PathBuf::from("spill")
}
fn default_drain_secs() -> u64 {
    10
}
fn default_source_grace_secs() -> u64 {
    300
}
fn default_key_refresh_secs() -> u64 {
    300
}

/// The series rules, alarm escalation and how often they run.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesSchedule {
    /// Seconds between evaluations; 0 turns the rules off.
    pub interval_secs: u64,
    #[serde(flatten)]
    pub rules: RuleConfig,
    /// `[rules.night_flow]`: night flow per district.
    pub night_flow: NightFlowConfig,
    /// `[rules.escalation]`: when open alarms escalate.
    pub escalation: EscalationConfig,
}

impl Default for RulesSchedule {
    fn default() -> Self {
        RulesSchedule {
            interval_secs: 300,
            rules: RuleConfig::default(),
            night_flow: NightFlowConfig::default(),
            escalation: EscalationConfig::default(),
        }
    }
}

/// One input of the collector.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceConfig {
    /// MQTT telemetry (docs/mqtt-telemetry.md).
    Mqtt(MqttSourceConfig),
    /// Reading-set export files dropped into a directory.
    ReadingSet(ReadingSetWatch),
    /// A wM-Bus receiver (iM871A dongle or hex lines) or a handheld set on a serial port.
    RadioSerial(RadioSerialConfig),
    /// A wired M-Bus master on a serial port.
    MbusSerial(MbusSerialConfig),
    /// Modbus TCP/RTU bulk meters.
    Modbus(ModbusConfig),
}

/// A directory watched for reading-set files (`*.txt`, `*.csv`): imported files move to
/// `done/`, rejected ones to `failed/` with a `.error.txt` beside them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadingSetWatch {
    pub watch_dir: PathBuf,
    #[serde(default = "default_poll_secs")]
    pub poll_secs: u64,
}

fn default_poll_secs() -> u64 {
    10
}

impl CollectConfig {
    /// Parses TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, Error> {
        let cfg: CollectConfig = toml::from_str(text).map_err(|e| Error::Config {
            field: origin.to_string(),
            message: e.to_string().trim().to_string(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads and parses a TOML file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// A configuration with no sources (URLs from the environment).
    pub fn empty() -> Self {
        CollectConfig {
            database_url: None,
            mqtt_url: None,
            metrics_port: default_metrics_port(),
            metrics_host: default_metrics_host(),
            master_key_file: None,
            key_refresh_secs: default_key_refresh_secs(),
            spill_dir: default_spill_dir(),
            drain_secs: default_drain_secs(),
            source_grace_secs: default_source_grace_secs(),
            writer: WriterConfig::default(),
            rules: RulesSchedule::default(),
            sources: Vec::new(),
        }
    }

    fn validate(&self) -> Result<(), Error> {
        let bad = |field: &str, message: &str| {
            Err(Error::Config {
                field: field.into(),
                message: message.into(),
            })
        };
        if self.writer.batch_size == 0 {
            return bad("writer.batch_size", "must be at least 1");
        }
        if self.writer.channel_capacity == 0 {
            return bad("writer.channel_capacity", "must be at least 1");
        }
        if let Err((field, message)) = self.rules.night_flow.validate() {
            return bad(&format!("rules.night_flow.{field}"), &message);
        }
        if let Err((field, message)) = self.rules.escalation.validate() {
            return bad(&format!("rules.escalation.{field}"), &message);
        }
        let mut ids = std::collections::HashSet::new();
        let mut filters = std::collections::HashSet::new();
        let mut ports = std::collections::HashSet::new();
        for (i, s) in self.sources.iter().enumerate() {
            match s {
                SourceConfig::Mqtt(m) => {
                    if m.client_id.trim().is_empty() {
                        return bad(&format!("sources[{i}].client_id"), "must not be empty");
                    }
                    if !ids.insert(m.client_id.clone()) {
                        return bad(
                            &format!("sources[{i}].client_id"),
                            "is used twice: each MQTT source needs its own persistent session",
                        );
                    }
                    if let Err((field, message)) = m.validate() {
                        return bad(&format!("sources[{i}].{field}"), &message);
                    }
                    if m.share_group.is_none() && !filters.insert(m.topic_filter.clone()) {
                        return bad(
                            &format!("sources[{i}].topic_filter"),
                            "is subscribed twice without a share_group: every message would be handled twice; give each source its own partition of the topics",
                        );
                    }
                }
                SourceConfig::ReadingSet(_) => {}
                SourceConfig::RadioSerial(r) => {
                    if !ports.insert(r.path.clone()) {
                        return bad(&format!("sources[{i}].path"), "is used by two sources");
                    }
                    if let Err(Error::Config { message, .. }) = r.profile() {
                        return bad(&format!("sources[{i}].status_profile"), &message);
                    }
                    if r.baud == 0 {
                        return bad(&format!("sources[{i}].baud"), "must be positive");
                    }
                }
                SourceConfig::MbusSerial(m) => {
                    if !ports.insert(m.path.clone()) {
                        return bad(&format!("sources[{i}].path"), "is used by two sources");
                    }
                    if let Err(e) = m.validate() {
                        let (field, message) = e.split_once(": ").unwrap_or(("", &e));
                        return bad(&format!("sources[{i}].{field}"), message);
                    }
                }
                SourceConfig::Modbus(m) => {
                    if let Err(e) = m.validate() {
                        return bad(&format!("sources[{i}]"), &e.to_string());
                    }
                    for (d, dev) in m.devices.iter().enumerate() {
                        for (u, unit) in dev.units.iter().enumerate() {
                            if unit.meter_serial.as_deref().is_none_or(str::is_empty) {
                                return bad(
                                    &format!("sources[{i}].devices[{d}].units[{u}].meter_serial"),
                                    "is needed to store the unit's readings",
                                );
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The database URL from the file or `DATABASE_URL`.
    pub fn database_url(&self) -> Result<String, Error> {
        self.database_url
            .clone()
            .or_else(|| std::env::var("DATABASE_URL").ok())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::Config {
                field: "database_url".into(),
                message: "not set: put database_url in the config file or set DATABASE_URL".into(),
            })
    }

    /// The master key from `EWODA_MASTER_KEY` or `master_key_file`.
    pub fn master_key(&self) -> Result<ewoda_common::crypto::MasterKey, Error> {
        if let Some(k) = std::env::var("EWODA_MASTER_KEY")
            .ok()
            .filter(|s| !s.is_empty())
        {
            return Ok(ewoda_common::crypto::MasterKey::from_hex(&k)?);
        }
        let Some(path) = &self.master_key_file else {
            return Err(Error::Config {
                field: "master_key_file".into(),
                message: "not set: radio sources need the master key; set EWODA_MASTER_KEY or master_key_file".into(),
            });
        };
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        Ok(ewoda_common::crypto::MasterKey::from_hex(&text)?)
    }

    /// The broker URL from the file or `MQTT_URL`.
    pub fn mqtt_url(&self) -> Result<String, Error> {
        self.mqtt_url
            .clone()
            .or_else(|| std::env::var("MQTT_URL").ok())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::Config {
                field: "mqtt_url".into(),
                message: "not set: put mqtt_url in the config file or set MQTT_URL".into(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alarms::AlarmKind;

    #[test]
    fn debug_output_shows_no_password() {
        let cfg = CollectConfig::parse(
            r#"
            database_url = "postgres://collector:db-PASS-77@db.internal:5432/ewoda"
            [[sources]]
            kind = "mqtt"
            client_id = "c1"
            [sources.security]
            username = "collector"
            password = "mqtt-PASS-88"
            "#,
            "test",
        )
        .unwrap();
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("db-PASS-77"), "{shown}");
        assert!(!shown.contains("mqtt-PASS-88"), "{shown}");
        assert!(
            shown.contains("collector:[redacted]@db.internal"),
            "{shown}"
        );
    }

    #[test]
    fn parses_a_full_config() {
        let cfg = CollectConfig::parse(
            r#"
            database_url = "postgres://postgres@127.0.0.1/ewoda"
            metrics_port = 9500

            [writer]
            batch_size = 500
            [writer.vee]
            max_flow_l_per_h = 16000

            [rules]
            interval_secs = 60
            no_data_days = 7

            [[sources]]
            kind = "mqtt"
            client_id = "collector-1"

            [[sources]]
            kind = "reading_set"
            watch_dir = "/srv/ewoda/inbox"
            "#,
            "test",
        )
        .unwrap();
        assert_eq!(cfg.metrics_port, 9500);
        assert_eq!(cfg.writer.batch_size, 500);
        assert_eq!(cfg.writer.vee.max_flow_l_per_h, 16000);
        assert_eq!(cfg.writer.vee.dedupe_window_secs, 120);
        assert_eq!(cfg.rules.rules.no_data_days, Some(7));
        assert_eq!(
            cfg.sources,
            vec![
                SourceConfig::Mqtt(MqttSourceConfig::new("collector-1")),
                SourceConfig::ReadingSet(ReadingSetWatch {
                    watch_dir: "/srv/ewoda/inbox".into(),
                    poll_secs: 10
                }),
            ]
        );
        assert_eq!(
            cfg.database_url().unwrap(),
            "postgres://postgres@127.0.0.1/ewoda"
        );
        assert_eq!(
            CollectConfig::parse("", "empty").unwrap(),
            CollectConfig::empty()
        );
    }

    #[test]
    fn parses_serial_and_modbus_sources() {
        let cfg = CollectConfig::parse(
            r#"
            master_key_file = "/etc/ewoda/master.key"

            [[sources]]
            kind = "radio_serial"
            path = "/dev/ttyUSB0"

            [[sources]]
            kind = "radio_serial"
            path = "/dev/ttyACM0"
            baud = 115200
            framing = "hex_lines"
            status_profile = "none"
            handheld = true
            clock = "dongle_unix"

            [[sources]]
            kind = "mbus_serial"
            path = "/dev/ttyUSB1"
            addresses = [1, 2, 250]
            retries = 3

            [[sources]]
            kind = "modbus"
            [sources.models.A]
            address = 0
            count = 2
            data_type = "u32"
            unit = "l"
            [[sources.devices]]
            link = { transport = "tcp", endpoint = "10.0.0.5:502" }
            [[sources.devices.units]]
            unit = 1
            model = "A"
            meter_serial = "INLET-1"
            "#,
            "test",
        )
        .unwrap();
        let mut radio = RadioSerialConfig::new("/dev/ttyUSB0");
        assert_eq!(cfg.sources[0], SourceConfig::RadioSerial(radio.clone()));
        radio.path = "/dev/ttyACM0".into();
        radio.baud = 115200;
        radio.framing = crate::radio::Framing::HexLines;
        radio.status_profile = "none".into();
        radio.handheld = true;
        radio.clock = crate::radio::ReadClock::DongleUnix;
        assert_eq!(cfg.sources[1], SourceConfig::RadioSerial(radio));
        let mut bus = MbusSerialConfig::new("/dev/ttyUSB1", vec![1, 2, 250]);
        bus.retries = 3;
        assert_eq!(cfg.sources[2], SourceConfig::MbusSerial(bus));
        let SourceConfig::Modbus(m) = &cfg.sources[3] else {
            panic!("{:?}", cfg.sources[3])
        };
        assert_eq!(
            m.devices[0].units[0].meter_serial.as_deref(),
            Some("INLET-1")
        );
        assert_eq!(
            cfg.master_key_file,
            Some(PathBuf::from("/etc/ewoda/master.key"))
        );
    }

    #[test]
    fn serial_source_errors_name_the_field() {
        let cases = [
            (
                "[[sources]]\nkind = \"radio_serial\"\npath = \"/dev/a\"\nstatus_profile = \"x\"\n",
                "config sources[0].status_profile: unknown profile \"x\" (known: water-flags, none)",
            ),
            (
                "[[sources]]\nkind = \"mbus_serial\"\npath = \"/dev/a\"\naddresses = [0]\n",
                "config sources[0].addresses: 0 is not a primary address (1–250)",
            ),
            (
                "[[sources]]\nkind = \"radio_serial\"\npath = \"/dev/a\"\n[[sources]]\nkind = \"mbus_serial\"\npath = \"/dev/a\"\naddresses = [1]\n",
                "config sources[1].path: is used by two sources",
            ),
            (
                "[[sources]]\nkind = \"modbus\"\n[sources.models.A]\naddress = 0\ncount = 2\ndata_type = \"u32\"\nunit = \"l\"\n[[sources.devices]]\nlink = { transport = \"tcp\", endpoint = \"h:502\" }\n[[sources.devices.units]]\nunit = 1\nmodel = \"A\"\n",
                "config sources[0].devices[0].units[0].meter_serial: is needed to store the unit's readings",
            ),
        ];
        for (text, want) in cases {
            let e = CollectConfig::parse(text, "c.toml").unwrap_err();
            assert_eq!(e.to_string(), want);
        }
        let e =
            CollectConfig::parse("[[sources]]\nkind = \"radio_serial\"\n", "c.toml").unwrap_err();
        assert!(e.to_string().contains("missing field `path`"), "{e}");
    }

    #[test]
    fn parses_night_flow_and_escalation() {
        let cfg = CollectConfig::parse(
            r#"
            [rules]
            interval_secs = 60
            no_data_days = 7
            [rules.night_flow]
            start = "01:00"
            end = "03:30"
            threshold_l_per_h = 600
            district_thresholds = { D2 = 900 }
            [rules.escalation]
            unacknowledged_minutes = 720
            max_level = 1
            [rules.escalation.kinds.tamper]
            unacknowledged_minutes = 30
            recurring_occurrences = 100
            "#,
            "test",
        )
        .unwrap();
        let r = &cfg.rules;
        assert_eq!(r.rules.no_data_days, Some(7));
        assert_eq!(r.night_flow.start.to_string(), "01:00:00");
        assert_eq!(r.night_flow.end.to_string(), "03:30:00");
        assert_eq!(r.night_flow.threshold_for("D1"), 600);
        assert_eq!(r.night_flow.threshold_for("D2"), 900);
        assert_eq!(r.night_flow.max_gap_minutes, 120);
        assert_eq!(r.escalation.max_level, 1);
        assert_eq!(r.escalation.rule_for(AlarmKind::Tamper), (30, 100));
        assert_eq!(r.escalation.rule_for(AlarmKind::Leak), (60, 0));
        assert_eq!(r.escalation.rule_for(AlarmKind::Stuck), (720, 0));
        let cases = [
            (
                "[rules.night_flow]\nstart = \"03:00\"\nend = \"03:00\"\n",
                "config rules.night_flow.end: must differ from start",
            ),
            (
                "[rules.escalation]\nmax_level = 0\n",
                "config rules.escalation.max_level: must be between 1 and 10",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(
                CollectConfig::parse(text, "c").unwrap_err().to_string(),
                want
            );
        }
        for text in [
            "[rules.escalation.kinds.lek]\nunacknowledged_minutes = 1\n",
            "[rules.night_flow]\nthreshold = 1\n",
            "[rules.escalation]\nafter = 1\n",
        ] {
            let e = CollectConfig::parse(text, "c").unwrap_err().to_string();
            assert!(e.contains("unknown"), "{text}: {e}");
        }
    }

    #[test]
    fn errors_name_the_field() {
        let e = CollectConfig::parse("[[sources]]\nkind = \"serial\"\n", "c.toml").unwrap_err();
        assert!(e.to_string().contains("unknown variant `serial`"), "{e}");
        let e = CollectConfig::parse("metrics_prot = 1\n", "c.toml").unwrap_err();
        assert!(e.to_string().contains("metrics_prot"), "{e}");
        let e = CollectConfig::parse("[writer]\nbatch_size = 0\n", "c.toml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "config writer.batch_size: must be at least 1"
        );
        let two = "[[sources]]\nkind = \"mqtt\"\nclient_id = \"a\"\n[[sources]]\nkind = \"mqtt\"\nclient_id = \"a\"\n";
        let e = CollectConfig::parse(two, "c.toml").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("config sources[1].client_id: is used twice"),
            "{e}"
        );
    }
}
