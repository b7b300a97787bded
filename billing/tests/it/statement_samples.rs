//! The shared MT940 and CSV samples give the same two payments; broken files give line-numbered
//! errors and nothing else.

use chrono::NaiveDate;
use ewoda_billing::statement::{
    csv::BANK_CSV, parse_csv, parse_mt940, profiles, Balance, EntryMark, StatementError,
    StatementLine,
};
use rust_decimal_macros::dec;

const MT940: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/testdata/billing/mt940_sample.sta"
));
const CSV: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/testdata/billing/bank_csv_sample.csv"
));

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 5, d).unwrap()
}

/// Lines `from..=to` (1-based) of the MT940 sample, the way an entry's `details` keeps them.
fn sample_lines(from: usize, to: usize) -> String {
    let lines: Vec<&str> = MT940.lines().skip(from - 1).take(to + 1 - from).collect();
    lines.join("\n").strip_prefix(":61:").unwrap().to_string()
}

/// The two payments as the MT940 sample states them (with the payer's address).
fn expected_payments() -> Vec<StatementLine> {
    vec![
        StatementLine {
            booked_on: day(5),
            value_date: day(5),
            mark: EntryMark::Credit,
            amount: dec!(267.41),
            currency: "PLN".into(),
            bank_reference: "2605051234567".into(),
            customer_reference: "NONREF".into(),
            virtual_account: Some("79109010141234000000004711".into()),
            payer_account: Some("60102010260000042270201111".into()),
            payer_name: Some("JAN KOWALSKI".into()),
            payer_address: Some("UL. LIPOWA 7".into()),
            title: "FW/2026/05/000123 KLIENT 4711".into(),
            details: sample_lines(5, 8),
            warnings: vec![],
            line: 5,
        },
        StatementLine {
            booked_on: day(5),
            value_date: day(5),
            mark: EntryMark::Credit,
            amount: dec!(300.00),
            currency: "PLN".into(),
            bank_reference: "2605051234568".into(),
            customer_reference: "NONREF".into(),
            virtual_account: Some("52109010141234000000004712".into()),
            payer_account: Some("35114020040000999900001234".into()),
            payer_name: Some("ANNA NOWAK".into()),
            payer_address: Some("UL. POLNA 3".into()),
            title: "OPLATA ZA WODE".into(),
            details: sample_lines(9, 12),
            warnings: vec![],
            line: 9,
        },
    ]
}

#[test]
fn mt940_sample_gives_the_two_payments_and_balances() {
    let statements = parse_mt940(MT940, &profiles::TILDE).unwrap();
    assert_eq!(statements.len(), 1);
    let s = &statements[0];
    assert_eq!(s.reference, "ST260505/1");
    assert_eq!(s.number, "00087/001");
    assert_eq!(s.account, "61109010140000071219812874");
    assert_eq!(
        s.opening,
        Balance {
            date: day(4),
            currency: "PLN".into(),
            amount: dec!(12500.00)
        }
    );
    assert_eq!(
        s.closing,
        Balance {
            date: day(5),
            currency: "PLN".into(),
            amount: dec!(13067.41)
        }
    );
    assert_eq!(s.credits, expected_payments());
    assert!(s.debits.is_empty());
}

#[test]
fn csv_sample_gives_the_same_two_payments() {
    let parsed = parse_csv(CSV, &BANK_CSV).unwrap();
    // The CSV export has no address column nor customer reference, and its details are its
    // record; everything else matches the MT940 sample.
    let records: Vec<&str> = CSV.lines().skip(1).collect();
    let expected: Vec<StatementLine> = expected_payments()
        .into_iter()
        .zip(records)
        .enumerate()
        .map(|(i, (l, record))| StatementLine {
            payer_address: None,
            customer_reference: String::new(),
            details: record.to_string(),
            line: i + 2,
            ..l
        })
        .collect();
    assert_eq!(parsed.credits, expected);
    assert!(parsed.debits.is_empty());
}

