//! The one error type of ewoda-sim: every bad input names the field or value it rejects.

use thiserror::Error;

/// Everything that can go wrong in the simulator.
#[derive(Debug, Error)]
pub enum SimError {
    /// A manufacturer code is not three letters A–Z.
    #[error("manufacturer {0:?}: must be three letters A-Z")]
    Manufacturer(String),
    /// A meter number is not eight decimal digits.
    #[error("meter number {0:?}: must be 8 decimal digits")]
    MeterNumber(String),
    /// A meter index outside the fleet.
    #[error("meter index {index}: the fleet has {size} meters")]
    NoSuchMeter { index: usize, size: usize },
    /// A fault that makes no sense for the meter (e.g. a zero-flow leak).
    #[error("fault on meter {meter}: {reason}")]
    Fault { meter: usize, reason: String },
    /// A frame or field too long for its length byte.
    #[error("{what}: {len} bytes, at most {max} fit")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    /// A frame too short to be one.
    #[error("{what}: {len} bytes, at least {min} needed")]
    TooShort {
        what: &'static str,
        len: usize,
        min: usize,
    },
    /// A value that does not fit the record that carries it.
    #[error("{field}: value {value} out of range")]
    OutOfRange { field: &'static str, value: i64 },
    /// A time interval whose end precedes its start.
    #[error("period {from} .. {to}: end before start")]
    Period { from: String, to: String },
    /// Reading or writing a file or serial port failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// Serialising ground truth failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}
