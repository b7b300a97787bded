//! Each Polish bank's MT940 as the bank delivers it (bytes, encoding, framing and `:86:`
//! layout; files in tests/data/mt940/) imported into real PostgreSQL: every credit stored once,
//! matched to the right customer, nothing new on re-import.

use crate::db_payments_fixtures;

use db_payments_fixtures::world;
use ewoda_billing::payments::{import_statement, list_unmatched, ImportReport, StatementFormat};
use ewoda_billing::statement::{parse_mt940, profiles, Mt940Profile, TextEncoding};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sqlx::PgPool;

fn file(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/mt940/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// (bank reference, amount, customer, payer name, title) of every stored payment.
type Stored = (String, Decimal, Option<i64>, Option<String>, Option<String>);

async fn stored(pool: &PgPool) -> Vec<Stored> {
    sqlx::query_as(
        "select bank_reference, amount, customer_id, payer_name, title from payment
         order by payment_id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Imports `name` twice: the second import stores nothing and names every credit a duplicate.
async fn import_twice(pool: &PgPool, name: &str, profile: &Mt940Profile) -> ImportReport {
    let bytes = file(name);
    let format = StatementFormat::Mt940(profile.clone());
    let first = import_statement(pool, &bytes, &format).await.unwrap();
    assert_eq!(first.imported.len(), first.credits, "{name}: {first:?}");
    let before = stored(pool).await;
    let again = import_statement(pool, &bytes, &format).await.unwrap();
    assert!(again.imported.is_empty(), "{name}: {again:?}");
    assert_eq!(again.duplicates.len(), first.credits, "{name}");
    assert_eq!(stored(pool).await, before, "{name}");
    first
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn mbank_companynet_multi_account_file(pool: PgPool) {
    let w = world(&mut pool.acquire().await.unwrap()).await;
    // The utility's EUR account is its own, but only PLN statements are posted.
    sqlx::query("insert into utility_bank_account (iban, name) values ($1, 'EUR')")
        .bind("PL54109010140000071219813000")
        .execute(&pool)
        .await
        .unwrap();
    let r = import_twice(&pool, "mbank_companynet.sta", &profiles::MBANK).await;
    assert_eq!(r.encoding, TextEncoding::Iso8859_2);
    assert_eq!((r.credits, r.debits_skipped), (2, 1));
    let skipped: Vec<(usize, &str, &str)> = r
        .skipped_statements
        .iter()
        .map(|s| (s.line, s.account.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(
        skipped,
        vec![
            (
                19,
                "34114020040000310276543210",
                "account 34114020040000310276543210 is not one of the utility's accounts"
            ),
            (
                30,
                "54109010140000071219813000",
                "currency EUR: only PLN statements are posted"
            ),
        ]
    );
    assert_eq!(
        stored(&pool).await,
        vec![
            (
                "2605051000001".into(),
                dec!(267.41),
                Some(w.c4711),
                s("JAN KOWALSKI"),
                s("FW/2026/05/000123 OPŁATA")
            ),
            (
                "2605051000002".into(),
                dec!(300.00),
                Some(w.c4712),
                s("ANNA NOWAK"),
                s("OPŁATA ZA WODĘ")
            ),
        ]
    );
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn pko_bp_cp1250_with_0xff_filled_subfields_and_a_repeated_reference(pool: PgPool) {
    let w = world(&mut pool.acquire().await.unwrap()).await;
    let r = import_twice(&pool, "pko_bp.sta", &profiles::PKO_BP).await;
    assert_eq!(r.encoding, TextEncoding::Windows1250);
    // Both credits carry reference 2605061111111: both are stored.
    assert_eq!(
        stored(&pool).await,
        vec![
            (
                "2605061111111".into(),
                dec!(150.00),
                Some(w.c4711),
                s("ŁUCJA ŻÓŁKIEWSKA"),
                s("FW/2026/03/000121")
            ),
            (
                "2605061111111".into(),
                dec!(150.00),
                Some(w.c4712),
                s("ŚWIĘTOSŁAW ŹDŹBŁO"),
                s("ZA WODĘ KWIECIEŃ")
            ),
        ]
    );
    // The 0xFF filler is gone: the second payer has no address at all.
    let statements = parse_mt940(
        &ewoda_billing::statement::decode(&file("pko_bp.sta")).0,
        &profiles::PKO_BP,
    )
    .unwrap();
    assert_eq!(statements[0].credits[1].payer_address, None);
    assert_eq!(
        statements[0].credits[0].payer_address.as_deref(),
        Some("UL. ŻÓŁWIA 7")
    );
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn pekao_nonref_without_reference_and_address_subfields(pool: PgPool) {
    let w = world(&mut pool.acquire().await.unwrap()).await;
    let r = import_twice(&pool, "pekao.sta", &profiles::PEKAO).await;
    assert_eq!(r.encoding, TextEncoding::Utf8);
    // Two NONREF credits of the same amount and day: both stored, matched by invoice number.
    assert_eq!(
        stored(&pool).await,
        vec![
            (
                "NONREF".into(),
                dec!(100.00),
                Some(w.c4711),
                s("JAN KOWALSKI"),
                s("FW/2026/03/000121")
            ),
            (
                "NONREF".into(),
                dec!(100.00),
                Some(w.c4712),
                s("ANNA NOWAK"),
                s("FW/2026/04/000122")
            ),
        ]
    );
    let rows: Vec<(Option<String>, Option<String>)> =
        sqlx::query_as("select to_account::text, matched_by from payment order by payment_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    // ^63 is an address line, never taken for a (virtual) account.
    assert_eq!(
        rows,
        vec![(None, s("invoice_number")), (None, s("invoice_number"))]
    );
    let parsed = parse_mt940(
        std::str::from_utf8(&file("pekao.sta")).unwrap(),
        &profiles::PEKAO,
    )
    .unwrap();
    assert_eq!(
        parsed[0].credits[1].payer_address.as_deref(),
        Some("UL. POLNA 3 00-950 WARSZAWA")
    );
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn ing_second_86_after_a_short_first_one(pool: PgPool) {
    let w = world(&mut pool.acquire().await.unwrap()).await;
    let r = import_twice(&pool, "ing.sta", &profiles::ING).await;
    assert_eq!(r.encoding, TextEncoding::Windows1250);
    assert_eq!(
        stored(&pool).await,
        vec![
            (
                "5082000000063".into(),
                dec!(267.41),
                Some(w.c4711),
                s("JAN KOWALSKI UL. LIPOWA 7 90-001 ŁÓDŹ"),
                s("FW/2026/05/000123")
            ),
            (
                "5082000000064".into(),
                dec!(120.00),
                Some(w.c4712),
                s("ANNA NOWAK UL. POLNA 3"),
                s("OPŁATA ZA WODĘ MAJ 2026")
            ),
        ]
    );
    // The named invoice was paid, so the title reached the matcher.
    let mut conn = pool.acquire().await.unwrap();
    let open = ewoda_billing::ledger::open_items(&mut conn, w.c4711)
        .await
        .unwrap();
    assert!(open.iter().all(|o| o.number != "FW/2026/05/000123"));
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn other_banks_layouts_import_every_credit_once(pool: PgPool) {
    let w = world(&mut pool.acquire().await.unwrap()).await;
    let banks = [
        (
            "santander.sta",
            &profiles::SANTANDER,
            "SAN0511A1",
            TextEncoding::Windows1250,
        ),
        (
            "millennium.sta",
            &profiles::MILLENNIUM,
            "MIL0512A1",
            TextEncoding::Windows1250,
        ),
        (
            "bnp_paribas.sta",
            &profiles::BNP_PARIBAS,
            "BNP0513A1",
            TextEncoding::Iso8859_2,
        ),
        (
            "alior.sta",
            &profiles::ALIOR,
            "ALI0514A1",
            TextEncoding::Utf8,
        ),
        (
            "credit_agricole.sta",
            &profiles::CREDIT_AGRICOLE,
            "CAG0515A1",
            TextEncoding::Windows1250,
        ),
    ];
    let mut expected = Vec::new();
    for (name, profile, reference, encoding) in banks {
        let r = import_twice(&pool, name, profile).await;
        assert_eq!(r.encoding, encoding, "{name}");
        assert_eq!((r.credits, r.debits_skipped), (2, 1), "{name}");
        // Two different credits under one reference, both stored.
        expected.push((
            reference.to_string(),
            dec!(267.41),
            Some(w.c4711),
            s("JAN KOWALSKI"),
            s("FW/2026/05/000123"),
        ));
        expected.push((
            reference.to_string(),
            dec!(267.41),
            Some(w.c4712),
            s("ANNA NOWAK"),
            s("ZALICZKA NA WODĘ"),
        ));
    }
    assert_eq!(stored(&pool).await, expected);
    assert!(list_unmatched(&pool).await.unwrap().is_empty());
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn a_file_of_other_accounts_only_is_refused(pool: PgPool) {
    world(&mut pool.acquire().await.unwrap()).await;
    // The utility's collection account is not in this file at all: it is not the utility's.
    let text = String::from_utf8(file("pekao.sta")).unwrap().replace(
        "PL61109010140000071219812874",
        "PL34114020040000310276543210",
    );
    let err = import_statement(
        &pool,
        text.as_bytes(),
        &StatementFormat::Mt940(profiles::PEKAO),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        ":25:: no statement in the file is for the utility's accounts (the file has \
         34114020040000310276543210)"
    );
    assert!(stored(&pool).await.is_empty());
}

/// An older bank export in CP852 (DOS Latin-2), written with the code page's published
/// mapping: detected and reported as IBM852, every Polish letter read right.
#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn cp852_dos_export_is_detected_and_decoded(pool: PgPool) {
    let w = world(&mut pool.acquire().await.unwrap()).await;
    let r = import_twice(&pool, "cp852_dos_export.sta", &profiles::TILDE).await;
    assert_eq!(r.encoding, TextEncoding::Cp852);
    assert_eq!(r.encoding.as_str(), "IBM852");
    assert_eq!((r.credits, r.debits_skipped), (2, 1));
    assert_eq!(
        stored(&pool).await,
        vec![
            (
                "DOS0516A1".into(),
                dec!(150.00),
                Some(w.c4711),
                s("ŁUCJA ŻÓŁKIEWSKA"),
                s("FW/2026/03/000121 OPŁATA ZA WODĘ")
            ),
            (
                "DOS0516A2".into(),
                dec!(80.50),
                Some(w.c4712),
                s("ŚWIĘTOSŁAW ŹDŹBŁO"),
                s("ŚCIEKI KWIECIEŃ")
            ),
        ]
    );
    let parsed = parse_mt940(
        &ewoda_billing::statement::decode(&file("cp852_dos_export.sta")).0,
        &profiles::TILDE,
    )
    .unwrap();
    assert_eq!(
        parsed[0].credits[0].payer_address.as_deref(),
        Some("UL. ŹRÓDLANA 5 ŁÓDŹ")
    );
}

/// Santander Bank Polska (formerly BZ WBK) files as they are in use: one SOH/ETX-framed SWIFT
/// message, `:86:` opening straight with `>20` (the subfield separator `>`, not MultiCash's
/// `<`), the title running on over a line without a marker, the payer in `>32` and the
/// credited account in `>38`, `NONREF` references. The separator is read from the text and an
/// account of the utility's in the payer's subfield is stored as the account credited.
#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn santander_files_as_in_use_open_86_with_greater_than(pool: PgPool) {
    let w = world(&mut pool.acquire().await.unwrap()).await;
    let r = import_twice(&pool, "santander_bzwbk.sta", &profiles::SANTANDER).await;
    assert_eq!(r.encoding, TextEncoding::Windows1250);
    assert_eq!((r.credits, r.debits_skipped), (2, 1));
    assert_eq!(
        stored(&pool).await,
        vec![
            (
                "NONREF".into(),
                dec!(267.41),
                Some(w.c4711),
                s("JAN KOWALSKI"),
                s("FW/2026/05/000123 OPŁATA ZA WODĘ")
            ),
            (
                "NONREF".into(),
                dec!(267.41),
                Some(w.c4712),
                s("ANNA NOWAK"),
                s("ZALICZKA NA WODĘ I ŚCIEKI")
            ),
        ]
    );
    let accounts: Vec<(Option<String>, Option<String>, String)> = sqlx::query_as(
        "select payer_account, to_account, matched_by from payment order by payment_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let credited = |a: &str| (None, Some(a.to_string()), "virtual_account".to_string());
    assert_eq!(
        accounts,
        vec![
            credited("PL79109010141234000000004711"),
            credited("PL52109010141234000000004712"),
        ]
    );
    assert!(list_unmatched(&pool).await.unwrap().is_empty());
}
