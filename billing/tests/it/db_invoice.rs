//! Invoices against a real PostgreSQL: gap-free numbers under concurrency, issue with lines
//! and the ledger charge, KOR corrections, open items, the PDF and virtual accounts.

use crate::db_fixtures;

use db_fixtures::{base, customer, d};
use ewoda_billing::consumption::{Read, VolumeSource};
use ewoda_billing::invoice::correction::correct;
use ewoda_billing::invoice::document;
use ewoda_billing::invoice::issue::{issue, InvoiceDraft};
use ewoda_billing::invoice::pdf::render_invoice_pdf;
use ewoda_billing::ledger::{self, PostingKind};
use ewoda_billing::quote::{quote, CustomerKind, Quote, QuoteInput};
use ewoda_billing::tariff::{Fee, FeePer, Period, Tariff, TariffVersion};
use ewoda_billing::virtual_accounts;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sqlx::PgPool;

fn october() -> Period {
    Period::new(d("2026-10-01"), d("2026-10-31")).unwrap()
}

fn priced(volume_to: Decimal, estimated: bool) -> Quote {
    let tariff = Tariff::new(vec![TariffVersion {
        from: d("2025-01-01"),
        to: None,
        water_m3: dec!(6.95),
        sewage_m3: dec!(12.35),
        vat_percent: dec!(8),
        einvoice_discount: rust_decimal::Decimal::ZERO,
        fees: vec![Fee {
            name: "abonament".into(),
            amount: dec!(3.50),
            per: FeePer::Month,
        }],
    }])
    .unwrap();
    let volume = if estimated {
        VolumeSource::Estimate(ewoda_billing::consumption::Estimate {
            monthly_history_m3: vec![volume_to],
            months: 1,
            share: None,
            measured_m3: None,
        })
    } else {
        VolumeSource::Reads {
            reads: vec![
                Read {
                    date: d("2026-09-30"),
                    value: dec!(100),
                },
                Read {
                    date: d("2026-10-31"),
                    value: dec!(100) + volume_to,
                },
            ],
            register_digits: None,
            replacements: vec![],
        }
    };
    quote(&QuoteInput {
        customer_kind: CustomerKind::Household,
        period: october(),
        tariff,
        volume,
        sub_meter_m3: None,
        sewage: true,
        einvoice: false,
    })
    .unwrap()
}

