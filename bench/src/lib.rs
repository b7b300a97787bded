//! Benchmarks that drive the collector from the outside with the simulator (kept out of the
//! collector library, so the simulator is only a dev-dependency there).

pub mod ingest;
