//! The DB-backed key store: sealed keys opened with the master key, a meter added after the
//! load found by the reload a miss triggers, keys under another master key refused.

use ewoda_collector::keystore::KeyStore;
use ewoda_collector::wmbus::KeyLookup;
use ewoda_common::crypto::MasterKey;
use sqlx::PgPool;
use std::time::Duration;

async fn add(pool: &PgPool, serial: &str, radio_id: &str, sealed: Vec<u8>) {
    sqlx::query(
        "insert into meter (serial, manufacturer, model, radio_id, aes_key_enc)
         values ($1, 'APA', 'X', $2, $3)",
    )
    .bind(serial)
    .bind(radio_id)
    .bind(sealed)
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn keys_load_reload_on_a_miss_and_refuse_a_foreign_master_key(pool: PgPool) {
    let master = MasterKey::from_hex(&"a1".repeat(32)).unwrap();
    let other = MasterKey::from_hex(&"b2".repeat(32)).unwrap();
    let k1 = [1u8; 16];
    add(&pool, "S1", "0012AB34", master.seal(&k1, [1; 12])).await;
    add(&pool, "S2", "55667788", other.seal(&[2u8; 16], [2; 12])).await;
    let store = KeyStore::load(pool.clone(), master.clone())
        .await
        .unwrap()
        .with_min_reload_gap(Duration::ZERO);
    assert_eq!((store.len(), store.unopenable()), (1, 1));
    // The decoder prints non-BCD ids in lower case.
    assert_eq!(store.key("APA", "0012ab34"), Some(k1));
    assert_eq!(store.key("APA", "55667788"), None);
    assert_eq!(store.key("KAM", "0012ab34"), None);

    let k3 = [3u8; 16];
    add(&pool, "S3", "99990001", master.seal(&k3, [3; 12])).await;
    assert_eq!(store.key("APA", "99990001"), None, "not loaded yet");
    assert!(store.reload_after_miss("APA", "99990001").await);
    assert_eq!(store.key("APA", "99990001"), Some(k3));
    assert!(!store.reload_after_miss("APA", "12121212").await);
    assert!(format!("{store:?}").starts_with("KeyStore { meters: 2"));
}
