//! Writes a [`KsefInvoice`] as FA(3) XML, checking on the way everything the schema and the
//! invoice's own arithmetic require, so KSeF never sees a document we could have caught.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;

use super::model::{
    Address, BuyerId, Exemption, InvoiceKind, InvoiceLine, KsefInvoice, SaleDate, VatRate,
};
use super::KsefError;
use crate::statement::normalize_account;

/// The FA(3) namespace (it differs from FA(2)'s).
pub const FA3_NAMESPACE: &str = "http://crd.gov.pl/wzor/2025/06/25/13775/";

/// TZnakowy: 256 characters.
const SHORT: usize = 256;
/// TZnakowy512.
const LONG: usize = 512;

/// Writes the invoice as FA(3) XML (UTF-8, two-space indentation).
pub fn invoice_xml(inv: &KsefInvoice) -> Result<String, KsefError> {
    let mut w = Writer::default();
    w.out
        .push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    w.out
        .push_str(&format!("<Faktura xmlns=\"{FA3_NAMESPACE}\">\n"));
    w.depth = 1;

    w.open("Naglowek");
    w.indent();
    w.out.push_str(
        "<KodFormularza kodSystemowy=\"FA (3)\" wersjaSchemy=\"1-0E\">FA</KodFormularza>\n",
    );
    w.leaf("WariantFormularza", "3");
    w.leaf("DataWytworzeniaFa", &created_at(inv.created_at)?);
    if let Some(info) = &inv.system_info {
        w.leaf("SystemInfo", text("system_info (SystemInfo)", info, SHORT)?);
    }
    w.close("Naglowek");

    w.open("Podmiot1");
    w.open("DaneIdentyfikacyjne");
    w.leaf("NIP", nip("seller.nip (NIP)", &inv.seller.nip)?);
    w.leaf(
        "Nazwa",
        text("seller.name (Nazwa)", &inv.seller.name, LONG)?,
    );
    w.close("DaneIdentyfikacyjne");
    address(&mut w, "seller.address", &inv.seller.address)?;
    w.close("Podmiot1");

    let buyer = &inv.buyer;
    w.open("Podmiot2");
    w.open("DaneIdentyfikacyjne");
    match &buyer.id {
        BuyerId::Nip(n) => w.leaf("NIP", nip("buyer.id (NIP)", n)?),
        BuyerId::None => w.leaf("BrakID", "1"),
    }
    w.leaf("Nazwa", text("buyer.name (Nazwa)", &buyer.name, LONG)?);
    w.close("DaneIdentyfikacyjne");
    if let Some(a) = &buyer.address {
        address(&mut w, "buyer.address", a)?;
    }
    if let Some(n) = &buyer.customer_number {
        w.leaf(
            "NrKlienta",
            text("buyer.customer_number (NrKlienta)", n, SHORT)?,
        );
    }
    w.leaf("JST", yes_no(buyer.jst_subunit));
    w.leaf("GV", yes_no(buyer.vat_group_member));
    w.close("Podmiot2");

    for (i, party) in inv.third_parties.iter().enumerate() {
        w.open("Podmiot3");
        w.open("DaneIdentyfikacyjne");
        w.leaf(
            "NIP",
            nip(&format!("third_parties[{i}].nip (NIP)"), &party.nip)?,
        );
        w.leaf(
            "Nazwa",
            text(
                &format!("third_parties[{i}].name (Nazwa)"),
                &party.name,
                LONG,
            )?,
        );
        w.close("DaneIdentyfikacyjne");
        w.leaf("Rola", &party.role.code().to_string());
        w.close("Podmiot3");
    }

    w.open("Fa");
    let currency = &inv.currency;
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(KsefError::field(
            "currency (KodWaluty)",
            format!("\"{currency}\" is not a currency code"),
        ));
    }
    w.leaf("KodWaluty", currency);
    w.leaf(
        "P_1",
        &date("issue_date (P_1)", inv.issue_date, EARLIEST_EVENT)?,
    );
    w.leaf("P_2", text("number (P_2)", &inv.number, SHORT)?);
    match &inv.sale {
        SaleDate::NotStated => {}
        SaleDate::Date(d) => w.leaf("P_6", &date("sale (P_6)", *d, EARLIEST_EVENT)?),
        SaleDate::Period { from, to } => {
            if from > to {
                return Err(KsefError::field(
                    "sale (OkresFa)",
                    format!("period {from} – {to} ends before it starts"),
                ));
            }
            w.open("OkresFa");
            w.leaf(
                "P_6_Od",
                &date("sale.from (P_6_Od)", *from, EARLIEST_EVENT)?,
            );
            w.leaf("P_6_Do", &date("sale.to (P_6_Do)", *to, EARLIEST_EVENT)?);
            w.close("OkresFa");
        }
    }
    let mut summary: Vec<_> = inv.vat_summary.iter().collect();
    summary.sort_by_key(|s| summary_order(s.rate));
    for s in summary {
        let suffix = s.rate.summary_suffix();
        w.leaf(
            &format!("P_13_{suffix}"),
            &amount(&format!("vat_summary (P_13_{suffix})"), s.net)?,
        );
        if s.rate.fraction().is_some() {
            w.leaf(
                &format!("P_14_{suffix}"),
                &amount(&format!("vat_summary (P_14_{suffix})"), s.vat)?,
            );
        }
    }
    w.leaf("P_15", &amount("total (P_15)", inv.total)?);

    w.open("Adnotacje");
    w.leaf("P_16", "2");
    w.leaf("P_17", "2");
    let reverse_charge = inv.lines.iter().any(|l| l.rate == VatRate::ReverseCharge);
    w.leaf("P_18", yes_no(reverse_charge));
    w.leaf("P_18A", yes_no(inv.split_payment));
    w.open("Zwolnienie");
    match &inv.exemption {
        None => w.leaf("P_19N", "1"),
        Some(e) => {
            w.leaf("P_19", "1");
            let (tag, basis) = match e {
                Exemption::Act(b) => ("P_19A", b),
                Exemption::Directive(b) => ("P_19B", b),
                Exemption::Other(b) => ("P_19C", b),
            };
            w.leaf(tag, text(&format!("exemption ({tag})"), basis, SHORT)?);
        }
    }
    w.close("Zwolnienie");
    w.open("NoweSrodkiTransportu");
    w.leaf("P_22N", "1");
    w.close("NoweSrodkiTransportu");
    w.leaf("P_23", "2");
    w.open("PMarzy");
    w.leaf("P_PMarzyN", "1");
    w.close("PMarzy");
    w.close("Adnotacje");

    match &inv.kind {
        InvoiceKind::Vat => w.leaf("RodzajFaktury", "VAT"),
        InvoiceKind::Correction(c) => {
            w.leaf("RodzajFaktury", "KOR");
            if let Some(reason) = &c.reason {
                w.leaf(
                    "PrzyczynaKorekty",
                    text("correction.reason (PrzyczynaKorekty)", reason, SHORT)?,
                );
            }
            if let Some(effect) = c.effect {
                w.leaf("TypKorekty", &effect.code().to_string());
            }
            for (i, original) in c.corrected.iter().enumerate() {
                let path = format!("correction.corrected[{i}]");
                w.open("DaneFaKorygowanej");
                w.leaf(
                    "DataWystFaKorygowanej",
                    &date(
                        &format!("{path}.issue_date (DataWystFaKorygowanej)"),
                        original.issue_date,
                        EARLIEST_EVENT,
                    )?,
                );
                w.leaf(
                    "NrFaKorygowanej",
                    text(
                        &format!("{path}.number (NrFaKorygowanej)"),
                        &original.number,
                        SHORT,
                    )?,
                );
                match &original.ksef_number {
                    Some(k) => {
                        check_ksef_number(&format!("{path}.ksef_number (NrKSeFFaKorygowanej)"), k)?;
                        w.leaf("NrKSeF", "1");
                        w.leaf("NrKSeFFaKorygowanej", k);
                    }
                    None => w.leaf("NrKSeFN", "1"),
                }
                w.close("DaneFaKorygowanej");
            }
        }
    }

    for (i, note) in inv.notes.iter().enumerate() {
        w.open("DodatkowyOpis");
        if let Some(line) = note.line {
            if line == 0 || line as usize > inv.lines.len() {
                return Err(KsefError::field(
                    format!("notes[{i}].line (NrWiersza)"),
                    format!(
                        "line {line} does not exist (the invoice has {} lines)",
                        inv.lines.len()
                    ),
                ));
            }
            w.leaf("NrWiersza", &line.to_string());
        }
        w.leaf(
            "Klucz",
            text(&format!("notes[{i}].key (Klucz)"), &note.key, SHORT)?,
        );
        w.leaf(
            "Wartosc",
            text(&format!("notes[{i}].value (Wartosc)"), &note.value, SHORT)?,
        );
        w.close("DodatkowyOpis");
    }

    for (i, line) in inv.lines.iter().enumerate() {
        write_line(&mut w, i, line)?;
    }

    if let Some(p) = &inv.payment {
        w.open("Platnosc");
        w.open("TerminPlatnosci");
        w.leaf(
            "Termin",
            &date("payment.due_date (Termin)", p.due_date, EARLIEST_PAYMENT)?,
        );
        w.close("TerminPlatnosci");
        w.leaf("FormaPlatnosci", &p.form.code().to_string());
        for (i, account) in p.accounts.iter().enumerate() {
            let number = normalize_account(&account.number)
                .map_err(|m| KsefError::field(format!("payment.accounts[{i}].number (NrRB)"), m))?;
            w.open("RachunekBankowy");
            w.leaf("NrRB", &number);
            if let Some(bank) = &account.bank_name {
                w.leaf(
                    "NazwaBanku",
                    text(
                        &format!("payment.accounts[{i}].bank_name (NazwaBanku)"),
                        bank,
                        SHORT,
                    )?,
                );
            }
            if let Some(d) = &account.description {
                w.leaf(
                    "OpisRachunku",
                    text(
                        &format!("payment.accounts[{i}].description (OpisRachunku)"),
                        d,
                        SHORT,
                    )?,
                );
            }
            w.close("RachunekBankowy");
        }
        w.close("Platnosc");
    }
    w.close("Fa");
    w.out.push_str("</Faktura>\n");
    // Field formats first (their errors are the most precise), then the arithmetic.
    check_consistency(inv)?;
    Ok(w.out)
}

