//! The Elixir-0 writer reproduces the shared refund record byte for byte and refuses input the
//! format cannot carry.

use chrono::NaiveDate;
use ewoda_billing::elixir::{refund_file, refund_record, ElixirError, Refund};
use rust_decimal_macros::dec;

const SAMPLE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/testdata/billing/elixir0_refund.txt"
));

fn lines(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn sample_refund() -> Refund {
    Refund {
        execution_date: NaiveDate::from_ymd_opt(2026, 5, 6).unwrap(),
        amount: dec!(50.00),
        ordering_account: "61109010140000071219812874".into(),
        ordering_party: lines(&["Gmina Przykładowo", "ul. Rynek 1", "00-001 Przykładowo"]),
        beneficiary_account: "PL35 1140 2004 0000 9999 0000 1234".into(),
        beneficiary: lines(&["Anna Nowak", "ul. Polna 3"]),
        title: lines(&["Zwrot nadpłaty", "klient 4712"]),
    }
}

#[test]
fn sample_refund_is_reproduced_byte_for_byte() {
    assert_eq!(refund_record(&sample_refund()).unwrap(), SAMPLE);
    assert_eq!(
        refund_file(&[sample_refund(), sample_refund()]).unwrap(),
        SAMPLE.repeat(2)
    );
}

#[test]
fn bad_refunds_name_the_field() {
    let cases: Vec<(Refund, &str)> = vec![
        (Refund { amount: dec!(0), ..sample_refund() }, "amount: 0 is not greater than zero"),
        (Refund { amount: dec!(1.005), ..sample_refund() }, "amount: 1.005 has more than 2 decimals"),
        (
            Refund { beneficiary_account: "35114020040000999900001235".into(), ..sample_refund() },
            "beneficiary_account: \"35114020040000999900001235\" is not a valid 26-digit Polish account number",
        ),
        (
            Refund { beneficiary: lines(&["A", "B", "C", "D", "E"]), ..sample_refund() },
            "beneficiary: 5 lines, at most 4 allowed",
        ),
        (
            Refund { title: lines(&["Zwrot nadpłaty za okres styczeń-marzec 2026"]), ..sample_refund() },
            "title: \"Zwrot nadpłaty za okres styczeń-marzec 2026\" is longer than 35 characters",
        ),
        (
            Refund { beneficiary: lines(&["Anna \"Ania\" Nowak"]), ..sample_refund() },
            "beneficiary: \"Anna \"Ania\" Nowak\": character '\"' is not allowed in Elixir-0",
        ),
        (Refund { title: lines(&["  "]), ..sample_refund() }, "title: is empty"),
    ];
    for (refund, expected) in cases {
        assert_eq!(refund_record(&refund).unwrap_err().to_string(), expected);
    }
    let batch = refund_file(&[
        sample_refund(),
        Refund {
            amount: dec!(-1),
            ..sample_refund()
        },
    ]);
    assert!(matches!(batch, Err(ElixirError::InBatch { index: 1, .. })));
}

proptest::proptest! {
    #[test]
    fn amount_field_is_the_exact_number_of_grosze(grosze in 1i64..1_000_000_000_000) {
        let refund = Refund { amount: rust_decimal::Decimal::new(grosze, 2), ..sample_refund() };
        let record = refund_record(&refund).unwrap();
        let fields: Vec<&str> = record.split(',').collect();
        proptest::prop_assert_eq!(fields[2], grosze.to_string());
        proptest::prop_assert!(record.ends_with("\r\n") && record.is_ascii());
    }
}
