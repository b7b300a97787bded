//! Typed configuration of Modbus polling: the register map of each meter model, and per
//! device its link (TCP endpoint or serial port with baud rate and character format), its
//! units and their models, the interval, timeout, retries and backoff. Validated at start-up.

use super::map::RegisterMap;
use super::ModbusError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Everything the Modbus source polls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModbusConfig {
    /// Register map by model name.
    pub models: BTreeMap<String, RegisterMap>,
    /// Devices (a TCP endpoint or a serial line, each with its units).
    pub devices: Vec<DeviceConfig>,
}

/// One TCP endpoint or serial line and the units behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// How to reach it.
    pub link: Link,
    /// The units (slave addresses) to poll.
    pub units: Vec<UnitConfig>,
    /// Time between polling rounds (default 60 s).
    #[serde(default = "default_interval_ms")]
    pub interval_ms: u64,
    /// How long to wait for one answer (default 1 s).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Retries after a failed read (default 2).
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Wait before the first retry, doubled before each next one (default 200 ms).
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: u64,
}

fn default_interval_ms() -> u64 {
    60_000
}
fn default_timeout_ms() -> u64 {
    1_000
}
fn default_retries() -> u32 {
    2
}
fn default_backoff_ms() -> u64 {
    200
}

impl DeviceConfig {
    /// Polling interval.
    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms)
    }
    /// Answer timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
    /// First backoff.
    pub fn backoff(&self) -> Duration {
        Duration::from_millis(self.backoff_ms)
    }
}

/// The transport of a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "transport", rename_all = "lowercase", deny_unknown_fields)]
pub enum Link {
    /// Modbus TCP to `host:port`.
    Tcp {
        /// `host:port`.
        endpoint: String,
    },
    /// Modbus RTU on a serial port.
    Rtu {
        /// Device path, e.g. `/dev/ttyUSB0`.
        path: String,
        /// Baud rate (default 9600).
        #[serde(default = "default_baud")]
        baud: u32,
        /// Character format such as "8E1" (default, as the Modbus serial line spec says).
        #[serde(default)]
        format: SerialFormat,
    },
}

fn default_baud() -> u32 {
    9600
}

impl Link {
    /// The name samples and errors carry: the TCP endpoint or the serial path.
    pub fn endpoint(&self) -> &str {
        match self {
            Link::Tcp { endpoint } => endpoint,
            Link::Rtu { path, .. } => path,
        }
    }
}

/// One polled unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitConfig {
    /// Unit id / slave address 1–247.
    pub unit: u8,
    /// Model name, a key of [`ModbusConfig::models`].
    pub model: String,
    /// The meter's serial number, if known (carried into samples).
    #[serde(default)]
    pub meter_serial: Option<String>,
}

/// Parity of a serial character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parity {
    /// No parity bit.
    None,
    /// Even parity.
    Even,
    /// Odd parity.
    Odd,
}

/// Serial character format: data bits, parity, stop bits, written like "8E1" or "8N2".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SerialFormat {
    /// 7 or 8.
    pub data_bits: u8,
    /// Parity.
    pub parity: Parity,
    /// 1 or 2.
    pub stop_bits: u8,
}

impl Default for SerialFormat {
    fn default() -> Self {
        SerialFormat {
            data_bits: 8,
            parity: Parity::Even,
            stop_bits: 1,
        }
    }
}

impl FromStr for SerialFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let b = s.as_bytes();
        let bad = || format!("serial format {s:?}: expected e.g. 8E1 (7|8, N|E|O, 1|2)");
        let [d, p, st] = b else {
            return Err(bad());
        };
        let data_bits = match d {
            b'7' => 7,
            b'8' => 8,
            _ => return Err(bad()),
        };
        let parity = match p.to_ascii_uppercase() {
            b'N' => Parity::None,
            b'E' => Parity::Even,
            b'O' => Parity::Odd,
            _ => return Err(bad()),
        };
        let stop_bits = match st {
            b'1' => 1,
            b'2' => 2,
            _ => return Err(bad()),
        };
        Ok(SerialFormat {
            data_bits,
            parity,
            stop_bits,
        })
    }
}

impl TryFrom<String> for SerialFormat {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl fmt::Display for SerialFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = match self.parity {
            Parity::None => 'N',
            Parity::Even => 'E',
            Parity::Odd => 'O',
        };
        write!(f, "{}{}{}", self.data_bits, p, self.stop_bits)
    }
}

impl From<SerialFormat> for String {
    fn from(f: SerialFormat) -> String {
        f.to_string()
    }
}

fn config_error(field: String, reason: impl Into<String>) -> ModbusError {
    ModbusError::Config {
        field,
        reason: reason.into(),
    }
}