fn write_line(w: &mut Writer, i: usize, line: &InvoiceLine) -> Result<(), KsefError> {
    let path = |f: &str| format!("lines[{i}].{f}");
    w.open("FaWiersz");
    w.leaf("NrWierszaFa", &(i + 1).to_string());
    w.leaf("P_7", text(&path("name (P_7)"), &line.name, LONG)?);
    w.leaf("P_8A", text(&path("unit (P_8A)"), &line.unit, SHORT)?);
    w.leaf(
        "P_8B",
        &scaled(&path("quantity (P_8B)"), line.quantity, 6, 16)?,
    );
    w.leaf(
        "P_9A",
        &scaled(&path("unit_net_price (P_9A)"), line.unit_net_price, 8, 14)?,
    );
    w.leaf("P_11", &amount(&path("net (P_11)"), line.net)?);
    w.leaf("P_12", line.rate.code());
    if line.before_correction {
        w.leaf("StanPrzed", "1");
    }
    w.close("FaWiersz");
    Ok(())
}

/// The invoice's arithmetic and cross-field rules.
fn check_consistency(inv: &KsefInvoice) -> Result<(), KsefError> {
    if inv.lines.is_empty() {
        return Err(KsefError::field(
            "lines (FaWiersz)",
            "an invoice needs at least one line",
        ));
    }
    let is_correction = matches!(inv.kind, InvoiceKind::Correction(_));
    if let InvoiceKind::Correction(c) = &inv.kind {
        if c.corrected.is_empty() {
            return Err(KsefError::field(
                "correction.corrected (DaneFaKorygowanej)",
                "a correction must name the invoice it corrects",
            ));
        }
    }
    if !is_correction {
        if let Some(i) = inv.lines.iter().position(|l| l.before_correction) {
            return Err(KsefError::field(
                format!("lines[{i}].before_correction (StanPrzed)"),
                "only a correction has lines as they stood before",
            ));
        }
    }
    let mut by_field: BTreeMap<&str, Decimal> = BTreeMap::new();
    for line in &inv.lines {
        let net = by_field.entry(line.rate.summary_suffix()).or_default();
        if line.before_correction {
            *net -= line.net;
        } else {
            *net += line.net;
        }
    }
    let mut seen: BTreeMap<&str, Decimal> = BTreeMap::new();
    let mut gross = Decimal::ZERO;
    for s in &inv.vat_summary {
        let suffix = s.rate.summary_suffix();
        if seen.insert(suffix, s.net).is_some() {
            return Err(KsefError::field(
                format!("vat_summary (P_13_{suffix})"),
                format!(
                    "rate {} shares P_13_{suffix} with another entry; give one entry per field",
                    s.rate.code()
                ),
            ));
        }
        if s.rate.fraction().is_none() && !s.vat.is_zero() {
            return Err(KsefError::field(
                format!("vat_summary (P_13_{suffix})"),
                format!(
                    "rate \"{}\" carries no VAT, but the entry has {}",
                    s.rate.code(),
                    s.vat
                ),
            ));
        }
        gross += s.net + s.vat;
    }
    for suffix in by_field.keys().chain(seen.keys()) {
        let from_lines = by_field.get(suffix).copied().unwrap_or_default();
        let stated = seen.get(suffix).copied().unwrap_or_default();
        if from_lines != stated {
            return Err(KsefError::field(
                format!("vat_summary (P_13_{suffix})"),
                format!("{stated}, but the lines at this rate sum to {from_lines}"),
            ));
        }
    }
    if gross != inv.total {
        return Err(KsefError::field(
            "total (P_15)",
            format!("{}, but net + VAT of the summary is {gross}", inv.total),
        ));
    }
    let has_exempt = inv.lines.iter().any(|l| l.rate == VatRate::Exempt);
    match (has_exempt, &inv.exemption) {
        (true, None) => Err(KsefError::field(
            "exemption (P_19)",
            "exempt (\"zw\") lines need the legal basis of the exemption",
        )),
        (false, Some(_)) => Err(KsefError::field(
            "exemption (P_19)",
            "a legal basis of exemption is given but no line is exempt (\"zw\")",
        )),
        _ => Ok(()),
    }
}

