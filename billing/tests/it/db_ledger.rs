//! Ledger invariants over random sequences of invoices, payments, corrections and refunds:
//! a customer's balance equals invoices − payments ± corrections + refunds, and the sum of all
//! postings equals the sum of the events (no money made or lost). Checked against an in-memory
//! model (many cases, shrinking) and against the real database (a modest number of cases).

use crate::db_fixtures;

use db_fixtures::{base, customer, d};
use ewoda_billing::invoice::issue::{issue, DraftLine, InvoiceDraft};
use ewoda_billing::ledger::{self, NewPosting, PostingKind};
use ewoda_billing::tariff::Period;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use rust_decimal::Decimal;
use sqlx::PgPool;
use std::collections::HashMap;

/// One money event for customer `who` (0..3), amounts in grosze.
#[derive(Debug, Clone, Copy)]
enum Event {
    Invoice { who: usize, grosze: i64 },
    Payment { who: usize, grosze: i64 },
    Correction { who: usize, grosze: i64 },
    Refund { who: usize, grosze: i64 },
}

fn events() -> impl Strategy<Value = Vec<Event>> {
    let who = 0usize..3;
    let amount = 1i64..500_000;
    prop::collection::vec(
        prop_oneof![
            (who.clone(), amount.clone()).prop_map(|(who, grosze)| Event::Invoice { who, grosze }),
            (who.clone(), amount.clone()).prop_map(|(who, grosze)| Event::Payment { who, grosze }),
            (who.clone(), -200_000i64..200_000)
                .prop_filter("non-zero", |(_, g)| *g != 0)
                .prop_map(|(who, grosze)| Event::Correction { who, grosze }),
            (who, amount).prop_map(|(who, grosze)| Event::Refund { who, grosze }),
        ],
        1..25,
    )
}

fn money(grosze: i64) -> Decimal {
    Decimal::new(grosze, 2)
}

/// The model: what each event does to a balance, by the ledger's sign rules.
fn effect(e: &Event) -> (usize, i64) {
    match *e {
        Event::Invoice { who, grosze } => (who, grosze),
        Event::Payment { who, grosze } => (who, -grosze),
        Event::Correction { who, grosze } => (who, grosze),
        Event::Refund { who, grosze } => (who, grosze),
    }
}

fn model(events: &[Event]) -> [i64; 3] {
    let mut b = [0i64; 3];
    for e in events {
        let (who, delta) = effect(e);
        if let Some(x) = b.get_mut(who) {
            *x += delta;
        }
    }
    b
}

proptest! {
    #[test]
    fn model_balances_add_up(evs in events()) {
        let b = model(&evs);
        let invoices: i64 = evs.iter().map(|e| if let Event::Invoice { grosze, .. } = e { *grosze } else { 0 }).sum();
        let payments: i64 = evs.iter().map(|e| if let Event::Payment { grosze, .. } = e { *grosze } else { 0 }).sum();
        let corrections: i64 = evs.iter().map(|e| if let Event::Correction { grosze, .. } = e { *grosze } else { 0 }).sum();
        let refunds: i64 = evs.iter().map(|e| if let Event::Refund { grosze, .. } = e { *grosze } else { 0 }).sum();
        prop_assert_eq!(b.iter().sum::<i64>(), invoices - payments + corrections + refunds);
    }
}

