//! Models of the shared FA(3) samples, used by the KSeF tests.

#![allow(dead_code)]

use chrono::{NaiveDate, TimeZone, Utc};
use ewoda_billing::ksef::{
    Address, BankAccount, Buyer, BuyerId, CorrectedInvoice, Correction, CorrectionEffect,
    InvoiceKind, InvoiceLine, KsefInvoice, Note, Payment, PaymentForm, SaleDate, Seller,
    ThirdParty, ThirdPartyRole, VatRate, VatSummary,
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn gmina() -> Seller {
    Seller {
        nip: "9123456788".into(),
        name: "Gmina Przykładowo".into(),
        address: Address {
            country: "PL".into(),
            line1: "ul. Rynek 1".into(),
            line2: Some("00-001 Przykładowo".into()),
        },
    }
}

pub fn jan_kowalski() -> Buyer {
    Buyer {
        id: BuyerId::None,
        name: "Jan Kowalski".into(),
        address: Some(Address {
            country: "PL".into(),
            line1: "ul. Lipowa 7".into(),
            line2: Some("00-001 Przykładowo".into()),
        }),
        customer_number: Some("4711".into()),
        jst_subunit: false,
        vat_group_member: false,
    }
}

pub fn line(name: &str, unit: &str, qty: Decimal, price: Decimal, net: Decimal) -> InvoiceLine {
    InvoiceLine {
        name: name.into(),
        unit: unit.into(),
        quantity: qty,
        unit_net_price: price,
        net,
        rate: VatRate::R8,
        before_correction: false,
    }
}

pub fn before(l: InvoiceLine) -> InvoiceLine {
    InvoiceLine {
        before_correction: true,
        ..l
    }
}

pub const WATER: &str = "Dostawa wody (taryfa grupa W1)";
pub const SEWAGE: &str = "Odprowadzanie ścieków (taryfa grupa K1)";

/// The model of fa3_vat_woda.xml.
pub fn sample_invoice() -> KsefInvoice {
    KsefInvoice {
        created_at: Utc.with_ymd_and_hms(2026, 5, 4, 8, 0, 0).unwrap(),
        system_info: Some("gmina-billing 0.1".into()),
        seller: gmina(),
        buyer: jan_kowalski(),
        third_parties: vec![ThirdParty {
            nip: "5671234503".into(),
            name: "Zakład Wodociągów i Kanalizacji w Przykładowie".into(),
            role: ThirdPartyRole::LocalGovernmentIssuer,
        }],
        currency: "PLN".into(),
        issue_date: date(2026, 5, 4),
        number: "FW/2026/05/000123".into(),
        sale: SaleDate::Period {
            from: date(2026, 4, 1),
            to: date(2026, 4, 30),
        },
        vat_summary: vec![VatSummary {
            rate: VatRate::R8,
            net: dec!(247.60),
            vat: dec!(19.81),
        }],
        total: dec!(267.41),
        split_payment: false,
        exemption: None,
        kind: InvoiceKind::Vat,
        notes: vec![
            Note {
                line: None,
                key: "Wodomierz główny nr".into(),
                value: "WG-000815".into(),
            },
            Note {
                line: Some(1),
                key: "Odczyty (poprzedni/bieżący) m3".into(),
                value: "1234.567 (2026-03-31) / 1246.912 (2026-04-30)".into(),
            },
        ],
        lines: vec![
            line(WATER, "m3", dec!(12.345), dec!(6.95), dec!(85.80)),
            line(SEWAGE, "m3", dec!(12.345), dec!(12.35), dec!(152.46)),
            line(
                "Opłata abonamentowa - woda",
                "okres",
                dec!(1),
                dec!(7.89),
                dec!(7.89),
            ),
            line(
                "Opłata abonamentowa - ścieki",
                "okres",
                dec!(1),
                dec!(1.45),
                dec!(1.45),
            ),
        ],
        payment: Some(Payment {
            due_date: date(2026, 5, 18),
            form: PaymentForm::Transfer,
            accounts: vec![BankAccount {
                number: "79109010141234000000004711".into(),
                bank_name: None,
                description: Some("Indywidualny rachunek wirtualny odbiorcy 4711".into()),
            }],
        }),
    }
}

/// The model of fa3_kor_woda.xml.
pub fn sample_correction() -> KsefInvoice {
    KsefInvoice {
        created_at: Utc.with_ymd_and_hms(2026, 5, 20, 8, 0, 0).unwrap(),
        system_info: None,
        seller: gmina(),
        buyer: jan_kowalski(),
        third_parties: vec![],
        currency: "PLN".into(),
        issue_date: date(2026, 5, 20),
        number: "FWK/2026/05/000007".into(),
        sale: SaleDate::Period {
            from: date(2026, 4, 1),
            to: date(2026, 4, 30),
        },
        vat_summary: vec![VatSummary {
            rate: VatRate::R8,
            net: dec!(-45.26),
            vat: dec!(-3.62),
        }],
        total: dec!(-48.88),
        split_payment: false,
        exemption: None,
        kind: InvoiceKind::Correction(Correction {
            reason: Some(
                "Błędny odczyt wodomierza (odczyt bieżący 1244.567 zamiast 1246.912)".into(),
            ),
            effect: Some(CorrectionEffect::OriginalDate),
            corrected: vec![CorrectedInvoice {
                issue_date: date(2026, 5, 4),
                number: "FW/2026/05/000123".into(),
                ksef_number: None,
            }],
        }),
        notes: vec![],
        lines: vec![
            before(line(WATER, "m3", dec!(12.345), dec!(6.95), dec!(85.80))),
            line(WATER, "m3", dec!(10.000), dec!(6.95), dec!(69.50)),
            before(line(SEWAGE, "m3", dec!(12.345), dec!(12.35), dec!(152.46))),
            line(SEWAGE, "m3", dec!(10.000), dec!(12.35), dec!(123.50)),
        ],
        payment: None,
    }
}
