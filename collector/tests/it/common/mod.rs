//! Fixtures shared by the collector's integration tests: meters, customers, readings.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use ewoda_collector::alarms::AlarmKind;
use ewoda_collector::pipeline::{Item, MeterReading, MeterRef, StatusFlag};
use ewoda_collector::store::Source;
use ewoda_common::Volume;
use sqlx::PgPool;

/// Inserts a water meter and returns its id.
pub async fn meter(pool: &PgPool, serial: &str, radio_id: Option<&str>) -> i64 {
    sqlx::query_scalar(
        "insert into meter (serial, manufacturer, model, radio_id) values ($1, 'APA', 'AT-WMBUS', $2)
         returning meter_id",
    )
    .bind(serial)
    .bind(radio_id)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A customer with a contract on a premises where `meter_id` is installed since 2020;
/// `consent` = the latest `alarm_notifications` consent (None: never asked).
pub async fn customer_with_meter(pool: &PgPool, meter_id: i64, consent: Option<bool>) -> i64 {
    let address: i64 = sqlx::query_scalar(
        "insert into address (street, building, postcode, city, commune)
         values ('Lipowa', '1', '00-001', 'Wieś', 'Gmina') returning address_id",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let premises: i64 = sqlx::query_scalar(
        "insert into premises (address_id, kind) values ($1, 'house') returning premises_id",
    )
    .bind(address)
    .fetch_one(pool)
    .await
    .unwrap();
    install(pool, meter_id, premises, "2020-01-01T00:00:00Z", None).await;
    let customer: i64 = sqlx::query_scalar(
        "insert into customer (number, kind, first_name, last_name, email, phone)
         values ($1, 'household', 'Jan', 'Kowalski', 'jan@example.pl', '+48 600 100 200')
         returning customer_id",
    )
    .bind(format!("{}", 1000 + meter_id))
    .fetch_one(pool)
    .await
    .unwrap();
    let group: i64 = sqlx::query_scalar(
        "insert into tariff_group (code, name, customer_kind) values ($1, 'G', 'household')
         returning tariff_group_id",
    )
    .bind(format!("G{meter_id}"))
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into contract (number, customer_id, premises_id, tariff_group_id, valid_from)
         values ($1, $2, $3, $4, '2020-01-01')",
    )
    .bind(format!("U/{meter_id}"))
    .bind(customer)
    .bind(premises)
    .bind(group)
    .execute(pool)
    .await
    .unwrap();
    if let Some(granted) = consent {
        sqlx::query(
            "insert into consent (customer_id, kind, granted, at) values ($1, 'alarm_notifications', true, '2024-01-01 00:00+00')",
        )
        .bind(customer)
        .execute(pool)
        .await
        .unwrap();
        if !granted {
            sqlx::query(
                "insert into consent (customer_id, kind, granted, at) values ($1, 'alarm_notifications', false, '2025-01-01 00:00+00')",
            )
            .bind(customer)
            .execute(pool)
            .await
            .unwrap();
        }
    }
    customer
}

/// Records an installation of `meter_id` at `premises`.
pub async fn install(pool: &PgPool, meter_id: i64, premises: i64, from: &str, to: Option<&str>) {
    sqlx::query(
        "insert into meter_installation (meter_id, premises_id, role, installed_at, installed_read_ml, removed_at, removed_read_ml)
         values ($1, $2, 'main', $3::timestamptz, 0, $4::timestamptz,
                 case when $4 is null then null else 0 end)",
    )
    .bind(meter_id)
    .bind(premises)
    .bind(from)
    .bind(to)
    .execute(pool)
    .await
    .unwrap();
}

/// A premises without a customer.
pub async fn premises(pool: &PgPool) -> i64 {
    let address: i64 = sqlx::query_scalar(
        "insert into address (street, building, postcode, city, commune)
         values ('Polna', '2', '00-002', 'Wieś', 'Gmina') returning address_id",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query_scalar(
        "insert into premises (address_id, kind) values ($1, 'house') returning premises_id",
    )
    .bind(address)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// 2026-05-01 00:00 UTC plus `minutes`.
pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(minutes)
}

/// A reading item by serial.
pub fn reading(serial: &str, read_at: DateTime<Utc>, ml: i64) -> Item {
    Item::Reading(MeterReading {
        meter: MeterRef::Serial(serial.into()),
        read_at,
        volume: Volume::from_ml(ml),
        status: vec![],
        source: Source::Mqtt,
    })
}

/// A reading item carrying status flags.
pub fn reading_with(
    serial: &str,
    read_at: DateTime<Utc>,
    ml: i64,
    flags: &[(AlarmKind, bool)],
) -> Item {
    Item::Reading(MeterReading {
        meter: MeterRef::Serial(serial.into()),
        read_at,
        volume: Volume::from_ml(ml),
        status: flags
            .iter()
            .map(|&(kind, active)| StatusFlag { kind, active })
            .collect(),
        source: Source::Wmbus,
    })
}

/// Stored readings of a meter as (read_at, volume_ml, quality).
pub async fn stored(pool: &PgPool, meter_id: i64) -> Vec<(DateTime<Utc>, i64, i16)> {
    sqlx::query_as(
        "select read_at, volume_ml, quality from reading where meter_id = $1 order by read_at",
    )
    .bind(meter_id)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Dead-letter reasons, oldest first.
pub async fn dead_reasons(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("select reason from dead_letter order by dead_letter_id")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// Outbox rows as (channel, template, customer_id) in insertion order.
pub async fn outbox(pool: &PgPool) -> Vec<(String, String, Option<i64>)> {
    sqlx::query_as(
        "select channel, template, customer_id from notification_outbox order by notification_id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}
pub mod broker;
pub mod brokers;
pub mod proxy;