/// Applies the events through the billing API and the payment/refund tables; returns the
/// customers' ids.
async fn apply(pool: &PgPool, case: usize, evs: &[Event]) -> [i64; 3] {
    let mut conn = pool.acquire().await.unwrap();
    let mut ids = [0i64; 3];
    let mut contracts = [0i64; 3];
    for (i, id) in ids.iter_mut().enumerate() {
        let (c, _, k) = customer(&mut conn, &format!("{}", 10_000 + case * 10 + i), 1).await;
        *id = c;
        contracts[i] = k;
    }
    drop(conn);
    let period = Period::new(d("2026-10-01"), d("2026-10-31")).unwrap();
    let mut last_invoice: HashMap<usize, i64> = HashMap::new();
    for (n, e) in evs.iter().enumerate() {
        let mut tx = pool.begin().await.unwrap();
        let (who, _) = effect(e);
        let customer_id = ids[who];
        match *e {
            Event::Invoice { grosze, .. } | Event::Correction { grosze, .. } => {
                let corrects = match e {
                    Event::Correction { .. } => last_invoice.get(&who).copied(),
                    _ => None,
                };
                if matches!(e, Event::Correction { .. }) && corrects.is_none() {
                    // Nothing to correct yet: a correction needs an original; book it as a
                    // ledger correction without a document instead.
                    ledger::post(
                        &mut tx,
                        &NewPosting::new(
                            customer_id,
                            d("2026-11-02"),
                            PostingKind::Correction,
                            money(grosze),
                            "korekta",
                        ),
                    )
                    .await
                    .unwrap();
                } else {
                    let line = DraftLine {
                        item: "abonament".into(),
                        from: period.from(),
                        to: period.to(),
                        quantity: Decimal::ONE,
                        unit: "period".into(),
                        unit_price: money(grosze),
                        net: money(grosze),
                        vat_percent: Decimal::ZERO,
                        estimated: false,
                    };
                    let inv = issue(
                        &mut tx,
                        &InvoiceDraft {
                            customer_id,
                            // Many invoices of one period: a contract has one sales
                            // invoice per period, so these carry none.
                            contract_id: None,
                            billing_run_id: None,
                            corrects_invoice_id: corrects,
                            correction_reason: corrects.map(|_| "korekta".to_string()),
                            period,
                            issued_on: d("2026-11-02"),
                            due_on: d("2026-11-16"),
                            estimated: false,
                            lines: vec![line],
                            net: money(grosze),
                            vat: Decimal::ZERO,
                            gross: money(grosze),
                        },
                    )
                    .await
                    .unwrap();
                    if corrects.is_none() {
                        last_invoice.insert(who, inv.invoice_id);
                    }
                }
            }
            Event::Payment { grosze, .. } => {
                let pid: i64 = sqlx::query_scalar(
                    "insert into payment (source, bank_reference, amount, booked_on, customer_id, matched_by)
                     values ('manual', $1, $2, '2026-11-10', $3, 'clerk') returning payment_id",
                )
                .bind(format!("case{case}-{n}"))
                .bind(money(grosze))
                .bind(customer_id)
                .fetch_one(&mut *tx)
                .await
                .unwrap();
                ledger::post(
                    &mut tx,
                    &NewPosting {
                        payment_id: Some(pid),
                        ..NewPosting::new(
                            customer_id,
                            d("2026-11-10"),
                            PostingKind::Payment,
                            -money(grosze),
                            "wpłata",
                        )
                    },
                )
                .await
                .unwrap();
            }
            Event::Refund { grosze, .. } => {
                let rid: i64 = sqlx::query_scalar(
                    "insert into refund (customer_id, amount, iban, payee_name) values ($1, $2, 'PL61109010140000071219812874', 'x') returning refund_id",
                )
                .bind(customer_id)
                .bind(money(grosze))
                .fetch_one(&mut *tx)
                .await
                .unwrap();
                ledger::post(
                    &mut tx,
                    &NewPosting {
                        refund_id: Some(rid),
                        ..NewPosting::new(
                            customer_id,
                            d("2026-11-12"),
                            PostingKind::Refund,
                            money(grosze),
                            "zwrot",
                        )
                    },
                )
                .await
                .unwrap();
            }
        }
        tx.commit().await.unwrap();
    }
    ids
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn db_balances_match_the_model_and_money_is_conserved(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    base(&mut conn).await;
    drop(conn);
    let mut runner = TestRunner::deterministic();
    let strategy = events();
    for case in 0..12 {
        let evs = strategy.new_tree(&mut runner).unwrap().current();
        let ids = apply(&pool, case, &evs).await;
        let expected = model(&evs);
        let mut conn = pool.acquire().await.unwrap();
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(
                ledger::balance(&mut conn, *id).await.unwrap(),
                money(expected[i]),
                "case {case} customer {i}: {evs:?}"
            );
        }
        let total: Decimal = sqlx::query_scalar(
            "select coalesce(sum(amount), 0) from ledger_posting where customer_id = any($1)",
        )
        .bind(ids.to_vec())
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        let events_sum: i64 = evs.iter().map(|e| effect(e).1).sum();
        assert_eq!(total, money(events_sum), "case {case}");
        // Documents and postings agree: every invoice's gross is posted exactly once.
        let unposted: i64 = sqlx::query_scalar(
            "select count(*) from invoice i where i.customer_id = any($1)
               and i.gross <> coalesce((select sum(amount) from ledger_posting p where p.invoice_id = i.invoice_id), 0)",
        )
        .bind(ids.to_vec())
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        assert_eq!(unposted, 0, "case {case}");
    }
}
