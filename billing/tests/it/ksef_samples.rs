//! Building the models of the shared FA(3) samples reproduces the sample files (compared after
//! removing the whitespace between tags), and inconsistent invoices are refused.

use crate::ksef_common;

use ewoda_billing::ksef::{invoice_xml, BuyerId, InvoiceKind, KsefInvoice, VatRate, VatSummary};
use ksef_common::{sample_correction, sample_invoice};
use rust_decimal_macros::dec;

const VAT_XML: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/testdata/ksef/fa3_vat_woda.xml"
));
const KOR_XML: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/testdata/ksef/fa3_kor_woda.xml"
));

/// Drops the whitespace between tags (indentation and line ends), keeping text untouched.
fn normalise(xml: &str) -> String {
    let mut out = String::new();
    for line in xml.lines() {
        out.push_str(line.trim());
    }
    out.replace(">\n<", "><")
}

#[test]
fn vat_sample_is_reproduced() {
    let xml = invoice_xml(&sample_invoice()).unwrap();
    assert_eq!(normalise(&xml), normalise(VAT_XML));
    assert!(xml.contains("kodSystemowy=\"FA (3)\""));
    assert!(xml.contains("xmlns=\"http://crd.gov.pl/wzor/2025/06/25/13775/\""));
}

#[test]
fn kor_sample_is_reproduced() {
    let xml = invoice_xml(&sample_correction()).unwrap();
    assert_eq!(normalise(&xml), normalise(KOR_XML));
}

#[test]
fn summaries_from_lines_match_the_samples() {
    assert_eq!(
        VatSummary::from_lines(&sample_invoice().lines),
        sample_invoice().vat_summary
    );
    assert_eq!(
        VatSummary::from_lines(&sample_correction().lines),
        sample_correction().vat_summary
    );
}

#[test]
fn text_is_escaped() {
    let mut inv = sample_invoice();
    inv.buyer.name = "Kowalski & Syn <\"Wod-Kan\"> 'Sp.'".into();
    let xml = invoice_xml(&inv).unwrap();
    assert!(xml
        .contains("<Nazwa>Kowalski &amp; Syn &lt;&quot;Wod-Kan&quot;&gt; &apos;Sp.&apos;</Nazwa>"));
}

fn error_of(inv: &KsefInvoice) -> String {
    invoice_xml(inv).unwrap_err().to_string()
}

#[test]
fn inconsistent_invoices_are_refused_with_the_field_named() {
    let mut wrong_total = sample_invoice();
    wrong_total.total = dec!(267.40);
    assert_eq!(
        error_of(&wrong_total),
        "total (P_15): 267.40, but net + VAT of the summary is 267.41"
    );

    let mut wrong_net = sample_invoice();
    wrong_net.vat_summary[0].net = dec!(247.61);
    wrong_net.total = dec!(267.42);
    assert_eq!(
        error_of(&wrong_net),
        "vat_summary (P_13_2): 247.61, but the lines at this rate sum to 247.60"
    );

    let mut bad_nip = sample_invoice();
    bad_nip.buyer.id = BuyerId::Nip("1234567890".into());
    assert_eq!(
        error_of(&bad_nip),
        "buyer.id (NIP): NIP \"1234567890\" has a wrong check digit"
    );

    let mut fraction = sample_invoice();
    fraction.lines[0].net = dec!(85.801);
    assert_eq!(
        error_of(&fraction),
        "lines[0].net (P_11): 85.801 has more than 2 decimals"
    );

    let mut exempt = sample_invoice();
    exempt.lines[3].rate = VatRate::Exempt;
    exempt.vat_summary = VatSummary::from_lines(&exempt.lines);
    exempt.total = exempt.vat_summary.iter().map(|s| s.net + s.vat).sum();
    assert_eq!(
        error_of(&exempt),
        "exemption (P_19): exempt (\"zw\") lines need the legal basis of the exemption"
    );

    let mut no_reference = sample_correction();
    if let InvoiceKind::Correction(c) = &mut no_reference.kind {
        c.corrected.clear();
    }
    assert_eq!(
        error_of(&no_reference),
        "correction.corrected (DaneFaKorygowanej): a correction must name the invoice it corrects"
    );

    let mut bad_ksef = sample_correction();
    if let InvoiceKind::Correction(c) = &mut bad_ksef.kind {
        c.corrected[0].ksef_number = Some("FW/2026/05/000123".into());
    }
    assert_eq!(
        error_of(&bad_ksef),
        "correction.corrected[0].ksef_number (NrKSeFFaKorygowanej): \"FW/2026/05/000123\" is not a KSeF number"
    );

    let mut bad_account = sample_invoice();
    if let Some(p) = &mut bad_account.payment {
        p.accounts[0].number = "79109010141234000000004712".into();
    }
    assert_eq!(
        error_of(&bad_account),
        "payment.accounts[0].number (NrRB): account number \"79109010141234000000004712\" fails the mod-97 check"
    );

    let mut newline = sample_invoice();
    newline.lines[1].name = "Ścieki\nK1".into();
    assert_eq!(
        error_of(&newline),
        "lines[1].name (P_7): \"Ścieki\nK1\" contains control character '\\n'"
    );
}
