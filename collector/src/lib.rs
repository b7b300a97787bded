//! ewoda-collector: reads meters into the time-series store. Sources (radio dongle and
//! handheld sets over serial, wired M-Bus, Modbus, MQTT, reading-set files), telegram
//! decoding, validation (VEE), the batched writer and alarm rules.

pub mod modbus;
pub mod store;
pub mod wmbus;
