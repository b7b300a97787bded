//! A credit's identity is its whole entry in its statement: re-importing stores nothing new,
//! different credits sharing a reference (or NONREF) are all stored, the same entry reported
//! in another statement waits for the clerk, and returned credits (RC) are reversed.

use crate::db_payments_fixtures;

use db_payments_fixtures::{allocations, world};
use ewoda_billing::ledger;
use ewoda_billing::payments::{
    dismiss_duplicate, import_statement, list_reversals, list_unmatched, ImportReport,
    StatementFormat,
};
use ewoda_billing::statement::profiles::TILDE;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sqlx::PgPool;

const MT940: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/testdata/billing/mt940_sample.sta"
));

const V4711: &str = "PL79109010141234000000004711";
const V4712: &str = "PL52109010141234000000004712";

/// One generated credit: indexes into small pools, so references, amounts and whole entries
/// repeat often.
#[derive(Debug, Clone, Copy)]
struct Gen {
    reference: usize,
    grosze: i64,
    payer: usize,
    title: usize,
}

fn credits() -> impl Strategy<Value = Vec<Vec<Gen>>> {
    let line =
        (0usize..3, 1i64..4, 0usize..2, 0usize..2).prop_map(|(reference, grosze, payer, title)| {
            Gen {
                reference,
                grosze: grosze * 1000,
                payer,
                title,
            }
        });
    prop::collection::vec(prop::collection::vec(line, 1..12), 1..3)
}

