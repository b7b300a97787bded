//! Finding whose payment it is: by the credited virtual account first, then by an invoice
//! number (`FW/YYYY/MM/NNNNNN`, `KOR/…`) found in the transfer title.

use sqlx::PgConnection;

use crate::invoice::numbering::{CORRECTION_SERIES, SALES_SERIES};

/// How a payment was tied to its customer (`payment.matched_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchedBy {
    /// The credited account is the customer's virtual account.
    VirtualAccount,
    /// The title names one of the customer's invoices.
    InvoiceNumber,
    /// A clerk assigned it from the unmatched queue.
    Clerk,
    /// An online payment registered for the customer.
    Online,
}

impl MatchedBy {
    /// The `payment.matched_by` value.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchedBy::VirtualAccount => "virtual_account",
            MatchedBy::InvoiceNumber => "invoice_number",
            MatchedBy::Clerk => "clerk",
            MatchedBy::Online => "online",
        }
    }
}

/// Invoice numbers named in a transfer title, in order of appearance, upper-cased.
///
/// A number is a series (`FW` or `KOR`) at a word start, then `/YYYY/MM/` and at least one
/// digit; banks often upper-case titles and may squeeze spaces, so matching is on the
/// upper-cased text and stops at the first non-digit after the sequence.
pub fn invoice_numbers_in(title: &str) -> Vec<String> {
    let upper: Vec<char> = title.to_uppercase().chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < upper.len() {
        let at_word_start = i == 0 || !upper[i - 1].is_alphanumeric();
        let mut matched = None;
        if at_word_start {
            for series in [SALES_SERIES, CORRECTION_SERIES] {
                if let Some(end) = number_at(&upper, i, series) {
                    matched = Some(end);
                    break;
                }
            }
        }
        match matched {
            Some(end) => {
                let number: String = upper[i..end].iter().collect();
                if !found.contains(&number) {
                    found.push(number);
                }
                i = end;
            }
            None => i += 1,
        }
    }
    found
}

/// The end of `SERIES/YYYY/MM/N+` starting at `start`, if one is there.
fn number_at(text: &[char], start: usize, series: &str) -> Option<usize> {
    let mut pos = start;
    for c in series.chars() {
        if text.get(pos) != Some(&c) {
            return None;
        }
        pos += 1;
    }
    for width in [4usize, 2] {
        if text.get(pos) != Some(&'/') {
            return None;
        }
        pos += 1;
        for _ in 0..width {
            if !text.get(pos)?.is_ascii_digit() {
                return None;
            }
            pos += 1;
        }
    }
    if text.get(pos) != Some(&'/') {
        return None;
    }
    pos += 1;
    let digits_from = pos;
    while text.get(pos).is_some_and(|c| c.is_ascii_digit()) {
        pos += 1;
    }
    (pos > digits_from && !text.get(pos).is_some_and(|c| c.is_alphanumeric())).then_some(pos)
}

/// A statement account (26-digit NRB or IBAN) in the `PL…` IBAN form of `virtual_account.iban`.
pub(crate) fn as_iban(account: &str) -> String {
    if account.len() == 26 && account.bytes().all(|b| b.is_ascii_digit()) {
        format!("PL{account}")
    } else {
        account.to_string()
    }
}

/// The first invoice named in `title` that exists (and belongs to `customer`, when given):
/// (invoice_id, customer_id).
pub(crate) async fn invoice_in_title(
    conn: &mut PgConnection,
    title: &str,
    customer: Option<i64>,
) -> Result<Option<(i64, i64)>, sqlx::Error> {
    for number in invoice_numbers_in(title) {
        let row: Option<(i64, i64)> =
            sqlx::query_as("select invoice_id, customer_id from invoice where number = $1")
                .bind(&number)
                .fetch_optional(&mut *conn)
                .await?;
        if let Some((invoice, owner)) = row {
            if customer.is_none_or(|c| c == owner) {
                return Ok(Some((invoice, owner)));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_invoice_numbers() {
        assert_eq!(
            invoice_numbers_in("FW/2026/05/000123 KLIENT 4711"),
            vec!["FW/2026/05/000123"]
        );
        assert_eq!(
            invoice_numbers_in("zapłata fw/2026/05/000123, kor/2026/06/7 oraz FW/2026/05/000123"),
            vec!["FW/2026/05/000123", "KOR/2026/06/7"]
        );
        assert!(invoice_numbers_in("OPLATA ZA WODE").is_empty());
        assert!(invoice_numbers_in("XFW/2026/05/000123").is_empty());
        assert!(invoice_numbers_in("FW/2026/5/000123").is_empty());
        assert!(invoice_numbers_in("FW/2026/05/").is_empty());
        assert!(invoice_numbers_in("FW/2026/05/12A").is_empty());
        assert!(invoice_numbers_in("").is_empty());
    }

    #[test]
    fn accounts_become_ibans() {
        assert_eq!(
            as_iban("79109010141234000000004711"),
            "PL79109010141234000000004711"
        );
        assert_eq!(as_iban("DE89370400440532013000"), "DE89370400440532013000");
    }
}