#[test]
fn mt940_works_with_lf_line_ends_too() {
    let lf = MT940.replace("\r\n", "\n");
    let expected: Vec<StatementLine> = expected_payments()
        .into_iter()
        .map(|l| StatementLine {
            details: l.details.replace('\r', ""),
            ..l
        })
        .collect();
    assert_eq!(
        parse_mt940(&lf, &profiles::TILDE).unwrap()[0].credits,
        expected
    );
}

/// The lines without their `details` (which keep the file's own separators).
fn without_details(lines: Vec<StatementLine>) -> Vec<StatementLine> {
    lines
        .into_iter()
        .map(|l| StatementLine {
            details: String::new(),
            ..l
        })
        .collect()
}

#[test]
fn other_separator_profiles_read_the_same_layout() {
    let caret = MT940.replace('~', "^");
    assert_eq!(
        without_details(
            parse_mt940(&caret, &profiles::CARET).unwrap()[0]
                .credits
                .clone()
        ),
        without_details(expected_payments())
    );
    // The angle layout keeps the payer name in <27/<28 and the address in <29.
    let angle = MT940
        .replace('~', "<")
        .replace(
            "<32JAN KOWALSKI<33UL. LIPOWA 7",
            "<27JAN<28KOWALSKI<29UL. LIPOWA 7",
        )
        .replace("<32ANNA NOWAK<33UL. POLNA 3", "<27ANNA NOWAK<29UL. POLNA 3");
    assert_eq!(
        without_details(
            parse_mt940(&angle, &profiles::ANGLE).unwrap()[0]
                .credits
                .clone()
        ),
        without_details(expected_payments())
    );
    assert_eq!(
        profiles::Mt940Profile::by_name("angle"),
        Some(&profiles::ANGLE)
    );
}

#[test]
fn debits_and_reversals_are_kept_apart_and_balance() {
    let with_debit = MT940.replace(
        ":62F:C260505PLN13067,41",
        ":61:2605050505D50,00N641NONREF//2605059999999\r\n:86:641~00OPLATA\r\n\
         :61:2605050505RC17,41N525NONREF//2605059999998\r\n:62F:C260505PLN13000,00",
    );
    let s = &parse_mt940(&with_debit, &profiles::TILDE).unwrap()[0];
    assert_eq!(s.credits, expected_payments());
    assert_eq!(s.debits.len(), 2);
    assert_eq!(s.debits[0].mark, EntryMark::Debit);
    assert_eq!(s.debits[0].amount, dec!(50.00));
    assert_eq!(s.debits[0].title, "");
    assert_eq!(s.debits[1].mark, EntryMark::ReversalOfCredit);
    assert_eq!(s.debits[1].bank_reference, "2605059999998");
}

fn mt940_error(text: &str) -> String {
    parse_mt940(text, &profiles::TILDE).unwrap_err().to_string()
}

#[test]
fn bad_amount_names_line_and_field() {
    let bad = MT940.replace("CN267,41N525", "CN12x,00N525");
    assert_eq!(
        mt940_error(&bad),
        "line 5 (:61:): amount \"12x,00\" is not a number"
    );
}

#[test]
fn wrong_closing_balance_is_rejected() {
    let bad = MT940.replace(":62F:C260505PLN13067,41", ":62F:C260505PLN13067,40");
    let err = parse_mt940(&bad, &profiles::TILDE).unwrap_err();
    assert_eq!(
        err,
        StatementError::Unbalanced {
            line: 1,
            opening: dec!(12500.00),
            credits: dec!(567.41),
            debits: dec!(0),
            computed: dec!(13067.41),
            closing: dec!(13067.40),
        }
    );
    assert!(
        err.to_string()
            .contains("closing balance (:62F:) is 13067.40"),
        "{err}"
    );
}

#[test]
fn missing_account_is_rejected() {
    let bad = MT940.replace(":25:/PL61109010140000071219812874\r\n", "");
    assert_eq!(
        mt940_error(&bad),
        "statement starting at line 1: missing account (:25:)"
    );
}

#[test]
fn truncated_file_is_rejected() {
    let cut = MT940.split(":62F:").next().unwrap();
    assert_eq!(
        mt940_error(cut),
        "line 12: the statement starting at line 1 ends without a closing balance (:62F:); \
         the file looks truncated"
    );
    assert_eq!(mt940_error(""), "line 0: no statement (:20:) in the file");
}

