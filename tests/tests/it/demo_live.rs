//! The live half of the demo: after seeding, the simulated fleet keeps transmitting over its
//! real transports (dongle and M-Bus ptys, Modbus TCP, MQTT) and the collector stores what it
//! hears — continuing the seeded series without a step backwards.

use chrono::Utc;
use ewoda_common::crypto::MasterKey;
use ewoda_demo::{live, seed, SeedOptions};
use ewoda_tests::{mqtt_url, Scratch, TestDb};
use std::time::Duration;

async fn count(pool: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[tokio::test]
async fn the_seeded_town_keeps_reporting_through_every_transport() {
    let key_hex = "37".repeat(32);
    let key = MasterKey::from_hex(&key_hex).unwrap();
    let db = TestDb::new("live").await;
    let today = ewoda_common::time::local_day(Utc::now());
    let opts = SeedOptions {
        seed: 99,
        meters: 300,
        months: 1,
        today,
        password: "x".into(),
    };
    seed(&db.pool, &key, &opts).await.unwrap();
    let dir = Scratch::new("live");
    std::fs::write(dir.0.join("master.key"), &key_hex).unwrap();

    let demo_alarms = "select count(*) from alarm
         where kind = 'battery_low' and state = 'open' and details ->> 'demo' = 'true'";
    let seeded_alarms = count(&db.pool, demo_alarms).await;
    assert!(
        seeded_alarms > 0,
        "the seed opens the demo customers' alarms"
    );
    let running = live::start(&db.pool, &opts, &db.url(), &mqtt_url(), None, &dir.0)
        .await
        .unwrap();
    let mut sources = Vec::new();
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        sources = sqlx::query_scalar::<_, String>(
            "select distinct source from reading where source <> 'seed' order by 1",
        )
        .fetch_all(&db.pool)
        .await
        .unwrap();
        if sources.len() == 4 {
            break;
        }
    }
    // Every meter with a demo alarm reports live, and the alarm stays open (the meter still
    // reports its low battery) instead of being cleared by the first normal telegram.
    let heard =
        "select count(distinct a.meter_id) from alarm a join reading r on r.meter_id = a.meter_id
         where a.kind = 'battery_low' and a.details ->> 'demo' = 'true' and r.source <> 'seed'";
    for _ in 0..120 {
        if count(&db.pool, heard).await == seeded_alarms {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The writer commits alarms with the readings' batch; give the last one a moment.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let open_after = count(&db.pool, demo_alarms).await;
    let heard_after = count(&db.pool, heard).await;
    running.stop().await;
    assert_eq!(
        sources,
        ["mbus", "modbus", "mqtt", "wmbus"],
        "every transport delivers"
    );
    assert_eq!(
        heard_after, seeded_alarms,
        "every demo alarm meter reported live"
    );
    assert_eq!(
        open_after, seeded_alarms,
        "the live feed cleared a demo customer's alarm"
    );

    // Live readings continue the seeded registers: never below the last seeded value of the
    // same meter, and nothing was refused.
    let backwards: i64 = sqlx::query_scalar(
        "select count(*) from reading l
         join lateral (select volume_ml from reading s where s.meter_id = l.meter_id and s.source = 'seed'
                       order by read_at desc limit 1) s on true
         where l.source <> 'seed' and l.volume_ml < s.volume_ml",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(backwards, 0, "a live reading went below the stored history");
    let dead: Vec<String> = sqlx::query_scalar("select reason from dead_letter")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert!(dead.is_empty(), "dead letters: {dead:?}");
    let flagged: i64 =
        sqlx::query_scalar("select count(*) from reading where source <> 'seed' and quality <> 1")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(flagged, 0, "live readings validate cleanly");
    db.drop_db().await;
}
