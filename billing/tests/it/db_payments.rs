//! Statement import into the ledger against the shared samples: matching by virtual account
//! and invoice number, allocation (named invoice first, then oldest due), credit, the
//! unmatched queue and the clerk's assignment, idempotent re-import, all-or-nothing errors.

use crate::db_payments_fixtures;

use db_payments_fixtures::{allocations, d, payment_postings, world};
use ewoda_billing::ledger;
use ewoda_billing::payments::{
    assign_unmatched, import_statement, list_unmatched, Allocation, MatchedBy, PaymentError,
    StatementFormat,
};
use ewoda_billing::statement::csv::BANK_CSV;
use ewoda_billing::statement::profiles::TILDE;
use rust_decimal_macros::dec;
use sqlx::PgPool;

const MT940: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/testdata/billing/mt940_sample.sta"
));
const CSV: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/testdata/billing/bank_csv_sample.csv"
));

/// (bank reference, customer, matched_by, to_account) of a payment row.
type MatchRow = (String, Option<i64>, Option<String>, Option<String>);

async fn counts(pool: &PgPool) -> (i64, i64, i64) {
    sqlx::query_as(
        "select (select count(*) from payment), (select count(*) from payment_allocation),
                (select count(*) from ledger_posting where kind = 'payment')",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn check_sample_posted(pool: &PgPool, w: &db_payments_fixtures::World) {
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(
        payment_postings(&mut conn).await,
        vec![
            (
                w.c4711,
                d("2026-05-05"),
                dec!(-267.41),
                "2605051234567".to_string()
            ),
            (
                w.c4712,
                d("2026-05-05"),
                dec!(-300.00),
                "2605051234568".to_string()
            ),
        ]
    );
    // 4711 named FW/2026/05/000123: it is paid first although the March invoice is older.
    // 4712 named nothing: oldest due first, 130.00 left as credit.
    assert_eq!(
        allocations(&mut conn).await,
        vec![
            (
                "2605051234567".into(),
                "FW/2026/05/000123".into(),
                dec!(267.41)
            ),
            (
                "2605051234568".into(),
                "FW/2026/02/000120".into(),
                dec!(50.00)
            ),
            (
                "2605051234568".into(),
                "FW/2026/04/000122".into(),
                dec!(120.00)
            ),
        ]
    );
    assert_eq!(
        ledger::balance(&mut conn, w.c4711).await.unwrap(),
        dec!(100.00)
    );
    assert_eq!(
        ledger::balance(&mut conn, w.c4712).await.unwrap(),
        dec!(-130.00)
    );
    let open: Vec<String> = ledger::open_items(&mut conn, w.c4711)
        .await
        .unwrap()
        .into_iter()
        .map(|o| format!("{} {}", o.number, o.open))
        .collect();
    assert_eq!(open, vec!["FW/2026/03/000121 100.00"]);
    assert!(ledger::open_items(&mut conn, w.c4712)
        .await
        .unwrap()
        .is_empty());
    let matched: Vec<MatchRow> = sqlx::query_as(
        "select bank_reference, customer_id, matched_by, to_account::text from payment
         where review is null order by payment_id",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    assert_eq!(
        matched,
        vec![
            (
                "2605051234567".into(),
                Some(w.c4711),
                Some("virtual_account".into()),
                Some("PL79109010141234000000004711".into())
            ),
            (
                "2605051234568".into(),
                Some(w.c4712),
                Some("virtual_account".into()),
                Some("PL52109010141234000000004712".into())
            ),
        ]
    );
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn mt940_sample_posts_allocates_and_reimports_idempotently(pool: PgPool) {
    let w = world(&mut pool.acquire().await.unwrap()).await;
    let format = StatementFormat::Mt940(TILDE);
    let report = import_statement(&pool, MT940.as_bytes(), &format)
        .await
        .unwrap();
    assert_eq!(report.credits, 2);
    assert_eq!(report.debits_skipped, 0);
    assert!(report.duplicates.is_empty());
    assert_eq!(report.unmatched(), 0);
    let summary: Vec<_> = report
        .imported
        .iter()
        .map(|p| {
            (
                p.bank_reference.as_str(),
                p.amount,
                p.customer_id,
                p.matched_by,
                p.allocations.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "2605051234567",
                dec!(267.41),
                Some(w.c4711),
                Some(MatchedBy::VirtualAccount),
                vec![Allocation {
                    invoice_id: w.may_4711.invoice_id,
                    amount: dec!(267.41)
                }]
            ),
            (
                "2605051234568",
                dec!(300.00),
                Some(w.c4712),
                Some(MatchedBy::VirtualAccount),
                vec![
                    Allocation {
                        invoice_id: w.feb_4712.invoice_id,
                        amount: dec!(50.00)
                    },
                    Allocation {
                        invoice_id: w.apr_4712.invoice_id,
                        amount: dec!(120.00)
                    }
                ]
            ),
        ]
    );
    check_sample_posted(&pool, &w).await;

    let again = import_statement(&pool, MT940.as_bytes(), &format)
        .await
        .unwrap();
    assert!(again.imported.is_empty());
    assert_eq!(again.duplicates, vec!["2605051234567", "2605051234568"]);
    // The CSV export of the same entries is another report of the same money (or not): stored,
    // held for the clerk as possible duplicates, never posted twice.
    let csv = import_statement(&pool, CSV.as_bytes(), &StatementFormat::Csv(BANK_CSV))
        .await
        .unwrap();
    let held: Vec<_> = csv
        .imported
        .iter()
        .map(|p| (p.review, p.duplicate_of, p.customer_id))
        .collect();
    assert_eq!(
        held,
        vec![
            (
                Some("possible_duplicate"),
                Some(report.imported[0].payment_id),
                None
            ),
            (
                Some("possible_duplicate"),
                Some(report.imported[1].payment_id),
                None
            )
        ]
    );
    check_sample_posted(&pool, &w).await;
    assert_eq!(counts(&pool).await, (4, 3, 2));
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn csv_sample_posts_the_same(pool: PgPool) {
    let w = world(&mut pool.acquire().await.unwrap()).await;
    let report = import_statement(&pool, CSV.as_bytes(), &StatementFormat::Csv(BANK_CSV))
        .await
        .unwrap();
    assert_eq!(report.imported.len(), 2);
    check_sample_posted(&pool, &w).await;
    let source: Vec<String> = sqlx::query_scalar("select source from payment order by payment_id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(source, vec!["csv", "csv"]);
}

fn csv_line(amount: &str, to: &str, title: &str, reference: &str) -> String {
    let header = CSV.lines().next().unwrap();
    format!(
        "{header}\n2026-05-06;2026-05-06;{amount};PLN;{to};35114020040000999900001234;ANNA NOWAK;{title};{reference}\n"
    )
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn invoice_number_in_title_matches_when_the_account_is_unknown(pool: PgPool) {
    let w = world(&mut pool.acquire().await.unwrap()).await;
    // Paid to the utility's collection account (no virtual account), naming 4711's March invoice.
    let file = csv_line(
        "150,00",
        "61109010140000071219812874",
        "zaplata fw/2026/03/000121",
        "R1",
    );
    let report = import_statement(&pool, file.as_bytes(), &StatementFormat::Csv(BANK_CSV))
        .await
        .unwrap();
    let p = &report.imported[0];
    assert_eq!(
        (p.customer_id, p.matched_by),
        (Some(w.c4711), Some(MatchedBy::InvoiceNumber))
    );
    // The named invoice first (100.00), then the oldest other open one (May, 50.00 of 267.41).
    assert_eq!(
        p.allocations,
        vec![
            Allocation {
                invoice_id: w.mar_4711.invoice_id,
                amount: dec!(100.00)
            },
            Allocation {
                invoice_id: w.may_4711.invoice_id,
                amount: dec!(50.00)
            }
        ]
    );
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(
        ledger::balance(&mut conn, w.c4711).await.unwrap(),
        dec!(217.41)
    );
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn unknown_account_without_invoice_number_queues_for_a_clerk(pool: PgPool) {
    let w = world(&mut pool.acquire().await.unwrap()).await;
    let file = csv_line(
        "80,00",
        "61109010140000071219812874",
        "woda FW/2026/05/999999",
        "R2",
    );
    let report = import_statement(&pool, file.as_bytes(), &StatementFormat::Csv(BANK_CSV))
        .await
        .unwrap();
    assert_eq!(report.unmatched(), 1);
    let p = &report.imported[0];
    assert_eq!(
        (p.customer_id, p.matched_by, p.allocations.len()),
        (None, None, 0)
    );
    assert_eq!(counts(&pool).await, (1, 0, 0));

    let queue = list_unmatched(&pool).await.unwrap();
    assert_eq!(queue.len(), 1);
    let q = &queue[0];
    assert_eq!(
        (
            q.payment_id,
            q.source.as_str(),
            q.bank_reference.as_str(),
            q.amount,
            q.booked_on,
            q.payer_name.as_deref(),
            q.payer_account.as_deref(),
            q.title.as_deref(),
            q.to_account.as_deref()
        ),
        (
            p.payment_id,
            "csv",
            "R2",
            dec!(80.00),
            d("2026-05-06"),
            Some("ANNA NOWAK"),
            Some("35114020040000999900001234"),
            Some("woda FW/2026/05/999999"),
            Some("PL61109010140000071219812874")
        )
    );

    let alloc = assign_unmatched(&pool, p.payment_id, w.c4712, "clerk.anna")
        .await
        .unwrap();
    assert_eq!(
        alloc,
        vec![
            Allocation {
                invoice_id: w.feb_4712.invoice_id,
                amount: dec!(50.00)
            },
            Allocation {
                invoice_id: w.apr_4712.invoice_id,
                amount: dec!(30.00)
            }
        ]
    );
    assert!(list_unmatched(&pool).await.unwrap().is_empty());
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(
        ledger::balance(&mut conn, w.c4712).await.unwrap(),
        dec!(90.00)
    );
    assert_eq!(
        payment_postings(&mut conn).await,
        vec![(w.c4712, d("2026-05-06"), dec!(-80.00), "R2".to_string())]
    );
    let audit: (
        String,
        String,
        String,
        String,
        serde_json::Value,
        serde_json::Value,
    ) = sqlx::query_as(
        "select actor, action, entity, entity_id, before, after from audit_log
             where action = 'update'",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(
        audit,
        (
            "clerk.anna".into(),
            "update".into(),
            "payment".into(),
            p.payment_id.to_string(),
            serde_json::json!({"customer_id": null, "matched_by": null}),
            serde_json::json!({"customer_id": w.c4712, "matched_by": "clerk", "allocations": [
                {"invoice_id": w.feb_4712.invoice_id, "amount": "50.00"},
                {"invoice_id": w.apr_4712.invoice_id, "amount": "30.00"}]})
        )
    );
    let matched_by: String = sqlx::query_scalar("select matched_by from payment")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(matched_by, "clerk");
    drop(conn);

    // Twice is refused, and so is an unknown payment.
    let again = assign_unmatched(&pool, p.payment_id, w.c4711, "clerk.anna").await;
    assert!(
        matches!(&again, Err(PaymentError::Invalid { field, .. }) if field == "payment_id"),
        "{again:?}"
    );
    assert!(matches!(
        assign_unmatched(&pool, 999, w.c4711, "clerk.anna").await,
        Err(PaymentError::NotFound { .. })
    ));
    assert_eq!(counts(&pool).await, (1, 2, 1));
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn malformed_statement_posts_nothing_and_names_the_fault(pool: PgPool) {
    let _w = world(&mut pool.acquire().await.unwrap()).await;
    // The second entry's amount is broken: the first, valid one must not be posted either.
    let bad = MT940.replace("CN300,00N525", "CN3X0,00N525");
    let err = import_statement(&pool, bad.as_bytes(), &StatementFormat::Mt940(TILDE))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("line 9") && text.contains(":61:"), "{text}");
    let bad_csv = CSV.replace("300,00", "trzysta");
    let err = import_statement(&pool, bad_csv.as_bytes(), &StatementFormat::Csv(BANK_CSV))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Kwota"), "{err}");
    // Not UTF-8: read as Windows-1250, where the stray byte is text outside any field.
    let not_utf8 = [MT940.as_bytes(), b"\n\xff\n"].concat();
    let err = import_statement(&pool, &not_utf8, &StatementFormat::Mt940(TILDE))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("line 17"), "{err}");
    // A line the database refuses (non-PLN) rolls back the lines before it.
    let mut eur = csv_line("10,00", "79109010141234000000004711", "x", "R3");
    eur.push_str("2026-05-06;2026-05-06;10,00;EUR;79109010141234000000004711;;X;y;R4\n");
    let err = import_statement(&pool, eur.as_bytes(), &StatementFormat::Csv(BANK_CSV))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("R4") && err.to_string().contains("EUR"),
        "{err}"
    );
    assert_eq!(counts(&pool).await, (0, 0, 0));
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn every_imported_payment_is_audited(pool: PgPool) {
    let w = world(&mut pool.acquire().await.unwrap()).await;
    let report = import_statement(&pool, MT940.as_bytes(), &StatementFormat::Mt940(TILDE))
        .await
        .unwrap();
    let rows: Vec<(String, String, String, serde_json::Value)> = sqlx::query_as(
        "select actor, action, entity_id, after from audit_log where entity = 'payment'
         order by audit_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            (
                "import:mt940".into(),
                "insert".into(),
                report.imported[0].payment_id.to_string(),
                serde_json::json!({"source": "mt940", "bank_reference": "2605051234567",
                    "amount": "267.41", "booked_on": "2026-05-05", "customer_id": w.c4711,
                    "matched_by": "virtual_account"})
            ),
            (
                "import:mt940".into(),
                "insert".into(),
                report.imported[1].payment_id.to_string(),
                serde_json::json!({"source": "mt940", "bank_reference": "2605051234568",
                    "amount": "300.00", "booked_on": "2026-05-05", "customer_id": w.c4712,
                    "matched_by": "virtual_account"})
            ),
        ]
    );
}
