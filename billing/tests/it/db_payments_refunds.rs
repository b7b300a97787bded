//! Overpayment refunds: never more than the credit, a `refund` posting that uses the credit up,
//! and the Elixir-0 export of unexported refunds (byte for byte the shared sample), once.

use crate::db_payments_fixtures;

use db_payments_fixtures::{d, world};
use ewoda_billing::account::Iban;
use ewoda_billing::ledger;
use ewoda_billing::payments::{
    export_refunds, import_statement, refund_overpayment, PaymentError, StatementFormat,
};
use ewoda_billing::statement::csv::BANK_CSV;
use rust_decimal_macros::dec;
use sqlx::PgPool;

const CSV: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/testdata/billing/bank_csv_sample.csv"
));
const ELIXIR: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/testdata/billing/elixir0_refund.txt"
));

fn party() -> Vec<String> {
    ["Gmina Przykładowo", "ul. Rynek 1", "00-001 Przykładowo"]
        .map(String::from)
        .to_vec()
}

fn invalid_field(r: &Result<i64, PaymentError>) -> Option<&str> {
    match r {
        Err(PaymentError::Invalid { field, .. }) => Some(field),
        _ => None,
    }
}

/// The payments world after the CSV sample: 4712 has 130.00 zł of credit; Anna's IBAN.
async fn with_credit(pool: &PgPool) -> (db_payments_fixtures::World, Iban) {
    let w = world(&mut pool.acquire().await.unwrap()).await;
    import_statement(pool, CSV.as_bytes(), &StatementFormat::Csv(BANK_CSV))
        .await
        .unwrap();
    (w, Iban::parse("PL35114020040000999900001234").unwrap())
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn refund_uses_credit_and_exports_once(pool: PgPool) {
    let (w, anna) = with_credit(&pool).await;
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(
        ledger::balance(&mut conn, w.c4712).await.unwrap(),
        dec!(-130.00)
    );

    let id = refund_overpayment(
        &pool,
        w.c4712,
        dec!(50.00),
        &anna,
        "Anna Nowak\nul. Polna 3",
        d("2026-06-01"),
    )
    .await
    .unwrap();
    assert_eq!(
        ledger::balance(&mut conn, w.c4712).await.unwrap(),
        dec!(-80.00)
    );
    let posting: (String, rust_decimal::Decimal, Option<i64>, i64) = sqlx::query_as(
        "select kind, amount, refund_id, customer_id from ledger_posting where kind = 'refund'",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(posting, ("refund".into(), dec!(50.00), Some(id), w.c4712));

    // More than the credit, nothing, fractions of a grosz, a debtor, a stranger: refused.
    let too_much = refund_overpayment(
        &pool,
        w.c4712,
        dec!(80.01),
        &anna,
        "Anna Nowak",
        d("2026-06-01"),
    )
    .await;
    assert_eq!(invalid_field(&too_much), Some("amount"), "{too_much:?}");
    let msg = too_much.unwrap_err().to_string();
    assert!(msg.contains("credit of 80.00"), "{msg}");
    for amount in [dec!(0), dec!(-5), dec!(1.001)] {
        let r =
            refund_overpayment(&pool, w.c4712, amount, &anna, "Anna Nowak", d("2026-06-01")).await;
        assert_eq!(invalid_field(&r), Some("amount"), "{amount}: {r:?}");
    }
    let debtor = refund_overpayment(
        &pool,
        w.c4711,
        dec!(1),
        &anna,
        "Jan Kowalski",
        d("2026-06-01"),
    )
    .await;
    assert_eq!(invalid_field(&debtor), Some("amount"));
    let blank = refund_overpayment(&pool, w.c4712, dec!(1), &anna, "  ", d("2026-06-01")).await;
    assert_eq!(invalid_field(&blank), Some("payee_name"));
    assert!(matches!(
        refund_overpayment(&pool, 999, dec!(1), &anna, "X", d("2026-06-01")).await,
        Err(PaymentError::NotFound { .. })
    ));
    let refunds: i64 = sqlx::query_scalar("select count(*) from refund")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(refunds, 1);

    let file = export_refunds(
        &pool,
        "61109010140000071219812874",
        &party(),
        d("2026-05-06"),
    )
    .await
    .unwrap();
    assert_eq!(file, ELIXIR);
    let exported: bool = sqlx::query_scalar("select exported_at is not null from refund")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert!(exported);
    let again = export_refunds(
        &pool,
        "61109010140000071219812874",
        &party(),
        d("2026-05-07"),
    )
    .await
    .unwrap();
    assert_eq!(again, "");

    // The rest of the credit can still be refunded, exactly.
    refund_overpayment(
        &pool,
        w.c4712,
        dec!(80.00),
        &anna,
        "Anna Nowak",
        d("2026-06-01"),
    )
    .await
    .unwrap();
    assert_eq!(
        ledger::balance(&mut conn, w.c4712).await.unwrap(),
        dec!(0.00)
    );
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn a_bad_export_marks_nothing(pool: PgPool) {
    let (w, anna) = with_credit(&pool).await;
    refund_overpayment(
        &pool,
        w.c4712,
        dec!(10.00),
        &anna,
        "Anna Nowak",
        d("2026-06-01"),
    )
    .await
    .unwrap();
    let err = export_refunds(
        &pool,
        "61109010140000071219812875",
        &party(),
        d("2026-05-06"),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("ordering_account"), "{err}");
    let unexported: i64 =
        sqlx::query_scalar("select count(*) from refund where exported_at is null")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(unexported, 1);
}

/// Refunds booked at 00:30 in Warsaw — on a UTC server still the day before — carry the
/// Warsaw day as their value date, in winter and on both DST change days.
#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn refund_after_midnight_in_warsaw_is_dated_that_day(pool: PgPool) {
    use ewoda_common::time::{Clock, FixedClock};
    let (w, anna) = with_credit(&pool).await;
    let cases = [
        ("2026-01-15T23:30:00Z", "2026-01-16"),
        ("2026-03-28T23:30:00Z", "2026-03-29"),
        ("2026-10-24T22:30:00Z", "2026-10-25"),
    ];
    for (instant, _) in cases {
        let clock = FixedClock(instant.parse().unwrap());
        refund_overpayment(
            &pool,
            w.c4712,
            dec!(1.00),
            &anna,
            "Anna Nowak",
            clock.today(),
        )
        .await
        .unwrap();
    }
    let days: Vec<chrono::NaiveDate> = sqlx::query_scalar(
        "select value_date from ledger_posting where kind = 'refund' order by posting_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let expected: Vec<chrono::NaiveDate> = cases.iter().map(|(_, day)| d(day)).collect();
    assert_eq!(days, expected);
}

async fn unexported(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from refund where exported_at is null")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The export to a file: never over an existing file without `overwrite`, never marks
/// refunds when the file cannot be written, leaves no temporary file, and writes the sample
/// byte for byte.
#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn refund_file_is_written_safely(pool: PgPool) {
    use ewoda_billing::payments::export_refunds_to_file;
    let (w, anna) = with_credit(&pool).await;
    refund_overpayment(
        &pool,
        w.c4712,
        dec!(50.00),
        &anna,
        "Anna Nowak\nul. Polna 3",
        d("2026-06-01"),
    )
    .await
    .unwrap();
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("refunds-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("zwroty.txt");
    let account = "61109010140000071219812874";
    let export = |path: std::path::PathBuf, overwrite: bool| {
        let pool = pool.clone();
        async move {
            export_refunds_to_file(&pool, account, &party(), d("2026-05-06"), &path, overwrite)
                .await
        }
    };

    // An unwritable place: an error, nothing marked.
    let err = export(dir.join("missing/zwroty.txt"), false)
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with("out: writing a temporary file"),
        "{err}"
    );
    assert_eq!(unexported(&pool).await, 1);

    // An existing file is kept unless asked to overwrite it.
    std::fs::write(&out, "yesterday's export").unwrap();
    let err = export(out.clone(), false).await.unwrap_err();
    assert!(err.to_string().contains("exists; not overwritten"), "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "yesterday's export");
    assert_eq!(unexported(&pool).await, 1);

    std::fs::remove_file(&out).unwrap();
    assert_eq!(export(out.clone(), false).await.unwrap(), 1);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), ELIXIR);
    assert_eq!(unexported(&pool).await, 0);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec!["zwroty.txt".to_string()],
        "no temporary file left"
    );

    // Nothing pending: nothing written, the file stays as it is.
    assert_eq!(export(out.clone(), true).await.unwrap(), 0);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), ELIXIR);

    // With overwrite, a new export replaces the old file.
    refund_overpayment(
        &pool,
        w.c4712,
        dec!(10.00),
        &anna,
        "Anna Nowak",
        d("2026-06-02"),
    )
    .await
    .unwrap();
    assert_eq!(export(out.clone(), true).await.unwrap(), 1);
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains(",1000,"),
        "only the new 10.00 zł refund: {text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
