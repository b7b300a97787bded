//! The read chain as a property, against a real PostgreSQL: for random consumption, readings
//! near (and off) the period bounds, readings that arrive late (after the run of their month),
//! a meter replacement and a run per month, the water volume billed over all invoices and
//! corrections equals the premises's real consumption over the billed span — no cubic metre
//! billed twice or left out, estimates included (reconciled when the real read arrives,
//! corrected down when it shows they ran ahead, or carried by the chain), and months held for
//! a negative volume billed with the next one.

use crate::db_fixtures;

use chrono::{Datelike, Days, NaiveDate};
use db_fixtures::{base, customer, history, meter, read};
use ewoda_billing::run::{self, RunOptions};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use rust_decimal::Decimal;
use sqlx::PgPool;

/// The old meter's register on 31 December 2025, ml.
const START_ML: i64 = 6_000_000;

/// Billed months: January to June at random, then July with a reading on its last day.
const MONTHS: u32 = 7;

/// A reading of month `month` (1-based): `offset` days from the month's last day, inserted
/// before the run of month `month + delay` (a late arrival when delay > 0).
#[derive(Debug, Clone, Copy)]
struct PlannedRead {
    month: u32,
    day: PlannedDay,
    delay: u32,
}

#[derive(Debug, Clone, Copy)]
enum PlannedDay {
    /// Days from the month's last day (-3 ..= 3).
    NearEnd(i64),
    /// A day inside the month.
    Mid(u32),
}

#[derive(Debug, Clone)]
struct Case {
    /// Litres a day, per month (about 2 to 21 m³ a month).
    litres_a_day: Vec<i64>,
    /// The meter's monthly history before January, m³ to 0.001: estimates from it fall below
    /// or run ahead of the real use.
    history_ml: i64,
    reads: Vec<PlannedRead>,
    /// (month, day) the main meter is replaced on.
    replacement: Option<(u32, u32)>,
}

fn case() -> impl Strategy<Value = Case> {
    let read = (
        1..MONTHS,
        prop_oneof![
            (-3i64..=3).prop_map(PlannedDay::NearEnd),
            (5u32..=25).prop_map(PlannedDay::Mid)
        ],
        0u32..=2,
    )
        .prop_map(|(month, day, delay)| PlannedRead { month, day, delay });
    (
        prop::collection::vec(70i64..=700, MONTHS as usize),
        prop::collection::vec(read, 0..14),
        prop::option::of((2..MONTHS, 10u32..=20)),
        (1i64..=30).prop_map(|m3| m3 * 1_000_000),
    )
        .prop_map(|(litres_a_day, reads, replacement, history_ml)| Case {
            litres_a_day,
            history_ml,
            reads,
            replacement,
        })
}

fn last_day(month: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, month + 1, 1)
        .and_then(|d| d.pred_opt())
        .unwrap()
}

/// The premises's true consumption from 1 January through `day`, litres.
fn used_through(c: &Case, day: NaiveDate) -> i64 {
    let mut total = 0;
    let mut d = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    while d <= day {
        total += c.litres_a_day[(d.month() - 1) as usize];
        d = d.succ_opt().unwrap();
    }
    total
}

/// Sets up the case's customer in its own district and returns (district code, contract).
async fn setup(pool: &PgPool, n: usize, c: &Case) -> (String, i64, i64, Option<(i64, NaiveDate)>) {
    let mut conn = pool.acquire().await.unwrap();
    let code = format!("P{n}");
    let district: i64 = sqlx::query_scalar(
        "insert into district (code, name) values ($1, $1) returning district_id",
    )
    .bind(&code)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    let (_, premises, contract) = customer(&mut conn, &format!("{}", 100 + n), district).await;
    let swap = c
        .replacement
        .map(|(m, day)| NaiveDate::from_ymd_opt(2026, m, day).unwrap());
    let removed = swap.map(|d| {
        let before = d.pred_opt().unwrap();
        (d, START_ML + used_through(c, before) * 1_000)
    });
    let removed_s = removed.map(|(d, ml)| (d.to_string(), ml));
    let old = meter(
        &mut conn,
        &format!("{code}a"),
        premises,
        "main",
        None,
        ("2025-06-30", 0),
        removed_s.as_ref().map(|(d, ml)| (d.as_str(), *ml)),
    )
    .await;
    // Six months of history, and the read the first period opens at.
    for m in 7..=12 {
        history(&mut conn, old, &format!("2025-{m:02}-15"), c.history_ml).await;
    }
    read(&mut conn, old, "2025-12-31", START_ML).await;
    let new = match removed_s {
        Some((d, _)) => Some((
            meter(
                &mut conn,
                &format!("{code}b"),
                premises,
                "main",
                None,
                (&d, 0),
                None,
            )
            .await,
            swap.unwrap(),
        )),
        None => None,
    };
    (code, contract, old, new)
}

