//! The crate's one integration-test binary (one link instead of one per file).

mod alarm_lifecycle;
mod collect;
mod common;
mod customer_view;
mod float_registers;
mod modbus_props;
mod modbus_sim;
mod mqtt;
mod mqtt_brokers;
mod mqtt_security;
mod pipeline;
mod reading_set;
mod serial_compact;
mod serial_keystore;
mod serial_mbus;
mod serial_radio;
mod serial_spill;
mod spill;
mod supervised;
mod wmbus_accuracy;
mod wmbus_cli;
mod wmbus_im871a;
mod wmbus_proptest;
mod wmbus_vectors;
