//! ewoda-sim (firmware-sim): a simulated fleet of water meters and the devices that carry
//! their data, speaking the real protocols over real transports, with ground truth.
//!
//! Modules:
//! - [`fleet`]: the deterministic fleet ([`Fleet::generate`]), registers, statuses, readouts.
//! - [`profile`]: hourly consumption profiles by kind of customer.
//! - [`fault`]: injectable faults and the status bits meters emit.
//! - [`truth`]: ground-truth export and the accelerated [`truth::SimClock`].
//! - [`wmbus`]: an independent wireless M-Bus encoder (format A/B, OMS mode 5).
//! - [`im871a`]: the IMST iM871A USB dongle (HCI framing) and walk-by sessions.
//! - [`reading_set`]: the handheld reading application's TXT/CSV export.
//! - [`mbus`]: wired M-Bus slaves (SND_NKE → E5, REQ_UD2 → RSP_UD) on a serial stream.
//! - [`modbus`]: district bulk meters as Modbus TCP and RTU servers.
//! - [`mqtt`]: telemetry devices publishing readings and alarms (QoS 1, schema v1).
//! - [`runner`]: the whole simulated fleet on its transports as one long-running process.
//!
//! This crate shares no protocol code with ewoda-collector, by design (SPEC §2).

pub mod error;
pub mod fault;
pub mod fleet;
pub mod im871a;
pub mod mbus;
pub mod modbus;
pub mod mqtt;
pub mod profile;
pub mod reading_set;
pub mod runner;
pub mod truth;
pub mod wmbus;

pub use error::SimError;
pub use fault::{Fault, FaultKind, MeterStatus};
pub use fleet::{Fleet, SimMeter, DEFAULT_FLEET_SIZE};
pub use profile::MeterKind;