/// Schema order of the P_13_x fields.
fn summary_order(rate: VatRate) -> u8 {
    match rate.summary_suffix() {
        "1" => 1,
        "2" => 2,
        "3" => 3,
        "4" => 4,
        "6_1" => 6,
        "6_2" => 7,
        "6_3" => 8,
        "7" => 9,
        "8" => 10,
        "9" => 11,
        _ => 12,
    }
}

fn yes_no(flag: bool) -> &'static str {
    if flag {
        "1"
    } else {
        "2"
    }
}

fn address(w: &mut Writer, path: &str, a: &Address) -> Result<(), KsefError> {
    if a.country.len() != 2 || !a.country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(KsefError::field(
            format!("{path}.country (KodKraju)"),
            format!("\"{}\" is not a 2-letter country code", a.country),
        ));
    }
    w.open("Adres");
    w.leaf("KodKraju", &a.country);
    w.leaf(
        "AdresL1",
        text(&format!("{path}.line1 (AdresL1)"), &a.line1, LONG)?,
    );
    if let Some(l2) = &a.line2 {
        w.leaf(
            "AdresL2",
            text(&format!("{path}.line2 (AdresL2)"), l2, LONG)?,
        );
    }
    w.close("Adres");
    Ok(())
}

/// Non-empty single-line text within `max` characters.
fn text<'a>(path: &str, value: &'a str, max: usize) -> Result<&'a str, KsefError> {
    if value.trim().is_empty() {
        return Err(KsefError::field(path, "is empty"));
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(KsefError::field(
            path,
            format!("\"{value}\" contains control character {c:?}"),
        ));
    }
    let len = value.chars().count();
    if len > max {
        return Err(KsefError::field(
            path,
            format!("{len} characters, at most {max} allowed"),
        ));
    }
    Ok(value)
}

