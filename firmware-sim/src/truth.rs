//! Ground truth for tests and the demo: true and registered use per meter per period, register
//! values at instants (JSON lines or CSV), and [`SimClock`], which runs simulated time faster
//! than the wall clock (e.g. a month in a minute).
//!
//! Public API: [`use_rows`] → [`UseRow`], [`register_rows`] → [`RegisterRow`],
//! [`write_use_jsonl`], [`write_use_csv`], [`write_registers_jsonl`], [`write_registers_csv`],
//! [`SimClock`]. Volumes are exact: integer millilitres plus m³ as a decimal string.

use crate::fault::MeterStatus;
use crate::fleet::Fleet;
use crate::profile::MeterKind;
use crate::SimError;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use ewoda_common::Volume;
use serde_json::json;
use std::io::Write;

/// True and registered use of one meter position over `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseRow {
    /// Meter index.
    pub meter: usize,
    /// Serial of the meter installed at `to` (the one a bill would name).
    pub serial: String,
    /// Kind of customer.
    pub kind: MeterKind,
    /// Start (inclusive).
    pub from: DateTime<Utc>,
    /// End (exclusive).
    pub to: DateTime<Utc>,
    /// Water that truly flowed (includes sub-meters for a main meter).
    pub true_use: Volume,
    /// What the registers counted (differs under stuck/tamper faults).
    pub registered_use: Volume,
}

/// The register of one meter at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterRow {
    /// Meter index.
    pub meter: usize,
    /// Serial of the installed meter.
    pub serial: String,
    /// Its wM-Bus id.
    pub id: String,
    /// Its manufacturer code.
    pub manufacturer: String,
    /// The instant.
    pub at: DateTime<Utc>,
    /// Register as displayed, millilitres.
    pub register: Volume,
    /// Status flags.
    pub status: MeterStatus,
}

