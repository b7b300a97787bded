//! ewoda-collector: reads meters into the time-series store. Sources (radio dongle and
//! handheld sets over serial, wired M-Bus, Modbus, MQTT, reading-set files), telegram
//! decoding, validation (VEE), the batched writer and alarm rules.

pub mod alarms;
pub mod collect;
pub mod config;
pub mod error;
pub mod im871a;
pub mod keystore;
pub mod mbus_master;
pub mod metrics;
pub mod modbus;
pub mod modbus_source;
pub mod mqtt;
pub mod pipeline;
pub mod quality;
pub mod query;
pub mod radio;
pub mod reading_set;
pub mod spill;
pub mod store;
pub mod supervisor;
pub mod wmbus;
