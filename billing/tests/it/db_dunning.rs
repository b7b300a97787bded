//! Dunning against a real PostgreSQL: reminders by level (numbered, idempotent, minimum
//! amount), interest notes for households and businesses (ledger posting, EUR compensation at
//! the NBP rate, missing-rate error, idempotency) and their PDFs read back with pdftotext.

use crate::db_fixtures;

use chrono::NaiveDate;
use db_fixtures::{base, customer, d};
use ewoda_billing::dunning::{
    self, interest_note, issue_interest_notes, run_dunning, DunningConfig, NoteOutcome,
    NoticeDetails, NoticeKind,
};
use ewoda_billing::interest::{interest, Debtor, InterestInput, StatutoryRates};
use ewoda_billing::invoice::issue::{issue, DraftLine, InvoiceDraft, IssuedInvoice};
use ewoda_billing::invoice::pdf::InvoicePdfRenderer;
use ewoda_billing::ledger::{self, NewPosting, PostingKind};
use ewoda_billing::tariff::Period;
use ewoda_billing::virtual_accounts;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sqlx::{PgConnection, PgPool};
use std::path::PathBuf;
use std::process::Command;

/// A one-line 8 % invoice draft (negative amounts for a correction lowering a bill).
fn one_line(
    customer: (i64, i64),
    net: Decimal,
    vat: Decimal,
    issued: &str,
    due: &str,
) -> InvoiceDraft {
    let period = Period::new(d(issued) - chrono::Days::new(30), d(issued)).unwrap();
    InvoiceDraft {
        customer_id: customer.0,
        // Several invoices of the same days: a contract has one sales invoice per period.
        contract_id: None,
        billing_run_id: None,
        corrects_invoice_id: None,
        correction_reason: None,
        period,
        issued_on: d(issued),
        due_on: d(due),
        estimated: false,
        lines: vec![DraftLine {
            item: "water".into(),
            from: period.from(),
            to: period.to(),
            quantity: if net.is_sign_negative() {
                dec!(-1.000)
            } else {
                dec!(1.000)
            },
            unit: "m3".into(),
            unit_price: net.abs(),
            net,
            vat_percent: dec!(8),
            estimated: false,
        }],
        net,
        vat,
        gross: net + vat,
    }
}

/// A one-line 8 % invoice.
async fn invoice(
    conn: &mut PgConnection,
    customer: (i64, i64),
    net: Decimal,
    vat: Decimal,
    issued: &str,
    due: &str,
) -> IssuedInvoice {
    issue(conn, &one_line(customer, net, vat, issued, due))
        .await
        .unwrap()
}

/// A payment booked on `day`, allocated to the invoice and posted.
async fn pay(conn: &mut PgConnection, customer: i64, invoice: i64, amount: Decimal, day: &str) {
    let pid: i64 = sqlx::query_scalar(
        "insert into payment (source, bank_reference, amount, booked_on, customer_id, matched_by)
         values ('manual', $1, $2, $3, $4, 'clerk') returning payment_id",
    )
    .bind(format!("ref-{invoice}-{day}"))
    .bind(amount)
    .bind(d(day))
    .bind(customer)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    sqlx::query(
        "insert into payment_allocation (payment_id, invoice_id, amount) values ($1, $2, $3)",
    )
    .bind(pid)
    .bind(invoice)
    .bind(amount)
    .execute(&mut *conn)
    .await
    .unwrap();
    ledger::post(
        conn,
        &NewPosting {
            payment_id: Some(pid),
            ..NewPosting::new(customer, d(day), PostingKind::Payment, -amount, "wpłata")
        },
    )
    .await
    .unwrap();
}

/// The text of a PDF as pdftotext extracts it, non-breaking spaces as spaces.
fn pdf_text(name: &str, pdf: &[u8]) -> String {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("dunning-{name}.pdf"));
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext must be installed (apt-get install -y poppler-utils)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .replace('\u{a0}', " ")
}

fn assert_contains(text: &str, needles: &[&str]) {
    for n in needles {
        assert!(text.contains(n), "{n:?} missing from:\n{text}");
    }
}