/// A file of one statement per group, all on the collection account, numbered `case/n`, all
/// of value date 5 May; each statement books on a day of its own (as a bank's daily statements
/// do), so its entries are credits of their own, while the same movement in two statements
/// (same value date, amount and reference) still waits for the clerk.
fn file(case: usize, statements: &[Vec<Gen>]) -> String {
    let mut text = String::new();
    for (n, lines) in statements.iter().enumerate() {
        let booked = chrono::NaiveDate::from_ymd_opt(2026, 5, 6).unwrap()
            + chrono::Days::new((case * 2 + n) as u64);
        let booked = booked.format("%m%d");
        text.push_str(&format!(
            ":20:GEN{case}/{n}\r\n:25:/PL61109010140000071219812874\r\n:28C:{case}/{n}\r\n\
             :60F:C260504PLN0,00\r\n"
        ));
        let mut total = 0;
        for g in lines {
            total += g.grosze;
            let reference = ["NONREF", "NONREF//REF1", "NONREF//REF2"][g.reference];
            let (payer, account) = [("JAN", V4711), ("ANNA", V4712)][g.payer];
            let title = ["WODA", "SCIEKI"][g.title];
            text.push_str(&format!(
                ":61:260505{booked}CN{},{:02}N525{reference}\r\n:86:525~20{title}~32{payer}~63{account}\r\n",
                g.grosze / 100,
                g.grosze % 100
            ));
        }
        text.push_str(&format!(
            ":62F:C260505PLN{},{:02}\r\n-\r\n",
            total / 100,
            total % 100
        ));
    }
    text
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn random_statements_imported_twice_store_every_distinct_credit_once(pool: PgPool) {
    world(&mut pool.acquire().await.unwrap()).await;
    let format = StatementFormat::Mt940(TILDE);
    let mut runner = TestRunner::deterministic();
    let strategy = credits();
    let mut stored_before = 0;
    for case in 0..16 {
        let statements = strategy.new_tree(&mut runner).unwrap().current();
        let text = file(case, &statements);
        let lines: usize = statements.iter().map(Vec::len).sum();
        let sum: i64 = statements.iter().flatten().map(|g| g.grosze).sum();
        let first = import_statement(&pool, text.as_bytes(), &format)
            .await
            .unwrap();
        let again = import_statement(&pool, text.as_bytes(), &format)
            .await
            .unwrap();
        // Every line of a balanced statement is a credit of its own: all stored, once.
        assert_eq!(first.imported.len(), lines, "case {case}: {statements:?}");
        assert!(again.imported.is_empty(), "case {case}");
        assert_eq!(again.duplicates.len(), lines, "case {case}");
        let stored = count(&pool, "select count(*) from payment").await;
        assert_eq!(stored - stored_before, lines as i64, "case {case}");
        stored_before = stored;
        let amount: Decimal = first.imported.iter().map(|p| p.amount).sum();
        assert_eq!(amount, Decimal::new(sum, 2), "case {case}");
        // Posted at most once each: a posting per matched payment, none for held ones.
        let held = first.imported.iter().filter(|p| p.review.is_some()).count();
        let posted = first
            .imported
            .iter()
            .filter(|p| p.customer_id.is_some())
            .count();
        assert_eq!(held + posted, lines, "case {case}");
    }
    assert_eq!(
        count(
            &pool,
            "select count(*) from ledger_posting where kind = 'payment'"
        )
        .await,
        count(
            &pool,
            "select count(*) from payment where customer_id is not null"
        )
        .await
    );
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn the_same_entries_in_another_statement_wait_for_the_clerk(pool: PgPool) {
    let w = world(&mut pool.acquire().await.unwrap()).await;
    let format = StatementFormat::Mt940(TILDE);
    let first = import_statement(&pool, MT940.as_bytes(), &format)
        .await
        .unwrap();
    // The bank re-sends the day under a new statement number, every entry as it was: the
    // same credits, reported as imported from 00087/001 and not stored again.
    let renumbered = MT940.replace(":28C:00087/001", ":28C:00088/001");
    let same = import_statement(&pool, renumbered.as_bytes(), &format)
        .await
        .unwrap();
    assert!(same.imported.is_empty(), "{:?}", same.imported);
    assert_eq!(
        same.already_imported
            .iter()
            .map(|a| (a.payment_id, a.statement_number.as_deref()))
            .collect::<Vec<_>>(),
        first
            .imported
            .iter()
            .map(|p| (p.payment_id, Some("00087/001")))
            .collect::<Vec<_>>()
    );
    // Re-sent again with other details for the same movements: same money, or new money?
    let reworded = MT940
        .replace(":28C:00087/001", ":28C:00089/001")
        .replace("PRZELEW PRZYCHODZACY", "PRZELEW PRZYCH. ELIXIR");
    let held = import_statement(&pool, reworded.as_bytes(), &format)
        .await
        .unwrap();
    assert_eq!(held.imported.len(), 2);
    for (p, original) in held.imported.iter().zip(&first.imported) {
        assert_eq!(p.review, Some("possible_duplicate"));
        assert_eq!(p.duplicate_of, Some(original.payment_id));
        assert_eq!((p.customer_id, p.allocations.len()), (None, 0));
    }
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(
        ledger::balance(&mut conn, w.c4711).await.unwrap(),
        dec!(100.00)
    );
    let queue = list_unmatched(&pool).await.unwrap();
    assert_eq!(
        queue
            .iter()
            .map(|q| (q.payment_id, q.review.as_deref(), q.duplicate_of))
            .collect::<Vec<_>>(),
        held.imported
            .iter()
            .map(|p| (p.payment_id, Some("possible_duplicate"), p.duplicate_of))
            .collect::<Vec<_>>()
    );
    dismiss_duplicate(&pool, held.imported[0].payment_id, "clerk.anna")
        .await
        .unwrap();
    assert!(
        dismiss_duplicate(&pool, first.imported[0].payment_id, "clerk.anna")
            .await
            .is_err()
    );
    assert_eq!(list_unmatched(&pool).await.unwrap().len(), 1);
}

/// The sample's day, then a statement returning 4711's payment (RC with the original's
/// reference) and an RC nobody can place.
fn returns() -> String {
    ":20:ST260508/1\r\n:25:/PL61109010140000071219812874\r\n:28C:00090/001\r\n\
     :60F:C260507PLN13067,41\r\n\
     :61:2605080508RC267,41N525NONREF//2605081230001\r\n\
     :86:525~00ZWROT PRZELEWU~20ZWROT 2605051234567~21RACHUNEK ZAMKNIETY\r\n\
     :61:2605080508RC10,00N525NONREF//2605081230002\r\n\
     :86:525~00ZWROT PRZELEWU~20ZWROT NIEZNANY\r\n\
     :62F:C260508PLN12790,00\r\n-\r\n"
        .to_string()
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn a_returned_credit_is_reversed_and_reopens_its_invoice(pool: PgPool) {
    let w = world(&mut pool.acquire().await.unwrap()).await;
    let format = StatementFormat::Mt940(TILDE);
    let paid = import_statement(&pool, MT940.as_bytes(), &format)
        .await
        .unwrap();
    let original = paid.imported[0].payment_id;
    let r = import_statement(&pool, returns().as_bytes(), &format)
        .await
        .unwrap();
    assert_eq!((r.credits, r.reversals.len()), (0, 2));
    let back = &r.reversals[0];
    assert_eq!(
        (back.mark, back.amount, back.payment_id, back.customer_id),
        ("RC", dec!(267.41), Some(original), Some(w.c4711))
    );
    assert_eq!(back.reopened, vec![(w.may_4711.invoice_id, dec!(267.41))]);
    assert_eq!(
        (r.reversals[1].payment_id, r.reversals[1].customer_id),
        (None, None)
    );
    let mut conn = pool.acquire().await.unwrap();
    // The invoice is open again and the customer owes the money again.
    let open: Vec<String> = ledger::open_items(&mut conn, w.c4711)
        .await
        .unwrap()
        .into_iter()
        .map(|o| format!("{} {}", o.number, o.open))
        .collect();
    assert_eq!(
        open,
        vec!["FW/2026/03/000121 100.00", "FW/2026/05/000123 267.41"]
    );
    assert_eq!(
        ledger::balance(&mut conn, w.c4711).await.unwrap(),
        dec!(367.41)
    );
    let kinds: Vec<(String, Decimal)> = sqlx::query_as(
        "select kind, amount from ledger_posting where payment_id = $1 order by posting_id",
    )
    .bind(original)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    assert_eq!(
        kinds,
        vec![
            ("payment".to_string(), dec!(-267.41)),
            ("reversal".to_string(), dec!(267.41))
        ]
    );
    // 4712's payment is untouched.
    assert_eq!(allocations(&mut conn).await.len(), 2);
    drop(conn);
    // The clerk sees both: the reversal applied and the one to place by hand.
    let queue = list_reversals(&pool).await.unwrap();
    assert_eq!(
        queue
            .iter()
            .map(|q| (q.mark.as_str(), q.amount, q.payment_id))
            .collect::<Vec<_>>(),
        vec![
            ("RC", dec!(267.41), Some(original)),
            ("RC", dec!(10.00), None)
        ]
    );
    // Re-importing the return changes nothing.
    let again = import_statement(&pool, returns().as_bytes(), &format)
        .await
        .unwrap();
    assert!(again.reversals.is_empty());
    assert_eq!(
        count(
            &pool,
            "select count(*) from ledger_posting where kind = 'reversal'"
        )
        .await,
        1
    );
}

/// The month's statement (another number) repeating the daily return statement, entry for
/// entry.
fn monthly_with_returns() -> String {
    returns()
        .replace(":28C:00090/001", ":28C:00005/001")
        .replace(":20:ST260508/1", ":20:ST2605M")
}

/// The sample's payments imported, then `files` in order; their reports.
async fn paid_then<const N: usize>(pool: &PgPool, files: [String; N]) -> [ImportReport; N] {
    world(&mut pool.acquire().await.unwrap()).await;
    let format = StatementFormat::Mt940(TILDE);
    import_statement(pool, MT940.as_bytes(), &format)
        .await
        .unwrap();
    let mut reports = Vec::with_capacity(N);
    for text in files {
        reports.push(
            import_statement(pool, text.as_bytes(), &format)
                .await
                .unwrap(),
        );
    }
    reports
        .try_into()
        .unwrap_or_else(|_| unreachable!("one report per file"))
}

/// A return reported by the daily statement and again by the monthly one (in either order) is
/// one return: stored, posted and queued once; the second report is recognised.
#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn a_return_repeated_by_the_monthly_statement_is_reversed_once(pool: PgPool) {
    let [daily, monthly, again] = paid_then(
        &pool,
        [returns(), monthly_with_returns(), monthly_with_returns()],
    )
    .await;
    assert_eq!(daily.reversals.len(), 2);
    assert!(monthly.reversals.is_empty(), "{:?}", monthly.reversals);
    let stored: Vec<i64> = daily.reversals.iter().map(|r| r.reversal_id).collect();
    assert_eq!(monthly.reversals_already_imported, stored);
    assert_eq!(
        (
            again.reversals.len(),
            again.reversals_already_imported.len()
        ),
        (0, 2)
    );
    assert_eq!(
        count(&pool, "select count(*) from payment_reversal").await,
        2
    );
    assert_eq!(
        count(
            &pool,
            "select count(*) from ledger_posting where kind = 'reversal'"
        )
        .await,
        1
    );
    assert_eq!(list_reversals(&pool).await.unwrap().len(), 2);
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn the_monthly_return_first_and_the_daily_after_is_one_return(pool: PgPool) {
    let [monthly, daily] = paid_then(&pool, [monthly_with_returns(), returns()]).await;
    assert_eq!(monthly.reversals.len(), 2);
    assert_eq!(
        (
            daily.reversals.len(),
            daily.reversals_already_imported.len()
        ),
        (0, 2)
    );
    assert_eq!(
        count(
            &pool,
            "select count(*) from ledger_posting where kind = 'reversal'"
        )
        .await,
        1
    );
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn parallel_imports_of_one_file_store_each_credit_once(pool: PgPool) {
    world(&mut pool.acquire().await.unwrap()).await;
    let format = StatementFormat::Mt940(TILDE);
    let csv_format = StatementFormat::Csv(ewoda_billing::statement::csv::BANK_CSV);
    let csv = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/testdata/billing/bank_csv_sample.csv"
    ));
    let (a, b, c) = tokio::join!(
        import_statement(&pool, MT940.as_bytes(), &format),
        import_statement(&pool, MT940.as_bytes(), &format),
        import_statement(&pool, csv.as_bytes(), &csv_format),
    );
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    assert_eq!(a.imported.len() + b.imported.len(), 2);
    assert_eq!(a.duplicates.len() + b.duplicates.len(), 2);
    // Whichever ran first, each payment is posted exactly once.
    assert_eq!(c.imported.len(), 2);
    assert_eq!(
        count(
            &pool,
            "select count(*) from ledger_posting where kind = 'payment'"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &pool,
            "select count(*) from payment where review = 'possible_duplicate'"
        )
        .await,
        2
    );
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn a_refund_returned_by_the_payees_bank_is_credit_again(pool: PgPool) {
    let w = world(&mut pool.acquire().await.unwrap()).await;
    let format = StatementFormat::Mt940(TILDE);
    import_statement(&pool, MT940.as_bytes(), &format)
        .await
        .unwrap();
    // 4712 overpaid by 130.00; the refund goes out and comes back: the account is closed.
    let payee = ewoda_billing::account::Iban::parse("PL35114020040000999900001234").unwrap();
    let refund = ewoda_billing::payments::refund_overpayment(
        &pool,
        w.c4712,
        dec!(130.00),
        &payee,
        "ANNA NOWAK",
        "2026-05-06".parse().unwrap(),
    )
    .await
    .unwrap();
    let (account, party) = ewoda_billing::payments::utility_ordering(&pool)
        .await
        .unwrap();
    ewoda_billing::payments::export_refunds(&pool, &account, &party, "2026-05-07".parse().unwrap())
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(ledger::balance(&mut conn, w.c4712).await.unwrap(), dec!(0));
    let returned = ":20:ST260509/1\r\n:25:/PL61109010140000071219812874\r\n:28C:00091/001\r\n\
         :60F:C260508PLN1000,00\r\n\
         :61:2605090509RD130,00N525NONREF//2605091230009\r\n\
         :86:525~00ZWROT PRZELEWU~20ZWROT - RACHUNEK ZAMKNIETY~32ANNA NOWAK\r\n\
         ~38PL35114020040000999900001234\r\n\
         :62F:C260509PLN1130,00\r\n-\r\n";
    let r = import_statement(&pool, returned.as_bytes(), &format)
        .await
        .unwrap();
    assert_eq!(r.reversals.len(), 1);
    assert_eq!(
        (
            r.reversals[0].mark,
            r.reversals[0].refund_id,
            r.reversals[0].customer_id
        ),
        ("RD", Some(refund), Some(w.c4712))
    );
    assert_eq!(
        ledger::balance(&mut conn, w.c4712).await.unwrap(),
        dec!(-130.00)
    );
    drop(conn);
    let queue = list_reversals(&pool).await.unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].refund_id, Some(refund));
    ewoda_billing::payments::review_reversal(&pool, queue[0].reversal_id, "clerk.anna")
        .await
        .unwrap();
    assert!(list_reversals(&pool).await.unwrap().is_empty());
    assert!(
        ewoda_billing::payments::review_reversal(&pool, queue[0].reversal_id, "clerk.anna")
            .await
            .is_err()
    );
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn the_same_file_re_sent_with_other_line_ends_and_statement_reference_is_a_duplicate(
    pool: PgPool,
) {
    world(&mut pool.acquire().await.unwrap()).await;
    let format = StatementFormat::Mt940(TILDE);
    import_statement(&pool, MT940.as_bytes(), &format)
        .await
        .unwrap();
    // Downloaded again: LF line ends and a new :20: (banks stamp it per download).
    let again = MT940
        .replace("\r\n", "\n")
        .replace(":20:ST260505/1", ":20:ST260505/2");
    let r = import_statement(&pool, again.as_bytes(), &format)
        .await
        .unwrap();
    assert!(r.imported.is_empty(), "{r:?}");
    assert_eq!(r.duplicates, vec!["2605051234567", "2605051234568"]);
}

/// Days of credits: a daily statement per day, then the monthly statement repeating them all.
fn days() -> impl Strategy<Value = Vec<Vec<Gen>>> {
    let line =
        (0usize..3, 1i64..4, 0usize..2, 0usize..2).prop_map(|(reference, grosze, payer, title)| {
            Gen {
                reference,
                grosze: grosze * 1000,
                payer,
                title,
            }
        });
    prop::collection::vec(prop::collection::vec(line, 1..8), 1..4)
}

/// One statement `number` on the collection account with `lines` (day offset, credit): value
/// and entry date the day's, as banks write both daily and monthly statements.
fn statement(number: &str, lines: &[(u64, Gen)]) -> String {
    let day = |offset: u64| {
        chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap() + chrono::Days::new(offset)
    };
    let first = day(lines[0].0);
    let mut text = format!(
        ":20:{number}\r\n:25:/PL61109010140000071219812874\r\n:28C:{number}\r\n\
         :60F:C{}PLN0,00\r\n",
        first.format("%y%m%d")
    );
    let mut total = 0;
    for (offset, g) in lines {
        total += g.grosze;
        let reference = ["NONREF", "NONREF//REF1", "NONREF//REF2"][g.reference];
        let (payer, account) = [("JAN", V4711), ("ANNA", V4712)][g.payer];
        let title = ["WODA", "SCIEKI"][g.title];
        let on = day(*offset);
        text.push_str(&format!(
            ":61:{}{}CN{},{:02}N525{reference}\r\n:86:525~20{title}~32{payer}~63{account}\r\n",
            on.format("%y%m%d"),
            on.format("%m%d"),
            g.grosze / 100,
            g.grosze % 100
        ));
    }
    let last = day(lines[lines.len() - 1].0);
    text.push_str(&format!(
        ":62F:C{}PLN{},{:02}\r\n-\r\n",
        last.format("%y%m%d"),
        total / 100,
        total % 100
    ));
    text
}

/// Daily statements and the monthly one covering them, in either order: every credit stored
/// once (identical entries within a day are distinct credits), the later statements' lines
/// recognised as already imported, nothing queued for the clerk, and re-importing changes
/// nothing.
#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn daily_statements_and_the_monthly_one_store_each_credit_once(pool: PgPool) {
    world(&mut pool.acquire().await.unwrap()).await;
    let format = StatementFormat::Mt940(TILDE);
    let mut runner = TestRunner::deterministic();
    let strategy = days();
    let mut stored_before = 0;
    for case in 0..12 {
        let days = strategy.new_tree(&mut runner).unwrap().current();
        // Each case in a week of its own, so cases do not share value dates.
        let lines: Vec<Vec<(u64, Gen)>> = days
            .iter()
            .enumerate()
            .map(|(n, day)| day.iter().map(|g| ((case * 8 + n) as u64, *g)).collect())
            .collect();
        let dailies: Vec<String> = lines
            .iter()
            .enumerate()
            .map(|(n, l)| statement(&format!("D{case}/{n}"), l))
            .collect();
        let monthly = statement(&format!("M{case}"), &lines.concat());
        let total: usize = lines.iter().map(Vec::len).sum();
        let mut files: Vec<&String> = dailies.iter().collect();
        if case % 2 == 0 {
            files.push(&monthly);
        } else {
            files.insert(0, &monthly);
        }
        let (mut imported, mut recognised) = (0, 0);
        for text in files.iter().chain([&&monthly]) {
            let r = import_statement(&pool, text.as_bytes(), &format)
                .await
                .unwrap();
            assert!(
                r.imported.iter().all(|p| p.review.is_none()),
                "case {case}: {:?}",
                r.imported
            );
            imported += r.imported.len();
            recognised += r.already_imported.len() + r.duplicates.len();
        }
        assert_eq!(imported, total, "case {case}: {days:?}");
        // The second report of every credit, and the monthly's third: recognised.
        assert_eq!(recognised, 2 * total, "case {case}: {days:?}");
        let stored = count(&pool, "select count(*) from payment").await;
        assert_eq!(stored - stored_before, total as i64, "case {case}");
        stored_before = stored;
    }
    assert_eq!(
        count(
            &pool,
            "select count(*) from payment where review is not null"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &pool,
            "select count(*) from ledger_posting where kind = 'payment'"
        )
        .await,
        count(
            &pool,
            "select count(*) from payment where customer_id is not null"
        )
        .await
    );
}
