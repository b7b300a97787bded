//! Generated invoices (rates, many lines, company and person buyers, corrections) validate
//! against the official FA(3) schema with xmllint. The test fails when xmllint is missing
//! (Debian package libxml2-utils).

use crate::ksef_common;

use std::path::PathBuf;
use std::process::Command;

use ewoda_billing::ksef::{
    invoice_xml, Address, BankAccount, Buyer, BuyerId, CorrectedInvoice, Correction,
    CorrectionEffect, Exemption, InvoiceKind, InvoiceLine, KsefInvoice, Note, Payment, PaymentForm,
    SaleDate, VatRate, VatSummary,
};
use ksef_common::{before, date, line, sample_correction, sample_invoice, SEWAGE, WATER};
use rust_decimal_macros::dec;

const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/testdata/ksef/fa3.xsd"
);

/// Runs xmllint on `xml`; Ok(()) when valid, Err(xmllint's report) when not.
fn xmllint(name: &str, xml: &str) -> Result<(), String> {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("ksef-{name}.xml"));
    std::fs::write(&path, xml).expect("write temporary invoice");
    let output = Command::new("xmllint")
        .args(["--noout", "--schema", SCHEMA])
        .arg(&path)
        .output()
        .expect("xmllint must be installed (apt-get install -y libxml2-utils)");
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

fn assert_valid(name: &str, inv: &KsefInvoice) {
    let xml = invoice_xml(inv).unwrap();
    if let Err(report) = xmllint(name, &xml) {
        panic!("{name} does not validate:\n{report}\n{xml}");
    }
}

/// Fills the summary and total from the lines.
fn summed(mut inv: KsefInvoice) -> KsefInvoice {
    inv.vat_summary = VatSummary::from_lines(&inv.lines);
    inv.total = inv.vat_summary.iter().map(|s| s.net + s.vat).sum();
    inv
}

fn company() -> Buyer {
    Buyer {
        id: BuyerId::Nip("5260250274".into()),
        name: "Piekarnia \"Złoty Kłos\" Sp. z o.o. & Wspólnicy".into(),
        address: Some(Address {
            country: "PL".into(),
            line1: "ul. Młyńska 12/4".into(),
            line2: Some("00-002 Przykładowo".into()),
        }),
        customer_number: Some("9001".into()),
        jst_subunit: false,
        vat_group_member: false,
    }
}

fn rated(rate: VatRate, l: InvoiceLine) -> InvoiceLine {
    InvoiceLine { rate, ..l }
}

fn company_invoice_with_several_rates() -> KsefInvoice {
    let mut inv = sample_invoice();
    inv.buyer = company();
    inv.third_parties.clear();
    inv.number = "FW/2026/05/000124".into();
    inv.sale = SaleDate::Date(date(2026, 4, 30));
    inv.exemption = Some(Exemption::Act("art. 43 ust. 1 pkt 37 ustawy o VAT".into()));
    inv.notes.push(Note {
        line: Some(5),
        key: "Zlecenie".into(),
        value: "Z/17 <pilne>".into(),
    });
    inv.lines = vec![
        line(WATER, "m3", dec!(120.5), dec!(6.95), dec!(837.48)),
        line(SEWAGE, "m3", dec!(118.250), dec!(12.35), dec!(1460.39)),
        line(
            "Opłata abonamentowa - woda",
            "okres",
            dec!(1),
            dec!(7.89),
            dec!(7.89),
        ),
        rated(
            VatRate::R23,
            line(
                "Wymiana wodomierza na życzenie",
                "szt",
                dec!(1),
                dec!(250),
                dec!(250.00),
            ),
        ),
        rated(
            VatRate::R23,
            line("Plombowanie", "usł", dec!(2), dec!(35.50), dec!(71.00)),
        ),
        rated(
            VatRate::R5,
            line(
                "Woda butelkowana",
                "szt",
                dec!(24),
                dec!(1.2345),
                dec!(29.63),
            ),
        ),
        rated(
            VatRate::Exempt,
            line(
                "Ubezpieczenie przyłącza",
                "mies",
                dec!(1),
                dec!(10),
                dec!(10.00),
            ),
        ),
        rated(
            VatRate::ZeroDomestic,
            line("Dostawa 0%", "szt", dec!(1), dec!(5), dec!(5.00)),
        ),
    ];
    inv.payment = Some(Payment {
        due_date: date(2026, 5, 25),
        form: PaymentForm::Transfer,
        accounts: vec![
            BankAccount {
                number: "PL52 1090 1014 1234 0000 0000 4712".into(),
                bank_name: Some("Bank Przykładowy S.A.".into()),
                description: Some("Rachunek indywidualny 9001".into()),
            },
            BankAccount {
                number: "61109010140000071219812874".into(),
                bank_name: None,
                description: None,
            },
        ],
    });
    summed(inv)
}

#[test]
fn the_samples_models_validate() {
    assert_valid("sample-vat", &sample_invoice());
    assert_valid("sample-kor", &sample_correction());
}

