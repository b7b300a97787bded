//! Allocation invariants over random sequences of invoices and payments (some over, some
//! under, some naming an invoice): allocations never exceed the payments nor any invoice's
//! gross, and the balance is Σ gross − Σ payments. Checked on the pure planner (many cases,
//! shrinking) and through real statement imports into the database (a modest number of cases).

use crate::db_payments_fixtures;

use chrono::NaiveDate;
use db_payments_fixtures::{base, customer, d, invoice};
use ewoda_billing::ledger::{self, OpenItem};
use ewoda_billing::payments::{import_statement, plan_allocation, StatementFormat};
use ewoda_billing::statement::csv::BANK_CSV;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use rust_decimal::Decimal;
use sqlx::PgPool;

/// One event for a single customer, amounts in grosze; `names` picks an earlier invoice.
#[derive(Debug, Clone, Copy)]
enum Event {
    Invoice { grosze: i64 },
    Payment { grosze: i64, names: Option<usize> },
}

fn events() -> impl Strategy<Value = Vec<Event>> {
    prop::collection::vec(
        prop_oneof![
            (1i64..50_000).prop_map(|grosze| Event::Invoice { grosze }),
            (1i64..80_000, prop::option::of(0usize..8))
                .prop_map(|(grosze, names)| Event::Payment { grosze, names }),
        ],
        1..14,
    )
}

fn money(grosze: i64) -> Decimal {
    Decimal::new(grosze, 2)
}

/// The in-memory ledger: invoices (id = index) with what is allocated to them.
#[derive(Debug, Default)]
struct Model {
    gross: Vec<Decimal>,
    allocated: Vec<Decimal>,
    paid: Decimal,
}

impl Model {
    fn apply(&mut self, e: &Event) {
        match *e {
            Event::Invoice { grosze } => {
                self.gross.push(money(grosze));
                self.allocated.push(Decimal::ZERO);
            }
            Event::Payment { grosze, names } => {
                let open: Vec<OpenItem> = (0..self.gross.len())
                    .filter(|&i| self.gross[i] != self.allocated[i])
                    .map(|i| OpenItem {
                        invoice_id: i as i64,
                        number: String::new(),
                        due_on: NaiveDate::MIN,
                        gross: self.gross[i],
                        corrected: self.gross[i],
                        allocated: self.allocated[i],
                        open: self.gross[i] - self.allocated[i],
                    })
                    .collect();
                let named = names.filter(|n| *n < self.gross.len()).map(|n| n as i64);
                let plan = plan_allocation(&open, money(grosze), named);
                let used: Decimal = plan.iter().map(|a| a.amount).sum();
                let was_open: Decimal = open.iter().map(|o| o.open.max(Decimal::ZERO)).sum();
                // All of it goes to open invoices, or every open invoice is filled.
                assert_eq!(used, money(grosze).min(was_open));
                for a in plan {
                    assert!(a.amount > Decimal::ZERO);
                    self.allocated[a.invoice_id as usize] += a.amount;
                }
                self.paid += money(grosze);
            }
        }
    }

    fn check(&self) {
        let total: Decimal = self.allocated.iter().sum();
        assert!(total <= self.paid, "allocated {total} > paid {}", self.paid);
        for (g, a) in self.gross.iter().zip(&self.allocated) {
            assert!(a <= g, "invoice over-allocated: {a} > {g}");
        }
    }
}

proptest! {
    #[test]
    fn planner_never_over_allocates(evs in events()) {
        let mut m = Model::default();
        for e in &evs {
            m.apply(e);
            m.check();
        }
    }
}

/// Applies one case through invoices and CSV statement imports for a fresh customer; returns
/// (customer id, invoice ids in order).
async fn apply(pool: &PgPool, case: usize, evs: &[Event]) -> (i64, Vec<i64>) {
    let mut conn = pool.acquire().await.unwrap();
    let (c, _, k) = customer(&mut conn, &format!("{}", 50_000 + case), 1).await;
    ewoda_billing::virtual_accounts::assign_all(&mut conn)
        .await
        .unwrap();
    let iban = ewoda_billing::virtual_accounts::of_customer(&mut conn, c)
        .await
        .unwrap()
        .unwrap();
    let nrb = iban.as_str().trim_start_matches("PL").to_string();
    let header = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/testdata/billing/bank_csv_sample.csv"
    ))
    .lines()
    .next()
    .unwrap();
    let mut invoices: Vec<(i64, String)> = Vec::new();
    for (n, e) in evs.iter().enumerate() {
        match *e {
            Event::Invoice { grosze } => {
                let issued = (d("2026-01-01") + chrono::Days::new(n as u64)).to_string();
                let inv = invoice(&mut conn, c, k, &issued, money(grosze)).await;
                invoices.push((inv.invoice_id, inv.number));
            }
            Event::Payment { grosze, names } => {
                let title = names
                    .and_then(|i| invoices.get(i))
                    .map(|(_, number)| format!("zapłata {number}"))
                    .unwrap_or_else(|| "oplata za wode".into());
                let amount = money(grosze).to_string().replace('.', ",");
                let file = format!(
                    "{header}\n2026-06-01;2026-06-01;{amount};PLN;{nrb};;X;{title};c{case}e{n}\n"
                );
                import_statement(pool, file.as_bytes(), &StatementFormat::Csv(BANK_CSV))
                    .await
                    .unwrap();
            }
        }
    }
    (c, invoices.into_iter().map(|(id, _)| id).collect())
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn database_allocations_match_the_model(pool: PgPool) {
    base(&mut pool.acquire().await.unwrap()).await;
    let mut runner = TestRunner::deterministic();
    let strategy = events();
    for case in 0..12 {
        let evs = strategy.new_tree(&mut runner).unwrap().current();
        let (c, invoice_ids) = apply(&pool, case, &evs).await;
        let mut model = Model::default();
        for e in &evs {
            model.apply(e);
        }
        let mut conn = pool.acquire().await.unwrap();
        let gross: Decimal = model.gross.iter().sum();
        assert_eq!(
            ledger::balance(&mut conn, c).await.unwrap(),
            gross - model.paid,
            "case {case}: {evs:?}"
        );
        let rows: Vec<(i64, Decimal, Decimal)> = sqlx::query_as(
            "select i.invoice_id, i.gross, coalesce(sum(a.amount), 0)
             from invoice i left join payment_allocation a using (invoice_id)
             where i.customer_id = $1 group by i.invoice_id order by i.invoice_id",
        )
        .bind(c)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        let total: Decimal = rows.iter().map(|r| r.2).sum();
        assert!(total <= model.paid, "case {case}");
        for (i, (id, g, a)) in rows.iter().enumerate() {
            assert!(a <= g, "case {case}: invoice {id} over-allocated");
            assert_eq!(*id, invoice_ids[i]);
            assert_eq!(
                *a, model.allocated[i],
                "case {case}: invoice {i} of {evs:?}"
            );
        }
    }
}
