//! The error type of the collector's runtime (configuration, sources, services). Parsing
//! errors of inputs become dead letters instead; the reading-set import has its own
//! `ImportError` because it reports per line.

/// Errors that stop a collector or one of its sources.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("config {field}: {message}")]
    Config { field: String, message: String },
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("MQTT: {0}")]
    Mqtt(String),
    /// A benchmark could not run or found wrong results.
    #[error("bench: {0}")]
    Bench(String),
    #[error(transparent)]
    Common(#[from] ewoda_common::Error),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}