/// NIP: 10 digits, FA(3)'s pattern and the checksum.
fn nip<'a>(path: &str, value: &'a str) -> Result<&'a str, KsefError> {
    let d: Vec<u32> = value.chars().filter_map(|c| c.to_digit(10)).collect();
    let shape_ok = value.len() == 10 && d.len() == 10 && d[0] != 0 && (d[1], d[2]) != (0, 0);
    if !shape_ok {
        return Err(KsefError::field(
            path,
            format!("\"{value}\" is not a 10-digit NIP"),
        ));
    }
    const WEIGHTS: [u32; 9] = [6, 5, 7, 2, 3, 4, 5, 6, 7];
    let sum: u32 = WEIGHTS.iter().zip(&d).map(|(w, x)| w * x).sum();
    if sum % 11 != d[9] {
        return Err(KsefError::field(
            path,
            format!("NIP \"{value}\" has a wrong check digit"),
        ));
    }
    Ok(value)
}

/// KSeF number: NIP-YYYYMMDD-XXXXXX-XXXXXX-XX (hex; the middle dash is optional).
pub(crate) fn check_ksef_number(path: &str, value: &str) -> Result<(), KsefError> {
    let bad = || KsefError::field(path, format!("\"{value}\" is not a KSeF number"));
    let parts: Vec<&str> = value.split('-').collect();
    let hex = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
    };
    let (id, day, tail): (&str, &str, Vec<&str>) = match parts.as_slice() {
        [id, day, a, b, c] => (id, day, vec![a, b, c]),
        [id, day, ab, c] if ab.len() == 12 => (id, day, vec![&ab[..6], &ab[6..], c]),
        _ => return Err(bad()),
    };
    let id_ok = id.len() == 10 && id.bytes().all(|b| b.is_ascii_alphanumeric());
    let day_ok = NaiveDate::parse_from_str(day, "%Y%m%d").is_ok() && day.len() == 8;
    let tail_ok = tail.iter().map(|s| s.len()).eq([6, 6, 2]) && tail.iter().all(|s| hex(s));
    if id_ok && day_ok && tail_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

