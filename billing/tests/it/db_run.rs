//! The billing run against a real PostgreSQL: volumes from readings (replacement, sub-meter),
//! estimates, norms, exceptions, area filter, idempotent issue, and reconciling an estimate
//! once the real reading arrives — priced by the same code as `ewoda billing quote`.

use crate::db_fixtures;

use db_fixtures::{base, customer, d, history, meter, read};
use ewoda_billing::ledger;
use ewoda_billing::quote::run_quote;
use ewoda_billing::run::{self, ExceptionKind, RunOptions, VolumeBasis};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sqlx::PgPool;
use std::collections::BTreeMap;

const M3: i64 = 1_000_000;

async fn six_months(conn: &mut sqlx::PgConnection, meter_id: i64, m3: i64) {
    for m in [
        "2026-04-15",
        "2026-05-15",
        "2026-06-15",
        "2026-07-15",
        "2026-08-15",
        "2026-09-15",
    ] {
        history(conn, meter_id, m, m3 * M3).await;
    }
}

/// Seven contracts in D1 and D2 covering every path; returns contract ids by name.
async fn town(pool: &PgPool) -> BTreeMap<&'static str, (i64, i64)> {
    let mut c = pool.acquire().await.unwrap();
    base(&mut c).await;
    let mut out = BTreeMap::new();
    // Measured: 100 → 110 m³.
    let (cu, p, k) = customer(&mut c, "1", 1).await;
    let m = meter(&mut c, "M1", p, "main", None, ("2020-01-01", 0), None).await;
    read(&mut c, m, "2026-09-30", 100 * M3).await;
    read(&mut c, m, "2026-10-31", 110 * M3).await;
    six_months(&mut c, m, 10).await;
    out.insert("measured", (cu, k));
    // Replacement on 15 Oct (old 200 → 205, new 0 → 3) and a garden sub-meter (50 → 52).
    let (cu, p, k) = customer(&mut c, "2", 1).await;
    let old = meter(
        &mut c,
        "M2a",
        p,
        "main",
        None,
        ("2020-01-01", 0),
        Some(("2026-10-15", 205 * M3)),
    )
    .await;
    let new = meter(&mut c, "M2b", p, "main", None, ("2026-10-15", 0), None).await;
    let sub = meter(&mut c, "M2s", p, "sub", Some(new), ("2021-01-01", 0), None).await;
    read(&mut c, old, "2026-09-30", 200 * M3).await;
    read(&mut c, new, "2026-10-31", 3 * M3).await;
    read(&mut c, sub, "2026-09-30", 50 * M3).await;
    read(&mut c, sub, "2026-10-31", 52 * M3).await;
    out.insert("replacement", (cu, k));
    // No reading, history of 9 m³ a month: estimate.
    let (cu, p, k) = customer(&mut c, "3", 1).await;
    let m = meter(&mut c, "M3", p, "main", None, ("2020-01-01", 0), None).await;
    six_months(&mut c, m, 9).await;
    out.insert("estimated", (cu, k));
    // No meter: norm 3 persons × 3.0 m³.
    let (cu, _, k) = customer(&mut c, "4", 1).await;
    out.insert("norm", (cu, k));
    // 100 m³ against an average of 10: implausible.
    let (cu, p, k) = customer(&mut c, "5", 1).await;
    let m = meter(&mut c, "M5", p, "main", None, ("2020-01-01", 0), None).await;
    read(&mut c, m, "2026-09-30", 0).await;
    read(&mut c, m, "2026-10-31", 100 * M3).await;
    six_months(&mut c, m, 10).await;
    out.insert("implausible", (cu, k));
    // In D2.
    let (cu, p, k) = customer(&mut c, "6", 2).await;
    let m = meter(&mut c, "M6", p, "main", None, ("2020-01-01", 0), None).await;
    read(&mut c, m, "2026-09-30", 0).await;
    read(&mut c, m, "2026-10-31", 5 * M3).await;
    out.insert("other_area", (cu, k));
    // Register going down.
    let (cu, p, k) = customer(&mut c, "7", 1).await;
    let m = meter(&mut c, "M7", p, "main", None, ("2020-01-01", 0), None).await;
    read(&mut c, m, "2026-09-30", 50 * M3).await;
    read(&mut c, m, "2026-10-31", 49 * M3).await;
    out.insert("negative", (cu, k));
    out
}