/// Use over `[from, to)` for the given meters (all meters when `meters` is None).
pub fn use_rows(
    fleet: &Fleet,
    meters: Option<&[usize]>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<UseRow>, SimError> {
    let all: Vec<usize> = (0..fleet.len()).collect();
    let list = meters.unwrap_or(&all);
    list.iter()
        .map(|&i| {
            Ok(UseRow {
                meter: i,
                serial: fleet.generation_at(i, to)?.serial.clone(),
                kind: fleet.meter(i)?.kind(),
                from,
                to,
                true_use: fleet.true_use(i, from, to)?,
                registered_use: fleet.registered_use(i, from, to)?,
            })
        })
        .collect()
}

/// Registers at the given (meter, instant) pairs.
pub fn register_rows(
    fleet: &Fleet,
    at: &[(usize, DateTime<Utc>)],
) -> Result<Vec<RegisterRow>, SimError> {
    at.iter()
        .map(|&(i, t)| {
            let g = fleet.generation_at(i, t)?;
            Ok(RegisterRow {
                meter: i,
                serial: g.serial.clone(),
                id: g.address.id.to_string(),
                manufacturer: g.address.manufacturer.to_string(),
                at: t,
                register: fleet.register_at(i, t)?,
                status: fleet.status_at(i, t)?,
            })
        })
        .collect()
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// m³ with the exact 6 decimals of a millilitre volume.
fn m3(v: Volume) -> String {
    v.m3().to_string()
}

/// One JSON object per line: `{"meter","serial","kind","from","to","true_ml","true_m3",
/// "registered_ml","registered_m3"}`.
pub fn write_use_jsonl<W: Write>(mut w: W, rows: &[UseRow]) -> Result<(), SimError> {
    for r in rows {
        let v = json!({
            "meter": r.meter, "serial": r.serial, "kind": r.kind.as_str(),
            "from": ts(r.from), "to": ts(r.to),
            "true_ml": r.true_use.ml(), "true_m3": m3(r.true_use),
            "registered_ml": r.registered_use.ml(), "registered_m3": m3(r.registered_use),
        });
        serde_json::to_writer(&mut w, &v)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// CSV with header `meter,serial,kind,from,to,true_ml,registered_ml`.
pub fn write_use_csv<W: Write>(mut w: W, rows: &[UseRow]) -> Result<(), SimError> {
    writeln!(w, "meter,serial,kind,from,to,true_ml,registered_ml")?;
    for r in rows {
        writeln!(
            w,
            "{},{},{},{},{},{},{}",
            r.meter,
            r.serial,
            r.kind.as_str(),
            ts(r.from),
            ts(r.to),
            r.true_use.ml(),
            r.registered_use.ml()
        )?;
    }
    Ok(())
}

/// One JSON object per line: `{"meter","serial","id","manufacturer","at","register_ml",
/// "register_m3","status_byte","error_flags"}`.
pub fn write_registers_jsonl<W: Write>(mut w: W, rows: &[RegisterRow]) -> Result<(), SimError> {
    for r in rows {
        let v = json!({
            "meter": r.meter, "serial": r.serial, "id": r.id, "manufacturer": r.manufacturer,
            "at": ts(r.at), "register_ml": r.register.ml(), "register_m3": m3(r.register),
            "status_byte": r.status.status_byte(), "error_flags": r.status.error_flags(),
        });
        serde_json::to_writer(&mut w, &v)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// CSV with header `meter,serial,id,manufacturer,at,register_ml,error_flags`.
pub fn write_registers_csv<W: Write>(mut w: W, rows: &[RegisterRow]) -> Result<(), SimError> {
    writeln!(w, "meter,serial,id,manufacturer,at,register_ml,error_flags")?;
    for r in rows {
        writeln!(
            w,
            "{},{},{},{},{},{},{}",
            r.meter,
            r.serial,
            r.id,
            r.manufacturer,
            ts(r.at),
            r.register.ml(),
            r.status.error_flags()
        )?;
    }
    Ok(())
}

/// Simulated time running `factor` times faster than the wall clock from a start instant.
#[derive(Debug, Clone, Copy)]
pub struct SimClock {
    sim_start: DateTime<Utc>,
    wall_start: std::time::Instant,
    factor: u32,
}

impl SimClock {
    /// Starts now: wall time 0 is `sim_start`; every wall second is `factor` simulated ones.
    pub fn new(sim_start: DateTime<Utc>, factor: u32) -> Self {
        SimClock {
            sim_start,
            wall_start: std::time::Instant::now(),
            factor: factor.max(1),
        }
    }

    /// A clock on which 30 simulated days take `wall` (at least 1 ms).
    pub fn month_in(sim_start: DateTime<Utc>, wall: std::time::Duration) -> Self {
        let ms = wall.as_millis().max(1);
        let factor = (30u128 * 86_400_000 / ms).clamp(1, u128::from(u32::MAX)) as u32;
        Self::new(sim_start, factor)
    }

    /// Speed-up factor.
    pub fn factor(&self) -> u32 {
        self.factor
    }

    /// Simulated start.
    pub fn sim_start(&self) -> DateTime<Utc> {
        self.sim_start
    }

    /// The simulated instant after `wall` of wall time (millisecond resolution).
    pub fn sim_at(&self, wall: std::time::Duration) -> DateTime<Utc> {
        let ms = i64::try_from(wall.as_millis()).unwrap_or(i64::MAX / 2);
        self.sim_start + Duration::milliseconds(ms.saturating_mul(i64::from(self.factor)))
    }

    /// Simulated now.
    pub fn now(&self) -> DateTime<Utc> {
        self.sim_at(self.wall_start.elapsed())
    }

    /// Wall time from the clock's start until simulated instant `t` (zero if already past).
    pub fn wall_offset_of(&self, t: DateTime<Utc>) -> std::time::Duration {
        let sim_ms = (t - self.sim_start).num_milliseconds().max(0) as u64;
        std::time::Duration::from_millis(sim_ms / u64::from(self.factor))
    }

    /// Sleeps (tokio) until simulated instant `t`.
    pub async fn sleep_until(&self, t: DateTime<Utc>) {
        let deadline = self.wall_start + self.wall_offset_of(t);
        tokio::time::sleep_until(deadline.into()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn clock_maps_wall_to_sim() {
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let c = SimClock::month_in(start, std::time::Duration::from_secs(60));
        assert_eq!(c.factor(), 43_200);
        assert_eq!(
            c.sim_at(std::time::Duration::from_secs(60)),
            start + Duration::days(30)
        );
        assert_eq!(
            c.wall_offset_of(start + Duration::days(15)),
            std::time::Duration::from_secs(30)
        );
        assert!(c.now() >= start);
    }
}
