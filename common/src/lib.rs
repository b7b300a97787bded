//! Cross-cutting pieces every ewoda crate uses: exact money and volume types, configuration,
//! the database pool and migrations, the master-key cipher for meter keys, the private
//! PostgreSQL/Mosquitto instances the CLI starts when no URL is given, and a deterministic PRNG.

pub mod config;
pub mod crypto;
pub mod db;
pub mod error;
pub mod ids;
pub mod rng;
pub mod scope;
pub mod secret;
pub mod services;
pub mod shutdown;
pub mod time;
pub mod units;

pub use error::{Error, Result};
pub use units::{Money, Volume};
