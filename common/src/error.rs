//! The one error type of ewoda-common. Every variant carries what a user needs to act.

use std::path::PathBuf;

/// Errors of configuration, infrastructure and shared types.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{variable}: {message}")]
    Config {
        variable: &'static str,
        message: String,
    },

    #[error("cannot connect to PostgreSQL at {target}: {reason}. {hint}")]
    DbConnect {
        target: String,
        reason: String,
        hint: &'static str,
    },

    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    #[error(transparent)]
    Db(#[from] sqlx::Error),

    #[error("{program} not found: install it with `apt-get install {package}`")]
    MissingBinary {
        program: &'static str,
        package: &'static str,
    },

    #[error("installing {package} with apt-get failed: {reason}")]
    Install { package: String, reason: String },

    #[error("data directory {path} is not usable: {reason}")]
    DataDir { path: PathBuf, reason: String },

    #[error("{service} did not start: {reason}")]
    ServiceStart {
        service: &'static str,
        reason: String,
    },

    #[error("port {port} on {host} is already in use: choose another (e.g. --port {suggestion})")]
    PortInUse {
        host: String,
        port: u16,
        suggestion: u16,
    },

    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
    },

    #[error("meter key cipher: {0}")]
    Crypto(String),

    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl Error {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
