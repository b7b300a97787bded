//! The crate's one integration-test binary (one link instead of one per file).

mod dongle_pty;
mod fleet;
mod fleet_props;
mod mbus_pty;
mod meter_telegram;
mod modbus_wire;
mod mqtt_devices;
mod runner_inprocess;
mod runner_paths;
mod truth_and_files;
mod wmbus_vectors;
