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

async fn sealed_of(pool: &PgPool, radio_id: &str) -> Vec<u8> {
    sqlx::query_scalar("select aes_key_enc from meter where radio_id = $1")
        .bind(radio_id)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn old_unbound_keys_are_resealed_for_their_meter_and_still_decrypt(pool: PgPool) {
    use chrono::TimeZone;
    let fleet = ewoda_sim::Fleet::generate(71, 2);
    let at = chrono::Utc.with_ymd_and_hms(2026, 5, 4, 0, 0, 0).unwrap();
    let master = MasterKey::from_hex(&"c3".repeat(32)).unwrap();
    let mut ids = Vec::new();
    for i in 0..fleet.len() {
        let g = fleet.generation_at(i, at).unwrap();
        let id = g.address.id.as_str().to_ascii_uppercase();
        sqlx::query(
            "insert into meter (serial, manufacturer, model, radio_id, aes_key_enc)
             values ($1, $2, 'SIM', $3, $4)",
        )
        .bind(&g.serial)
        .bind(g.address.manufacturer.to_string())
        .bind(&id)
        // The old format, as installs before the binding stored it.
        .bind(master.seal(&g.key, [i as u8 + 1; 12]))
        .execute(&pool)
        .await
        .unwrap();
        ids.push((g.address.manufacturer.to_string(), id));
    }
    let store = KeyStore::load(pool.clone(), master.clone()).await.unwrap();
    assert_eq!((store.len(), store.unopenable()), (2, 0));

    // Stored again in the bound format, opening for its own meter only.
    let (m0, id0) = &ids[0];
    let (m1, id1) = &ids[1];
    let a = sealed_of(&pool, id0).await;
    assert!(!MasterKey::is_unbound(&a), "re-sealed in place");
    let label_a = ewoda_common::crypto::meter_key_label(m0, id0);
    let label_b = ewoda_common::crypto::meter_key_label(m1, id1);
    assert!(master.open_for(&label_a, &a).is_ok());
    assert!(master.open_for(&label_b, &a).is_err());

    // The re-sealed keys still decrypt the meters' telegrams, after a fresh load too.
    let store = KeyStore::load(pool.clone(), master.clone()).await.unwrap();
    for i in 0..fleet.len() {
        let frame = fleet
            .telegram(i, at, ewoda_sim::wmbus::FrameFormat::NoCrc)
            .unwrap();
        let t = ewoda_collector::wmbus::decode(&frame, &store).expect("decrypts");
        assert!(t.total_m3.is_some(), "meter {i}: {t:?}");
    }

    // A bound key copied onto the other meter's row does not open there.
    sqlx::query("update meter set aes_key_enc = $1 where radio_id = $2")
        .bind(&a)
        .bind(id1)
        .execute(&pool)
        .await
        .unwrap();
    store.reload().await.unwrap();
    assert_eq!((store.len(), store.unopenable()), (1, 1));
    assert_eq!(store.key(m1, id1), None);
    let frame = fleet
        .telegram(1, at, ewoda_sim::wmbus::FrameFormat::NoCrc)
        .unwrap();
    assert!(ewoda_collector::wmbus::decode(&frame, &store).is_err());
}