/// Inserts a reading of `day` (23:50) on whichever meter hung there then.
async fn insert_read(
    pool: &PgPool,
    c: &Case,
    old: i64,
    new: Option<(i64, NaiveDate)>,
    day: NaiveDate,
) {
    let used = used_through(c, day) * 1_000;
    let (m, ml) = match new {
        Some((m, swap)) if day >= swap => {
            (m, used - used_through(c, swap.pred_opt().unwrap()) * 1_000)
        }
        _ => (old, START_ML + used),
    };
    let mut conn = pool.acquire().await.unwrap();
    let exists: bool = sqlx::query_scalar(
        "select exists (select 1 from reading where meter_id = $1 and read_at::date = $2)",
    )
    .bind(m)
    .bind(day)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    if !exists {
        read(&mut conn, m, &day.to_string(), ml).await;
    }
}

fn read_day(r: &PlannedRead) -> NaiveDate {
    match r.day {
        PlannedDay::NearEnd(off) => {
            let end = last_day(r.month);
            if off >= 0 {
                end.checked_add_days(Days::new(off as u64)).unwrap()
            } else {
                end.checked_sub_days(Days::new((-off) as u64)).unwrap()
            }
        }
        PlannedDay::Mid(day) => NaiveDate::from_ymd_opt(2026, r.month, day).unwrap(),
    }
}

/// Runs the case and returns (billed water m³, real consumption m³).
async fn run_case(pool: &PgPool, n: usize, c: &Case) -> (Decimal, Decimal) {
    let (code, contract, old, new) = setup(pool, n, c).await;
    for month in 1..=MONTHS {
        for r in c.reads.iter().filter(|r| {
            // A reading after its month's end cannot arrive before that day has passed.
            let earliest = r.month + u32::from(matches!(r.day, PlannedDay::NearEnd(o) if o > 0));
            (r.month + r.delay).max(earliest).min(MONTHS) == month
        }) {
            insert_read(pool, c, old, new, read_day(r)).await;
        }
        if month == MONTHS {
            insert_read(pool, c, old, new, last_day(MONTHS)).await;
        }
        let issued_on = last_day(month).succ_opt().unwrap();
        let opts = RunOptions {
            area: Some(code.clone()),
            // Volumes that cover several months after a held one are not implausible here.
            implausible_factor: Decimal::from(1_000),
            issued_on,
            ..RunOptions::for_month(&format!("2026-{month:02}"), issued_on).unwrap()
        };
        run::bill_period(pool, &opts, &mut |_, _| {}).await.unwrap();
    }
    let billed: Decimal = sqlx::query_scalar(
        "select coalesce(sum(l.quantity), 0) from invoice_line l join invoice i using (invoice_id)
         where i.contract_id = $1 and l.item = 'water'",
    )
    .bind(contract)
    .fetch_one(pool)
    .await
    .unwrap();
    let real = Decimal::new(used_through(c, last_day(MONTHS)), 3);
    (billed, real)
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn billed_volume_over_all_invoices_equals_real_consumption(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    base(&mut conn).await;
    drop(conn);
    let mut runner = TestRunner::deterministic();
    let strategy = case();
    for n in 0..16 {
        let c = strategy.new_tree(&mut runner).unwrap().current();
        let (billed, real) = run_case(&pool, n, &c).await;
        assert_eq!(billed, real, "case {n}: {c:?}");
    }
}
