//! The PostgreSQL pool and the one schema (sqlx migrations in `migrations/`).

use crate::Error;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
pub use sqlx::PgPool;
use std::str::FromStr;
use std::time::Duration;

/// All migrations of the workspace, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Connects with a short timeout so an unreachable server gives a clear error quickly.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, Error> {
    connect_tuned(url, max_connections, |o| o).await
}

/// [`connect`] for the web portal: its requests are many small queries each scoped by one id,
/// for which PostgreSQL would otherwise plan a custom plan on every execution (over every
/// partition of `reading`) at more cost than running the query; a generic plan is made once
/// per connection and statement, and partitions are pruned when it runs.
pub async fn connect_web(url: &str, max_connections: u32) -> Result<PgPool, Error> {
    connect_tuned(url, max_connections, for_web).await
}

/// The portal's connection settings (see [`connect_web`]).
pub fn for_web(opts: PgConnectOptions) -> PgConnectOptions {
    opts.options([("plan_cache_mode", "force_generic_plan")])
}

async fn connect_tuned(
    url: &str,
    max_connections: u32,
    tune: fn(PgConnectOptions) -> PgConnectOptions,
) -> Result<PgPool, Error> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(Error::Config {
            variable: "DATABASE_URL",
            message: "must start with postgres:// (e.g. postgres://user@host:5432/ewoda)".into(),
        });
    }
    let target = describe(url);
    let opts = PgConnectOptions::from_str(url).map_err(|e| Error::Config {
        variable: "DATABASE_URL",
        message: format!("not a PostgreSQL URL: {e}"),
    })?;
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(tune(opts))
        .await
        .map_err(|e| Error::DbConnect {
            target,
            reason: one_line(&e.to_string()),
            hint: "check that the server runs and DATABASE_URL is right, or unset DATABASE_URL to let ewoda start a private PostgreSQL",
        })
}

/// Applies every pending migration.
pub async fn migrate(pool: &PgPool) -> Result<(), Error> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// Host, port and database of a URL, without the password, for messages.
pub fn describe(url: &str) -> String {
    match PgConnectOptions::from_str(url) {
        Ok(o) => format!(
            "{}:{}/{}",
            o.get_host(),
            o.get_port(),
            o.get_database().unwrap_or("")
        ),
        Err(_) => "<invalid DATABASE_URL>".to_string(),
    }
}

fn one_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}
