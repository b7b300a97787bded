//! Benchmarks that drive ewoda from the outside: the collector with the simulator (kept out of
//! the collector library, so the simulator is only a dev-dependency there) and the portal with
//! simulated customers over HTTP.

pub mod ingest;
pub mod portal;
