//! Minimal rows the database tests need: a utility, a district, tariffs, customers with
//! contracts, meters with installations and readings.
#![allow(dead_code)]

use chrono::NaiveDate;
use ewoda_common::time::local;
use sqlx::PgConnection;

pub fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Utility (settlement 10901014, prefix 1234), district D1, tariff group 1 (household,
/// water 6.95, sewage 12.35, VAT 8 %, norm 3.0, fee "abonament" 3.50/month from 2025-01-01).
pub async fn base(conn: &mut PgConnection) {
    let nip = ewoda_common::ids::Nip::complete("771100223").unwrap();
    sqlx::query(
        "insert into utility (name, short_name, nip, street, postcode, city, bank_name,
             settlement_number, account_prefix, collection_iban)
         values ('Zakład Wodociągów i Kanalizacji w Łężycach Sp. z o.o.', 'ZWiK Łężyce', $1,
             'ul. Źródlana 1', '00-001', 'Łężyce', 'Bank', '10901014', '1234',
             'PL61109010140000071219812874')",
    )
    .bind(nip.as_str())
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::query("insert into district (code, name) values ('D1', 'Północ'), ('D2', 'Południe')")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query(
        "insert into tariff_group (code, name, customer_kind) values ('G1', 'Gospodarstwa', 'household')",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::query(
        "insert into tariff_version (tariff_group_id, valid_from, water_m3, sewage_m3, vat_percent,
             norm_m3_per_person_month)
         values (1, '2025-01-01', 6.95, 12.35, 8, 3.0)",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::query(
        "insert into tariff_fee (tariff_version_id, name, amount, per) values (1, 'abonament', 3.50, 'month')",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::query("select reading_ensure_partitions('2025-12-01', '2027-03-01')")
        .execute(&mut *conn)
        .await
        .unwrap();
}

/// A household customer with premises in `district` (persons 3) and a monthly contract;
/// returns (customer_id, premises_id, contract_id).
pub async fn customer(conn: &mut PgConnection, number: &str, district: i64) -> (i64, i64, i64) {
    let address: i64 = sqlx::query_scalar(
        "insert into address (street, building, flat, postcode, city, commune)
         values ('ul. Żółwia', '7', '2', '00-002', 'Łężyce', 'Łężyce') returning address_id",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    let premises: i64 = sqlx::query_scalar(
        "insert into premises (address_id, kind, district_id, persons) values ($1, 'flat', $2, 3)
         returning premises_id",
    )
    .bind(address)
    .bind(district)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    let customer: i64 = sqlx::query_scalar(
        "insert into customer (number, kind, first_name, last_name)
         values ($1, 'household', 'Łucja', 'Żółkiewska') returning customer_id",
    )
    .bind(number)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    let contract: i64 = sqlx::query_scalar(
        "insert into contract (number, customer_id, premises_id, tariff_group_id, valid_from)
         values ('UM/' || $1, $2, $3, 1, '2025-01-01') returning contract_id",
    )
    .bind(number)
    .bind(customer)
    .bind(premises)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    (customer, premises, contract)
}

/// A meter installed on `premises` with `role` (sub-meters name `parent`); returns its id.
pub async fn meter(
    conn: &mut PgConnection,
    serial: &str,
    premises: i64,
    role: &str,
    parent: Option<i64>,
    installed: (&str, i64),
    removed: Option<(&str, i64)>,
) -> i64 {
    let id: i64 = sqlx::query_scalar(
        "insert into meter (serial, manufacturer, model, role) values ($1, 'ELS', 'x', $2) returning meter_id",
    )
    .bind(serial)
    .bind(role)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    sqlx::query(
        "insert into meter_installation (meter_id, premises_id, role, parent_meter_id, installed_at,
             installed_read_ml, removed_at, removed_read_ml)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(premises)
    .bind(role)
    .bind(parent)
    .bind(local(d(installed.0), 9, 0))
    .bind(installed.1)
    .bind(removed.map(|r| local(d(r.0), 9, 0)))
    .bind(removed.map(|r| r.1))
    .execute(&mut *conn)
    .await
    .unwrap();
    id
}

/// A reading at 23:50 local time on `day`.
pub async fn read(conn: &mut PgConnection, meter: i64, day: &str, ml: i64) {
    sqlx::query(
        "insert into reading (meter_id, read_at, volume_ml, source) values ($1, $2, $3, 'wmbus')",
    )
    .bind(meter)
    .bind(local(d(day), 23, 50))
    .bind(ml)
    .execute(&mut *conn)
    .await
    .unwrap();
}

/// A monthly consumption in the daily rollup (one row on the month's 15th).
pub async fn history(conn: &mut PgConnection, meter: i64, month_day: &str, ml: i64) {
    sqlx::query(
        "insert into reading_daily (meter_id, day, first_read_at, last_read_at, first_volume_ml,
             last_volume_ml, consumption_ml, reading_count)
         values ($1, $2, now(), now(), 0, $3, $3, 1)",
    )
    .bind(meter)
    .bind(d(month_day))
    .bind(ml)
    .execute(&mut *conn)
    .await
    .unwrap();
}
