//! The Modbus source in the pipeline: runs [`modbus::run_all`] for a configured set of
//! devices and turns each [`ModbusSample`] into a reading of the meter with the configured
//! serial (`source = modbus`). A Modbus device can be polled again, so no spill queue.

use crate::error::Error;
use crate::metrics::Metrics;
use crate::modbus::{self, ModbusConfig, ModbusError, ModbusSample};
use crate::pipeline::{DeadLetter, Input, Item, MeterReading, MeterRef};
use crate::store::Source;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// The pipeline item of one sample: a reading by serial, or a dead letter when the unit has
/// no `meter_serial` configured.
pub fn sample_to_item(s: ModbusSample) -> Item {
    match s.meter_serial {
        Some(serial) => Item::Reading(MeterReading {
            meter: MeterRef::Serial(serial),
            read_at: crate::radio::whole_seconds(s.read_at),
            volume: s.volume,
            status: Vec::new(),
            source: Source::Modbus,
        }),
        None => Item::DeadLetter(DeadLetter {
            source: Source::Modbus,
            payload: s.volume.ml().to_string().into_bytes(),
            class: "unknown_meter",
            reason: format!(
                "{} unit {}: no meter_serial configured for this unit",
                s.endpoint, s.unit
            ),
        }),
    }
}

/// Maps a start-up failure of the Modbus devices to the collector's error.
fn setup_error(e: ModbusError) -> Error {
    match e {
        ModbusError::Connect { endpoint, source } => Error::Io {
            path: endpoint,
            source,
        },
        other => Error::Config {
            field: "modbus".into(),
            message: other.to_string(),
        },
    }
}

/// Polls every device and forwards samples to `sink` until `shutdown` turns true.
pub async fn run(
    cfg: ModbusConfig,
    sink: mpsc::Sender<Input>,
    mut shutdown: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
) -> Result<(), Error> {
    cfg.validate().map_err(setup_error)?;
    let (tx, mut rx) = mpsc::channel::<ModbusSample>(256);
    let mut pollers =
        tokio::spawn(async move { modbus::run_all_counted(&cfg, tx, Some(&metrics)).await });
    loop {
        tokio::select! {
            s = rx.recv() => match s {
                Some(s) => {
                    if sink.send(Input { item: sample_to_item(s), ack: None }).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            r = &mut pollers => {
                return match r {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(setup_error(e)),
                    Err(e) => Err(Error::Config { field: "modbus".into(), message: format!("pollers stopped: {e}") }),
                };
            }
            _ = shutdown.changed() => break,
        }
    }
    // Pollers stop when their next sample finds the channel closed.
    drop(rx);
    pollers.abort();
    Ok(())
}
