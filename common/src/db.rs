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
    let opts = connect_options(url)?;
    pool_options(max_connections)
        .connect_with(opts)
        .await
        .map_err(|e| connect_error(url, &e))
}

/// The portal's default pool size: two connections per core of this machine, and one more
/// (the rule of thumb of HikariCP's "About Pool Sizing": more connections than PostgreSQL has
/// cores to run them only queue inside it, and switch between them). One of them listens for
/// changed sessions and roles. When PostgreSQL has a machine of its own, count its cores
/// instead with `--db-connections`.
pub fn web_connections_default() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    u32::try_from(cores * 2 + 1).unwrap_or(u32::MAX)
}

/// [`connect`] for the web portal ([`for_web`], [`web_pool`]).
pub async fn connect_web(url: &str, max_connections: u32) -> Result<PgPool, Error> {
    let opts = connect_options(url)?;
    web_pool(max_connections)
        .connect_with(for_web(opts))
        .await
        .map_err(|e| connect_error(url, &e))
}

/// The portal's connection settings: its requests are many small queries each scoped by one
/// id, for which PostgreSQL would otherwise plan a custom plan on every execution (over every
/// partition of `reading`) at more cost than running the query; a generic plan is made once
/// per connection and statement, and partitions are pruned when it runs.
pub fn for_web(opts: PgConnectOptions) -> PgConnectOptions {
    opts.options([("plan_cache_mode", "force_generic_plan")])
}

/// A connection idle for longer than this is pinged before a request gets it.
const TRUST_IDLE_FOR: Duration = Duration::from_millis(500);

/// The portal's pool. sqlx pings every connection before handing it out, one more round trip
/// on each page; here only a connection idle for longer than [`TRUST_IDLE_FOR`] is pinged
/// (HikariCP's rule): one in use a moment ago is alive, and a dead one is replaced.
pub fn web_pool(max_connections: u32) -> PgPoolOptions {
    pool_options(max_connections)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > TRUST_IDLE_FOR {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
}

/// A checked DATABASE_URL.
fn connect_options(url: &str) -> Result<PgConnectOptions, Error> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(Error::Config {
            variable: "DATABASE_URL",
            message: "must start with postgres:// (e.g. postgres://user@host:5432/ewoda)".into(),
        });
    }
    PgConnectOptions::from_str(url).map_err(|e| Error::Config {
        variable: "DATABASE_URL",
        message: format!("not a PostgreSQL URL: {e}"),
    })
}

fn connect_error(url: &str, e: &sqlx::Error) -> Error {
    Error::DbConnect {
        target: describe(url),
        reason: one_line(&e.to_string()),
        hint: "check that the server runs and DATABASE_URL is right, or unset DATABASE_URL to let ewoda start a private PostgreSQL",
    }
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
