//! Invariants of the statement parsers: never a panic, all-or-nothing on damaged files, and
//! generated statements read back exactly with balances that add up.

use ewoda_billing::statement::{csv::BANK_CSV, parse_csv, parse_mt940, profiles, EntryMark};
use proptest::prelude::*;
use rust_decimal::Decimal;

const MT940: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/testdata/billing/mt940_sample.sta"
));

#[test]
fn every_truncation_of_the_sample_is_an_error_not_a_panic() {
    // Cutting the file anywhere before the closing balance must reject it entirely.
    let closing_at = MT940.find(":62F:").unwrap();
    for cut in (0..closing_at).filter(|&i| MT940.is_char_boundary(i)) {
        assert!(
            parse_mt940(&MT940[..cut], &profiles::TILDE).is_err(),
            "cut at {cut} accepted"
        );
    }
}

/// Formats an amount in grosze the MT940 way ("1234,05").
fn swift_amount(grosze: u64) -> String {
    format!("{},{:02}", grosze / 100, grosze % 100)
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let _ = parse_mt940(&text, &profiles::TILDE);
        let _ = parse_csv(&text, &BANK_CSV);
    }

    #[test]
    fn mutated_sample_never_panics(pos in 0usize..900, byte in any::<u8>()) {
        let mut bytes = MT940.as_bytes().to_vec();
        let pos = pos % bytes.len();
        bytes[pos] = byte;
        if let Ok(text) = String::from_utf8(bytes) {
            let _ = parse_mt940(&text, &profiles::TILDE);
        }
    }

    #[test]
    fn generated_statements_read_back_exactly(
        opening in 0u64..10_000_000,
        entries in prop::collection::vec((any::<bool>(), 1u64..5_000_000), 0..20),
    ) {
        let mut text = format!(
            ":20:ST1\r\n:25:/PL61109010140000071219812874\r\n:28C:1/1\r\n:60F:C260504PLN{}\r\n",
            swift_amount(opening)
        );
        let mut balance = opening as i128;
        for (i, (credit, grosze)) in entries.iter().enumerate() {
            let mark = if *credit { "C" } else { "D" };
            balance += if *credit { *grosze as i128 } else { -(*grosze as i128) };
            text.push_str(&format!(
                ":61:2605050505{mark}{}N525NONREF//REF{i}\r\n:86:525~20TITLE {i}\r\n",
                swift_amount(*grosze)
            ));
        }
        let (sign, abs) = if balance < 0 { ("D", -balance) } else { ("C", balance) };
        text.push_str(&format!(":62F:{sign}260505PLN{}\r\n-\r\n", swift_amount(abs as u64)));

        let statements = parse_mt940(&text, &profiles::TILDE).unwrap();
        let s = &statements[0];
        prop_assert_eq!(s.credits.len() + s.debits.len(), entries.len());
        prop_assert_eq!(s.closing.amount, Decimal::from_i128_with_scale(balance, 2));
        let credited: Decimal = s.credits.iter().map(|l| l.amount).sum();
        let debited: Decimal = s.debits.iter().map(|l| l.amount).sum();
        prop_assert_eq!(s.opening.amount + credited - debited, s.closing.amount);
        prop_assert!(s.credits.iter().all(|l| l.mark == EntryMark::Credit && l.amount > Decimal::ZERO));
        prop_assert!(s.debits.iter().all(|l| l.mark == EntryMark::Debit && l.amount > Decimal::ZERO));
        let mut credit_iter = s.credits.iter();
        let mut debit_iter = s.debits.iter();
        for (i, (credit, grosze)) in entries.iter().enumerate() {
            let line = if *credit { credit_iter.next() } else { debit_iter.next() }.unwrap();
            prop_assert_eq!(line.amount, Decimal::new(*grosze as i64, 2));
            prop_assert_eq!(&line.bank_reference, &format!("REF{i}"));
            prop_assert_eq!(&line.title, &format!("TITLE {i}"));
        }
    }
}
