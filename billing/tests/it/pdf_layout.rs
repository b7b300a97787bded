//! Every document kind (invoice, correction that refunds, reminder, interest note) rendered
//! with long names and addresses, then read back with `pdftotext -bbox`: no two words'
//! boxes overlap, m³ prices print with the tariff's four decimals, each line's net is the
//! quantity times the printed price, and a correction's payment block names the refund.
//! Needs poppler-utils.

use chrono::NaiveDate;
use ewoda_billing::account::Iban;
use ewoda_billing::consumption::{Read, VolumeSource};
use ewoda_billing::dunning::{
    render_dunning_pdf, DunningDocument, InterestPart, LevelKind, NoteSegment, NoticeDetails,
    NoticeItem, NoticeKind,
};
use ewoda_billing::invoice::document::{vat_rows, InvoiceDocument, Party};
use ewoda_billing::invoice::issue::InvoiceDraft;
use ewoda_billing::invoice::pdf::{render_invoice_pdf, unit_price, InvoicePdfRenderer};
use ewoda_billing::quote::{quote, CustomerKind, QuoteInput};
use ewoda_billing::tariff::{Fee, FeePer, Period, Tariff, TariffVersion};
use ewoda_common::Money;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use std::path::PathBuf;
use std::process::Command;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// A word and its box (points, origin top left) as pdftotext -bbox prints it.
#[derive(Debug)]
struct Word {
    page: usize,
    text: String,
    x0: f32,
    y0: f32,
    x1: f32,
    y1: f32,
}

fn attr(tag: &str, key: &str) -> f32 {
    let at = tag.find(&format!("{key}=\"")).unwrap() + key.len() + 2;
    tag[at..at + tag[at..].find('"').unwrap()].parse().unwrap()
}

/// Writes the PDF under the target dir (kept for looking at) and returns its words.
fn words(name: &str, pdf: &[u8]) -> Vec<Word> {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("layout-{name}.pdf"));
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("pdftotext")
        .arg("-bbox")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext must be installed (apt-get install -y poppler-utils)");
    assert!(out.status.success());
    let html = String::from_utf8(out.stdout).unwrap();
    let mut page = 0;
    let mut out = Vec::new();
    for part in html.split('<').skip(1) {
        if part.starts_with("page ") {
            page += 1;
        } else if let Some(rest) = part.strip_prefix("word ") {
            let (tag, text) = rest.split_once('>').unwrap();
            out.push(Word {
                page,
                text: text.replace("&amp;", "&"),
                x0: attr(tag, "xMin"),
                y0: attr(tag, "yMin"),
                x1: attr(tag, "xMax"),
                y1: attr(tag, "yMax"),
            });
        }
    }
    assert!(!out.is_empty(), "{name}: no text");
    out
}

/// Fails when two words' boxes share more than a sliver (0.5 pt each way), or a word leaves
/// the 40 pt margins of the A4 page (595 × 842 pt).
fn assert_no_overlap(name: &str, words: &[Word]) {
    for w in words {
        assert!(
            w.x0 >= 39.0 && w.x1 <= 556.0,
            "{name}: {w:?} leaves the margins"
        );
    }
    for (i, a) in words.iter().enumerate() {
        for b in &words[i + 1..] {
            let dx = a.x1.min(b.x1) - a.x0.max(b.x0);
            let dy = a.y1.min(b.y1) - a.y0.max(b.y0);
            assert!(
                a.page != b.page || dx <= 0.5 || dy <= 0.5,
                "{name}: {a:?} overlaps {b:?}"
            );
        }
    }
}

