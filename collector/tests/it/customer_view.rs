//! The customer's view of meter data against real PostgreSQL with two customers: meters with
//! the last reading, readings history, consumption series with last year, alarms with their
//! explanation codes, and submitted readings (validation, accept through the batch path,
//! reject) — another customer's meter is None or a `meter_id` refusal.

use crate::common::{at, customer_with_meter, install, meter, reading};
use chrono::{DateTime, Duration, DurationRound, NaiveDate, Utc};
use ewoda_collector::alarms::{raise, AlarmKind};
use ewoda_collector::pipeline::vee::VeeConfig;
use ewoda_collector::pipeline::{write_items, Item};
use ewoda_collector::query::alarms::{self, CustomerAlarmKind};
use ewoda_collector::query::consumption::{series, Granularity};
use ewoda_collector::query::meters;
use ewoda_collector::query::submission::{self, NewSubmission, Plausibility};
use ewoda_collector::query::ViewError;
use ewoda_collector::store::Source;
use ewoda_common::scope::{CustomerId, PageRequest};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sqlx::PgPool;

struct Two {
    a: CustomerId,
    b: CustomerId,
    a_main: i64,
    a_garden: i64,
    a_premises: i64,
    b_main: i64,
}

/// Customer A with a main meter and a garden sub-meter on one premises, customer B with a
/// main meter; A's main meter has readings 100.000 → 100.400 m³ over 2026-05-01.
async fn two(pool: &PgPool) -> Two {
    let a_main = meter(pool, "A-MAIN", None).await;
    let a = customer_with_meter(pool, a_main, None).await;
    let a_premises: i64 =
        sqlx::query_scalar("select premises_id from meter_installation where meter_id = $1")
            .bind(a_main)
            .fetch_one(pool)
            .await
            .unwrap();
    let a_garden = meter(pool, "A-GARDEN", None).await;
    sqlx::query(
        "insert into meter_installation (meter_id, premises_id, role, parent_meter_id, installed_at, installed_read_ml)
         values ($1, $2, 'sub', $3, '2021-04-01', 5000)",
    )
    .bind(a_garden)
    .bind(a_premises)
    .bind(a_main)
    .execute(pool)
    .await
    .unwrap();
    let b_main = meter(pool, "B-MAIN", None).await;
    let b = customer_with_meter(pool, b_main, None).await;
    let items: Vec<_> = (0..5)
        .map(|i| reading("A-MAIN", at(i * 60), 100_000_000 + i * 100_000))
        .chain([reading("B-MAIN", at(30), 7_000_000)])
        .collect();
    let report = write_items(pool, &VeeConfig::default(), &items)
        .await
        .unwrap();
    assert_eq!(report.stored, 6);
    Two {
        a: CustomerId::new(a),
        b: CustomerId::new(b),
        a_main,
        a_garden,
        a_premises,
        b_main,
    }
}

