//! KSeF FA(3) XML from invoices issued in a real PostgreSQL (a household VAT invoice, its KOR
//! and a business invoice), each validated against the official schema with xmllint. Fails
//! when xmllint is missing (Debian package libxml2-utils).

use crate::db_fixtures;

use db_fixtures::{base, customer, d};
use ewoda_billing::consumption::{Read, VolumeSource};
use ewoda_billing::invoice::correction::correct;
use ewoda_billing::invoice::issue::{issue, InvoiceDraft};
use ewoda_billing::ksef::from_invoice::{ksef_invoice, ksef_invoice_at, ksef_xml};
use ewoda_billing::ksef::{BuyerId, InvoiceKind, VatRate};
use ewoda_billing::quote::{quote, CustomerKind, Quote, QuoteInput};
use ewoda_billing::tariff::{Fee, FeePer, Period, Tariff, TariffVersion};
use ewoda_billing::virtual_accounts;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sqlx::PgPool;
use std::path::PathBuf;
use std::process::Command;

const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/testdata/ksef/fa3.xsd"
);

fn xmllint(name: &str, xml: &str) {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("db-ksef-{name}.xml"));
    std::fs::write(&path, xml).unwrap();
    let out = Command::new("xmllint")
        .args(["--noout", "--schema", SCHEMA])
        .arg(&path)
        .output()
        .expect("xmllint must be installed (apt-get install -y libxml2-utils)");
    assert!(
        out.status.success(),
        "{name} does not validate:\n{}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn october() -> Period {
    Period::new(d("2026-10-01"), d("2026-10-31")).unwrap()
}

/// October's reads: `volume` m³ used.
fn october_reads(volume: Decimal) -> VolumeSource {
    VolumeSource::Reads {
        reads: vec![
            Read {
                date: d("2026-09-30"),
                value: dec!(100),
            },
            Read {
                date: d("2026-10-31"),
                value: dec!(100) + volume,
            },
        ],
        register_digits: None,
        replacements: vec![],
    }
}

fn priced(kind: CustomerKind, volume: Decimal) -> Quote {
    priced_with(kind, volume, false)
}