#[test]
fn other_mt940_errors_name_the_field() {
    let cases = [
        (
            MT940.replace("0505CN267", "0599CN267"),
            "line 5 (:61:): entry date \"0599\" is not a valid MMDD date",
        ),
        (
            MT940.replace("0505CN267", "0505XN267"),
            "line 5 (:61:): debit/credit mark \"XN\" is not C, D, RC or RD",
        ),
        (
            MT940.replace(":60F:C260504PLN", ":60F:C261304PLN"),
            "line 4 (:60F:): date \"261304\" is not a valid YYMMDD date",
        ),
        (
            MT940.replace(":62F:C260505PLN", ":62F:C260505EUR"),
            "line 13 (:62F:): currency EUR differs from the opening balance's PLN",
        ),
        (
            MT940.replace(":25:/PL6110", ":25:/PL6210"),
            "line 2 (:25:): account number \"PL62109010140000071219812874\" fails the mod-97 check",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(mt940_error(&text), expected);
    }
}

#[test]
fn optional_subfields_failing_checks_flag_the_line_instead_of_rejecting() {
    let bad = MT940
        .replace(
            "~63PL79109010141234000000004711",
            "~63PL79109010141234000000004712",
        )
        .replace(
            "~38PL35114020040000999900001234",
            "~38PL35114020040000999900001235",
        );
    let s = &parse_mt940(&bad, &profiles::TILDE).unwrap()[0];
    assert_eq!(s.credits.len(), 2);
    assert_eq!(s.credits[0].virtual_account, None);
    assert_eq!(
        s.credits[0].warnings,
        vec!["line 6 (:86:): virtual account: account number \"PL79109010141234000000004712\" fails the mod-97 check; left out"]
    );
    // The payer's IBAN fails; the sort code + number fallback is not used for a present ~38.
    assert_eq!(s.credits[1].payer_account, None);
    assert_eq!(
        s.credits[1].virtual_account.as_deref(),
        Some("52109010141234000000004712")
    );
    assert_eq!(
        s.credits[1].warnings,
        vec!["line 10 (:86:): payer account: account number \"PL35114020040000999900001235\" fails the mod-97 check; left out"]
    );
    // A separator inside a title is text, not a subfield.
    let tilde_in_title = MT940.replace("~21KLIENT 4711", "~21KLIENT~NR 4711");
    assert_eq!(
        parse_mt940(&tilde_in_title, &profiles::TILDE).unwrap()[0].credits[0].title,
        "FW/2026/05/000123 KLIENT~NR 4711"
    );
    // NONREF without a // reference is an entry without a reference, not an error.
    let nonref = MT940.replace("NONREF//2605051234568", "NONREF");
    assert_eq!(
        parse_mt940(&nonref, &profiles::TILDE).unwrap()[0].credits[1].bank_reference,
        "NONREF"
    );
}

#[test]
fn csv_errors_name_line_and_column() {
    let err = |t: &str| parse_csv(t, &BANK_CSV).unwrap_err().to_string();
    assert_eq!(
        err(&CSV.replace("300,00", "3OO,00")),
        "line 3 (Kwota): \"3OO,00\" is not a number"
    );
    assert_eq!(
        err(&CSV.replace("2026-05-05;2026-05-05;267", "2026-05-32;2026-05-05;267")),
        "line 2 (Data ksiegowania): \"2026-05-32\" is not a %Y-%m-%d date"
    );
    assert_eq!(
        err(&CSV.replace("Id transakcji", "Id")),
        "line 1 (Id transakcji): column is missing from the header line"
    );
    assert_eq!(
        err(&CSV.replace(";OPLATA ZA WODE;", ";OPLATA;ZA WODE;")),
        "line 3 (CSV): 10 columns where the header has 9"
    );
    assert_eq!(
        err(&CSV.replace(";2605051234568", ";")),
        "line 3 (Id transakcji): is empty; every entry needs the bank's id"
    );
}
