//! Meter AES keys for the radio decoder, from the database: `meter.aes_key_enc` opened with
//! the master key and cached in memory by (manufacturer, radio id). The decoder's
//! [`KeyLookup`] is synchronous, so lookups read the cache only; sources call
//! [`KeyStore::reload_after_miss`] when a telegram names a meter the cache does not know (a
//! meter added since the last load) and [`KeyStore::refresh_every`] runs the periodic reload.
//! Keys are never logged.
//!
//! Keys are sealed for their meter (`manufacturer:radio id` as AEAD associated data, see
//! `ewoda_common::crypto`): a sealed key copied onto another meter's row does not open. Keys
//! still in the old unbound format are re-sealed for their meter on every load (the start of
//! `ewoda collect`, and each reload), in place and only if the row still holds the old bytes.

use crate::error::Error;
use crate::wmbus::KeyLookup;
use ewoda_common::crypto::{meter_key_label, random_nonce, MasterKey};
use sqlx::{PgPool, Row};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

type Keys = HashMap<(String, String), [u8; 16]>;

#[derive(Debug, Default)]
struct Cache {
    keys: Keys,
    loaded_at: Option<Instant>,
    /// Meters that have a sealed key the master key cannot open (counted, never retried).
    unopenable: usize,
}

/// One meter's sealed key as stored.
struct SealedRow {
    meter_id: i64,
    manufacturer: String,
    radio_id: String,
    sealed: Vec<u8>,
}

impl SealedRow {
    fn from_row(row: &sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        Ok(SealedRow {
            meter_id: row.try_get("meter_id")?,
            manufacturer: row.try_get("manufacturer")?,
            radio_id: row.try_get("radio_id")?,
            sealed: row.try_get("aes_key_enc")?,
        })
    }
}

/// The DB-backed key cache; clones share it.
#[derive(Clone)]
pub struct KeyStore {
    pool: PgPool,
    master: MasterKey,
    cache: Arc<RwLock<Cache>>,
    /// Reloads after a miss happen at most this often.
    min_reload_gap: Duration,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("meters", &self.len())
            .finish_non_exhaustive()
    }
}

impl KeyStore {
    /// Loads every meter key from the database.
    pub async fn load(pool: PgPool, master: MasterKey) -> Result<Self, Error> {
        let store = KeyStore {
            pool,
            master,
            cache: Arc::new(RwLock::new(Cache::default())),
            min_reload_gap: Duration::from_secs(5),
        };
        store.reload().await?;
        Ok(store)
    }

    /// Sets how often a miss may trigger a reload (default 5 s).
    pub fn with_min_reload_gap(mut self, gap: Duration) -> Self {
        self.min_reload_gap = gap;
        self
    }

    /// Reads all keys again (re-sealing old unbound ones for their meter); returns how many
    /// meters have a usable key.
    pub async fn reload(&self) -> Result<usize, Error> {
        let rows = sqlx::query(
            "select meter_id, manufacturer::text as manufacturer, radio_id::text as radio_id,
                    aes_key_enc
             from meter where radio_id is not null and aes_key_enc is not null",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut keys = Keys::with_capacity(rows.len());
        let mut unopenable = 0;
        for row in rows {
            let sealed = SealedRow::from_row(&row)?;
            match self.open_or_reseal(&sealed).await {
                Ok(k) => {
                    keys.insert(
                        (sealed.manufacturer, sealed.radio_id.to_ascii_uppercase()),
                        k,
                    );
                }
                Err(e) => {
                    unopenable += 1;
                    tracing::warn!(manufacturer = %sealed.manufacturer, radio_id = %sealed.radio_id,
                        error = %e, "meter key cannot be opened");
                }
            }
        }
        let n = keys.len();
        let mut c = self.cache.write().unwrap_or_else(|p| p.into_inner());
        c.keys = keys;
        c.loaded_at = Some(Instant::now());
        c.unopenable = unopenable;
        tracing::debug!(meters = n, unopenable, "meter keys loaded");
        Ok(n)
    }

    /// Opens a bound key, or opens an old unbound one and stores it re-sealed for its meter.
    async fn open_or_reseal(&self, row: &SealedRow) -> Result<[u8; 16], Error> {
        let label = meter_key_label(&row.manufacturer, &row.radio_id);
        if !MasterKey::is_unbound(&row.sealed) {
            return Ok(self.master.open_for(&label, &row.sealed)?);
        }
        let key = self.master.open(&row.sealed)?;
        let bound = self.master.seal_for(&label, &key, random_nonce()?);
        // Guarded by the old bytes: a concurrent re-seal (another collector) or a new key set
        // meanwhile wins, and this one is dropped.
        let done = sqlx::query(
            "update meter set aes_key_enc = $1, updated_at = now()
             where meter_id = $2 and aes_key_enc = $3",
        )
        .bind(&bound)
        .bind(row.meter_id)
        .bind(&row.sealed)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            tracing::info!(meter_id = row.meter_id, %label, "meter key re-sealed for its meter");
        }
        Ok(key)
    }

    /// Reloads when the meter is not cached and the last load is older than the minimum gap;
    /// returns whether the meter is known afterwards.
    pub async fn reload_after_miss(&self, manufacturer: &str, id: &str) -> bool {
        if self.key(manufacturer, id).is_some() {
            return true;
        }
        let stale = {
            let c = self.cache.read().unwrap_or_else(|p| p.into_inner());
            c.loaded_at
                .is_none_or(|t| t.elapsed() >= self.min_reload_gap)
        };
        if stale {
            if let Err(e) = self.reload().await {
                tracing::warn!(error = %e, "meter keys could not be reloaded");
            }
        }
        self.key(manufacturer, id).is_some()
    }

    /// Reloads every `every` until the task is dropped.
    pub async fn refresh_every(self, every: Duration) {
        let mut tick = tokio::time::interval(every.max(Duration::from_secs(1)));
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = self.reload().await {
                tracing::warn!(error = %e, "meter keys could not be reloaded");
            }
        }
    }

    /// Meters with a usable key.
    pub fn len(&self) -> usize {
        self.cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys
            .len()
    }

    /// Whether no meter has a usable key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Meters whose sealed key the master key could not open at the last load.
    pub fn unopenable(&self) -> usize {
        self.cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .unopenable
    }
}

impl KeyLookup for KeyStore {
    fn key(&self, manufacturer: &str, id: &str) -> Option<[u8; 16]> {
        let c = self.cache.read().unwrap_or_else(|p| p.into_inner());
        // The decoder prints non-BCD ids in lower case; the table stores upper case.
        c.keys
            .get(&(manufacturer.to_string(), id.to_ascii_uppercase()))
            .copied()
    }
}
