//! Helpers for the end-to-end tests: fresh databases on the test server, scratch directories
//! the `postgres` user can reach, and table digests for comparing whole databases.

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The server tests run against (`DATABASE_URL`; `.ci/run` and `scripts/test` set it).
pub fn database_url() -> String {
    std::env::var("DATABASE_URL").expect(
        "DATABASE_URL must point at a PostgreSQL server for the tests (scripts/test sets it)",
    )
}

/// The broker tests run against (`MQTT_URL`, default the local Mosquitto).
pub fn mqtt_url() -> String {
    std::env::var("MQTT_URL").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".to_string())
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A database created for one test, migrated; dropped by [`TestDb::drop_db`].
pub struct TestDb {
    pub pool: PgPool,
    pub name: String,
    admin_url: String,
}

impl TestDb {
    pub async fn new(tag: &str) -> TestDb {
        let admin_url = database_url();
        let name = format!(
            "ewoda_t_{tag}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&admin_url)
            .await
            .expect("connect to the test server");
        sqlx::query(&format!("drop database if exists {name}"))
            .execute(&admin)
            .await
            .expect("drop old test db");
        sqlx::query(&format!("create database {name}"))
            .execute(&admin)
            .await
            .expect("create test db");
        admin.close().await;
        let url = with_database(&admin_url, &name);
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect(&url)
            .await
            .expect("connect to the test db");
        ewoda_common::db::migrate(&pool)
            .await
            .expect("migrations apply");
        TestDb {
            pool,
            name,
            admin_url,
        }
    }

    pub fn url(&self) -> String {
        with_database(&self.admin_url, &self.name)
    }

    pub async fn drop_db(self) {
        self.pool.close().await;
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&self.admin_url)
            .await
            .expect("connect");
        sqlx::query(&format!(
            "drop database if exists {} with (force)",
            self.name
        ))
        .execute(&admin)
        .await
        .expect("drop test db");
    }
}

/// Replaces the database name in a PostgreSQL URL.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// A scratch directory under /var/tmp (reachable by the `postgres` user), removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let p = PathBuf::from(format!(
            "/var/tmp/ewoda-test-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create scratch dir");
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An md5 digest of every row of `table` (volatile timestamp columns left out), so two
/// databases can be compared table by table.
pub async fn table_digest(pool: &PgPool, table: &str) -> String {
    let sql = format!(
        "select coalesce(md5(string_agg(x, '|' order by x)), 'empty') from (
             select (to_jsonb(t) - 'created_at' - 'updated_at' - 'received_at' - 'email_confirmed_at')::text as x
             from {table} t) s"
    );
    sqlx::query_scalar(&sql)
        .fetch_one(pool)
        .await
        .expect("digest query")
}

/// Inserts every meter of a simulated fleet (the generation installed at `at`) with its AES
/// key sealed under `key`; returns the serials by fleet index.
pub async fn insert_fleet(
    pool: &PgPool,
    fleet: &ewoda_sim::Fleet,
    at: chrono::DateTime<chrono::Utc>,
    key: &ewoda_common::crypto::MasterKey,
) -> Vec<String> {
    let mut serials = Vec::new();
    for i in 0..fleet.len() {
        let g = fleet.generation_at(i, at).expect("meter index in range");
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&(i as u64).to_le_bytes());
        sqlx::query(
            "insert into meter (serial, manufacturer, model, radio_id, aes_key_enc, register_digits)
             values ($1, $2, 'SIM-WATER', $3, $4, $5)",
        )
        .bind(&g.serial)
        .bind(g.address.manufacturer.to_string())
        .bind(g.address.id.as_str().to_ascii_uppercase())
        .bind(key.seal(&g.key, nonce))
        .bind(i16::from(fleet.meter(i).expect("meter").register_digits()))
        .execute(pool)
        .await
        .expect("insert meter");
        serials.push(g.serial.clone());
    }
    serials
}