/// TDataT range (event dates).
const EARLIEST_EVENT: (i32, u32, u32) = (2006, 1, 1);
/// TData range of FA(3) (payment dates).
const EARLIEST_PAYMENT: (i32, u32, u32) = (2016, 7, 1);

fn date(path: &str, d: NaiveDate, earliest: (i32, u32, u32)) -> Result<String, KsefError> {
    let from = NaiveDate::from_ymd_opt(earliest.0, earliest.1, earliest.2);
    let to = NaiveDate::from_ymd_opt(2050, 1, 1);
    match (from, to) {
        (Some(from), Some(to)) if d >= from && d <= to => Ok(d.format("%Y-%m-%d").to_string()),
        _ => Err(KsefError::field(
            path,
            format!(
                "{d} is outside {}-{:02}-{:02} – 2050-01-01",
                earliest.0, earliest.1, earliest.2
            ),
        )),
    }
}

fn created_at(t: DateTime<Utc>) -> Result<String, KsefError> {
    let from = Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).single();
    let to = Utc.with_ymd_and_hms(2050, 1, 1, 23, 59, 59).single();
    match (from, to) {
        (Some(from), Some(to)) if t >= from && t <= to => {
            Ok(t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        }
        _ => Err(KsefError::field(
            "created_at (DataWytworzeniaFa)",
            format!("{t} is outside 2025-09-01 – 2050-01-01"),
        )),
    }
}