fn opts(area: Option<&str>) -> RunOptions {
    RunOptions {
        area: area.map(str::to_string),
        ..RunOptions::for_month("2026-10", d("2026-11-02")).unwrap()
    }
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn run_previews_issues_once_and_reconciles_estimates(pool: PgPool) {
    let t = town(&pool).await;
    let plan = run::preview(&pool, &opts(Some("D1"))).await.unwrap();
    let by_contract: BTreeMap<i64, (Decimal, Decimal, VolumeBasis)> = plan
        .proposals
        .iter()
        .map(|p| {
            (
                p.contract_id,
                (p.quote.volume_m3, p.quote.sewage_m3, p.basis),
            )
        })
        .collect();
    assert_eq!(
        by_contract,
        BTreeMap::from([
            (
                t["measured"].1,
                (dec!(10.000), dec!(10.000), VolumeBasis::Measured)
            ),
            (
                t["replacement"].1,
                (dec!(8.000), dec!(6.000), VolumeBasis::Measured)
            ),
            (
                t["estimated"].1,
                (dec!(9.000), dec!(9.000), VolumeBasis::Estimated)
            ),
            (t["norm"].1, (dec!(9.000), dec!(9.000), VolumeBasis::Norm)),
        ])
    );
    let exceptions: BTreeMap<i64, ExceptionKind> = plan
        .exceptions
        .iter()
        .map(|e| (e.contract_id, e.kind))
        .collect();
    assert_eq!(
        exceptions,
        BTreeMap::from([
            (t["estimated"].1, ExceptionKind::Estimated),
            (t["implausible"].1, ExceptionKind::Implausible),
            (t["negative"].1, ExceptionKind::Negative),
        ])
    );
    assert_eq!(plan.contracts, 6);

    // The run prices exactly as `ewoda billing quote` does for the same input.
    let (cli, code) = run_quote(
        r#"{"customer_kind":"household","period":{"from":"2026-10-01","to":"2026-10-31"},
            "tariff":[{"from":"2025-01-01","water_m3":"6.95","sewage_m3":"12.35","vat_percent":"8",
                       "fees":[{"name":"abonament","amount":"3.50","per":"month"}]}],
            "volume":{"reads":[{"date":"2026-09-30","value":"200"},{"date":"2026-10-31","value":"3"}],
                      "register_digits":5,
                      "replacements":[{"date":"2026-10-15","old_final":"205","new_initial":"0"}]},
            "sub_meter_m3":"2.000","sewage":true}"#,
    );
    assert_eq!(code, 0, "{cli}");
    let replacement = plan
        .proposals
        .iter()
        .find(|p| p.contract_id == t["replacement"].1)
        .unwrap();
    assert_eq!(serde_json::to_value(&replacement.quote).unwrap(), cli);

    // Preview wrote nothing.
    let invoices: i64 = sqlx::query_scalar("select count(*) from invoice")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(invoices, 0);

    let run_id = run::create_run(&pool, &opts(Some("D1"))).await.unwrap();
    assert!(
        run::issue(&pool, run_id, &opts(Some("D1")), &mut |_, _| {})
            .await
            .is_err(),
        "not approved"
    );
    run::approve(&pool, run_id).await.unwrap();
    let mut ticks = Vec::new();
    let s = run::issue(&pool, run_id, &opts(Some("D1")), &mut |done, total| {
        ticks.push((done, total))
    })
    .await
    .unwrap();
    assert_eq!(s.issued, 4);
    assert_eq!(ticks.last(), Some(&(4, 4)));
    assert_eq!(
        s.numbers,
        Some(("FW/2026/11/000001".into(), "FW/2026/11/000004".into()))
    );
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(
        ledger::balance(&mut conn, t["measured"].0).await.unwrap(),
        dec!(212.22)
    );
    drop(conn);

    // Idempotent: the same run again, and a new run for the same month, issue nothing.
    let again = run::issue(&pool, run_id, &opts(Some("D1")), &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(again.issued, 0);
    assert_eq!(again.plan.already_invoiced, 4);
    let all = run::create_run(&pool, &opts(None)).await.unwrap();
    run::approve(&pool, all).await.unwrap();
    let s = run::issue(&pool, all, &opts(None), &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(s.issued, 1, "only the D2 contract is new");
    let invoices: i64 = sqlx::query_scalar("select count(*) from invoice")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(invoices, 5);

    // The real reading of the estimated meter arrives: 300 → 311 m³, i.e. 11 instead of 9.
    let mut tx = pool.begin().await.unwrap();
    let m3: i64 = sqlx::query_scalar("select meter_id from meter where serial = 'M3'")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    read(&mut tx, m3, "2026-09-30", 300 * M3).await;
    read(&mut tx, m3, "2026-10-31", 311 * M3).await;
    let est: i64 = sqlx::query_scalar("select invoice_id from invoice where contract_id = $1")
        .bind(t["estimated"].1)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let before = ledger::balance(&mut tx, t["estimated"].0).await.unwrap();
    let o = RunOptions {
        issued_on: d("2026-11-20"),
        ..opts(None)
    };
    let kor = run::reconcile_estimate(&mut tx, est, &o)
        .await
        .unwrap()
        .expect("a correction");
    assert_eq!(kor.number, "KOR/2026/11/000001");
    // 11 m³ gross 233.06 (VAT 17.26) − 9 m³ gross 191.38 (VAT 14.18): the VAT difference is
    // the difference of the per-rate VATs (3.08), not VAT on the net difference (3.09).
    assert_eq!(kor.gross, dec!(41.68));
    assert_eq!(
        ledger::balance(&mut tx, t["estimated"].0).await.unwrap(),
        before + dec!(41.68)
    );
    // Reconciled: nothing more to do.
    assert!(run::reconcile_estimate(&mut tx, est, &o)
        .await
        .unwrap()
        .is_none());
    tx.commit().await.unwrap();
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn unknown_area_is_an_error(pool: PgPool) {
    let mut c = pool.acquire().await.unwrap();
    base(&mut c).await;
    let err = run::preview(&pool, &opts(Some("X9"))).await.unwrap_err();
    assert_eq!(err.to_string(), "area: no district with code \"X9\"");
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn the_next_run_reconciles_estimates_whose_readings_arrived(pool: PgPool) {
    let t = town(&pool).await;
    let october = run::bill_period(&pool, &opts(None), &mut |_, _| {})
        .await
        .unwrap();
    assert!(october.summary.issued > 0);
    assert!(october.reconciled.is_empty(), "nothing to reconcile yet");
    // The estimated meter's real readings arrive: 300 → 311 m³.
    let mut tx = pool.begin().await.unwrap();
    let m3: i64 = sqlx::query_scalar("select meter_id from meter where serial = 'M3'")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    read(&mut tx, m3, "2026-09-30", 300 * M3).await;
    read(&mut tx, m3, "2026-10-31", 311 * M3).await;
    tx.commit().await.unwrap();
    let november = RunOptions {
        issued_on: d("2026-12-01"),
        ..RunOptions::for_month("2026-11", d("2026-12-01")).unwrap()
    };
    let outcome = run::bill_period(&pool, &november, &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(outcome.reconciled.len(), 1);
    assert_eq!(outcome.reconciled[0].gross, dec!(41.68));
    let est_invoice: i64 = sqlx::query_scalar(
        "select count(*) from invoice where kind = 'KOR' and corrects_invoice_id in
           (select invoice_id from invoice where contract_id = $1 and kind = 'VAT')",
    )
    .bind(t["estimated"].1)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(est_invoice, 1);
    // A third run finds nothing more to reconcile.
    let again = run::reconcile_estimates(&pool, &november).await.unwrap();
    assert!(again.is_empty());
}

/// Water and sewage volume billed to a contract over all its invoices and corrections.
async fn billed(pool: &PgPool, contract: i64) -> (Decimal, Decimal) {
    let sum = |item: &'static str| {
        sqlx::query_scalar::<_, Decimal>(
            "select coalesce(sum(l.quantity), 0) from invoice_line l join invoice i using (invoice_id)
             where i.contract_id = $1 and l.item = $2",
        )
        .bind(contract)
        .bind(item)
    };
    (
        sum("water").fetch_one(pool).await.unwrap(),
        sum("sewage").fetch_one(pool).await.unwrap(),
    )
}

async fn bill_month(pool: &PgPool, month: &str, issued_on: &str) {
    let opts = RunOptions {
        area: Some("D1".into()),
        issued_on: d(issued_on),
        ..RunOptions::for_month(month, d(issued_on)).unwrap()
    };
    run::bill_period(pool, &opts, &mut |_, _| {}).await.unwrap();
}

/// A garden sub-meter while the main meter's reading is missing: the estimated month uses no
/// sub-meter reads and deducts nothing, and the next measured month deducts the sub-meter's
/// volume since the last invoice that used it, so every cubic metre of garden water comes off
/// the sewage exactly once (and the water itself is billed once, estimate reconciled).
#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn a_sub_meter_in_an_estimated_month_is_deducted_once_with_the_next_reading(pool: PgPool) {
    let mut c = pool.acquire().await.unwrap();
    base(&mut c).await;
    let (_, p, contract) = customer(&mut c, "9", 1).await;
    let main = meter(&mut c, "M9", p, "main", None, ("2020-01-01", 0), None).await;
    let sub = meter(&mut c, "M9s", p, "sub", Some(main), ("2021-01-01", 0), None).await;
    six_months(&mut c, main, 10).await;
    read(&mut c, main, "2026-08-31", 100 * M3).await;
    read(&mut c, main, "2026-09-30", 110 * M3).await;
    read(&mut c, sub, "2026-08-31", 20 * M3).await;
    read(&mut c, sub, "2026-09-30", 21 * M3).await;
    bill_month(&pool, "2026-09", "2026-10-01").await;
    assert_eq!(billed(&pool, contract).await, (dec!(10), dec!(9)));
    // October: the garden meter is read, the main meter is not (an estimate).
    read(&mut c, sub, "2026-10-31", 23 * M3).await;
    bill_month(&pool, "2026-10", "2026-11-01").await;
    let basis: String = sqlx::query_scalar(
        "select basis from run_proposal where contract_id = $1 and period_from = '2026-10-01'",
    )
    .bind(contract)
    .fetch_one(&mut *c)
    .await
    .unwrap();
    assert_eq!(basis, "estimated");
    // November: both read; 130 − 100 = 30 m³ of water since August, 24 − 20 = 4 in the garden.
    read(&mut c, main, "2026-11-30", 130 * M3).await;
    read(&mut c, sub, "2026-11-30", 24 * M3).await;
    drop(c);
    bill_month(&pool, "2026-11", "2026-12-01").await;
    assert_eq!(billed(&pool, contract).await, (dec!(30), dec!(26)));
}