#[test]
fn company_buyer_several_rates_and_exemption_validate() {
    let inv = company_invoice_with_several_rates();
    let xml = invoice_xml(&inv).unwrap();
    for expected in [
        "<P_13_1>321.00</P_13_1>",
        "<P_14_1>73.83</P_14_1>",
        "<P_13_2>2305.76</P_13_2>",
        "<P_14_2>184.46</P_14_2>",
        "<P_13_3>29.63</P_13_3>",
        "<P_14_3>1.48</P_14_3>",
        "<P_13_6_1>5.00</P_13_6_1>",
        "<P_13_7>10.00</P_13_7>",
        "<P_15>2931.16</P_15>",
        "<P_19>1</P_19>",
        "<NIP>5260250274</NIP>",
        "<P_8B>118.250</P_8B>",
        "<P_9A>1.2345</P_9A>",
        "<Wartosc>Z/17 &lt;pilne&gt;</Wartosc>",
    ] {
        assert!(xml.contains(expected), "missing {expected} in\n{xml}");
    }
    assert_valid("company-rates", &inv);
}

#[test]
fn person_without_address_or_payment_validates() {
    let mut inv = sample_invoice();
    inv.buyer = Buyer {
        id: BuyerId::None,
        name: "Anna Nowak".into(),
        address: None,
        customer_number: None,
        jst_subunit: false,
        vat_group_member: false,
    };
    inv.system_info = None;
    inv.third_parties.clear();
    inv.notes.clear();
    inv.payment = None;
    inv.sale = SaleDate::NotStated;
    inv.lines.truncate(1);
    assert_valid("person-minimal", &summed(inv));
}

#[test]
fn reverse_charge_and_split_payment_validate() {
    let mut inv = company_invoice_with_several_rates();
    inv.exemption = None;
    inv.split_payment = true;
    inv.lines = vec![rated(
        VatRate::ReverseCharge,
        line(
            "Roboty budowlane - przyłącze",
            "kpl",
            dec!(1),
            dec!(20000),
            dec!(20000.00),
        ),
    )];
    inv.notes.clear();
    let inv = summed(inv);
    let xml = invoice_xml(&inv).unwrap();
    assert!(xml.contains("<P_18>1</P_18>") && xml.contains("<P_18A>1</P_18A>"));
    assert!(xml.contains("<P_13_10>20000.00</P_13_10>") && !xml.contains("P_14_10"));
    assert_valid("reverse-charge", &inv);
}

#[test]
fn company_correction_with_ksef_number_validates() {
    let mut inv = sample_correction();
    inv.buyer = company();
    inv.kind = InvoiceKind::Correction(Correction {
        reason: Some("Zmiana stawki & ilości".into()),
        effect: Some(CorrectionEffect::CorrectionDate),
        corrected: vec![
            CorrectedInvoice {
                issue_date: date(2026, 5, 4),
                number: "FW/2026/05/000124".into(),
                ksef_number: Some("9123456788-20260504-0A1B2C-3D4E5F-A1".into()),
            },
            CorrectedInvoice {
                issue_date: date(2026, 4, 4),
                number: "FW/2026/04/000099".into(),
                ksef_number: None,
            },
        ],
    });
    inv.lines = vec![
        before(line(WATER, "m3", dec!(120.5), dec!(6.95), dec!(837.48))),
        line(WATER, "m3", dec!(130.5), dec!(6.95), dec!(906.98)),
        before(rated(
            VatRate::R23,
            line("Plombowanie", "usł", dec!(2), dec!(35.50), dec!(71.00)),
        )),
        rated(
            VatRate::R23,
            line("Plombowanie", "usł", dec!(1), dec!(35.50), dec!(35.50)),
        ),
    ];
    inv.payment = Some(Payment {
        due_date: date(2026, 6, 3),
        form: PaymentForm::Transfer,
        accounts: vec![BankAccount {
            number: "52109010141234000000004712".into(),
            bank_name: None,
            description: None,
        }],
    });
    let inv = summed(inv);
    let xml = invoice_xml(&inv).unwrap();
    // VAT differences are VAT(after) - VAT(before), each rounded on the net sum: 8.17 - 16.33.
    assert!(xml.contains("<P_13_1>-35.50</P_13_1>"), "{xml}");
    assert!(xml.contains("<P_14_1>-8.16</P_14_1>"), "{xml}");
    assert!(xml.contains("<P_13_2>69.50</P_13_2>"), "{xml}");
    assert!(xml.contains("<P_14_2>5.56</P_14_2>"), "{xml}");
    assert!(xml.contains("<P_15>31.40</P_15>"), "{xml}");
    assert!(xml.contains(
        "<NrKSeF>1</NrKSeF>\n      <NrKSeFFaKorygowanej>9123456788-20260504-0A1B2C-3D4E5F-A1</NrKSeFFaKorygowanej>"
    ));
    assert_valid("company-kor", &inv);
}

#[test]
fn xmllint_really_checks_the_schema() {
    // An FA(2) namespace must fail: proves the validation above is not vacuous.
    let xml = invoice_xml(&sample_invoice()).unwrap().replace(
        "http://crd.gov.pl/wzor/2025/06/25/13775/",
        "http://crd.gov.pl/wzor/2023/06/29/12648/",
    );
    assert!(xmllint("fa2-namespace", &xml).is_err());
    let xml = invoice_xml(&sample_invoice())
        .unwrap()
        .replace("FA (3)", "FA(3)");
    assert!(xmllint("no-space", &xml).is_err());
}