/// TKwotowy: always written with 2 decimals; more decimals are an error, not rounded away.
fn amount(path: &str, value: Decimal) -> Result<String, KsefError> {
    let mut v = value.normalize();
    if v.scale() > 2 {
        return Err(KsefError::field(
            path,
            format!("{value} has more than 2 decimals"),
        ));
    }
    v.rescale(2);
    if v.is_zero() {
        v.set_sign_positive(true);
    }
    let s = v.to_string();
    if s.trim_start_matches('-').len() > 19 {
        return Err(KsefError::field(
            path,
            format!("{value} has more than 16 integer digits"),
        ));
    }
    Ok(s)
}

/// Quantities and prices keep the scale they were given (12.345, 1, 10.000).
fn scaled(path: &str, value: Decimal, max_scale: u32, max_int: usize) -> Result<String, KsefError> {
    let mut v = value;
    if v.scale() > max_scale {
        v = v.normalize();
        if v.scale() > max_scale {
            return Err(KsefError::field(
                path,
                format!("{value} has more than {max_scale} decimals"),
            ));
        }
    }
    if v.is_zero() {
        v.set_sign_positive(true);
    }
    let s = v.to_string();
    let int_digits = s
        .trim_start_matches('-')
        .split('.')
        .next()
        .map_or(0, str::len);
    if int_digits > max_int {
        return Err(KsefError::field(
            path,
            format!("{value} has more than {max_int} integer digits"),
        ));
    }
    Ok(s)
}

/// A tiny indenting XML writer; every text goes through [`escape`].
#[derive(Default)]
struct Writer {
    out: String,
    depth: usize,
}

impl Writer {
    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }

    fn open(&mut self, tag: &str) {
        self.indent();
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push_str(">\n");
        self.depth += 1;
    }

    fn close(&mut self, tag: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.indent();
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push_str(">\n");
    }

    fn leaf(&mut self, tag: &str, value: &str) {
        self.indent();
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push('>');
        escape(&mut self.out, value);
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push_str(">\n");
    }
}

/// Escapes XML text: & < > " '.
fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            other => out.push(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_all_five() {
        let mut s = String::new();
        escape(&mut s, "A&B <c> \"d\" 'e'");
        assert_eq!(s, "A&amp;B &lt;c&gt; &quot;d&quot; &apos;e&apos;");
    }

    #[test]
    fn numbers_keep_exact_form() {
        assert_eq!(amount("x", Decimal::new(2476, 1)).unwrap(), "247.60");
        assert_eq!(amount("x", Decimal::new(-4526, 2)).unwrap(), "-45.26");
        assert_eq!(amount("x", Decimal::new(0, 0)).unwrap(), "0.00");
        assert!(amount("x", Decimal::new(12345, 3)).is_err());
        assert_eq!(
            scaled("x", Decimal::new(10000, 3), 6, 16).unwrap(),
            "10.000"
        );
        assert_eq!(scaled("x", Decimal::new(1, 0), 6, 16).unwrap(), "1");
        assert!(scaled("x", Decimal::new(1, 7), 6, 16).is_err());
    }

    #[test]
    fn nip_and_ksef_number_checks() {
        assert!(nip("n", "9123456788").is_ok());
        assert!(nip("n", "9123456789").is_err());
        assert!(nip("n", "0123456789").is_err());
        assert!(check_ksef_number("k", "9123456788-20260504-0A1B2C-3D4E5F-A1").is_ok());
        assert!(check_ksef_number("k", "9123456788-20260504-0A1B2C3D4E5F-A1").is_ok());
        assert!(check_ksef_number("k", "9123456788-20261304-0A1B2C-3D4E5F-A1").is_err());
        assert!(check_ksef_number("k", "FW/2026/05/000123").is_err());
    }
}
