//! Billing-run integrity against a real PostgreSQL: overlapping runs issued in parallel
//! invoice each contract once (the second run reports what it skipped), and issue posts only
//! what the preview stored, refusing proposals whose input changed since.

use crate::db_fixtures;

use db_fixtures::{base, customer, d, meter, read};
use ewoda_billing::run::{self, RunOptions, RunSummary};
use sqlx::PgPool;
use std::collections::BTreeMap;

const M3: i64 = 1_000_000;

/// `n` measured customers in district 1 and `n` in district 2; returns the contract ids.
async fn customers(pool: &PgPool, n: usize) -> Vec<i64> {
    let mut c = pool.acquire().await.unwrap();
    base(&mut c).await;
    let mut out = Vec::new();
    for i in 0..2 * n {
        let district = if i < n { 1 } else { 2 };
        let (_, p, k) = customer(&mut c, &format!("{i}"), district).await;
        let m = meter(
            &mut c,
            &format!("P{i}"),
            p,
            "main",
            None,
            ("2020-01-01", 0),
            None,
        )
        .await;
        read(&mut c, m, "2026-09-30", 100 * M3).await;
        read(&mut c, m, "2026-10-31", (105 + i as i64 % 7) * M3).await;
        out.push(k);
    }
    out
}

fn opts(area: Option<&str>) -> RunOptions {
    RunOptions {
        area: area.map(str::to_string),
        // Small batches so the two runs' transactions interleave.
        batch_customers: 3,
        ..RunOptions::for_month("2026-10", d("2026-11-02")).unwrap()
    }
}

