//! The ingestion pipeline every source feeds: readings and alarm events go through VEE
//! (validation), a batched exactly-once writer and incremental daily rollups. Sources hand in
//! [`Input`]s with an optional [`Ack`] that runs only after the batch holding it committed.

mod alarm_stage;
mod persist;
mod previous;
mod resolve;
pub mod rollup;
mod rollup_stage;
mod validate;
pub mod vee;
pub mod writer;

use crate::alarms::AlarmKind;
use crate::store::Source;
use chrono::{DateTime, Utc};
use ewoda_common::Volume;
use serde::{Deserialize, Serialize};

pub use writer::{spawn, write_items, BatchReport, PipelineHandle, WriterConfig};

/// The stored volume of a register value in m³: rounded half away from zero to the
/// millilitre, the store's resolution. Integer registers are exact multiples already; a real
/// (f32) register arrives as the meter's own decimal digits (see `wmbus::records`) and is
/// rounded here, once, instead of being refused for its number format. `None` when negative
/// or beyond the store's range.
pub fn stored_volume(m3: rust_decimal::Decimal) -> Option<Volume> {
    let ml = m3
        .checked_mul(rust_decimal::Decimal::from(1_000_000))?
        .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    i64::try_from(ml)
        .ok()
        .filter(|ml| *ml >= 0)
        .map(Volume::from_ml)
}

/// How a source names a meter: by the serial printed on it, or by its wM-Bus identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeterRef {
    /// `meter.serial`.
    Serial(String),
    /// `meter.manufacturer` (3 letters) + `meter.radio_id` (8 hex digits, upper case).
    Radio { manufacturer: String, id: String },
}

impl std::fmt::Display for MeterRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MeterRef::Serial(s) => write!(f, "{s}"),
            MeterRef::Radio { manufacturer, id } => write!(f, "{manufacturer} {id}"),
        }
    }
}

/// A status flag a meter reported with a reading: `active: false` clears an open alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusFlag {
    pub kind: AlarmKind,
    pub active: bool,
}

/// One register reading as a source produced it (radio decoder, MQTT, file, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterReading {
    pub meter: MeterRef,
    pub read_at: DateTime<Utc>,
    #[serde(with = "volume_ml")]
    pub volume: Volume,
    /// Only the kinds the source knows about; kinds not listed leave alarms as they are.
    pub status: Vec<StatusFlag>,
    pub source: Source,
}

/// An alarm a device reported on its own (e.g. the MQTT `alarm` topic).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmEvent {
    pub meter: MeterRef,
    pub kind: AlarmKind,
    pub active: bool,
    pub at: DateTime<Utc>,
    pub details: serde_json::Value,
    pub source: Source,
}

/// Input that could not be used; stored in `dead_letter` in the batch transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub source: Source,
    pub payload: Vec<u8>,
    /// Low-cardinality reason class for metrics (`malformed`, `unknown_meter`, …).
    pub class: &'static str,
    pub reason: String,
}

/// What a source hands to the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Reading(MeterReading),
    Alarm(AlarmEvent),
    DeadLetter(DeadLetter),
}

/// Runs once the item it came with is committed (e.g. sends the MQTT PUBACK).
pub struct Ack(Box<dyn FnOnce() + Send + 'static>);

impl Ack {
    /// Wraps the action to run after commit.
    pub fn new(f: impl FnOnce() + Send + 'static) -> Self {
        Ack(Box::new(f))
    }

    /// Runs the action.
    pub fn fire(self) {
        (self.0)()
    }
}

impl std::fmt::Debug for Ack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ack")
    }
}

/// An item with the acknowledgement to send after it is durable.
#[derive(Debug)]
pub struct Input {
    pub item: Item,
    pub ack: Option<Ack>,
}

mod volume_ml {
    use ewoda_common::Volume;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Volume, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(v.ml())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Volume, D::Error> {
        i64::deserialize(d).map(Volume::from_ml)
    }
}
