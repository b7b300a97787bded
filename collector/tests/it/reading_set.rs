//! Reading-set file import against a real PostgreSQL: all-or-nothing, line-numbered errors,
//! idempotent re-import, CSV variant, leak alarms.

use crate::common;

use common::*;
use ewoda_collector::alarms::AlarmKind;
use ewoda_collector::quality::VALIDATED;
use ewoda_collector::reading_set::{import_reading_set, ImportError, ImportReport};
use sqlx::PgPool;

const GOOD: &str = "0012345;2026-05-04 10:15:00;123,456;NIE\r\n\
                    0012346;2026-05-04 10:20:30;7,000;TAK\r\n\
                    0012345;2026-05-05 10:15:00;123,9;NIE\r\n";

async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("select count(*) from {table}"))
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn good_file_then_reimport_stores_nothing_new(pool: PgPool) {
    let a = meter(&pool, "0012345", None).await;
    let b = meter(&pool, "0012346", None).await;
    let first = import_reading_set(&pool, GOOD.as_bytes()).await.unwrap();
    assert_eq!(
        first,
        ImportReport {
            readings: 3,
            stored: 3,
            already_stored: 0,
            alarms_opened: vec![(AlarmKind::Leak, 1)],
            alarms_cleared: 0
        }
    );
    assert!(!first.nothing_new());
    assert_eq!(
        stored(&pool, a).await,
        vec![
            (at(3 * 1440 + 8 * 60 + 15), 123_456_000, VALIDATED),
            (at(4 * 1440 + 8 * 60 + 15), 123_900_000, VALIDATED)
        ]
    );
    assert_eq!(stored(&pool, b).await.len(), 1);
    let kinds: Vec<(i64, String, String)> =
        sqlx::query_as("select meter_id, kind, source from alarm")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(kinds, vec![(b, "leak".into(), "handheld".into())]);

    let second = import_reading_set(&pool, GOOD.as_bytes()).await.unwrap();
    assert_eq!(
        second,
        ImportReport {
            readings: 3,
            stored: 0,
            already_stored: 3,
            alarms_opened: vec![],
            alarms_cleared: 0
        }
    );
    assert!(second.nothing_new());
    assert!(second
        .to_string()
        .ends_with("(nothing new: this file was imported before)"));
    assert_eq!(count(&pool, "reading").await, 3);
    let occurrences: i32 = sqlx::query_scalar("select occurrences from alarm")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(occurrences, 1);
    assert_eq!(count(&pool, "reading_daily").await, 3);
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn a_bad_line_stores_nothing_and_names_the_line(pool: PgPool) {
    meter(&pool, "0012345", None).await;
    meter(&pool, "0012346", None).await;
    // Line 3 has a syntax error: nothing is parsed into the database.
    let syntax = format!("{GOOD}0012345;2026-13-01 10:00:00;124;NIE\n");
    let err = import_reading_set(&pool, syntax.as_bytes())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 4: meter 0012345: read 2026-13-01: invalid month (nothing was imported)"
    );
    // Line 2 names a meter the database does not know: the valid lines around it roll back.
    let unknown = "0012345;2026-05-04 10:15:00;123,456;NIE\n0099999;2026-05-04 10:16:00;1,0;TAK\n0012346;2026-05-04 10:20:30;7,000;TAK\n";
    let err = import_reading_set(&pool, unknown.as_bytes())
        .await
        .unwrap_err();
    let ImportError::Lines(lines) = &err else {
        panic!("{err}")
    };
    assert_eq!(lines.len(), 1);
    assert_eq!(
        err.to_string(),
        "line 2: meter 0099999: unknown meter (nothing was imported)"
    );
    assert_eq!(count(&pool, "reading").await, 0);
    assert_eq!(count(&pool, "alarm").await, 0);
    assert_eq!(count(&pool, "dead_letter").await, 0);
    assert_eq!(count(&pool, "notification_outbox").await, 0);
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn csv_variant_from_a_file(pool: PgPool) {
    let a = meter(&pool, "0012345", None).await;
    let dir = std::env::temp_dir().join(format!("ewoda-rs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("set-{a}.csv"));
    std::fs::write(
        &path,
        "numer_licznika,data_odczytu,stan_m3,alarm_wycieku\n0012345,2026-05-04 10:15:00,123.456,NIE\n0012345,2026-05-04 11:15:00,123.5,TAK\n",
    )
    .unwrap();
    let r = import_reading_set(&pool, path.as_path()).await.unwrap();
    assert_eq!((r.readings, r.stored), (2, 2));
    assert_eq!(r.alarms_opened, [(AlarmKind::Leak, 1)]);
    assert_eq!(stored(&pool, a).await[1].1, 123_500_000);
    let missing = import_reading_set(&pool, dir.join("missing.csv").as_path())
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("missing.csv"), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn format_and_database_errors_are_reported_together(pool: PgPool) {
    meter(&pool, "0012345", None).await;
    let file = "Numer licznika;Data odczytu;Stan;Alarm\r\n\
                0012345;04.05.2026 10:15;1 124,080;NIE;\r\n\
                0012345;05.05.2026 25:00;1 124,500;NIE;\r\n\
                0099999;05.05.2026 10:00;5,000;TAK;\r\n\
                0012345;06.05.2026;1 125,000;NIE;\r\n\
                0012345;07.05.2026;1,5;JA;\r\n";
    let err = import_reading_set(&pool, file.as_bytes())
        .await
        .unwrap_err();
    let ImportError::Lines(lines) = &err else {
        panic!("{err}")
    };
    let msgs: Vec<String> = lines.iter().map(ToString::to_string).collect();
    assert_eq!(
        msgs,
        [
            "line 3: meter 0012345: read 05.05.2026 25:00: invalid hour",
            "line 4: meter 0099999: unknown meter",
            "line 6: meter 0012345: leak alarm must be TAK or NIE, found 'JA'",
        ]
    );
    assert!(
        err.to_string()
            .ends_with("(nothing was imported; 2 more errors)"),
        "{err}"
    );
    assert_eq!(count(&pool, "reading").await, 0);
    assert_eq!(count(&pool, "alarm").await, 0);
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn a_falling_register_is_reported_as_reverse_flow_not_a_leak(pool: PgPool) {
    meter(&pool, "0012345", None).await;
    let file = "0012345;2026-05-04 10:15:00;123,456;NIE\n0012345;2026-05-05 10:15:00;120,000;NIE\n";
    let r = import_reading_set(&pool, file.as_bytes()).await.unwrap();
    assert_eq!(r.alarms_opened, [(AlarmKind::ReverseFlow, 1)]);
    assert_eq!(
        r.to_string(),
        "2 readings: 2 stored, 0 already stored, alarms opened: 1 reverse_flow, 0 alarms cleared"
    );
    let kinds: Vec<String> = sqlx::query_scalar("select kind from alarm")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(kinds, ["reverse_flow"]);
}
