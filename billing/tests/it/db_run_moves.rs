//! Move-in and move-out against a real PostgreSQL: partial months pay monthly fees and norms by
//! the contract's own days, the incoming customer's volume starts at the outgoing one's closing
//! read, and an estimate averages only the history of the meter's own installation at the
//! premises.

use crate::db_fixtures;

use db_fixtures::{base, customer, d, history, meter, read};
use ewoda_billing::run::{self, RunOptions};
use ewoda_common::time::local;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sqlx::PgPool;

const M3: i64 = 1_000_000;

fn october() -> RunOptions {
    RunOptions::for_month("2026-10", d("2026-11-02")).unwrap()
}

/// (item, quantity, net) of the contract's invoice lines, by item.
async fn lines(pool: &PgPool, contract: i64) -> Vec<(String, Decimal, Decimal)> {
    sqlx::query_as(
        "select l.item, l.quantity, l.net from invoice_line l join invoice i using (invoice_id)
         where i.contract_id = $1 and i.kind = 'VAT' order by l.item",
    )
    .bind(contract)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// A second household customer with a contract on `premises` from `from`.
async fn move_in(pool: &PgPool, number: &str, premises: i64, from: &str) -> i64 {
    let customer: i64 = sqlx::query_scalar(
        "insert into customer (number, kind, first_name, last_name)
         values ($1, 'household', 'Jan', 'Nowak') returning customer_id",
    )
    .bind(number)
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query_scalar(
        "insert into contract (number, customer_id, premises_id, tariff_group_id, valid_from)
         values ('UM/' || $1, $2, $3, 1, $4) returning contract_id",
    )
    .bind(number)
    .bind(customer)
    .bind(premises)
    .bind(d(from))
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn move_out(pool: &PgPool, contract: i64, to: &str) {
    sqlx::query("update contract set valid_to = $2 where contract_id = $1")
        .bind(contract)
        .bind(d(to))
        .execute(pool)
        .await
        .unwrap();
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn a_move_mid_month_splits_fees_norms_and_volume_by_days(pool: PgPool) {
    let mut c = pool.acquire().await.unwrap();
    base(&mut c).await;
    // Metered flat: the tenant leaves on 15 October, the next one moves in on the 16th.
    let (_, flat, leaving) = customer(&mut c, "31", 1).await;
    let m = meter(&mut c, "MV1", flat, "main", None, ("2020-01-01", 0), None).await;
    read(&mut c, m, "2026-09-30", 100 * M3).await;
    read(&mut c, m, "2026-10-15", 104 * M3).await;
    read(&mut c, m, "2026-10-31", 110 * M3).await;
    // A flat without a meter (3 persons, norm 3.0 m³) taken on 16 October.
    let (_, empty, old) = customer(&mut c, "32", 1).await;
    drop(c);
    move_out(&pool, leaving, "2026-10-15").await;
    let arriving = move_in(&pool, "33", flat, "2026-10-16").await;
    move_out(&pool, old, "2026-06-30").await;
    let norm = move_in(&pool, "34", empty, "2026-10-16").await;

    let out = run::bill_period(&pool, &october(), &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(out.summary.issued, 3);
    // 15 of 31 days: 3.50 × 15/31 = 1.69; 16 of 31 days: 3.50 × 16/31 = 1.81.
    assert_eq!(
        lines(&pool, leaving).await,
        vec![
            ("abonament".into(), dec!(0.484), dec!(1.69)),
            ("sewage".into(), dec!(4.000), dec!(49.40)),
            ("water".into(), dec!(4.000), dec!(27.80)),
        ]
    );
    // The new tenant's volume starts at the read the leaving one's invoice closed with.
    assert_eq!(
        lines(&pool, arriving).await,
        vec![
            ("abonament".into(), dec!(0.516), dec!(1.81)),
            ("sewage".into(), dec!(6.000), dec!(74.10)),
            ("water".into(), dec!(6.000), dec!(41.70)),
        ]
    );
    // Norm: 3 persons × 3.0 m³ × 16/31 = 4.645 m³.
    assert_eq!(
        lines(&pool, norm).await,
        vec![
            ("abonament".into(), dec!(0.516), dec!(1.81)),
            ("sewage".into(), dec!(4.645), dec!(57.37)),
            ("water".into(), dec!(4.645), dec!(32.28)),
        ]
    );
    // November: the arriving tenant continues from 31 October; the leaving one is not billed.
    let mut c = pool.acquire().await.unwrap();
    read(&mut c, m, "2026-11-30", 113 * M3).await;
    drop(c);
    let nov = RunOptions::for_month("2026-11", d("2026-12-01")).unwrap();
    let out = run::bill_period(&pool, &nov, &mut |_, _| {}).await.unwrap();
    assert_eq!(
        out.summary.issued, 2,
        "the arriving tenant and the norm flat"
    );
    let water: Decimal = sqlx::query_scalar(
        "select sum(l.quantity) from invoice_line l join invoice i using (invoice_id)
         where i.contract_id = any($1) and l.item = 'water'",
    )
    .bind(vec![leaving, arriving])
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        water,
        dec!(13.000),
        "100 → 113 m³ billed once across both tenants"
    );
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn an_estimate_averages_only_the_meters_history_at_this_premises(pool: PgPool) {
    let mut c = pool.acquire().await.unwrap();
    base(&mut c).await;
    // The meter hung in a shop until 30 June (30 m³ a month there), then moved to this flat
    // (9 m³ a month here). October has no reading: the estimate is 9, not the mix (19.5).
    let (_, shop, shop_contract) = customer(&mut c, "41", 1).await;
    let m = meter(
        &mut c,
        "MV2",
        shop,
        "main",
        None,
        ("2020-01-01", 0),
        Some(("2026-06-30", 500 * M3)),
    )
    .await;
    let (_, flat, contract) = customer(&mut c, "42", 1).await;
    sqlx::query(
        "insert into meter_installation (meter_id, premises_id, role, installed_at,
             installed_read_ml)
         values ($1, $2, 'main', $3, $4)",
    )
    .bind(m)
    .bind(flat)
    .bind(local(d("2026-07-01"), 9, 0))
    .bind(500 * M3)
    .execute(&mut *c)
    .await
    .unwrap();
    for (day, m3) in [
        ("2026-04-15", 30),
        ("2026-05-15", 30),
        ("2026-06-15", 30),
        ("2026-07-15", 9),
        ("2026-08-15", 9),
        ("2026-09-15", 9),
    ] {
        history(&mut c, m, day, m3 * M3).await;
    }
    read(&mut c, m, "2026-09-30", 527 * M3).await;
    drop(c);
    move_out(&pool, shop_contract, "2026-06-30").await;
    let plan = run::preview(&pool, &october()).await.unwrap();
    let p = plan
        .proposals
        .iter()
        .find(|p| p.contract_id == contract)
        .expect("an estimated proposal");
    assert_eq!(p.basis, run::VolumeBasis::Estimated);
    assert_eq!(p.quote.volume_m3, dec!(9.000));
    // Its reads: opening at 30 September, closing at opening + the estimate.
    assert_eq!(p.reads.len(), 1);
    assert_eq!(p.reads[0].opening.volume_ml, 527 * M3);
    assert_eq!(p.reads[0].closing.volume_ml, 536 * M3);
    assert!(p.reads[0].closing.source.estimated());
}