fn priced_with(kind: CustomerKind, volume: Decimal, einvoice: bool) -> Quote {
    let tariff = Tariff::new(vec![TariffVersion {
        from: d("2025-01-01"),
        to: None,
        water_m3: dec!(6.95),
        sewage_m3: dec!(12.35),
        vat_percent: dec!(8),
        einvoice_discount: dec!(0.50),
        fees: vec![Fee {
            name: "abonament".into(),
            amount: dec!(3.50),
            per: FeePer::Month,
        }],
    }])
    .unwrap();
    quote(&QuoteInput {
        customer_kind: kind,
        period: october(),
        tariff,
        volume: october_reads(volume),
        sub_meter_m3: None,
        sewage: true,
        einvoice,
    })
    .unwrap()
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn issued_invoice_and_its_correction_validate_as_fa3(pool: PgPool) {
    let mut tx = pool.begin().await.unwrap();
    base(&mut tx).await;
    let (cust, _, contract) = customer(&mut tx, "5001", 1).await;
    virtual_accounts::assign_all(&mut tx).await.unwrap();
    let q = priced(CustomerKind::Household, dec!(10));
    let draft = InvoiceDraft::from_quote(
        cust,
        Some(contract),
        october(),
        &q,
        d("2026-11-02"),
        d("2026-11-16"),
    );
    let inv = issue(&mut tx, &draft).await.unwrap();
    let kor = correct(
        &mut tx,
        inv.invoice_id,
        &priced(CustomerKind::Household, dec!(8)),
        "błędny odczyt",
        d("2026-11-20"),
        d("2026-12-04"),
    )
    .await
    .unwrap();

    let k = ksef_invoice_at(
        &mut tx,
        inv.invoice_id,
        "2026-11-02T08:00:00Z".parse().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(k.number, inv.number);
    assert_eq!(k.buyer.id, BuyerId::None);
    assert_eq!(k.buyer.name, "Łucja Żółkiewska");
    assert_eq!(k.buyer.customer_number.as_deref(), Some("5001"));
    assert_eq!(k.seller.nip.len(), 10);
    assert_eq!(k.total, q.gross);
    assert_eq!(k.lines.len(), draft.lines.len());
    assert!(k.lines.iter().all(|l| l.rate == VatRate::R8));
    assert_eq!(k.vat_summary.len(), 1);
    assert_eq!((k.vat_summary[0].net, k.vat_summary[0].vat), (q.net, q.vat));
    assert_eq!(k.kind, InvoiceKind::Vat);
    let payment = k.payment.clone().unwrap();
    let iban: String =
        sqlx::query_scalar("select iban from virtual_account where customer_id = $1")
            .bind(cust)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(payment.due_date, d("2026-11-16"));
    assert_eq!(payment.accounts[0].number, iban);
    let xml = ksef_xml(&mut tx, inv.invoice_id).await.unwrap();
    assert!(xml.contains(&format!("<P_2>{}</P_2>", inv.number)));
    assert!(xml.contains("<BrakID>1</BrakID>"));
    xmllint("vat", &xml);

    let kk = ksef_invoice(&mut tx, kor.invoice_id).await.unwrap();
    match &kk.kind {
        InvoiceKind::Correction(c) => {
            assert_eq!(c.reason.as_deref(), Some("błędny odczyt"));
            assert_eq!(c.corrected.len(), 1);
            assert_eq!(c.corrected[0].number, inv.number);
            assert_eq!(c.corrected[0].issue_date, d("2026-11-02"));
        }
        other => panic!("expected a correction, got {other:?}"),
    }
    assert!(kk.total < Decimal::ZERO);
    assert!(kk.payment.is_none(), "a refund has no payment terms");
    let xml = ksef_xml(&mut tx, kor.invoice_id).await.unwrap();
    assert!(xml.contains("<RodzajFaktury>KOR</RodzajFaktury>"));
    assert!(xml.contains(&format!(
        "<NrFaKorygowanej>{}</NrFaKorygowanej>",
        inv.number
    )));
    xmllint("kor", &xml);
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn business_buyer_carries_its_nip(pool: PgPool) {
    let mut tx = pool.begin().await.unwrap();
    base(&mut tx).await;
    let (cust, _, contract) = customer(&mut tx, "5002", 1).await;
    sqlx::query(
        "update customer set kind = 'business', first_name = null, last_name = null,
             company_name = 'Piekarnia \"Złoty Kłos\" & Syn', nip = '5260250274'
         where customer_id = $1",
    )
    .bind(cust)
    .execute(&mut *tx)
    .await
    .unwrap();
    virtual_accounts::assign_all(&mut tx).await.unwrap();
    let q = priced(CustomerKind::Business, dec!(42.5));
    let inv = issue(
        &mut tx,
        &InvoiceDraft::from_quote(
            cust,
            Some(contract),
            october(),
            &q,
            d("2026-11-02"),
            d("2026-11-16"),
        ),
    )
    .await
    .unwrap();
    let k = ksef_invoice(&mut tx, inv.invoice_id).await.unwrap();
    assert_eq!(k.buyer.id, BuyerId::Nip("5260250274".into()));
    let xml = ksef_xml(&mut tx, inv.invoice_id).await.unwrap();
    assert!(xml.contains("<NIP>5260250274</NIP>"));
    assert!(xml.contains("Piekarnia &quot;Złoty Kłos&quot; &amp; Syn"));
    xmllint("business", &xml);
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn an_einvoice_discount_line_validates_as_fa3(pool: PgPool) {
    let mut tx = pool.begin().await.unwrap();
    base(&mut tx).await;
    let (cust, _, contract) = customer(&mut tx, "5003", 1).await;
    virtual_accounts::assign_all(&mut tx).await.unwrap();
    let q = priced_with(CustomerKind::Household, dec!(10), true);
    let discount = q
        .lines
        .iter()
        .find(|l| l.item == ewoda_billing::quote::EINVOICE_DISCOUNT_ITEM)
        .expect("a discount line");
    assert_eq!(discount.net, dec!(-0.50));
    let draft = InvoiceDraft::from_quote(
        cust,
        Some(contract),
        october(),
        &q,
        d("2026-11-02"),
        d("2026-11-16"),
    );
    let inv = issue(&mut tx, &draft).await.unwrap();
    let xml = ksef_xml(&mut tx, inv.invoice_id).await.unwrap();
    assert!(xml.contains("rabat za e-fakturę"));
    xmllint("einvoice-discount", &xml);
}

/// October priced across two tariff versions with different VAT (8 % to the 15th, 23 % from
/// the 16th), so the invoice has two rates.
fn two_rates(volume: Decimal) -> Quote {
    let version = |from: &str, to: Option<&str>, vat: Decimal| TariffVersion {
        from: d(from),
        to: to.map(d),
        water_m3: dec!(6.95),
        sewage_m3: dec!(12.35),
        vat_percent: vat,
        einvoice_discount: Decimal::ZERO,
        fees: vec![],
    };
    quote(&QuoteInput {
        customer_kind: CustomerKind::Household,
        period: october(),
        tariff: Tariff::new(vec![
            version("2025-01-01", Some("2026-10-15"), dec!(8)),
            version("2026-10-16", None, dec!(23)),
        ])
        .unwrap(),
        volume: october_reads(volume),
        sub_meter_m3: None,
        sewage: true,
        einvoice: false,
    })
    .unwrap()
}

/// A correction of a two-rate invoice: its per-rate rows are the corrected state's rows minus
/// the stored ones, they sum exactly to its totals, and the PDF and the KSeF XML (valid FA(3))
/// print exactly those rows.
#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn a_two_rate_correction_carries_per_rate_differences(pool: PgPool) {
    use ewoda_billing::invoice::{document, pdf::render_invoice_pdf, vat};
    use ewoda_common::Money;
    let mut tx = pool.begin().await.unwrap();
    base(&mut tx).await;
    let (cust, _, contract) = customer(&mut tx, "5101", 1).await;
    virtual_accounts::assign_all(&mut tx).await.unwrap();
    let first = two_rates(dec!(10.007));
    let draft = InvoiceDraft::from_quote(
        cust,
        Some(contract),
        october(),
        &first,
        d("2026-11-02"),
        d("2026-11-16"),
    );
    let inv = issue(&mut tx, &draft).await.unwrap();
    let stored = vat::load(&mut tx, inv.invoice_id).await.unwrap();
    let rates: Vec<Decimal> = stored.iter().map(|r| r.vat_percent).collect();
    assert_eq!(rates, vec![dec!(8), dec!(23)]);
    assert_eq!(stored.iter().map(|r| r.vat).sum::<Decimal>(), first.vat);

    let second = two_rates(dec!(9.001));
    let kor = correct(
        &mut tx,
        inv.invoice_id,
        &second,
        "błędny odczyt",
        d("2026-11-20"),
        d("2026-12-04"),
    )
    .await
    .unwrap();
    let rows = vat::load(&mut tx, kor.invoice_id).await.unwrap();
    assert_eq!(rows.len(), 2);
    let doc = document::load(&mut tx, kor.invoice_id).await.unwrap();
    assert_eq!(doc.vat_rows, rows);
    for (row, before) in rows.iter().zip(&stored) {
        let after_net: Decimal = second
            .lines
            .iter()
            .filter(|l| l.vat_percent.normalize() == row.vat_percent)
            .map(|l| l.net)
            .sum();
        assert_eq!(row.net, after_net - before.net, "{row:?}");
        assert_eq!(
            row.vat,
            Money::vat(after_net, row.vat_percent).amount() - before.vat,
            "{row:?}"
        );
        // These volumes make a difference of roundings differ from VAT on the net difference.
        assert_ne!(
            row.vat,
            Money::vat(row.net, row.vat_percent).amount(),
            "{row:?}"
        );
    }
    assert_eq!(rows.iter().map(|r| r.net).sum::<Decimal>(), doc.net);
    assert_eq!(rows.iter().map(|r| r.vat).sum::<Decimal>(), doc.vat);
    assert_eq!(doc.vat, second.vat - first.vat);

    let pdf = render_invoice_pdf(&doc).unwrap();
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("db-ksef-two-rate-kor.pdf");
    std::fs::write(&path, pdf).unwrap();
    let text = Command::new("pdftotext")
        .args(["-layout"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils)");
    let text = String::from_utf8(text.stdout)
        .unwrap()
        .replace('\u{a0}', " ");
    let pl = |v: Decimal| ewoda_billing::invoice::pdf::money(v).replace('\u{a0}', " ");
    for r in &rows {
        let row = format!("{}%", r.vat_percent);
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&row) && l.contains(&pl(r.gross)))
            .unwrap_or_else(|| panic!("no VAT row {row} in\n{text}"));
        assert!(
            line.contains(&pl(r.net)) && line.contains(&pl(r.vat)),
            "{line}"
        );
    }

    let xml = ksef_xml(&mut tx, kor.invoice_id).await.unwrap();
    xmllint("two-rate-kor", &xml);
    let field = |name: &str| {
        let open = format!("<{name}>");
        let at = xml
            .find(&open)
            .unwrap_or_else(|| panic!("{name} missing:\n{xml}"))
            + open.len();
        xml[at..at + xml[at..].find('<').unwrap()].to_string()
    };
    let r8 = &rows[0];
    let r23 = &rows[1];
    assert_eq!(field("P_13_1"), r23.net.to_string());
    assert_eq!(field("P_14_1"), r23.vat.to_string());
    assert_eq!(field("P_13_2"), r8.net.to_string());
    assert_eq!(field("P_14_2"), r8.vat.to_string());
    assert_eq!(field("P_15"), doc.gross.to_string());
}

/// The KSeF number from a UPO is stored with the invoice; a correction then references it
/// (NrKSeF 1, NrKSeFFaKorygowanej) instead of "outside KSeF" (NrKSeFN), and still validates.
/// Bad acknowledgements store nothing and name their line.
#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn a_correction_of_an_invoice_sent_to_ksef_references_its_ksef_number(pool: PgPool) {
    use ewoda_billing::ksef::ack;
    let mut tx = pool.begin().await.unwrap();
    base(&mut tx).await;
    let (cust, _, contract) = customer(&mut tx, "5201", 1).await;
    virtual_accounts::assign_all(&mut tx).await.unwrap();
    let draft = InvoiceDraft::from_quote(
        cust,
        Some(contract),
        october(),
        &priced(CustomerKind::Household, dec!(10)),
        d("2026-11-02"),
        d("2026-11-16"),
    );
    let inv = issue(&mut tx, &draft).await.unwrap();
    // A second invoice of the customer, outside the contract (one sales invoice per contract
    // and period is enforced by the database).
    let loose = InvoiceDraft {
        contract_id: None,
        ..draft.clone()
    };
    let other = issue(&mut tx, &loose).await.unwrap();
    let nip: String = sqlx::query_scalar("select nip from utility")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let ksef_no = format!("{nip}-20261102-0A1B2C-3D4E5F-A1");
    let upo = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Potwierdzenie xmlns="http://upo.schematy.mf.gov.pl/KSeF/v4-3">
  <NazwaPodmiotuPrzyjmujacego>Ministerstwo Finansów</NazwaPodmiotuPrzyjmujacego>
  <NumerReferencyjnySesji>20261102-SO-2F3A4B5C6D-7E8F9A0B1C-2D</NumerReferencyjnySesji>
  <Dokument>
    <NipSprzedawcy>{nip}</NipSprzedawcy>
    <NumerKSeFDokumentu>{ksef_no}</NumerKSeFDokumentu>
    <NumerFaktury>{}</NumerFaktury>
    <DataWystawieniaFaktury>2026-11-02</DataWystawieniaFaktury>
    <DataPrzeslaniaDokumentu>2026-11-02T09:15:00+01:00</DataPrzeslaniaDokumentu>
    <DataNadaniaNumeruKSeF>2026-11-02T09:15:04+01:00</DataNadaniaNumeruKSeF>
  </Dokument>
</Potwierdzenie>"#,
        inv.number
    );

    // Bad files first: nothing is stored by any of them.
    let unknown = format!("numer;ksef\nFW/2026/11/999999;{ksef_no}\n");
    let err = ack::import(&pool, unknown.as_bytes())
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(err, "ack file line 2: invoice FW/2026/11/999999 not found");
    let malformed = format!("{};{nip}-2026-XYZ\n", inv.number);
    let err = ack::import(&pool, malformed.as_bytes())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("ack file line 1: NumerKSeFDokumentu:"),
        "{err}"
    );
    let stranger = upo.replace(
        &format!("<NipSprzedawcy>{nip}"),
        "<NipSprzedawcy>5260250274",
    );
    let err = ack::import(&pool, stranger.as_bytes())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("seller NIP 5260250274 is not ours"), "{err}");
    let half = format!(
        "{};{ksef_no}\nFW/2026/11/999999;{nip}-20261102-0A1B2C-3D4E5F-B2\n",
        other.number
    );
    assert!(ack::import(&pool, half.as_bytes()).await.is_err());
    let stored: i64 =
        sqlx::query_scalar("select count(*) from invoice where ksef_number is not null")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(stored, 0, "all or nothing");

    let r = ack::import(&pool, upo.as_bytes()).await.unwrap();
    assert_eq!((r.stored, r.already), (1, 0));
    let again = ack::import(&pool, upo.as_bytes()).await.unwrap();
    assert_eq!((again.stored, again.already), (0, 1));
    let clash = format!("{};{nip}-20261102-0A1B2C-3D4E5F-B2\n", inv.number);
    let err = ack::import(&pool, clash.as_bytes())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("already has KSeF number {ksef_no}")),
        "{err}"
    );

    let mut tx = pool.begin().await.unwrap();
    let eight = priced(CustomerKind::Household, dec!(8));
    let (issued, due) = (d("2026-11-20"), d("2026-12-04"));
    let kor = correct(&mut tx, inv.invoice_id, &eight, "odczyt", issued, due)
        .await
        .unwrap();
    let kor_other = correct(&mut tx, other.invoice_id, &eight, "odczyt", issued, due)
        .await
        .unwrap();
    let xml = ksef_xml(&mut tx, kor.invoice_id).await.unwrap();
    xmllint("kor-of-ksef-invoice", &xml);
    assert!(xml.contains("<NrKSeF>1</NrKSeF>"), "{xml}");
    assert!(xml.contains(&format!(
        "<NrKSeFFaKorygowanej>{ksef_no}</NrKSeFFaKorygowanej>"
    )));
    assert!(!xml.contains("NrKSeFN"));
    // The other invoice was never acknowledged: its correction says "outside KSeF".
    let outside = ksef_xml(&mut tx, kor_other.invoice_id).await.unwrap();
    assert!(outside.contains("<NrKSeFN>1</NrKSeFN>"), "{outside}");
}