async fn details(pool: &PgPool, number: &str) -> (i16, Decimal, NoticeDetails) {
    let (level, principal, json): (i16, Decimal, serde_json::Value) =
        sqlx::query_as("select level, principal, details from dunning_notice where number = $1")
            .bind(number)
            .fetch_one(pool)
            .await
            .unwrap();
    (level, principal, serde_json::from_value(json).unwrap())
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn reminders_go_out_by_level_once_with_gap_free_numbers(pool: PgPool) {
    let mut tx = pool.begin().await.unwrap();
    base(&mut tx).await;
    let (a, _, ka) = customer(&mut tx, "2001", 1).await;
    let (b, _, kb) = customer(&mut tx, "2002", 1).await;
    let (c, _, kc) = customer(&mut tx, "2003", 1).await;
    virtual_accounts::assign_all(&mut tx).await.unwrap();
    // A: 432.10 due 1 October; B: 10.80 (below the 20 zł minimum); C: due 20 October.
    let ia = invoice(
        &mut tx,
        (a, ka),
        dec!(400.09),
        dec!(32.01),
        "2026-09-17",
        "2026-10-01",
    )
    .await;
    invoice(
        &mut tx,
        (b, kb),
        dec!(10.00),
        dec!(0.80),
        "2026-09-17",
        "2026-10-01",
    )
    .await;
    invoice(
        &mut tx,
        (c, kc),
        dec!(100.00),
        dec!(8.00),
        "2026-10-06",
        "2026-10-20",
    )
    .await;
    // A pays 100 of it in time: 332.10 stays open.
    pay(&mut tx, a, ia.invoice_id, dec!(100.00), "2026-09-30").await;
    tx.commit().await.unwrap();
    let cfg = DunningConfig::default();

    // 8 October: 7 days late is not yet more than 7.
    let r = run_dunning(&pool, &cfg, d("2026-10-08")).await.unwrap();
    assert!(r.issued.is_empty());
    assert_eq!(r.customers_checked, 0);

    let r = run_dunning(&pool, &cfg, d("2026-10-09")).await.unwrap();
    assert_eq!(
        (r.customers_checked, r.below_minimum, r.up_to_date),
        (2, 1, 0)
    );
    assert!(r.failed.is_empty());
    assert_eq!(r.issued.len(), 1);
    let n = &r.issued[0];
    assert_eq!(
        (
            n.number.as_str(),
            n.customer_id,
            n.kind,
            n.level,
            n.principal,
            n.total
        ),
        (
            "WZ/2026/10/000001",
            a,
            NoticeKind::Reminder,
            1,
            dec!(332.10),
            dec!(332.10)
        )
    );
    let (level, principal, det) = details(&pool, "WZ/2026/10/000001").await;
    assert_eq!((level, principal), (1, dec!(332.10)));
    assert_eq!(det.items.len(), 1);
    let item = &det.items[0];
    assert_eq!(
        (
            item.invoice_id,
            item.number.as_str(),
            item.gross,
            item.open,
            item.days_late,
            item.level
        ),
        (
            ia.invoice_id,
            "FW/2026/09/000001",
            dec!(432.10),
            dec!(332.10),
            8,
            1
        )
    );
    assert_eq!(det.pay_by, d("2026-10-16"));

    // The same day again: nothing new.
    let r = run_dunning(&pool, &cfg, d("2026-10-09")).await.unwrap();
    assert!(r.issued.is_empty());
    assert_eq!((r.up_to_date, r.below_minimum), (1, 1));

    // 31 October (30 days late): still level 1. 28 October: C reaches level 1.
    let r = run_dunning(&pool, &cfg, d("2026-10-31")).await.unwrap();
    assert_eq!(r.issued.len(), 1);
    assert_eq!(
        (r.issued[0].customer_id, r.issued[0].number.as_str()),
        (c, "WZ/2026/10/000002")
    );

    // 1 November: A's invoice is 31 days late → final reminder; the number continues.
    let r = run_dunning(&pool, &cfg, d("2026-11-01")).await.unwrap();
    assert_eq!(r.issued.len(), 1);
    assert_eq!(
        (
            r.issued[0].customer_id,
            r.issued[0].level,
            r.issued[0].number.as_str()
        ),
        (a, 2, "WZ/2026/11/000003")
    );
    let r = run_dunning(&pool, &cfg, d("2026-12-15")).await.unwrap();
    assert_eq!(
        r.issued
            .iter()
            .map(|n| (n.customer_id, n.level))
            .collect::<Vec<_>>(),
        vec![(c, 2)],
        "A has had every level; C moves to the final reminder"
    );
    let count: i64 = sqlx::query_scalar("select count(*) from dunning_notice")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 4);

    // The PDF of the final reminder.
    let mut conn = pool.acquire().await.unwrap();
    let doc = dunning::load(&mut conn, "WZ/2026/11/000003").await.unwrap();
    let pdf = dunning::render_dunning_pdf(&InvoicePdfRenderer::new().unwrap(), &doc).unwrap();
    let text = pdf_text("final", &pdf);
    let account: String =
        sqlx::query_scalar("select iban from virtual_account where customer_id = $1")
            .bind(a)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    let printed = ewoda_billing::account::Iban::parse(&account)
        .unwrap()
        .to_print();
    assert_contains(
        &text,
        &[
            // The long title wraps before its number.
            "Ostateczne przedsądowe wezwanie do zapłaty nr\nWZ/2026/11/000003",
            "Data wystawienia: 2026-11-01",
            "Zakład Wodociągów i Kanalizacji w Łężycach Sp. z o.o.",
            "Łucja Żółkiewska",
            "ul. Żółwia 7/2",
            "FW/2026/09/000001",
            "2026-10-01",
            "432,10 zł",
            "332,10 zł",
            "31",
            "Do zapłaty: 332,10 zł",
            "Termin zapłaty: 2026-11-08",
            &printed,
        ],
    );
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn household_note_for_a_late_payment_posts_interest_once(pool: PgPool) {
    let mut tx = pool.begin().await.unwrap();
    base(&mut tx).await;
    let (a, _, ka) = customer(&mut tx, "3001", 1).await;
    virtual_accounts::assign_all(&mut tx).await.unwrap();
    // SPEC §5: 1000.00 due 2025-09-05, paid 2025-10-05 → 30 days at 10.25 % = 8.42.
    let inv = invoice(
        &mut tx,
        (a, ka),
        dec!(925.93),
        dec!(74.07),
        "2025-08-22",
        "2025-09-05",
    )
    .await;
    pay(&mut tx, a, inv.invoice_id, dec!(1000.00), "2025-10-05").await;
    // Paid on time: no note for it.
    let on_time = invoice(
        &mut tx,
        (a, ka),
        dec!(100.00),
        dec!(8.00),
        "2025-08-22",
        "2025-09-05",
    )
    .await;
    pay(&mut tx, a, on_time.invoice_id, dec!(108.00), "2025-09-05").await;
    tx.commit().await.unwrap();
    let rates = StatutoryRates::embedded().unwrap();
    let cfg = DunningConfig {
        min_interest: dec!(1.00),
        ..DunningConfig::default()
    };

    let r = issue_interest_notes(&pool, &rates, &cfg, d("2025-10-10"), false)
        .await
        .unwrap();
    assert_eq!(r.checked, 1);
    assert!(r.failed.is_empty());
    assert_eq!(r.issued.len(), 1);
    let n = &r.issued[0];
    assert_eq!(
        (
            n.number.as_str(),
            n.kind,
            n.principal,
            n.interest,
            n.compensation_pln,
            n.total
        ),
        (
            "NO/2025/10/000001",
            NoticeKind::InterestNote,
            dec!(1000.00),
            dec!(8.42),
            None,
            dec!(8.42)
        )
    );
    let (level, principal, det) = details(&pool, "NO/2025/10/000001").await;
    assert_eq!(
        (level, principal, det.invoice_id),
        (1, dec!(1000.00), Some(inv.invoice_id))
    );
    let part = &det.items[0].parts[0];
    assert_eq!(
        (part.paid_on, part.days, part.interest),
        (Some(d("2025-10-05")), 30, dec!(8.42))
    );
    assert_eq!(part.segments.len(), 1);
    assert_eq!(
        (
            part.segments[0].from,
            part.segments[0].to,
            part.segments[0].rate_percent
        ),
        (d("2025-09-06"), d("2025-10-05"), dec!(10.25))
    );
    let (eur, pln): (Option<Decimal>, Option<Decimal>) = sqlx::query_as(
        "select compensation_eur, compensation_pln from dunning_notice where number = 'NO/2025/10/000001'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((eur, pln), (None, None));

    let mut conn = pool.acquire().await.unwrap();
    let postings: Vec<(String, Decimal, Option<i64>)> = sqlx::query_as(
        "select kind, amount, invoice_id from ledger_posting
         where dunning_notice_id = $1",
    )
    .bind(n.dunning_notice_id)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    assert_eq!(
        postings,
        vec![("interest".into(), dec!(8.42), Some(inv.invoice_id))]
    );
    assert_eq!(ledger::balance(&mut conn, a).await.unwrap(), dec!(8.42));

    // Idempotent: the batch finds nothing, the single call names the existing note.
    let r = issue_interest_notes(&pool, &rates, &cfg, d("2025-10-20"), true)
        .await
        .unwrap();
    assert_eq!((r.checked, r.issued.len()), (0, 0));
    let mut tx = pool.begin().await.unwrap();
    let again = interest_note(&mut tx, inv.invoice_id, &rates, &cfg, d("2025-10-20"))
        .await
        .unwrap();
    assert_eq!(
        again,
        NoteOutcome::AlreadyIssued("NO/2025/10/000001".into())
    );
    let none = interest_note(&mut tx, on_time.invoice_id, &rates, &cfg, d("2025-10-20"))
        .await
        .unwrap();
    assert_eq!(none, NoteOutcome::NotLate);
    drop(tx);

    let doc = dunning::load(&mut conn, "NO/2025/10/000001").await.unwrap();
    let pdf = dunning::render_dunning_pdf(&InvoicePdfRenderer::new().unwrap(), &doc).unwrap();
    assert_contains(
        &pdf_text("household-note", &pdf),
        &[
            "Nota odsetkowa nr NO/2025/10/000001",
            "Łucja Żółkiewska",
            "FW/2025/08/000001 (termin 2025-09-05)",
            "1 000,00 zł",
            "2025-09-06 – 2025-10-05",
            "10,25%",
            "30 dni, odsetki: 8,42 zł",
            "Razem odsetki: 8,42 zł",
            "Do zapłaty: 8,42 zł",
            "Termin zapłaty: 2025-10-17",
        ],
    );
}

/// Turns a fixture customer into the bakery (a business debtor).
async fn make_business(conn: &mut PgConnection, customer_id: i64) {
    sqlx::query(
        "update customer set kind = 'business', first_name = null, last_name = null,
             company_name = 'Piekarnia Złoty Kłos Sp. z o.o.', nip = '5260250274'
         where customer_id = $1",
    )
    .bind(customer_id)
    .execute(conn)
    .await
    .unwrap();
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn business_note_adds_compensation_at_the_nbp_rate_or_names_the_missing_rate(pool: PgPool) {
    let mut tx = pool.begin().await.unwrap();
    base(&mut tx).await;
    let (b, _, kb) = customer(&mut tx, "4001", 1).await;
    make_business(&mut tx, b).await;
    let inv = invoice(
        &mut tx,
        (b, kb),
        dec!(925.93),
        dec!(74.07),
        "2025-08-22",
        "2025-09-05",
    )
    .await;
    tx.commit().await.unwrap();
    let rates = StatutoryRates::embedded().unwrap();
    let cfg = DunningConfig::default();
    // Due Friday 5 September: the compensation uses the NBP rate of the last working day of
    // August (Friday 29 August), not one near the note's day (Sunday 5 October).
    let on = d("2025-10-05");

    let r = issue_interest_notes(&pool, &rates, &cfg, on, true)
        .await
        .unwrap();
    assert!(r.issued.is_empty());
    assert_eq!(r.failed.len(), 1);
    assert_eq!(
        r.failed[0],
        (
            inv.invoice_id,
            "exchange_rate EUR (NBP mid) for 2025-08-29 or the 6 days before not found".into()
        )
    );
    let notices: i64 = sqlx::query_scalar("select count(*) from dunning_notice")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(notices, 0, "the failed note rolled back");

    sqlx::query("insert into exchange_rate (currency, day, mid) values ('EUR', '2025-10-03', 4.2700), ('EUR', '2025-09-01', 4.2690), ('EUR', '2025-08-29', 4.2650), ('EUR', '2025-08-28', 4.2600)")
        .execute(&pool)
        .await
        .unwrap();
    let r = issue_interest_notes(&pool, &rates, &cfg, on, true)
        .await
        .unwrap();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(r.issued.len(), 1);
    let expected = interest(
        &InterestInput {
            debtor: Debtor::Business,
            amount: dec!(1000.00),
            due: d("2025-09-05"),
            paid: on,
        },
        &rates,
    )
    .unwrap();
    assert_eq!(expected.days, 30);
    let n = &r.issued[0];
    // 40 EUR × 4.2650 = 170.60 zł.
    assert_eq!(
        (n.principal, n.interest, n.compensation_pln, n.total),
        (
            dec!(1000.00),
            expected.interest,
            Some(dec!(170.60)),
            expected.interest + dec!(170.60)
        )
    );
    let (eur, pln): (Option<Decimal>, Option<Decimal>) = sqlx::query_as(
        "select compensation_eur, compensation_pln from dunning_notice where number = $1",
    )
    .bind(&n.number)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((eur, pln), (Some(dec!(40)), Some(dec!(170.60))));
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(
        ledger::balance(&mut conn, b).await.unwrap(),
        dec!(1000.00) + expected.interest + dec!(170.60)
    );
    let det = details(&pool, &n.number).await.2;
    assert_eq!(det.eur_rate, Some((d("2025-08-29"), dec!(4.2650))));
    assert_eq!(det.items[0].parts[0].paid_on, None);

    let doc = dunning::load(&mut conn, &n.number).await.unwrap();
    let pdf = dunning::render_dunning_pdf(&InvoicePdfRenderer::new().unwrap(), &doc).unwrap();
    let rate = expected.segments[0]
        .rate_percent
        .to_string()
        .replace('.', ",");
    let interest_pl = expected.interest.to_string().replace('.', ",");
    assert_contains(
        &pdf_text("business-note", &pdf),
        &[
            "Nota odsetkowa nr NO/2025/10/000001",
            "Piekarnia Złoty Kłos Sp. z o.o.",
            "NIP: 5260250274",
            "nie zapłacono",
            &format!("{rate}%"),
            &format!("Razem odsetki: {interest_pl} zł"),
            "Rekompensata za koszty odzyskiwania należności 40 EUR (kurs średni NBP z 2025-08-29: 4,2650): 170,60 zł",
        ],
    );
}

/// A KOR lowering `original` by `net` + `vat`, issued on `issued`, due 14 days later.
async fn lower(
    conn: &mut PgConnection,
    customer: (i64, i64),
    original: &IssuedInvoice,
    net: Decimal,
    vat: Decimal,
    issued: &str,
) -> IssuedInvoice {
    let due = (d(issued) + chrono::Days::new(14)).to_string();
    let draft = InvoiceDraft {
        corrects_invoice_id: Some(original.invoice_id),
        correction_reason: Some("odczyt rzeczywisty".into()),
        ..one_line(customer, -net, -vat, issued, &due)
    };
    issue(conn, &draft).await.unwrap()
}

/// 432.00 due 1 October, 100.00 paid on time, a KOR takes 108.00 off on 5 October: the
/// reminder asks for 224.00 (not 332.00), the late payment of those 224.00 bears interest on
/// 224.00 only, and an invoice corrected to nothing is never reminded.
#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn reminders_and_notes_demand_only_what_is_open_after_corrections(pool: PgPool) {
    let mut tx = pool.begin().await.unwrap();
    base(&mut tx).await;
    let (a, _, ka) = customer(&mut tx, "3101", 1).await;
    virtual_accounts::assign_all(&mut tx).await.unwrap();
    let inv = invoice(
        &mut tx,
        (a, ka),
        dec!(400.00),
        dec!(32.00),
        "2026-09-17",
        "2026-10-01",
    )
    .await;
    pay(&mut tx, a, inv.invoice_id, dec!(100.00), "2026-09-30").await;
    lower(
        &mut tx,
        (a, ka),
        &inv,
        dec!(100.00),
        dec!(8.00),
        "2026-10-05",
    )
    .await;
    // A second invoice the KOR wipes out completely.
    let gone = invoice(
        &mut tx,
        (a, ka),
        dec!(50.00),
        dec!(4.00),
        "2026-09-17",
        "2026-10-01",
    )
    .await;
    lower(
        &mut tx,
        (a, ka),
        &gone,
        dec!(50.00),
        dec!(4.00),
        "2026-10-05",
    )
    .await;
    tx.commit().await.unwrap();

    let r = run_dunning(&pool, &DunningConfig::default(), d("2026-10-09"))
        .await
        .unwrap();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(r.issued.len(), 1);
    assert_eq!(
        (r.issued[0].principal, r.issued[0].total),
        (dec!(224.00), dec!(224.00))
    );
    let (_, _, det) = details(&pool, &r.issued[0].number).await;
    let items: Vec<(i64, Decimal, Decimal)> = det
        .items
        .iter()
        .map(|i| (i.invoice_id, i.gross, i.open))
        .collect();
    assert_eq!(items, vec![(inv.invoice_id, dec!(324.00), dec!(224.00))]);

    // The rest is paid late on 20 October: interest on 224.00 for 19 days.
    let mut conn = pool.acquire().await.unwrap();
    pay(&mut conn, a, inv.invoice_id, dec!(224.00), "2026-10-20").await;
    let rates = StatutoryRates::embedded().unwrap();
    let cfg = DunningConfig {
        min_interest: dec!(0.01),
        ..DunningConfig::default()
    };
    let mut tx = pool.begin().await.unwrap();
    let note = interest_note(&mut tx, inv.invoice_id, &rates, &cfg, d("2026-10-31"))
        .await
        .unwrap();
    let expected = interest(
        &InterestInput {
            debtor: Debtor::Household,
            amount: dec!(224.00),
            due: d("2026-10-01"),
            paid: d("2026-10-20"),
        },
        &rates,
    )
    .unwrap();
    let NoteOutcome::Issued(n) = note else {
        panic!("{note:?}")
    };
    assert_eq!((n.principal, n.interest), (dec!(224.00), expected.interest));
    assert_eq!(expected.days, 19);
    // The wiped-out invoice bears nothing even when unpaid.
    let none = interest_note(&mut tx, gone.invoice_id, &rates, &cfg, d("2026-10-31"))
        .await
        .unwrap();
    assert_eq!(none, NoteOutcome::NotLate);
}

/// Art. 115 KC and the EUR rate's month: two business invoices due Saturday 31 January 2026,
/// so in law due Monday 2 February. Paid that Monday: on time, no note. Paid Tuesday: one day
/// of interest, and the 40 EUR at the rate of Friday 30 January (the last working day of the
/// month before February), not of 31 December.
#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn due_date_on_a_saturday_moves_to_monday_and_picks_januarys_eur_rate(pool: PgPool) {
    let mut tx = pool.begin().await.unwrap();
    base(&mut tx).await;
    let (b, _, kb) = customer(&mut tx, "4101", 1).await;
    make_business(&mut tx, b).await;
    let monday = invoice(
        &mut tx,
        (b, kb),
        dec!(100.00),
        dec!(8.00),
        "2026-01-17",
        "2026-01-31",
    )
    .await;
    let tuesday = invoice(
        &mut tx,
        (b, kb),
        dec!(200.00),
        dec!(16.00),
        "2026-01-17",
        "2026-01-31",
    )
    .await;
    pay(&mut tx, b, monday.invoice_id, dec!(108.00), "2026-02-02").await;
    pay(&mut tx, b, tuesday.invoice_id, dec!(216.00), "2026-02-03").await;
    sqlx::query(
        "insert into exchange_rate (currency, day, mid)
         values ('EUR', '2025-12-31', 4.2200), ('EUR', '2026-01-30', 4.2100),
                ('EUR', '2026-02-02', 4.2000)",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let rates = StatutoryRates::embedded().unwrap();
    let cfg = DunningConfig {
        min_interest: dec!(0.01),
        ..DunningConfig::default()
    };
    let mut tx = pool.begin().await.unwrap();
    let on_time = interest_note(&mut tx, monday.invoice_id, &rates, &cfg, d("2026-02-20"))
        .await
        .unwrap();
    assert_eq!(on_time, NoteOutcome::NotLate);
    let late = interest_note(&mut tx, tuesday.invoice_id, &rates, &cfg, d("2026-02-20"))
        .await
        .unwrap();
    let NoteOutcome::Issued(n) = late else {
        panic!("{late:?}")
    };
    // 216.00 × 14.00 % (4.00 % reference on 1 January + 10 pp) × 1 day / 365 = 0.08.
    assert_eq!(
        (n.principal, n.interest, n.compensation_pln),
        (dec!(216.00), dec!(0.08), Some(dec!(168.40)))
    );
    tx.commit().await.unwrap();
    let det = details(&pool, &n.number).await.2;
    assert_eq!(det.eur_rate, Some((d("2026-01-30"), dec!(4.2100))));
    let part = &det.items[0].parts[0];
    assert_eq!((part.days, part.segments[0].from), (1, d("2026-02-03")));
    // A reminder on 10 February counts 8 days late from Monday, not 10 from Saturday.
    assert_eq!(
        (d("2026-02-10") - ewoda_billing::holidays::effective_due(d("2026-01-31"))).num_days(),
        8
    );
}

/// A payment that waits unassigned, then a clerk assigns it: the real allocation path
/// (oldest due first over the ledger's open items).
async fn pay_through_queue(pool: &PgPool, customer: i64, amount: Decimal, day: &str) {
    let pid: i64 = sqlx::query_scalar(
        "insert into payment (source, bank_reference, amount, booked_on, title)
         values ('manual', $1, $2, $3, 'za wodę') returning payment_id",
    )
    .bind(format!("queue-{customer}-{day}-{amount}"))
    .bind(amount)
    .bind(d(day))
    .fetch_one(pool)
    .await
    .unwrap();
    ewoda_billing::payments::assign_unmatched(pool, pid, customer, "clerk.anna")
        .await
        .unwrap();
}

/// A = 432.00 lowered by a KOR to 324.00, B = 54.00 and C = 216.00, all due 1 October; the
/// customer pays 378.00 (A as corrected + B) on time. Payments fill the corrected amount, so
/// the reminder demands C's 216.00 only (not 270.00 with B counted open), and a late partial
/// payment of C bears interest on what it paid, the rest on the rest only. Another customer's
/// invoice corrected to nothing is not even a dunning candidate.
#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn payments_reminders_and_notes_use_the_open_amount_after_a_correction(pool: PgPool) {
    let mut tx = pool.begin().await.unwrap();
    base(&mut tx).await;
    let (a, _, ka) = customer(&mut tx, "3201", 1).await;
    let (b, _, kb) = customer(&mut tx, "3202", 1).await;
    virtual_accounts::assign_all(&mut tx).await.unwrap();
    let (issued, due) = ("2026-09-17", "2026-10-01");
    let inv_a = invoice(&mut tx, (a, ka), dec!(400.00), dec!(32.00), issued, due).await;
    let inv_b = invoice(&mut tx, (a, ka), dec!(50.00), dec!(4.00), issued, due).await;
    let inv_c = invoice(&mut tx, (a, ka), dec!(200.00), dec!(16.00), issued, due).await;
    lower(
        &mut tx,
        (a, ka),
        &inv_a,
        dec!(100.00),
        dec!(8.00),
        "2026-09-25",
    )
    .await;
    let gone = invoice(&mut tx, (b, kb), dec!(50.00), dec!(4.00), issued, due).await;
    lower(
        &mut tx,
        (b, kb),
        &gone,
        dec!(50.00),
        dec!(4.00),
        "2026-09-25",
    )
    .await;
    tx.commit().await.unwrap();
    pay_through_queue(&pool, a, dec!(378.00), "2026-09-30").await;
    let allocated: Vec<(i64, Decimal)> =
        sqlx::query_as("select invoice_id, amount from payment_allocation order by invoice_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        allocated,
        vec![
            (inv_a.invoice_id, dec!(324.00)),
            (inv_b.invoice_id, dec!(54.00))
        ]
    );

    let r = run_dunning(&pool, &DunningConfig::default(), d("2026-10-09"))
        .await
        .unwrap();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(
        r.customers_checked, 1,
        "the wiped-out invoice is no candidate"
    );
    assert_eq!(r.issued.len(), 1);
    assert_eq!(r.issued[0].principal, dec!(216.00));
    let (_, _, det) = details(&pool, &r.issued[0].number).await;
    let items: Vec<(i64, Decimal)> = det.items.iter().map(|i| (i.invoice_id, i.open)).collect();
    assert_eq!(items, vec![(inv_c.invoice_id, dec!(216.00))]);

    // 100.00 of C paid late on 20 October; the note of 31 October: interest on 100.00 through
    // the 20th and on the 116.00 still open through the 31st, nothing for A or B.
    pay_through_queue(&pool, a, dec!(100.00), "2026-10-20").await;
    let rates = StatutoryRates::embedded().unwrap();
    let cfg = DunningConfig {
        min_interest: dec!(0.01),
        ..DunningConfig::default()
    };
    let notes = issue_interest_notes(&pool, &rates, &cfg, d("2026-10-31"), true)
        .await
        .unwrap();
    assert!(notes.failed.is_empty(), "{:?}", notes.failed);
    assert_eq!(notes.issued.len(), 1, "{notes:?}");
    let (_, _, det) = details(&pool, &notes.issued[0].number).await;
    assert_eq!(det.invoice_id, Some(inv_c.invoice_id));
    let of = |amount, paid| {
        interest(
            &InterestInput {
                debtor: Debtor::Household,
                amount,
                due: d(due),
                paid: d(paid),
            },
            &rates,
        )
        .unwrap()
        .interest
    };
    let parts: Vec<(Decimal, NaiveDate, Decimal)> = det.items[0]
        .parts
        .iter()
        .map(|p| (p.amount, p.through, p.interest))
        .collect();
    assert_eq!(
        parts,
        vec![
            (
                dec!(100.00),
                d("2026-10-20"),
                of(dec!(100.00), "2026-10-20")
            ),
            (
                dec!(116.00),
                d("2026-10-31"),
                of(dec!(116.00), "2026-10-31")
            ),
        ]
    );
    assert_eq!(det.items[0].open, dec!(116.00));
}

/// A = 108.00 paid in full on time, then a KOR takes 54.00 off it: that credit is set against
/// B's overdue 216.00, so the reminder demands 162.00 (what the customer owes in all), lists
/// B as it stands and shows the credit, and prints it.
#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn a_correction_of_a_paid_invoice_is_set_against_the_reminder(pool: PgPool) {
    let mut tx = pool.begin().await.unwrap();
    base(&mut tx).await;
    let (a, _, ka) = customer(&mut tx, "3301", 1).await;
    virtual_accounts::assign_all(&mut tx).await.unwrap();
    let (issued, due) = ("2026-09-17", "2026-10-01");
    let paid = invoice(&mut tx, (a, ka), dec!(100.00), dec!(8.00), issued, due).await;
    let open = invoice(&mut tx, (a, ka), dec!(200.00), dec!(16.00), issued, due).await;
    tx.commit().await.unwrap();
    pay_through_queue(&pool, a, dec!(108.00), "2026-09-30").await;
    let mut tx = pool.begin().await.unwrap();
    lower(
        &mut tx,
        (a, ka),
        &paid,
        dec!(50.00),
        dec!(4.00),
        "2026-10-05",
    )
    .await;
    tx.commit().await.unwrap();

    let r = run_dunning(&pool, &DunningConfig::default(), d("2026-10-09"))
        .await
        .unwrap();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(r.issued.len(), 1);
    assert_eq!(r.issued[0].principal, dec!(162.00));
    let (_, principal, det) = details(&pool, &r.issued[0].number).await;
    assert_eq!(principal, dec!(162.00));
    assert_eq!(det.credit, dec!(54.00));
    let items: Vec<(i64, Decimal)> = det.items.iter().map(|i| (i.invoice_id, i.open)).collect();
    assert_eq!(items, vec![(open.invoice_id, dec!(216.00))]);
    let mut conn = pool.acquire().await.unwrap();
    let doc = dunning::load(&mut conn, &r.issued[0].number).await.unwrap();
    let pdf = dunning::render_dunning_pdf(&InvoicePdfRenderer::new().unwrap(), &doc).unwrap();
    let text = pdf_text("credit", &pdf);
    assert_contains(
        &text,
        &["Zaliczona nadpłata: -54,00", "Razem zaległość: 162,00"],
    );
}
