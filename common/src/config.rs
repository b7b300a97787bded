//! Typed configuration shared by the subcommands. Values come from flags or environment
//! variables (clap `env`), are validated at start-up and fail fast naming the variable.

use crate::crypto::MasterKey;
use crate::services::ServiceOptions;
use crate::Error;
use std::path::PathBuf;

/// Settings common to every long-running subcommand. `Debug` hides the master key and the
/// database password.
#[derive(Clone, clap::Args)]
pub struct CommonConfig {
    /// PostgreSQL URL; when unset, a private cluster is started in the data directory.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// MQTT broker URL (mqtt://host:port); when unset, a private mosquitto is started.
    #[arg(long, env = "MQTT_URL")]
    pub mqtt_url: Option<String>,

    /// Directory for the private PostgreSQL and Mosquitto, spill files and generated keys.
    #[arg(long, env = "EWODA_DATA_DIR", default_value = ".ewoda")]
    pub data_dir: PathBuf,

    /// 64 hex digits: the key that seals meter AES keys at rest. When unset, one is generated
    /// into `<data dir>/master.key` on first use.
    #[arg(long, env = "EWODA_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
}

impl std::fmt::Debug for CommonConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::secret::{redact_url, redacted_opt};
        f.debug_struct("CommonConfig")
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("mqtt_url", &self.mqtt_url.as_deref().map(redact_url))
            .field("data_dir", &self.data_dir)
            .field("master_key", &redacted_opt(&self.master_key))
            .finish()
    }
}

impl CommonConfig {
    pub fn service_options(&self) -> ServiceOptions {
        ServiceOptions {
            database_url: self.database_url.clone().filter(|s| !s.is_empty()),
            mqtt_url: self.mqtt_url.clone().filter(|s| !s.is_empty()),
            data_dir: self.data_dir.clone(),
            install_missing: true,
        }
    }

    /// The master key from configuration, or the one kept in the data directory (created
    /// with fresh random bytes from the OS on first use).
    pub fn master_key(&self) -> Result<MasterKey, Error> {
        if let Some(k) = &self.master_key {
            return MasterKey::from_hex(k);
        }
        let path = self.data_dir.join("master.key");
        match std::fs::read_to_string(&path) {
            Ok(k) => MasterKey::from_hex(&k).map_err(|e| Error::Config {
                variable: "EWODA_MASTER_KEY",
                message: format!(
                    "{} is not a valid key ({e}); remove it or set EWODA_MASTER_KEY",
                    path.display()
                ),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                use std::io::Read;
                std::fs::File::open("/dev/urandom")
                    .and_then(|mut f| f.read_exact(&mut bytes))
                    .map_err(Error::io("reading /dev/urandom"))?;
                std::fs::create_dir_all(&self.data_dir)
                    .map_err(Error::io(format!("creating {}", self.data_dir.display())))?;
                let hex_key = hex::encode(bytes);
                write_private(&path, &hex_key)?;
                MasterKey::from_hex(&hex_key)
            }
            Err(e) => Err(Error::io(format!("reading {}", path.display()))(e)),
        }
    }
}

fn write_private(path: &std::path::Path, contents: &str) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(Error::io(format!("creating {}", path.display())))?;
    f.write_all(contents.as_bytes())
        .map_err(Error::io(format!("writing {}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_master_key_and_database_password() {
        let c = CommonConfig {
            database_url: Some("postgres://ewoda:db-PASS-55@db:5432/ewoda".into()),
            mqtt_url: None,
            data_dir: PathBuf::from("/srv/ewoda"),
            master_key: Some("ab".repeat(32)),
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("db-PASS-55"), "{shown}");
        assert!(!shown.contains(&"ab".repeat(32)), "{shown}");
        assert!(
            shown.contains("[redacted]") && shown.contains("/srv/ewoda"),
            "{shown}"
        );
    }
}