/// Sales invoices per contract.
async fn invoices_per_contract(pool: &PgPool) -> BTreeMap<i64, i64> {
    sqlx::query_as::<_, (i64, i64)>(
        "select contract_id, count(*) from invoice where kind = 'VAT' group by contract_id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .collect()
}

/// Previews and approves both runs first (so both hold proposals for the shared contracts),
/// then issues them at the same time.
async fn issue_both(pool: &PgPool, a: &RunOptions, b: &RunOptions) -> (RunSummary, RunSummary) {
    let ra = run::create_run(pool, a).await.unwrap();
    let rb = run::create_run(pool, b).await.unwrap();
    run::approve(pool, ra).await.unwrap();
    run::approve(pool, rb).await.unwrap();
    let (mut pa, mut pb) = (|_, _| {}, |_, _| {});
    let (sa, sb) = tokio::join!(
        run::issue(pool, ra, a, &mut pa),
        run::issue(pool, rb, b, &mut pb)
    );
    (sa.unwrap(), sb.unwrap())
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn two_runs_of_the_same_period_in_parallel_invoice_each_contract_once(pool: PgPool) {
    let contracts = customers(&pool, 10).await;
    let (a, b) = issue_both(&pool, &opts(None), &opts(None)).await;
    let per = invoices_per_contract(&pool).await;
    assert_eq!(per.len(), contracts.len(), "every contract invoiced");
    assert!(per.values().all(|n| *n == 1), "once each: {per:?}");
    assert_eq!(a.issued + b.issued, contracts.len());
    // What one run issued, the other reports as skipped, naming the invoice.
    assert_eq!(a.skipped.len() + b.skipped.len(), contracts.len());
    assert!(a
        .skipped
        .iter()
        .chain(&b.skipped)
        .all(|s| s.reason.starts_with("already invoiced: FW/2026/11/")));
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn an_area_run_inside_an_all_areas_run_in_parallel_invoices_each_contract_once(pool: PgPool) {
    let contracts = customers(&pool, 10).await;
    let (all, area) = issue_both(&pool, &opts(None), &opts(Some("D1"))).await;
    let per = invoices_per_contract(&pool).await;
    assert_eq!(per.len(), contracts.len(), "every contract invoiced");
    assert!(per.values().all(|n| *n == 1), "once each: {per:?}");
    assert_eq!(all.issued + area.issued, contracts.len());
    // The ten D1 contracts were in both runs: each was skipped by exactly one of them.
    let mut skipped: Vec<i64> = all
        .skipped
        .iter()
        .chain(&area.skipped)
        .map(|s| s.contract_id)
        .collect();
    skipped.sort_unstable();
    assert_eq!(skipped, contracts[..10].to_vec());
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn the_database_refuses_a_second_sales_invoice_for_a_contract_and_period(pool: PgPool) {
    let contracts = customers(&pool, 1).await;
    run::bill_period(&pool, &opts(None), &mut |_, _| {})
        .await
        .unwrap();
    // Even a writer that bypasses the run cannot post the same period twice.
    let dup = sqlx::query(
        "insert into invoice (number, series, year, seq, kind, customer_id, contract_id,
             period_from, period_to, issued_on, due_on, net, vat, gross)
         select 'X/1', 'X', 2026, 1, 'VAT', customer_id, contract_id, period_from, period_to,
                issued_on, due_on, net, vat, gross
         from invoice where contract_id = $1",
    )
    .bind(contracts[0])
    .execute(&pool)
    .await
    .unwrap_err();
    assert!(
        dup.to_string().contains("invoice_once_per_contract_period"),
        "{dup}"
    );
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn issue_posts_the_stored_preview_and_refuses_what_changed_since(pool: PgPool) {
    let contracts = customers(&pool, 3).await;
    let o = opts(Some("D1"));
    let (run_id, preview) = run::create_preview(&pool, &o).await.unwrap();
    assert_eq!(preview.proposals.len(), 3);
    run::approve(&pool, run_id).await.unwrap();
    // After approval a late reading changes the closing read of the first contract's meter,
    // and the tariff's norm (not used by these measured contracts) is left alone.
    let mut c = pool.acquire().await.unwrap();
    let m: i64 = sqlx::query_scalar("select meter_id from meter where serial = 'P0'")
        .fetch_one(&mut *c)
        .await
        .unwrap();
    read(&mut c, m, "2026-11-01", 108 * M3).await;
    sqlx::query("delete from reading where meter_id = $1 and volume_ml = $2")
        .bind(m)
        .bind(105 * M3)
        .execute(&mut *c)
        .await
        .unwrap();
    drop(c);
    let s = run::issue(&pool, run_id, &o, &mut |_, _| {}).await.unwrap();
    assert_eq!(s.issued, 2);
    assert_eq!(
        s.refused
            .iter()
            .map(|r| (r.contract_id, r.reason.as_str()))
            .collect::<Vec<_>>(),
        vec![(
            contracts[0],
            "input changed since the preview (reads, tariff or contract): preview again"
        )]
    );
    // What was posted is exactly what was stored: totals of the stored proposals.
    let (stored, posted): (rust_decimal::Decimal, rust_decimal::Decimal) = sqlx::query_as(
        "select (select sum(gross) from run_proposal where billing_run_id = $1
                   and invoice_id is not null),
                (select sum(gross) from invoice where billing_run_id = $1)",
    )
    .bind(run_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(stored, posted);
    let expected: rust_decimal::Decimal = preview
        .proposals
        .iter()
        .filter(|p| p.contract_id != contracts[0])
        .map(|p| p.quote.gross)
        .sum();
    assert_eq!(posted, expected);
    // A new preview picks the refused contract up with the new read.
    let again = run::bill_period(&pool, &o, &mut |_, _| {}).await.unwrap();
    assert_eq!(again.summary.issued, 1);
    let volume: rust_decimal::Decimal = sqlx::query_scalar(
        "select quantity from invoice_line l join invoice i using (invoice_id)
         where i.contract_id = $1 and l.item = 'water'",
    )
    .bind(contracts[0])
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(volume, rust_decimal_macros::dec!(8.000));
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn a_run_in_preview_is_not_issued_and_options_must_match_the_run(pool: PgPool) {
    customers(&pool, 1).await;
    let run_id = run::create_run(&pool, &opts(None)).await.unwrap();
    let e = run::issue(&pool, run_id, &opts(None), &mut |_, _| {})
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not approved"), "{e}");
    run::approve(&pool, run_id).await.unwrap();
    let e = run::issue(&pool, run_id, &opts(Some("D1")), &mut |_, _| {})
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("not the options' month and area"),
        "{e}"
    );
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn rows_naming_a_missing_invoice_are_refused_and_invoices_are_never_removed(pool: PgPool) {
    customers(&pool, 1).await;
    run::bill_period(&pool, &opts(None), &mut |_, _| {})
        .await
        .unwrap();
    let id: i64 = sqlx::query_scalar("select invoice_id from invoice")
        .fetch_one(&pool)
        .await
        .unwrap();
    // The set-based checks that replace the foreign keys to invoice refuse like them.
    for sql in [
        "insert into invoice_line (invoice_id, position, item, period_from, period_to, quantity,
             unit, unit_price, net, vat_percent)
         values ($1 + 1000, 1, 'x', '2026-10-01', '2026-10-31', 1, 'm3', 1, 1, 8)",
        "insert into invoice_vat (invoice_id, vat_percent, net, vat) values ($1 + 1000, 8, 1, 0.08)",
        "insert into invoice_read (invoice_id, meter_id, role, opening_at, opening_ml,
             opening_source, opening_estimated, closing_at, closing_ml, closing_source,
             closing_estimated)
         select $1 + 1000, meter_id, role, opening_at, opening_ml, opening_source,
                opening_estimated, closing_at, closing_ml, closing_source, closing_estimated
         from invoice_read where invoice_id = $1",
        "insert into ledger_posting (customer_id, value_date, kind, amount, invoice_id, description)
         select customer_id, issued_on, 'charge', 1, $1 + 1000, 'x' from invoice where invoice_id = $1",
        "update run_proposal set invoice_id = $1 + 1000 where invoice_id = $1",
        "insert into ledger_posting (customer_id, value_date, kind, amount, description)
         select customer_id + 1000, issued_on, 'charge', 1, 'x' from invoice where invoice_id = $1",
        "insert into invoice (number, series, year, seq, kind, customer_id, contract_id,
             period_from, period_to, issued_on, due_on, net, vat, gross)
         select 'X/1', 'X', 2026, 1, 'VAT', customer_id, contract_id + 1000, '2026-01-01',
                '2026-01-31', issued_on, due_on, 0, 0, 0
         from invoice where invoice_id = $1",
        "insert into invoice (number, series, year, seq, kind, corrects_invoice_id, customer_id,
             period_from, period_to, issued_on, due_on, net, vat, gross)
         select 'K/1', 'K', 2026, 1, 'KOR', $1 + 1000, customer_id, period_from, period_to,
                issued_on, due_on, 0, 0, 0
         from invoice where invoice_id = $1",
    ] {
        let e = sqlx::query(sql).bind(id).execute(&pool).await.unwrap_err();
        assert!(
            e.to_string().contains("violates foreign key constraint"),
            "{sql}: {e}"
        );
        let code = e.as_database_error().and_then(|d| d.code());
        assert_eq!(code.as_deref(), Some("23503"), "{sql}");
    }
    // The parents stay, so what was checked once stays valid.
    for sql in [
        "delete from invoice where invoice_id = $1",
        "delete from run_proposal where invoice_id = $1",
        "delete from billing_run where billing_run_id = (select billing_run_id from invoice where invoice_id = $1)",
        "delete from contract where contract_id = (select contract_id from invoice where invoice_id = $1)",
        "delete from customer where customer_id = (select customer_id from invoice where invoice_id = $1)",
        "update invoice set customer_id = customer_id + 1000 where invoice_id = $1",
    ] {
        let e = sqlx::query(sql).bind(id).execute(&pool).await.unwrap_err();
        assert!(e.to_string().contains("never removed"), "{sql}: {e}");
    }
}
