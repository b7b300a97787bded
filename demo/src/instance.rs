//! Which databases `ewoda demo` may seed. The demo writes well-known logins (one password for
//! all), so it seeds only a database ewoda itself created: one of its private cluster, or one
//! it created on the server `DATABASE_URL` names (when that database did not exist yet) and
//! marked with a comment. Any other database — a production one above all — is refused before
//! anything is written to it.

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection, Row};
use std::str::FromStr;

/// The comment on a database ewoda created for the demo.
pub const DEMO_MARK: &str = "ewoda demo database (created by ewoda demo; holds demo logins)";

/// Why a database cannot take the demo.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("refusing to seed the demo into database {database:?} at {server}: ewoda did not create it (it has no ewoda demo mark), and the demo writes logins with a published password. Unset DATABASE_URL to use the demo's private PostgreSQL, or name a database that does not exist yet (the demo creates and marks it)")]
    NotCreatedByEwoda { database: String, server: String },
    #[error("DATABASE_URL: {0}")]
    Url(String),
    #[error("checking database {database:?}: {source}")]
    Db {
        database: String,
        source: sqlx::Error,
    },
}

/// Makes sure `url` names a database ewoda created for the demo: creates and marks it when it
/// does not exist, marks it when it belongs to the private cluster (`private`), and refuses
/// it otherwise.
pub async fn prepare_database(url: &str, private: bool) -> Result<(), InstanceError> {
    let opts = PgConnectOptions::from_str(url).map_err(|e| InstanceError::Url(e.to_string()))?;
    let database = opts.get_database().unwrap_or("postgres").to_string();
    let db_err = |source| InstanceError::Db {
        database: database.clone(),
        source,
    };
    match opts.connect().await {
        Ok(mut conn) => {
            let mark = current_mark(&mut conn).await.map_err(db_err)?;
            let result = if mark.as_deref() == Some(DEMO_MARK) {
                Ok(())
            } else if private {
                mark_database(&mut conn, &database).await.map_err(db_err)
            } else {
                Err(InstanceError::NotCreatedByEwoda {
                    server: format!("{}:{}", opts.get_host(), opts.get_port()),
                    database: database.clone(),
                })
            };
            conn.close().await.ok();
            result
        }
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => {
            create_marked(&opts, &database).await.map_err(db_err)
        }
        Err(e) => Err(db_err(e)),
    }
}

async fn current_mark(conn: &mut PgConnection) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query(
        "select shobj_description(oid, 'pg_database') as mark
         from pg_database where datname = current_database()",
    )
    .fetch_one(conn)
    .await?;
    row.try_get("mark")
}

/// Creates `database` (through the server's `postgres` database) and marks it.
async fn create_marked(opts: &PgConnectOptions, database: &str) -> Result<(), sqlx::Error> {
    let mut admin = opts.clone().database("postgres").connect().await?;
    sqlx::query(&format!("create database {}", quote_ident(database)))
        .execute(&mut admin)
        .await?;
    mark_database(&mut admin, database).await?;
    admin.close().await.ok();
    Ok(())
}

async fn mark_database(conn: &mut PgConnection, database: &str) -> Result<(), sqlx::Error> {
    // COMMENT takes no bind parameters; the mark is a constant without quotes.
    sqlx::query(&format!(
        "comment on database {} is '{DEMO_MARK}'",
        quote_ident(database)
    ))
    .execute(conn)
    .await?;
    Ok(())
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