impl ModbusConfig {
    /// Parses and validates a JSON configuration; errors name the path of the bad field.
    pub fn from_json(text: &str) -> Result<Self, ModbusError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let config: ModbusConfig = serde_path_to_error::deserialize(de)
            .map_err(|e| config_error(e.path().to_string(), e.inner().to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every model map, and for every device its timing, that unit ids are 1–247 and
    /// distinct, and that each unit's model exists.
    pub fn validate(&self) -> Result<(), ModbusError> {
        for (name, map) in &self.models {
            map.validate()
                .map_err(|e| config_error(format!("models.{name}.{}", e.field), e.reason))?;
        }
        for (i, d) in self.devices.iter().enumerate() {
            d.validate(&self.models).map_err(|e| match e {
                ModbusError::Config { field, reason } => {
                    config_error(format!("devices[{i}].{field}"), reason)
                }
                other => other,
            })?;
        }
        Ok(())
    }
}

impl DeviceConfig {
    /// Checks the device against the known `models` (errors name the field within it).
    pub fn validate(&self, models: &BTreeMap<String, RegisterMap>) -> Result<(), ModbusError> {
        if self.timeout_ms == 0 {
            return Err(config_error("timeout_ms".into(), "must be positive"));
        }
        if self.interval_ms == 0 {
            return Err(config_error("interval_ms".into(), "must be positive"));
        }
        match &self.link {
            Link::Tcp { endpoint } if !endpoint.contains(':') => {
                return Err(config_error(
                    "link.endpoint".into(),
                    format!("{endpoint:?} must be host:port"),
                ));
            }
            Link::Rtu { baud: 0, .. } => {
                return Err(config_error("link.baud".into(), "must be positive"));
            }
            _ => {}
        }
        let mut seen = BTreeSet::new();
        for (j, u) in self.units.iter().enumerate() {
            if !(1..=247).contains(&u.unit) || !seen.insert(u.unit) {
                return Err(config_error(
                    format!("units[{j}].unit"),
                    format!("{} must be 1-247 and not repeated", u.unit),
                ));
            }
            if !models.contains_key(&u.model) {
                return Err(config_error(
                    format!("units[{j}].model"),
                    format!("no model {:?} in models", u.model),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{
        "models": {
            "A": {"address": 0, "count": 2, "data_type": "u32", "unit": "l"},
            "C": {"address": 512, "count": 2, "data_type": "u32", "word_order": "little",
                  "scale": "10", "unit": "l"}
        },
        "devices": [
            {"link": {"transport": "tcp", "endpoint": "127.0.0.1:502"},
             "units": [{"unit": 1, "model": "A", "meter_serial": "2512345678"}],
             "interval_ms": 5000},
            {"link": {"transport": "rtu", "path": "/dev/ttyUSB0", "baud": 19200, "format": "8N2"},
             "units": [{"unit": 3, "model": "C"}]}
        ]
    }"#;

    #[test]
    fn parses_with_defaults() {
        let c = ModbusConfig::from_json(CONFIG).unwrap();
        assert_eq!(c.devices[0].timeout_ms, 1000);
        assert_eq!(c.devices[0].retries, 2);
        assert_eq!(c.devices[1].interval_ms, 60_000);
        assert_eq!(
            c.devices[1].link,
            Link::Rtu {
                path: "/dev/ttyUSB0".into(),
                baud: 19200,
                format: SerialFormat {
                    data_bits: 8,
                    parity: Parity::None,
                    stop_bits: 2
                }
            }
        );
        assert_eq!(SerialFormat::default().to_string(), "8E1");
    }

    #[test]
    fn errors_name_the_field() {
        let bad = CONFIG.replace(r#""model": "C""#, r#""model": "Z""#);
        let e = ModbusConfig::from_json(&bad).unwrap_err().to_string();
        assert!(e.contains("devices[1].units[0].model"), "{e}");
        let bad = CONFIG.replace("8N2", "9X1");
        let e = ModbusConfig::from_json(&bad).unwrap_err().to_string();
        assert!(e.contains("devices[1].link") && e.contains("9X1"), "{e}");
        let bad = CONFIG.replace(r#""scale": "10""#, r#""scale": "-10""#);
        let e = ModbusConfig::from_json(&bad).unwrap_err().to_string();
        assert!(e.contains("models.C.scale"), "{e}");
        let bad = CONFIG.replace(r#""unit": 3"#, r#""unit": 0"#);
        let e = ModbusConfig::from_json(&bad).unwrap_err().to_string();
        assert!(e.contains("devices[1].units[0].unit"), "{e}");
    }
}
