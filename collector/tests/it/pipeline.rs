//! The writer against a real PostgreSQL: exactly-once storage, VEE outcomes, dead letters,
//! incremental rollups equal to a full recompute, alarms with outbox rows.

use crate::common;

use chrono::NaiveDate;
use common::*;
use ewoda_collector::alarms::{self, AlarmKind, RuleConfig};
use ewoda_collector::pipeline::vee::VeeConfig;
use ewoda_collector::pipeline::writer::{process_batch_cached, MeterCache, PartitionCover};
use ewoda_collector::pipeline::{write_items, BatchReport, Item, MeterReading, MeterRef};
use ewoda_collector::quality::*;
use ewoda_collector::store::{self, Source};
use ewoda_common::Volume;
use sqlx::PgPool;

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn same_batch_twice_is_stored_once(pool: PgPool) {
    let m = meter(&pool, "0012345", None).await;
    let batch: Vec<Item> = (0..50)
        .map(|i| reading("0012345", at(i * 15), 1_000_000 + i * 1000))
        .collect();
    let cfg = VeeConfig::default();
    let first = write_items(&pool, &cfg, &batch).await.unwrap();
    assert_eq!(
        (first.readings, first.stored, first.duplicates),
        (50, 50, 0)
    );
    let second = write_items(&pool, &cfg, &batch).await.unwrap();
    assert_eq!(
        (second.readings, second.stored, second.duplicates),
        (50, 0, 50)
    );
    let rows = stored(&pool, m).await;
    assert_eq!(rows.len(), 50);
    assert!(rows.iter().all(|r| r.2 == VALIDATED));
    assert_eq!(rows[49], (at(49 * 15), 1_049_000, VALIDATED));
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn vee_flags_and_dead_letters(pool: PgPool) {
    let m = meter(&pool, "A1", Some("12345678")).await;
    sqlx::query("update meter set register_digits = 5 where meter_id = $1")
        .bind(m)
        .execute(&pool)
        .await
        .unwrap();
    let cfg = VeeConfig::default();
    let radio = |t, ml| {
        Item::Reading(MeterReading {
            meter: MeterRef::Radio {
                manufacturer: "apa".into(),
                id: "12345678".into(),
            },
            read_at: at(t),
            volume: Volume::from_ml(ml),
            status: vec![],
            source: Source::Wmbus,
        })
    };
    let items = vec![
        reading("A1", at(0), 99_999_500_000),
        // Two receivers heard the same telegram 20 s apart: one reading.
        radio(60, 99_999_800_000),
        Item::Reading(MeterReading {
            meter: MeterRef::Serial("A1".into()),
            read_at: at(60) + chrono::Duration::seconds(20),
            volume: Volume::from_ml(99_999_800_000),
            status: vec![],
            source: Source::Wmbus,
        }),
        reading("A1", at(120), 200_000),    // rollover: 0.4 m³ used
        reading("A1", at(180), 150_000),    // reverse flow
        reading("A1", at(240), 50_000_000), // 49.85 m³ in an hour: implausible
        reading("NOPE", at(0), 1),
    ];
    let r = write_items(&pool, &cfg, &items).await.unwrap();
    assert_eq!(
        (r.readings, r.stored, r.duplicates, r.dead_letters),
        (7, 5, 1, 1)
    );
    assert_eq!(
        stored(&pool, m).await,
        vec![
            (at(0), 99_999_500_000, VALIDATED),
            (at(60), 99_999_800_000, VALIDATED),
            (at(120), 200_000, VALIDATED | ROLLOVER),
            (at(180), 150_000, REVERSE_FLOW),
            (at(240), 50_000_000, IMPLAUSIBLE),
        ]
    );
    assert_eq!(
        dead_reasons(&pool).await,
        vec!["unknown meter NOPE".to_string()]
    );
    let alarms: Vec<(String, String, i32)> =
        sqlx::query_as("select kind, state, occurrences from alarm where meter_id = $1")
            .bind(m)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(alarms, vec![("reverse_flow".into(), "open".into(), 1)]);
    assert_eq!(
        outbox(&pool).await,
        vec![("console".into(), "alarm_opened".into(), None)]
    );
    // A radio repeat of an already stored telegram, received later: still one reading.
    let again = write_items(&pool, &cfg, &[radio(60, 99_999_800_000)])
        .await
        .unwrap();
    assert_eq!((again.stored, again.duplicates), (0, 1));
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn readings_of_a_removed_meter_are_rejected_and_replacement_flagged(pool: PgPool) {
    let old = meter(&pool, "OLD1", None).await;
    let new = meter(&pool, "NEW1", None).await;
    let p = premises(&pool).await;
    install(
        &pool,
        old,
        p,
        "2020-01-01T00:00:00Z",
        Some("2026-05-01T06:00:00Z"),
    )
    .await;
    install(&pool, new, p, "2026-05-01T06:00:00Z", None).await;
    let cfg = VeeConfig::default();
    let items = vec![
        reading("OLD1", at(60), 5_000_000),
        reading("OLD1", at(7 * 60), 5_100_000),
        reading("NEW1", at(7 * 60), 10_000),
        reading("NEW1", at(8 * 60), 20_000),
    ];
    let r = write_items(&pool, &cfg, &items).await.unwrap();
    assert_eq!((r.stored, r.dead_letters), (3, 1));
    assert_eq!(
        dead_reasons(&pool).await,
        vec!["meter OLD1 was removed at 2026-05-01T06:00:00+00:00; reading at 2026-05-01T07:00:00+00:00 rejected".to_string()]
    );
    assert_eq!(
        stored(&pool, new).await,
        vec![
            (at(420), 10_000, VALIDATED | REPLACEMENT),
            (at(480), 20_000, VALIDATED)
        ]
    );
    assert_eq!(
        stored(&pool, old).await,
        vec![(at(60), 5_000_000, VALIDATED)]
    );
}

type Daily = (
    i64,
    NaiveDate,
    i64,
    i64,
    i64,
    i32,
    i16,
    Option<String>,
    Option<i16>,
);

async fn daily(pool: &PgPool) -> Vec<Daily> {
    sqlx::query_as(
        "select meter_id, day, first_volume_ml, last_volume_ml, consumption_ml, reading_count, quality,
                last_source, last_quality
         from reading_daily order by meter_id, day",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn incremental_rollups_equal_full_recompute(pool: PgPool) {
    meter(&pool, "R1", None).await;
    meter(&pool, "R2", None).await;
    sqlx::query("update meter set register_digits = 4")
        .execute(&pool)
        .await
        .unwrap();
    // Five days of 3-hourly readings, R2 wrapping its 4-digit register on day 3.
    let mut all = Vec::new();
    for k in 0..40i64 {
        all.push(reading("R1", at(k * 180), 1_000_000 + k * k * 7_000));
        let r2 = (9_999_000_000 + k * 60_000_000) % 10_000_000_000;
        all.push(reading("R2", at(k * 180 + 7), r2));
    }
    // Delivered out of order, in uneven batches; some days arrive late.
    let mut shuffled: Vec<Item> = Vec::new();
    for chunk in [3usize, 0, 4, 1, 2] {
        shuffled.extend(all.iter().skip(chunk).step_by(5).cloned());
    }
    let cfg = VeeConfig::default();
    for batch in shuffled.chunks(13) {
        write_items(&pool, &cfg, batch).await.unwrap();
    }
    let incremental = daily(&pool).await;
    assert_eq!(incremental.len(), 2 * 5);
    // Each day keeps its last reading's source and quality flags, on either path.
    assert!(
        incremental
            .iter()
            .all(|d| d.7.as_deref() == Some("mqtt") && d.8.is_some()),
        "{incremental:?}"
    );
    let total: i64 = incremental
        .iter()
        .filter(|d| d.0 == incremental[0].0)
        .map(|d| d.4)
        .sum();
    assert_eq!(total, 39 * 39 * 7_000);
    let mut tx = pool.begin().await.unwrap();
    store::rollup_days(
        &mut tx,
        NaiveDate::from_ymd_opt(2026, 4, 30).unwrap(),
        NaiveDate::from_ymd_opt(2026, 5, 8).unwrap(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(daily(&pool).await, incremental);
    let r2_total: i64 = incremental
        .iter()
        .filter(|d| d.0 != incremental[0].0)
        .map(|d| d.4)
        .sum();
    assert_eq!(r2_total, 39 * 60_000_000);
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn alarms_open_dedupe_clear_with_outbox(pool: PgPool) {
    let m = meter(&pool, "L1", None).await;
    let customer = customer_with_meter(&pool, m, Some(true)).await;
    let m2 = meter(&pool, "L2", None).await;
    customer_with_meter(&pool, m2, Some(false)).await;
    let cfg = VeeConfig::default();
    let leak = [(AlarmKind::Leak, true)];
    let r = write_items(
        &pool,
        &cfg,
        &[
            reading_with("L1", at(0), 1_000, &leak),
            reading_with("L2", at(0), 1_000, &leak),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.alarms_opened, 2);
    let r = write_items(&pool, &cfg, &[reading_with("L1", at(15), 2_000, &leak)])
        .await
        .unwrap();
    assert_eq!((r.alarms_opened, r.alarms_repeated), (0, 1));
    let rows: Vec<(String, i32, String)> = sqlx::query_as(
        "select state, occurrences, last_seen_at::text from alarm where meter_id = $1",
    )
    .bind(m)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![("open".into(), 2, "2026-05-01 00:15:00+00".into())]
    );
    let r = write_items(
        &pool,
        &cfg,
        &[reading_with(
            "L1",
            at(30),
            3_000,
            &[(AlarmKind::Leak, false)],
        )],
    )
    .await
    .unwrap();
    assert_eq!(r.alarms_cleared, 1);
    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("select state, cleared_at::text from alarm where meter_id = $1")
            .bind(m)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![("cleared".into(), Some("2026-05-01 00:30:00+00".into()))]
    );
    let c = Some(customer);
    assert_eq!(
        outbox(&pool).await,
        vec![
            ("console".into(), "alarm_opened".into(), None),
            ("email".into(), "alarm_opened".into(), c),
            ("sms".into(), "alarm_opened".into(), c),
            ("console".into(), "alarm_opened".into(), None),
            ("console".into(), "alarm_cleared".into(), None),
            ("email".into(), "alarm_cleared".into(), c),
            ("sms".into(), "alarm_cleared".into(), c),
        ]
    );
    // A new leak after clearing opens a new alarm.
    let r = write_items(&pool, &cfg, &[reading_with("L1", at(45), 4_000, &leak)])
        .await
        .unwrap();
    assert_eq!(r.alarms_opened, 1);
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn suspected_leak_rule_from_hourly_readings(pool: PgPool) {
    let m = meter(&pool, "S1", None).await;
    let cfg = VeeConfig::default();
    // 26 hours of hourly readings, flow every hour.
    let items: Vec<Item> = (0..26)
        .map(|h| reading("S1", at(h * 60), 1_000_000 + h * 5_000))
        .collect();
    write_items(&pool, &cfg, &items).await.unwrap();
    let rules = RuleConfig { no_data_days: None };
    let r = alarms::evaluate_series_rules(&pool, &rules, at(26 * 60))
        .await
        .unwrap();
    assert_eq!((r.opened, r.cleared), (1, 0));
    let r = alarms::evaluate_series_rules(&pool, &rules, at(26 * 60 + 30))
        .await
        .unwrap();
    assert_eq!((r.opened, r.repeated), (0, 1));
    // Hour 26→27 without flow clears it.
    let still = write_items(
        &pool,
        &cfg,
        &[
            reading("S1", at(26 * 60), 1_125_000),
            reading("S1", at(27 * 60 - 1), 1_125_000),
        ],
    )
    .await
    .unwrap();
    assert_eq!((still.stored, still.zero_use), (2, 2));
    let r = alarms::evaluate_series_rules(&pool, &rules, at(27 * 60))
        .await
        .unwrap();
    assert_eq!(r.cleared, 1);
    let kinds: Vec<(String, String)> =
        sqlx::query_as("select kind, state from alarm where meter_id = $1")
            .bind(m)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(kinds, vec![("suspected_leak".into(), "cleared".into())]);
    // No data for 3 days.
    let r = alarms::evaluate_series_rules(
        &pool,
        &RuleConfig::default(),
        at(27 * 60) + chrono::Duration::days(4),
    )
    .await
    .unwrap();
    assert_eq!(r.opened, 1);
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn a_batch_reaching_a_missing_month_creates_its_partition(pool: PgPool) {
    let m = meter(&pool, "H1", None).await;
    let exists = |p: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, bool>("select to_regclass($1) is not null")
                .bind(p)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert!(!exists("reading_2021_03").await);
    let old = chrono::DateTime::parse_from_rfc3339("2021-03-10T12:00:00Z")
        .unwrap()
        .to_utc();
    let r = write_items(&pool, &VeeConfig::default(), &[reading("H1", old, 42_000)])
        .await
        .unwrap();
    assert_eq!(r.stored, 1);
    assert!(exists("reading_2021_03").await);
    assert_eq!(stored(&pool, m).await, vec![(old, 42_000, VALIDATED)]);
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn nanosecond_times_are_stored_rolled_up_and_alarmed(pool: PgPool) {
    let m = meter(&pool, "N1", None).await;
    let cfg = VeeConfig::default();
    let t = at(30) + chrono::Duration::nanoseconds(123_456_789);
    let r = write_items(
        &pool,
        &cfg,
        &[
            reading("N1", at(0), 1_000_000),
            reading_with("N1", t, 1_250_000, &[(AlarmKind::Leak, true)]),
        ],
    )
    .await
    .unwrap();
    assert_eq!((r.stored, r.alarms_opened), (2, 1));
    let micros = at(30) + chrono::Duration::microseconds(123_456);
    assert_eq!(
        stored(&pool, m).await,
        vec![
            (at(0), 1_000_000, VALIDATED),
            (micros, 1_250_000, VALIDATED)
        ]
    );
    let rows = daily(&pool).await;
    assert_eq!(
        rows,
        vec![(
            m,
            NaiveDate::from_ymd_opt(2026, 5, 1).unwrap(),
            1_000_000,
            1_250_000,
            250_000,
            2,
            VALIDATED,
            Some("wmbus".to_string()),
            Some(VALIDATED)
        )]
    );
    let alarms: Vec<(String, String, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("select kind, state, opened_at from alarm where meter_id = $1")
            .bind(m)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(alarms, vec![("leak".into(), "open".into(), micros)]);
    // The same telegram again, nanoseconds and all: a duplicate, not a second reading.
    let again = write_items(&pool, &cfg, &[reading("N1", t, 1_250_000)])
        .await
        .unwrap();
    assert_eq!((again.stored, again.duplicates), (0, 1));
}

/// One batch through the writer's core with the given meter cache, committed.
async fn batch(pool: &PgPool, cache: &mut MeterCache, items: &[Item]) -> BatchReport {
    let mut tx = pool.begin().await.unwrap();
    let (r, _) = process_batch_cached(
        &mut tx,
        &VeeConfig::default(),
        &PartitionCover::default(),
        cache,
        items,
        at(0),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    r
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn meter_cache_serves_steady_batches_and_looks_up_misses(pool: PgPool) {
    let a = meter(&pool, "CA", None).await;
    let b = meter(&pool, "CB", Some("0000ABCD")).await;
    let radio = |t, ml| {
        Item::Reading(MeterReading {
            meter: MeterRef::Radio {
                manufacturer: "apa".into(),
                id: "0000abcd".into(),
            },
            read_at: at(t),
            volume: Volume::from_ml(ml),
            status: vec![],
            source: Source::Wmbus,
        })
    };
    let mut cache = MeterCache::new(std::time::Duration::from_secs(3600));
    let r = batch(
        &pool,
        &mut cache,
        &[reading("CA", at(0), 1_000), radio(0, 5_000)],
    )
    .await;
    assert_eq!((r.stored, r.dead_letters), (2, 0));
    // A meter created after the cache was filled is looked up on its first miss.
    let new = meter(&pool, "CC", None).await;
    let r = batch(&pool, &mut cache, &[reading("CC", at(0), 7_000)]).await;
    assert_eq!((r.stored, r.dead_letters), (1, 0));
    // Renamed in the database: the cache still resolves the old serial (no lookup) until it
    // expires; a fresh cache no longer does.
    sqlx::query("update meter set serial = 'CA-RENAMED' where meter_id = $1")
        .bind(a)
        .execute(&pool)
        .await
        .unwrap();
    let r = batch(
        &pool,
        &mut cache,
        &[reading("CA", at(15), 2_000), radio(15, 6_000)],
    )
    .await;
    assert_eq!((r.stored, r.dead_letters), (2, 0));
    let mut fresh = MeterCache::new(std::time::Duration::ZERO);
    let r = batch(&pool, &mut fresh, &[reading("CA", at(30), 3_000)]).await;
    assert_eq!((r.stored, r.dead_letters), (0, 1));
    assert_eq!(stored(&pool, a).await.len(), 2);
    assert_eq!(stored(&pool, b).await.len(), 2);
    assert_eq!(stored(&pool, new).await.len(), 1);
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn in_order_batches_roll_up_from_the_batch_alone(pool: PgPool) {
    let r1 = meter(&pool, "IO1", None).await;
    meter(&pool, "IO2", None).await;
    sqlx::query("update meter set register_digits = 4 where meter_id = $1")
        .bind(r1)
        .execute(&pool)
        .await
        .unwrap();
    // Five days of 2-hourly readings; IO1 wraps its 4-digit register on day 3, IO2 has a
    // stuck day and a reverse-flow dip.
    let mut all = Vec::new();
    for k in 0..60i64 {
        let io1 = (9_990_000_000 + k * 25_000_000) % 10_000_000_000;
        all.push(reading("IO1", at(k * 120 + 5), io1));
        let io2 = match k {
            20..=31 => 3_000_000,
            40 => 4_000_000,
            _ => 1_000_000 + k * 50_000,
        };
        all.push(reading("IO2", at(k * 120 + 11), io2));
    }
    let cfg = VeeConfig::default();
    // In time order, in batches whose boundaries fall inside and across days.
    for batch in all.chunks(17) {
        let r = write_items(&pool, &cfg, batch).await.unwrap();
        assert_eq!(r.rollup_recomputed, 0);
        assert!(r.rollup_rows > 0);
    }
    let incremental = daily(&pool).await;
    assert_eq!(incremental.len(), 2 * 6);
    // A late reading (between stored ones) takes the full recompute of its day.
    let late = write_items(&pool, &cfg, &[reading("IO2", at(61), 1_025_000)])
        .await
        .unwrap();
    assert_eq!((late.stored, late.rollup_recomputed), (1, 1));
    let after_late = daily(&pool).await;
    let mut tx = pool.begin().await.unwrap();
    store::rollup_days(
        &mut tx,
        NaiveDate::from_ymd_opt(2026, 4, 30).unwrap(),
        NaiveDate::from_ymd_opt(2026, 5, 8).unwrap(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(daily(&pool).await, after_late);
    let io1_total: i64 = after_late.iter().filter(|d| d.0 == r1).map(|d| d.4).sum();
    assert_eq!(io1_total, 59 * 25_000_000);
    // The late reading changed only its own day's count.
    let changed: Vec<_> = incremental
        .iter()
        .zip(&after_late)
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].1 .5, changed[0].0 .5 + 1);
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn alarm_clears_of_a_batch_act_as_if_one_by_one(pool: PgPool) {
    let b1 = meter(&pool, "B1", None).await;
    let b2 = meter(&pool, "B2", None).await;
    let cfg = VeeConfig::default();
    let (leak, battery) = (AlarmKind::Leak, AlarmKind::BatteryLow);
    let r = write_items(
        &pool,
        &cfg,
        &[
            reading_with("B1", at(0), 1_000, &[(leak, true), (battery, true)]),
            reading_with("B2", at(0), 1_000, &[(leak, true)]),
            reading_with("B2", at(60), 2_000, &[(leak, true)]),
        ],
    )
    .await
    .unwrap();
    assert_eq!((r.alarms_opened, r.alarms_repeated), (3, 1));
    let r = write_items(
        &pool,
        &cfg,
        &[
            reading_with("B1", at(15), 1_100, &[(leak, false)]),
            reading_with("B1", at(30), 1_200, &[(leak, false), (battery, false)]),
            // Older than the alarm's last sighting: a stale clear.
            reading_with("B2", at(30), 1_500, &[(leak, false)]),
            reading_with("B2", at(75), 2_100, &[(leak, false)]),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.alarms_cleared, 3);
    // Raised and cleared in one batch: still in time order.
    let r = write_items(
        &pool,
        &cfg,
        &[
            reading_with("B1", at(45), 1_300, &[(leak, true)]),
            reading_with("B1", at(50), 1_400, &[(leak, false)]),
            reading_with("B1", at(55), 1_500, &[(leak, true)]),
        ],
    )
    .await
    .unwrap();
    assert_eq!((r.alarms_opened, r.alarms_cleared), (2, 1));
    let rows: Vec<(i64, String, String, Option<chrono::DateTime<chrono::Utc>>)> = sqlx::query_as(
        "select meter_id, kind, state, cleared_at from alarm
             where meter_id in ($1, $2) order by alarm_id",
    )
    .bind(b1)
    .bind(b2)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            (b1, "leak".into(), "cleared".into(), Some(at(15))),
            (b1, "battery_low".into(), "cleared".into(), Some(at(30))),
            (b2, "leak".into(), "cleared".into(), Some(at(75))),
            (b1, "leak".into(), "cleared".into(), Some(at(50))),
            (b1, "leak".into(), "open".into(), None),
        ]
    );
    let cleared_notices = outbox(&pool)
        .await
        .into_iter()
        .filter(|o| o.1 == "alarm_cleared")
        .count();
    assert_eq!(cleared_notices, 4);
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn routed_writers_with_last_reading_cache_roll_up_as_a_full_recompute(pool: PgPool) {
    use ewoda_collector::metrics::Metrics;
    use ewoda_collector::pipeline::{spawn, Input, WriterConfig};
    for s in ["W1", "W2", "W3"] {
        meter(&pool, s, None).await;
    }
    sqlx::query("update meter set register_digits = 4")
        .execute(&pool)
        .await
        .unwrap();
    // Five days of 2-hourly readings (W2 wraps its register); in time order, then a few late.
    let mut all = Vec::new();
    for k in 0..60i64 {
        all.push(reading("W1", at(k * 120 + 5), 1_000_000 + k * k * 7_000));
        let w2 = (9_990_000_000 + k * 25_000_000) % 10_000_000_000;
        all.push(reading("W2", at(k * 120 + 9), w2));
        all.push(reading("W3", at(k * 120 + 13), 2_000_000 + k * 40_000));
    }
    all.push(reading("W1", at(61), 1_000_100));
    all.push(reading("W3", at(3 * 120 + 50), 2_125_000));
    let cfg = WriterConfig {
        batch_size: 7,
        writers: 2,
        ..WriterConfig::default()
    };
    let pipe = spawn(pool.clone(), cfg, std::sync::Arc::new(Metrics::default()));
    let tx = pipe.sender();
    for chunk in all.chunks(11) {
        for item in chunk {
            tx.send(Input {
                item: item.clone(),
                ack: None,
            })
            .await
            .unwrap();
        }
        // Lets each chunk commit before the next, so later batches hit the cache.
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    drop(tx);
    let report = pipe.finish().await;
    assert_eq!((report.readings, report.stored), (182, 182));
    let incremental = daily(&pool).await;
    assert_eq!(incremental.len(), 3 * 6);
    let mut tx = pool.begin().await.unwrap();
    store::rollup_days(
        &mut tx,
        NaiveDate::from_ymd_opt(2026, 4, 30).unwrap(),
        NaiveDate::from_ymd_opt(2026, 5, 8).unwrap(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(daily(&pool).await, incremental);
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn concurrent_writers_of_the_same_meters_roll_up_as_a_full_recompute(pool: PgPool) {
    // Two collectors of one shared group (neither owns the meters) write the same meters'
    // days at the same time: writer B holds an uncommitted batch with the later readings
    // while writer A's batch with earlier ones runs. A must not build the days' rollups
    // without B's rows, nor overwrite B's later last reading with its own.
    let serials = ["X1", "X2", "X3"];
    for s in serials {
        meter(&pool, s, None).await;
    }
    let ml = |m: usize, k: i64| 1_000_000 * (m as i64 + 1) + k * 3_000 + k * k * 10;
    let series = |ks: &[i64]| -> Vec<Item> {
        ks.iter()
            .flat_map(|&k| {
                serials
                    .iter()
                    .enumerate()
                    .map(move |(m, s)| reading(s, at(k * 60), ml(m, k)))
            })
            .collect()
    };
    let vee = VeeConfig::default();
    // Stored before: the first hours of the day.
    let mut cache = MeterCache::new(std::time::Duration::from_secs(60));
    batch(&pool, &mut cache, &series(&[0, 1])).await;

    let mut tx_b = pool.begin().await.unwrap();
    let mut cache_b = MeterCache::new(std::time::Duration::from_secs(60));
    let (rb, _) = process_batch_cached(
        &mut tx_b,
        &vee,
        &PartitionCover::default(),
        &mut cache_b,
        &series(&[4, 5]),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(rb.stored, 6);
    let a = tokio::spawn({
        let (pool, vee, items) = (pool.clone(), vee.clone(), series(&[2, 3]));
        async move {
            let mut tx = pool.begin().await.unwrap();
            let mut cache = MeterCache::new(std::time::Duration::from_secs(60));
            let (r, _) = process_batch_cached(
                &mut tx,
                &vee,
                &PartitionCover::default(),
                &mut cache,
                &items,
                chrono::Utc::now(),
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
            r
        }
    });
    // Writer A is under way (it waits for B's meters) when B commits.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!a.is_finished(), "writer A did not wait for writer B");
    tx_b.commit().await.unwrap();
    let ra = a.await.unwrap();
    assert_eq!((ra.stored, ra.dead_letters), (6, 0));
    let concurrent = daily(&pool).await;
    let first_day: Vec<(i64, i32)> = concurrent.iter().map(|d| (d.3, d.5)).collect();
    assert_eq!(
        first_day,
        (0..3).map(|m| (ml(m, 5), 6)).collect::<Vec<_>>(),
        "last register and count of the first day"
    );
    let mut tx = pool.begin().await.unwrap();
    store::rollup_days(
        &mut tx,
        NaiveDate::from_ymd_opt(2026, 4, 30).unwrap(),
        NaiveDate::from_ymd_opt(2026, 5, 3).unwrap(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(daily(&pool).await, concurrent);
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn owned_writer_copy_falls_back_when_a_reading_appeared_behind_its_back(pool: PgPool) {
    use ewoda_collector::metrics::Metrics;
    use ewoda_collector::pipeline::{spawn, Input, WriterConfig};
    let m = meter(&pool, "O1", None).await;
    let metrics = std::sync::Arc::new(Metrics::default());
    let cfg = WriterConfig {
        owns_meters: true,
        ..WriterConfig::default()
    };
    let pipe = spawn(pool.clone(), cfg, metrics.clone());
    let tx = pipe.sender();
    let send = |items: Vec<Item>| {
        let tx = tx.clone();
        async move {
            for item in items {
                tx.send(Input { item, ack: None }).await.unwrap();
            }
        }
    };
    let committed = |n: u64| {
        let metrics = metrics.clone();
        async move {
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
            while metrics
                .readings_received
                .load(std::sync::atomic::Ordering::SeqCst)
                < n
            {
                assert!(tokio::time::Instant::now() < deadline, "writer stuck");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    };
    send(
        (0..3)
            .map(|k| reading("O1", at(k * 60), 1_000_000 + k * 5_000))
            .collect(),
    )
    .await;
    committed(3).await;
    // Another writer stores a reading of the "owned" meter: the owner's cache does not know.
    let other = write_items(
        &pool,
        &VeeConfig::default(),
        &[reading("O1", at(4 * 60), 1_020_000)],
    )
    .await
    .unwrap();
    assert_eq!(other.stored, 1);
    send(vec![
        reading("O1", at(4 * 60), 1_020_000),
        reading("O1", at(5 * 60), 1_025_000),
    ])
    .await;
    committed(5).await;
    drop(tx);
    let report = pipe.finish().await;
    assert_eq!(
        (report.readings, report.stored, report.duplicates),
        (5, 4, 1)
    );
    assert!(
        metrics
            .batch_retries
            .load(std::sync::atomic::Ordering::SeqCst)
            >= 1
    );
    let rows = stored(&pool, m).await;
    assert_eq!(
        rows.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(),
        (0..6)
            .filter(|k| *k != 3)
            .map(|k| (
                at(k * 60),
                if k == 4 {
                    1_020_000
                } else {
                    1_000_000 + k * 5_000
                }
            ))
            .collect::<Vec<_>>()
    );
    let incremental = daily(&pool).await;
    let mut tx = pool.begin().await.unwrap();
    store::rollup_days(
        &mut tx,
        NaiveDate::from_ymd_opt(2026, 4, 30).unwrap(),
        NaiveDate::from_ymd_opt(2026, 5, 2).unwrap(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(daily(&pool).await, incremental);
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn inactive_flags_clear_acknowledged_and_assigned_alarms_only(pool: PgPool) {
    let a = meter(&pool, "Q1", None).await;
    let b = meter(&pool, "Q2", None).await;
    let c = meter(&pool, "Q3", None).await;
    let cfg = VeeConfig::default();
    let leak = [(AlarmKind::Leak, true)];
    write_items(
        &pool,
        &cfg,
        &[
            reading_with("Q1", at(0), 1_000, &leak),
            reading_with("Q2", at(0), 1_000, &leak),
            reading_with("Q3", at(0), 1_000, &leak),
        ],
    )
    .await
    .unwrap();
    for (m, state) in [(a, "acknowledged"), (b, "assigned"), (c, "resolved")] {
        sqlx::query("update alarm set state = $2 where meter_id = $1")
            .bind(m)
            .bind(state)
            .execute(&pool)
            .await
            .unwrap();
    }
    let quiet = [(AlarmKind::Leak, false)];
    let r = write_items(
        &pool,
        &cfg,
        &[
            reading_with("Q1", at(15), 2_000, &quiet),
            reading_with("Q2", at(15), 2_000, &quiet),
            reading_with("Q3", at(15), 2_000, &quiet),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.alarms_cleared, 2);
    let states: Vec<(i64, String)> =
        sqlx::query_as("select meter_id, state from alarm order by meter_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        states,
        vec![
            (a, "cleared".into()),
            (b, "cleared".into()),
            (c, "resolved".into())
        ]
    );
}