fn draft(customer_id: i64, contract_id: i64, q: &Quote) -> InvoiceDraft {
    InvoiceDraft::from_quote(
        customer_id,
        Some(contract_id),
        october(),
        q,
        d("2026-11-02"),
        d("2026-11-16"),
    )
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn concurrent_issuers_neither_skip_nor_reuse_numbers(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    base(&mut conn).await;
    let (cust, _, contract) = customer(&mut conn, "1001", 1).await;
    drop(conn);
    let q = priced(dec!(10), false);
    let mut tasks = Vec::new();
    for t in 0..8 {
        let pool = pool.clone();
        // Numbering only: no contract, since a contract has one sales invoice per period.
        let dr = InvoiceDraft {
            contract_id: None,
            ..draft(cust, contract, &q)
        };
        tasks.push(tokio::spawn(async move {
            for i in 0..6 {
                let mut tx = pool.begin().await.unwrap();
                issue(&mut tx, &dr).await.unwrap();
                // Every third transaction rolls back: its number must be handed out again.
                if (t + i) % 3 == 0 {
                    tx.rollback().await.unwrap();
                } else {
                    tx.commit().await.unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let seqs: Vec<i32> = sqlx::query_scalar("select seq from invoice order by seq")
        .fetch_all(&pool)
        .await
        .unwrap();
    let committed = (0..8)
        .flat_map(|t| (0..6).map(move |i| (t + i) % 3 != 0))
        .filter(|c| *c)
        .count();
    assert_eq!(seqs, (1..=committed as i32).collect::<Vec<_>>());
    let last: i32 = sqlx::query_scalar(
        "select last_number from invoice_series where series = 'FW' and year = 2026",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(last as usize, committed);
    let first: String = sqlx::query_scalar("select number from invoice where seq = 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(first, "FW/2026/11/000001");
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn issue_writes_invoice_lines_and_charge_then_kor_posts_the_difference(pool: PgPool) {
    let mut tx = pool.begin().await.unwrap();
    base(&mut tx).await;
    let (cust, _, contract) = customer(&mut tx, "1002", 1).await;
    let estimate = priced(dec!(10), true);
    let inv = issue(&mut tx, &draft(cust, contract, &estimate))
        .await
        .unwrap();
    assert_eq!(inv.number, "FW/2026/11/000001");
    // water 69.50 + sewage 123.50 + fee 3.50 = 196.50 net; VAT 8 % = 15.72.
    assert_eq!(
        (estimate.net, estimate.vat, estimate.gross),
        (dec!(196.50), dec!(15.72), dec!(212.22))
    );
    assert_eq!(ledger::balance(&mut tx, cust).await.unwrap(), dec!(212.22));
    let lines: i64 =
        sqlx::query_scalar("select count(*) from invoice_line where invoice_id = $1 and estimated")
            .bind(inv.invoice_id)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(lines, 2, "water and sewage are flagged estimated");

    // The real reading shows 12 m³: the KOR carries +2 m³ on water and sewage.
    let actual = priced(dec!(12), false);
    let kor = correct(
        &mut tx,
        inv.invoice_id,
        &actual,
        "odczyt rzeczywisty",
        d("2026-11-20"),
        d("2026-12-04"),
    )
    .await
    .unwrap();
    assert_eq!(kor.number, "KOR/2026/11/000001");
    assert_eq!(kor.gross, actual.gross - estimate.gross);
    let diff: Vec<(String, Decimal, Decimal)> = sqlx::query_as(
        "select item, quantity, net from invoice_line where invoice_id = $1 order by position",
    )
    .bind(kor.invoice_id)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert_eq!(
        diff,
        vec![
            ("sewage".into(), dec!(2.000), dec!(24.70)),
            ("water".into(), dec!(2.000), dec!(13.90))
        ]
    );
    assert_eq!(ledger::balance(&mut tx, cust).await.unwrap(), actual.gross);
    let corrects: Option<i64> =
        sqlx::query_scalar("select corrects_invoice_id from invoice where invoice_id = $1")
            .bind(kor.invoice_id)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(corrects, Some(inv.invoice_id));
    // Correcting again is relative to the corrected state; the same quote changes nothing.
    assert!(correct(
        &mut tx,
        inv.invoice_id,
        &actual,
        "again",
        d("2026-11-21"),
        d("2026-12-05")
    )
    .await
    .is_err());
    let back = correct(
        &mut tx,
        inv.invoice_id,
        &estimate,
        "pomyłka",
        d("2026-11-21"),
        d("2026-12-05"),
    )
    .await
    .unwrap();
    assert_eq!(back.gross, estimate.gross - actual.gross);
    assert_eq!(
        ledger::balance(&mut tx, cust).await.unwrap(),
        estimate.gross
    );
    // Correcting a correction is refused.
    assert!(correct(
        &mut tx,
        kor.invoice_id,
        &actual,
        "x",
        d("2026-11-21"),
        d("2026-12-05")
    )
    .await
    .is_err());

    // Open items: invoice + corrections, each gross less allocations.
    let items = ledger::open_items(&mut tx, cust).await.unwrap();
    assert_eq!(
        items.iter().map(|i| i.open).sum::<Decimal>(),
        estimate.gross
    );
    let st = ledger::statement(&mut tx, cust, d("2026-11-01"), d("2026-11-30"))
        .await
        .unwrap();
    assert_eq!(st.opening, Decimal::ZERO);
    assert_eq!(
        st.entries.iter().map(|e| e.kind).collect::<Vec<_>>(),
        vec![
            PostingKind::Charge,
            PostingKind::Correction,
            PostingKind::Correction
        ]
    );
    assert_eq!(st.closing, estimate.gross);
    assert_eq!(
        st.entries[0].invoice_number.as_deref(),
        Some("FW/2026/11/000001")
    );
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn ledger_is_append_only(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    base(&mut conn).await;
    let (cust, _, contract) = customer(&mut conn, "1003", 1).await;
    issue(&mut conn, &draft(cust, contract, &priced(dec!(1), false)))
        .await
        .unwrap();
    assert!(sqlx::query("update ledger_posting set amount = 1")
        .execute(&mut *conn)
        .await
        .is_err());
    assert!(sqlx::query("delete from ledger_posting")
        .execute(&mut *conn)
        .await
        .is_err());
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn virtual_accounts_are_assigned_once_and_the_pdf_shows_polish_text(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    base(&mut conn).await;
    let (cust, _, contract) = customer(&mut conn, "4711", 1).await;
    customer(&mut conn, "4712", 2).await;
    assert_eq!(virtual_accounts::assign_all(&mut conn).await.unwrap(), 2);
    assert_eq!(virtual_accounts::assign_all(&mut conn).await.unwrap(), 0);
    let iban = virtual_accounts::of_customer(&mut conn, cust)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(iban.as_str(), "PL79109010141234000000004711");

    let inv = issue(&mut conn, &draft(cust, contract, &priced(dec!(10), false)))
        .await
        .unwrap();
    let doc = document::load(&mut conn, inv.invoice_id).await.unwrap();
    assert_eq!(doc.vat_rows.len(), 1);
    assert_eq!(doc.vat_rows[0].vat, dec!(15.72));
    let pdf = render_invoice_pdf(&doc).unwrap();
    assert!(pdf.starts_with(b"%PDF"), "not a PDF");
    let dir = std::env::temp_dir().join(format!("ewoda-pdf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("invoice.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", path.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (Debian poppler-utils) must be installed");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for wanted in [
        "Faktura VAT nr FW/2026/11/000001",
        "Zakład Wodociągów i Kanalizacji w Łężycach Sp. z o.o.",
        "Łucja Żółkiewska",
        "ul. Żółwia 7/2",
        "Ścieki",
        "Do zapłaty: 212,22 zł",
        "PL79 1090 1014 1234 0000 0000 4711",
        "Termin płatności: 2026-11-16",
        "Numer klienta: 4711",
    ] {
        assert!(text.contains(wanted), "{wanted:?} missing from:\n{text}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
