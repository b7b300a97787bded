//! Invariants of the KSeF writer: any consistent invoice built from random lines is written,
//! its summary nets sum to the line nets, and P_15 is net + VAT.

use crate::ksef_common;

use ewoda_billing::ksef::{invoice_xml, InvoiceLine, VatRate, VatSummary};
use ksef_common::sample_invoice;
use proptest::prelude::*;
use rust_decimal::Decimal;

const RATES: [VatRate; 6] = [
    VatRate::R23,
    VatRate::R8,
    VatRate::R5,
    VatRate::ZeroDomestic,
    VatRate::NotTaxable,
    VatRate::ReverseCharge,
];

proptest! {
    #[test]
    fn consistent_invoices_are_written(
        lines in prop::collection::vec((0usize..RATES.len(), 1i64..100_000_000, 1i64..1_000_000), 1..30)
    ) {
        let mut inv = sample_invoice();
        inv.lines = lines
            .iter()
            .map(|(rate, net, qty)| InvoiceLine {
                name: "Pozycja & <test>".into(),
                unit: "m3".into(),
                quantity: Decimal::new(*qty, 3),
                unit_net_price: Decimal::new(695, 2),
                net: Decimal::new(*net, 2),
                rate: RATES[*rate],
                before_correction: false,
            })
            .collect();
        inv.notes.clear();
        inv.vat_summary = VatSummary::from_lines(&inv.lines);
        inv.total = inv.vat_summary.iter().map(|s| s.net + s.vat).sum();

        let nets: Decimal = inv.lines.iter().map(|l| l.net).sum();
        let summary_nets: Decimal = inv.vat_summary.iter().map(|s| s.net).sum();
        prop_assert_eq!(nets, summary_nets);
        for s in &inv.vat_summary {
            let expected = s.rate.fraction().map_or(Decimal::ZERO, |f| (s.net * f).round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero));
            prop_assert_eq!(s.vat, expected);
        }
        let xml = invoice_xml(&inv).unwrap();
        let total_tag = format!("<P_15>{}</P_15>", {
            let mut t = inv.total;
            t.rescale(2);
            t
        });
        prop_assert!(xml.contains(&total_tag));
        prop_assert!(!xml.contains("& "));
    }
}