fn text_of(words: &[Word]) -> String {
    words
        .iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn seller() -> Party {
    Party {
        name: "Przedsiębiorstwo Wodociągów i Kanalizacji Gminy Przykładowo Spółka z ograniczoną \
               odpowiedzialnością"
            .into(),
        address: vec![
            "ul. Generała Władysława Andersa 117/119 lok. 4".into(),
            "00-001 Przykładowo".into(),
        ],
        nip: Some("7711002231".into()),
    }
}

fn buyer() -> Party {
    Party {
        name: "Wspólnota Mieszkaniowa Nieruchomości przy ulicy Konstantego Ildefonsa Gałczyńskiego"
            .into(),
        address: vec![
            "ul. Konstantego Ildefonsa Gałczyńskiego 12/34".into(),
            "05-800 Pruszków-Żbików".into(),
        ],
        nip: Some("5260250274".into()),
    }
}

/// Three months at 7.931 zł/m³ water and 12.35 zł/m³ sewage, estimated, with monthly fees.
fn quarter(volume: Decimal) -> InvoiceDraft {
    let period = Period::new(d("2026-07-01"), d("2026-09-30")).unwrap();
    let q = quote(&QuoteInput {
        customer_kind: CustomerKind::Business,
        period,
        tariff: Tariff::new(vec![TariffVersion {
            from: d("2025-01-01"),
            to: None,
            water_m3: dec!(7.931),
            sewage_m3: dec!(12.35),
            vat_percent: dec!(8),
            einvoice_discount: Decimal::ZERO,
            fees: vec![Fee {
                name: "abonament za gotowość do świadczenia usług kanalizacyjnych".into(),
                amount: dec!(3.50),
                per: FeePer::Month,
            }],
        }])
        .unwrap(),
        volume: VolumeSource::Reads {
            reads: vec![
                Read {
                    date: d("2026-06-30"),
                    value: dec!(100),
                },
                Read {
                    date: d("2026-09-30"),
                    value: dec!(100) + volume,
                },
            ],
            register_digits: None,
            replacements: vec![],
        },
        sub_meter_m3: None,
        sewage: true,
        einvoice: false,
    })
    .unwrap();
    InvoiceDraft::from_quote(1, Some(1), period, &q, d("2026-10-02"), d("2026-10-16"))
}

fn document(draft: &InvoiceDraft, corrects: Option<&str>) -> InvoiceDocument {
    let mut lines = draft.lines.clone();
    for l in &mut lines {
        l.estimated = true;
    }
    InvoiceDocument {
        number: if corrects.is_some() {
            "KOR/2026/10/000001"
        } else {
            "FW/2026/10/000123"
        }
        .into(),
        corrects: corrects.map(String::from),
        correction_reason: corrects.map(|_| {
            "odczyt rzeczywisty licznika po szacunku — rozliczenie zużycia szacunkowego z faktury \
             pierwotnej według odczytu inkasenta z dnia 30 września 2026 r."
                .to_string()
        }),
        issued_on: draft.issued_on,
        period: draft.period,
        due_on: draft.due_on,
        seller: seller(),
        seller_short_name: "PWiK Przykładowo".into(),
        buyer: buyer(),
        customer_number: "004711".into(),
        contract_number: Some("UM/2024/000815/KAN-WOD".into()),
        vat_rows: vat_rows(&lines, draft.vat),
        lines,
        net: draft.net,
        vat: draft.vat,
        gross: draft.gross,
        account: Some(Iban::parse("PL61109010140000071219812874").unwrap()),
        estimated: true,
    }
}

#[test]
fn invoice_and_correction_layout() {
    let invoice = quarter(dec!(31.337));
    let doc = document(&invoice, None);
    let w = words("invoice", &render_invoice_pdf(&doc).unwrap());
    assert_no_overlap("invoice", &w);
    let text = text_of(&w).replace('\u{a0}', " ");
    assert!(text.contains("7,9310 zł"), "{text}");
    assert!(text.contains("Kwota do zapłaty:"), "{text}");
    for l in &doc.lines {
        // The printed price times the quantity is the line's net, to the grosz.
        let printed: Decimal = unit_price(l.unit_price, &l.unit)
            .trim_end_matches(" zł")
            .replace(',', ".")
            .replace('\u{a0}', "")
            .parse()
            .unwrap();
        assert_eq!(Money::round(l.quantity * printed).amount(), l.net, "{l:?}");
    }

    // The actual reading was lower: the correction refunds the difference.
    let actual = quarter(dec!(21.004));
    let kor = InvoiceDraft {
        lines: ewoda_billing::invoice::correction::diff_lines(&invoice.lines, &actual.lines),
        net: actual.net - invoice.net,
        vat: actual.vat - invoice.vat,
        gross: actual.gross - invoice.gross,
        ..actual
    };
    assert!(kor.gross < Decimal::ZERO);
    let doc = document(&kor, Some("FW/2026/10/000123"));
    let w = words("correction", &render_invoice_pdf(&doc).unwrap());
    assert_no_overlap("correction", &w);
    let text = text_of(&w).replace('\u{a0}', " ");
    let refund = ewoda_billing::invoice::pdf::money(-kor.gross).replace('\u{a0}', " ");
    assert!(
        text.contains(&format!("Kwota do zwrotu: {refund}")),
        "{text}"
    );
    assert!(!text.contains("0,00 zł Tytuł"), "{text}");
}

fn dunning(kind: NoticeKind) -> DunningDocument {
    let item = |n: u32, gross: Decimal| NoticeItem {
        invoice_id: i64::from(n),
        number: format!("FW/2026/0{n}/00012{n}"),
        due_on: d("2026-05-15"),
        gross,
        open: gross,
        days_late: 48,
        level: 1,
        parts: if kind == NoticeKind::InterestNote {
            vec![InterestPart {
                amount: gross,
                paid_on: Some(d("2026-07-02")),
                through: d("2026-07-02"),
                days: 48,
                interest: dec!(12.34),
                segments: vec![NoteSegment {
                    from: d("2026-05-16"),
                    to: d("2026-07-02"),
                    days: 48,
                    rate_percent: dec!(14.00),
                }],
            }]
        } else {
            vec![]
        },
    };
    DunningDocument {
        kind,
        number: "WZ/2026/07/000042".into(),
        issued_on: d("2026-07-03"),
        level: 1,
        seller: seller(),
        debtor: buyer(),
        customer_number: "004711".into(),
        details: NoticeDetails {
            items: vec![item(5, dec!(1234.56)), item(6, dec!(98765.43))],
            invoice_id: None,
            level_kind: Some(LevelKind::FinalReminder),
            fee: dec!(15.00),
            // A credit set against the items prints a line of its own.
            credit: dec!(500.00),
            pay_by: d("2026-07-10"),
            eur_rate: Some((d("2026-04-30"), dec!(4.2650))),
        },
        principal: dec!(99499.99),
        interest: dec!(24.68),
        compensation_eur: Some(dec!(100)),
        compensation_pln: Some(dec!(426.50)),
        account: Some(Iban::parse("PL61109010140000071219812874").unwrap()),
    }
}

#[test]
fn reminder_and_interest_note_layout() {
    let renderer = InvoicePdfRenderer::new().unwrap();
    for (name, kind) in [
        ("reminder", NoticeKind::Reminder),
        ("interest-note", NoticeKind::InterestNote),
    ] {
        let w = words(
            name,
            &render_dunning_pdf(&renderer, &dunning(kind)).unwrap(),
        );
        assert_no_overlap(name, &w);
        let text = text_of(&w);
        assert!(text.contains("Gałczyńskiego"), "{name}: {text}");
    }
}
