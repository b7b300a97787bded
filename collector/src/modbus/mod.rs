//! Modbus TCP/RTU polling of district bulk meters (SPEC §3.2): per-model register maps from
//! configuration ([`map`], [`config`]), a polling loop per device with tokio-modbus as the
//! client ([`poller`]), producing exact [`ModbusSample`]s and typed, counted errors.

pub mod config;
pub mod map;
pub mod poller;
pub mod port;

pub use config::{DeviceConfig, Link, ModbusConfig, Parity, SerialFormat, UnitConfig};
pub use map::{
    DataType, DecodeError, MapError, RawValue, RegisterMap, Table, VolumeUnit, WordOrder,
};
pub use poller::{open_serial, PollCounts, PollStats, Poller};

use chrono::{DateTime, Utc};
use ewoda_common::Volume;
use thiserror::Error;
use tokio::sync::mpsc;

/// Polls every configured device concurrently, sending samples to `out`, until the receiver
/// is dropped. Fails fast (before polling) on an invalid configuration or a serial port that
/// cannot be opened.
pub async fn run_all(
    config: &ModbusConfig,
    out: mpsc::Sender<ModbusSample>,
) -> Result<(), ModbusError> {
    run_all_counted(config, out, None).await
}

/// [`run_all`] with each device's counters registered in `metrics` (`/metrics`).
pub async fn run_all_counted(
    config: &ModbusConfig,
    out: mpsc::Sender<ModbusSample>,
    metrics: Option<&crate::metrics::Metrics>,
) -> Result<(), ModbusError> {
    config.validate()?;
    let pollers = config
        .devices
        .iter()
        .map(|d| Poller::new(d, &config.models))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(m) = metrics {
        for p in &pollers {
            m.register_modbus_device(p.endpoint(), p.stats());
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    for p in pollers {
        tasks.spawn(p.run(out.clone()));
    }
    drop(out);
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// One reading of a bulk meter's total volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModbusSample {
    /// TCP endpoint or serial path.
    pub endpoint: String,
    /// Unit id / slave address.
    pub unit: u8,
    /// The meter's serial number, from configuration.
    pub meter_serial: Option<String>,
    /// When the answer arrived.
    pub read_at: DateTime<Utc>,
    /// The register, exact.
    pub volume: Volume,
}

/// A Modbus exception code from a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionCode {
    /// 0x01: function not supported.
    IllegalFunction,
    /// 0x02: register address not in the device's map.
    IllegalDataAddress,
    /// 0x03: malformed request value (e.g. quantity).
    IllegalDataValue,
    /// 0x04: the device failed.
    ServerDeviceFailure,
    /// 0x06: busy, try later.
    ServerDeviceBusy,
    /// 0x0B: a gateway's target did not respond.
    GatewayTargetFailed,
    /// Any other code.
    Other(u8),
}

impl ExceptionCode {
    /// The code from its byte.
    pub fn from_u8(code: u8) -> Self {
        match code {
            0x01 => ExceptionCode::IllegalFunction,
            0x02 => ExceptionCode::IllegalDataAddress,
            0x03 => ExceptionCode::IllegalDataValue,
            0x04 => ExceptionCode::ServerDeviceFailure,
            0x06 => ExceptionCode::ServerDeviceBusy,
            0x0B => ExceptionCode::GatewayTargetFailed,
            other => ExceptionCode::Other(other),
        }
    }
}

/// Everything that can go wrong configuring or polling Modbus devices.
#[derive(Debug, Error)]
pub enum ModbusError {
    /// A configuration value that cannot work.
    #[error("modbus config {field}: {reason}")]
    Config { field: String, reason: String },
    /// The endpoint or serial port cannot be opened.
    #[error("{endpoint}: cannot connect: {source}")]
    Connect {
        endpoint: String,
        source: std::io::Error,
    },
    /// No answer within the timeout (silence on the line).
    #[error("{endpoint} unit {unit}: no answer within {timeout_ms} ms")]
    Timeout {
        endpoint: String,
        unit: u8,
        timeout_ms: u64,
    },
    /// The device answered with a Modbus exception.
    #[error("{endpoint} unit {unit}: exception {code:?} to function {function:#04X}")]
    Exception {
        endpoint: String,
        unit: u8,
        function: u8,
        code: ExceptionCode,
    },
    /// Bytes came but not a valid reply (CRC error, wrong header, noise); the link was
    /// resynchronised.
    #[error("{endpoint} unit {unit}: garbled reply: {detail}")]
    Garbled {
        endpoint: String,
        unit: u8,
        detail: String,
    },
    /// The transport failed.
    #[error("{endpoint} unit {unit}: i/o: {source}")]
    Io {
        endpoint: String,
        unit: u8,
        source: std::io::Error,
    },
    /// The registers do not give a volume under the model's map.
    #[error("{endpoint} unit {unit}: {source}")]
    Decode {
        endpoint: String,
        unit: u8,
        source: DecodeError,
    },
}

impl ModbusError {
    /// Whether trying again may succeed (timeouts, garbled replies, transport failures).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ModbusError::Timeout { .. }
                | ModbusError::Garbled { .. }
                | ModbusError::Io { .. }
                | ModbusError::Connect { .. }
                | ModbusError::Exception {
                    code: ExceptionCode::ServerDeviceBusy | ExceptionCode::GatewayTargetFailed,
                    ..
                }
        )
    }
}