/// The last reading is looked for in recent partitions first: a meter read yesterday is found
/// there, one last read months ago (A-MAIN, May) by the search over the whole history, also
/// when the customer's other meter was read recently.
#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn the_last_reading_is_found_whether_recent_or_months_old(pool: PgPool) {
    let t = two(&pool).await;
    let yesterday = Utc::now().duration_trunc(Duration::seconds(1)).unwrap() - Duration::days(1);
    let items = [
        reading("A-GARDEN", yesterday, 9_000),
        reading("B-MAIN", yesterday, 7_500_000),
    ];
    let report = write_items(&pool, &VeeConfig::default(), &items)
        .await
        .unwrap();
    assert_eq!(report.stored, 2);
    let mut conn = pool.acquire().await.unwrap();
    let last = |ms: &[meters::MeterView]| -> Vec<(String, DateTime<Utc>, i64)> {
        ms.iter()
            .map(|m| {
                let r = m.last_reading.as_ref().unwrap();
                (m.serial.clone(), r.read_at, r.volume_ml)
            })
            .collect()
    };
    let a = meters::of_customer(&mut conn, t.a).await.unwrap();
    assert_eq!(
        last(&a),
        [
            ("A-MAIN".to_string(), at(240), 100_400_000),
            ("A-GARDEN".to_string(), yesterday, 9_000)
        ]
    );
    let b = meters::of_customer(&mut conn, t.b).await.unwrap();
    assert_eq!(last(&b), [("B-MAIN".to_string(), yesterday, 7_500_000)]);
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn meters_with_last_reading_and_history_are_scoped(pool: PgPool) {
    let t = two(&pool).await;
    let mut conn = pool.acquire().await.unwrap();
    let mine = meters::of_customer(&mut conn, t.a).await.unwrap();
    assert_eq!(
        mine.iter()
            .map(|m| (m.serial.as_str(), m.role.as_str(), m.parent_meter_id))
            .collect::<Vec<_>>(),
        [
            ("A-MAIN", "main", None),
            ("A-GARDEN", "sub", Some(t.a_main))
        ]
    );
    let last = mine[0].last_reading.as_ref().unwrap();
    assert_eq!(
        (last.read_at, last.volume_ml, last.volume_m3),
        (at(240), 100_400_000, dec!(100.400000))
    );
    assert!(mine[1].last_reading.is_none());
    let theirs = meters::of_customer(&mut conn, t.b).await.unwrap();
    assert_eq!(
        theirs.iter().map(|m| m.meter_id).collect::<Vec<_>>(),
        [t.b_main]
    );
    assert!(meters::of_premises(&mut conn, t.b, t.a_premises)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        meters::of_premises(&mut conn, t.a, t.a_premises)
            .await
            .unwrap()
            .unwrap()
            .len(),
        2
    );

    let p = meters::readings(&mut conn, t.a, t.a_main, PageRequest::new(2, 2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.total, 5);
    assert_eq!(
        p.items.iter().map(|r| r.volume_ml).collect::<Vec<_>>(),
        [100_200_000, 100_100_000]
    );
    // Past the last page: nothing to show, and still the whole count.
    let past = meters::readings(&mut conn, t.a, t.a_main, PageRequest::new(4, 2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((past.total, past.items.len()), (5, 0));
    assert!(
        meters::readings(&mut conn, t.b, t.a_main, PageRequest::default())
            .await
            .unwrap()
            .is_none()
    );
    // Their meter without a reading: an empty page, not "not theirs".
    let empty = meters::readings(&mut conn, t.a, t.a_garden, PageRequest::default())
        .await
        .unwrap()
        .expect("their meter");
    assert_eq!((empty.total, empty.items.len()), (0, 0));
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn the_history_by_day_is_each_days_last_reading_scoped_and_paged(pool: PgPool) {
    let t = two(&pool).await;
    // A second day for A-MAIN, read three times, the last time by the customer's reading.
    let next_day = at(24 * 60);
    let mut items: Vec<_> = (0..2)
        .map(|i| {
            reading(
                "A-MAIN",
                next_day + Duration::hours(i),
                100_500_000 + i * 10_000,
            )
        })
        .collect();
    if let Item::Reading(mut r) = reading("A-MAIN", next_day + Duration::hours(5), 100_600_000) {
        r.source = Source::Customer;
        items.push(Item::Reading(r));
    }
    write_items(&pool, &VeeConfig::default(), &items)
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let days = meters::days(&mut conn, t.a, t.a_main, PageRequest::new(1, 20))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(days.total, 2);
    let seen: Vec<_> = days
        .items
        .iter()
        .map(|r| (r.read_at, r.volume_ml, r.source.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (next_day + Duration::hours(5), 100_600_000, "customer"),
            (at(240), 100_400_000, "mqtt")
        ]
    );
    // The same readings, source and quality as the raw history has them.
    let raw = meters::readings(&mut conn, t.a, t.a_main, PageRequest::new(1, 20))
        .await
        .unwrap()
        .unwrap();
    for d in &days.items {
        assert!(raw.items.contains(d), "{d:?} is a stored reading");
    }
    // Paged: the second day alone on page 2; past the last page, empty with the count.
    let p2 = meters::days(&mut conn, t.a, t.a_main, PageRequest::new(2, 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((p2.total, p2.items[0].read_at), (2, at(240)));
    let past = meters::days(&mut conn, t.a, t.a_main, PageRequest::new(3, 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((past.total, past.items.len()), (2, 0));
    // Another customer's meter: not theirs; their own meter without readings: empty.
    assert!(
        meters::days(&mut conn, t.b, t.a_main, PageRequest::default())
            .await
            .unwrap()
            .is_none()
    );
    let empty = meters::days(&mut conn, t.a, t.a_garden, PageRequest::default())
        .await
        .unwrap()
        .expect("their meter");
    assert_eq!((empty.total, empty.items.len()), (0, 0));
}

async fn daily(pool: &PgPool, meter_id: i64, day: &str, ml: i64) {
    sqlx::query(
        "insert into reading_daily (meter_id, day, first_read_at, last_read_at, first_volume_ml,
             last_volume_ml, consumption_ml, reading_count)
         values ($1, $2::date, now(), now(), 0, $3, $3, 1)",
    )
    .bind(meter_id)
    .bind(day)
    .bind(ml)
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn consumption_series_per_day_month_year_with_last_year(pool: PgPool) {
    let t = two(&pool).await;
    for (day, ml) in [
        ("2026-04-30", 90_001),
        ("2026-05-01", 120_500),
        ("2026-05-02", 80_250),
    ] {
        daily(&pool, t.a_garden, day, ml).await;
    }
    daily(&pool, t.a_garden, "2025-05-01", 60_000).await;
    daily(&pool, t.a_garden, "2025-06-01", 1).await;
    let mut conn = pool.acquire().await.unwrap();
    let d = |s: &str| s.parse::<NaiveDate>().unwrap();
    let days = series(
        &mut conn,
        t.a,
        t.a_garden,
        Granularity::Day,
        d("2026-05-01"),
        d("2026-05-31"),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        days.points
            .iter()
            .map(|p| (p.period, p.ml, p.litres))
            .collect::<Vec<_>>(),
        [
            (d("2026-05-01"), 120_500, dec!(120.500)),
            (d("2026-05-02"), 80_250, dec!(80.250))
        ]
    );
    assert_eq!(days.total_ml, 200_750);
    assert_eq!(
        days.last_year.iter().map(|p| p.ml).collect::<Vec<_>>(),
        [60_000]
    );
    let months = series(
        &mut conn,
        t.a,
        t.a_garden,
        Granularity::Month,
        d("2026-04-01"),
        d("2026-05-31"),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        months
            .points
            .iter()
            .map(|p| (p.period, p.ml, p.m3, p.days))
            .collect::<Vec<_>>(),
        [
            (d("2026-04-01"), 90_001, dec!(0.090001), 1),
            (d("2026-05-01"), 200_750, dec!(0.200750), 2)
        ]
    );
    let years = series(
        &mut conn,
        t.a,
        t.a_garden,
        Granularity::Year,
        d("2026-01-01"),
        d("2026-12-31"),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!((years.points.len(), years.total_ml), (1, 290_751));
    assert_eq!(years.last_year_total_ml, 60_001);
    let json = serde_json::to_value(&months).unwrap();
    assert_eq!(
        json["points"][1]["m3"], "0.200750",
        "exact decimals, never floats"
    );

    assert!(series(
        &mut conn,
        t.b,
        t.a_garden,
        Granularity::Day,
        d("2026-05-01"),
        d("2026-05-31")
    )
    .await
    .unwrap()
    .is_none());
    // Their meter, a month without a day of use either year: empty, not "not theirs".
    let none_yet = series(
        &mut conn,
        t.a,
        t.a_garden,
        Granularity::Day,
        d("2024-01-01"),
        d("2024-01-31"),
    )
    .await
    .unwrap()
    .expect("their meter");
    assert!(none_yet.points.is_empty() && none_yet.last_year.is_empty());
    let field = |e: ViewError| match e {
        ViewError::Invalid(v) => v[0].field.clone(),
        other => panic!("{other}"),
    };
    let reversed = series(
        &mut conn,
        t.a,
        t.a_garden,
        Granularity::Day,
        d("2026-05-31"),
        d("2026-05-01"),
    )
    .await;
    assert_eq!(field(reversed.unwrap_err()), "from");
    let long = series(
        &mut conn,
        t.a,
        t.a_garden,
        Granularity::Day,
        d("2024-01-01"),
        d("2026-05-01"),
    )
    .await;
    assert_eq!(field(long.unwrap_err()), "to");
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn alarms_of_the_customers_meters_carry_explanation_codes(pool: PgPool) {
    let t = two(&pool).await;
    let mut conn = pool.acquire().await.unwrap();
    let details = serde_json::json!({});
    raise(
        &mut conn,
        t.a_main,
        AlarmKind::Leak,
        at(10),
        "test",
        &details,
    )
    .await
    .unwrap();
    raise(
        &mut conn,
        t.a_garden,
        AlarmKind::BatteryLow,
        at(20),
        "test",
        &details,
    )
    .await
    .unwrap();
    raise(
        &mut conn,
        t.b_main,
        AlarmKind::Backflow,
        at(30),
        "test",
        &details,
    )
    .await
    .unwrap();
    sqlx::query("update alarm set state = 'cleared', cleared_at = $2 where meter_id = $1")
        .bind(t.a_garden)
        .bind(at(25))
        .execute(&mut *conn)
        .await
        .unwrap();
    let open = alarms::of_customer(&mut conn, t.a, false).await.unwrap();
    assert_eq!(
        open.iter()
            .map(|a| (a.serial.as_str(), a.kind, a.active))
            .collect::<Vec<_>>(),
        [("A-MAIN", CustomerAlarmKind::Leak, true)]
    );
    let all = alarms::of_customer(&mut conn, t.a, true).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].kind, CustomerAlarmKind::Battery);
    let theirs = alarms::of_customer(&mut conn, t.b, true).await.unwrap();
    assert_eq!(
        theirs.iter().map(|a| a.kind).collect::<Vec<_>>(),
        [CustomerAlarmKind::Backflow]
    );
    let json = serde_json::to_value(&open[0]).unwrap();
    assert_eq!(json["kind"], "leak");
    assert_eq!(open[0].kind.explanation("en").title, "Possible leak");
}

fn sub(meter_id: i64, read_at: DateTime<Utc>, value_m3: Decimal) -> NewSubmission {
    NewSubmission {
        meter_id,
        read_at,
        value_m3,
        attachment_id: None,
        note: None,
    }
}

fn refused(r: Result<i64, ViewError>) -> (String, &'static str) {
    match r {
        Err(ViewError::Invalid(v)) => (v[0].field.clone(), v[0].code),
        other => panic!("expected a field refusal, got {other:?}"),
    }
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn submitted_readings_are_validated_against_scope_and_history(pool: PgPool) {
    let t = two(&pool).await;
    let p = Plausibility::default();
    let now = at(60 * 24 * 2);
    let when = now - Duration::hours(1);
    // Another customer's meter, a future date, a negative value, a value below the last one.
    assert_eq!(
        refused(submission::submit(&pool, t.b, &sub(t.a_main, when, dec!(101)), &p, now).await),
        ("meter_id".into(), "not_found")
    );
    assert_eq!(
        refused(
            submission::submit(
                &pool,
                t.a,
                &sub(t.a_main, now + Duration::hours(1), dec!(101)),
                &p,
                now
            )
            .await
        ),
        ("read_at".into(), "invalid")
    );
    assert_eq!(
        refused(submission::submit(&pool, t.a, &sub(t.a_main, when, dec!(-1)), &p, now).await),
        ("value".into(), "invalid")
    );
    let below = submission::submit(&pool, t.a, &sub(t.a_main, when, dec!(100.3)), &p, now).await;
    match below {
        Err(ViewError::Invalid(v)) => assert_eq!(
            v[0].to_string(),
            "value: 100.3 m³ is below the last reading 100.4 m³ of 2026-05-01"
        ),
        other => panic!("{other:?}"),
    }
    // Plausible: at most 3 × 1 m³ per day (no higher history) over two days since the last.
    assert_eq!(
        refused(submission::submit(&pool, t.a, &sub(t.a_main, when, dec!(106.5)), &p, now).await),
        ("value".into(), "implausible")
    );
    let photo: i64 = sqlx::query_scalar(
        "insert into attachment (customer_id, kind, filename, content_type, data)
         values ($1, 'photo', 'x.jpg', 'image/jpeg', '\\xffd8ff') returning attachment_id",
    )
    .bind(t.b.get())
    .fetch_one(&pool)
    .await
    .unwrap();
    let with_their_photo = NewSubmission {
        attachment_id: Some(photo),
        ..sub(t.a_main, when, dec!(101.25))
    };
    assert_eq!(
        refused(submission::submit(&pool, t.a, &with_their_photo, &p, now).await),
        ("attachment_id".into(), "not_found")
    );
    let count: i64 = sqlx::query_scalar("select count(*) from submitted_reading")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing stored for a refused submission");

    let own_photo: i64 = sqlx::query_scalar(
        "insert into attachment (customer_id, kind, filename, content_type, data)
         values ($1, 'photo', 'x.jpg', 'image/jpeg', '\\xffd8ff') returning attachment_id",
    )
    .bind(t.a.get())
    .fetch_one(&pool)
    .await
    .unwrap();
    let with_own_photo = NewSubmission {
        attachment_id: Some(own_photo),
        ..sub(t.a_main, when, dec!(101.25))
    };
    let id = submission::submit(&pool, t.a, &with_own_photo, &p, now)
        .await
        .unwrap();
    assert_eq!(
        refused(submission::submit(&pool, t.a, &sub(t.a_main, when, dec!(101.3)), &p, now).await),
        ("meter_id".into(), "pending")
    );
    let mine = submission::of_customer(&mut pool.acquire().await.unwrap(), t.a)
        .await
        .unwrap();
    assert_eq!(
        mine.iter()
            .map(|s| (s.submitted_reading_id, s.status.as_str(), s.volume_ml))
            .collect::<Vec<_>>(),
        [(id, "pending", 101_250_000)]
    );
    assert_eq!(mine[0].attachment_id, Some(own_photo));
    assert!(
        submission::of_customer(&mut pool.acquire().await.unwrap(), t.b)
            .await
            .unwrap()
            .is_empty()
    );
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn a_replaced_meter_starts_from_its_installation_read(pool: PgPool) {
    let t = two(&pool).await;
    let p = Plausibility::default();
    let now = at(60 * 24 * 2);
    sqlx::query(
        "update meter_installation set removed_at = $2, removed_read_ml = 100400000 where meter_id = $1",
    )
    .bind(t.a_main)
    .bind(at(300))
    .execute(&pool)
    .await
    .unwrap();
    let new_meter = meter(&pool, "A-NEW", None).await;
    install(&pool, new_meter, t.a_premises, "2026-05-01T06:00:00Z", None).await;
    // 2.5 m³ is far below the old meter's 100.4 m³ but above the new one's start (0).
    submission::submit(
        &pool,
        t.a,
        &sub(new_meter, now - Duration::hours(1), dec!(2.5)),
        &p,
        now,
    )
    .await
    .unwrap();
    let old = submission::submit(
        &pool,
        t.a,
        &sub(t.a_main, now - Duration::hours(1), dec!(101)),
        &p,
        now,
    )
    .await;
    match old {
        Err(ViewError::Invalid(v)) => assert_eq!(
            v[0].to_string(),
            "meter_id: this meter is no longer installed"
        ),
        other => panic!("{other:?}"),
    }
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn clerk_accepts_through_the_batch_path_or_rejects_with_an_answer(pool: PgPool) {
    let t = two(&pool).await;
    let p = Plausibility::default();
    let now = at(60 * 24 * 2);
    let clerk: i64 = sqlx::query_scalar(
        "insert into app_user (login, display_name, password_hash) values ('anna', 'Anna', '$argon2id$x')
         returning user_id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let when = at(60 * 24 + 600);
    let id = submission::submit(&pool, t.a, &sub(t.a_main, when, dec!(101.25)), &p, now)
        .await
        .unwrap();
    submission::accept(&pool, id, clerk, &VeeConfig::default(), now)
        .await
        .unwrap();
    let (ml, source): (i64, String) = sqlx::query_as(
        "select volume_ml, source from reading where meter_id = $1 and read_at = $2",
    )
    .bind(t.a_main)
    .bind(when)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((ml, source.as_str()), (101_250_000, "customer"));
    let rolled: i64 = sqlx::query_scalar(
        "select consumption_ml from reading_daily where meter_id = $1 and day = '2026-05-02'",
    )
    .bind(t.a_main)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        rolled, 850_000,
        "the daily rollup includes the accepted reading"
    );
    let again = submission::accept(&pool, id, clerk, &VeeConfig::default(), now).await;
    assert!(matches!(again, Err(ViewError::NotFound(_))), "{again:?}");

    let id2 = submission::submit(&pool, t.a, &sub(t.a_garden, when, dec!(0.5)), &p, now)
        .await
        .unwrap();
    let blank = submission::reject(&pool, id2, clerk, "  ").await;
    assert!(matches!(blank, Err(ViewError::Invalid(ref v)) if v[0].field == "answer"));
    submission::reject(&pool, id2, clerk, "Zdjęcie nieczytelne")
        .await
        .unwrap();
    let mine = submission::of_customer(&mut pool.acquire().await.unwrap(), t.a)
        .await
        .unwrap();
    assert_eq!(
        mine.iter()
            .map(|s| (s.status.as_str(), s.answer.as_deref()))
            .collect::<Vec<_>>(),
        [
            ("rejected", Some("Zdjęcie nieczytelne")),
            ("accepted", None)
        ]
    );
    assert!(submission::pending(&mut pool.acquire().await.unwrap())
        .await
        .unwrap()
        .is_empty());
}
