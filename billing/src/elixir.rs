//! Elixir-0 export of refund transfers (message type 110) for the bank's import: one CRLF-ended
//! record per transfer, amounts in grosze, text transliterated to the format's safe charset.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::statement::is_valid_nrb;

/// Most lines in a name/address or title field.
const MAX_LINES: usize = 4;
/// Most characters in one line of such a field.
const MAX_LINE_CHARS: usize = 35;
/// Classification of an ordinary credit transfer (field 15).
const CLASSIFICATION_TRANSFER: &str = "51";

/// A refund of an overpayment to a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    /// Execution date.
    pub execution_date: NaiveDate,
    /// Amount in PLN, > 0, at most 2 decimals.
    pub amount: Decimal,
    /// The utility's account (26-digit NRB) the money leaves from.
    pub ordering_account: String,
    /// The utility's name and address, one entry per line (at most 4 × 35 characters).
    pub ordering_party: Vec<String>,
    /// The customer's account (26-digit NRB).
    pub beneficiary_account: String,
    /// The customer's name and address, one entry per line (at most 4 × 35 characters).
    pub beneficiary: Vec<String>,
    /// Transfer title, one entry per line (at most 4 × 35 characters).
    pub title: Vec<String>,
}

/// Why a refund cannot be written as an Elixir-0 record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElixirError {
    /// A field of the refund breaks the format's rules.
    #[error("{field}: {message}")]
    Field {
        /// The refund's field, e.g. "beneficiary".
        field: &'static str,
        /// What is wrong, quoting the value.
        message: String,
    },
    /// A refund in a batch is wrong.
    #[error("refund {index}: {source}")]
    InBatch {
        /// 0-based position in the batch.
        index: usize,
        /// The error of that refund.
        source: Box<ElixirError>,
    },
}

fn field_err(field: &'static str, message: impl Into<String>) -> ElixirError {
    ElixirError::Field {
        field,
        message: message.into(),
    }
}

/// Writes one type-110 record, ending in CRLF.
pub fn refund_record(r: &Refund) -> Result<String, ElixirError> {
    let grosze = amount_in_grosze(r.amount)?;
    let ordering_account = nrb(&r.ordering_account, "ordering_account")?;
    let beneficiary_account = nrb(&r.beneficiary_account, "beneficiary_account")?;
    let ordering_party = text_lines(&r.ordering_party, "ordering_party")?;
    let beneficiary = text_lines(&r.beneficiary, "beneficiary")?;
    let title = text_lines(&r.title, "title")?;
    // The settlement number of a bank is digits 3–10 of its customers' NRBs.
    let ordering_bank = &ordering_account[2..10];
    let beneficiary_bank = &beneficiary_account[2..10];
    Ok(format!(
        "110,{date},{grosze},{ordering_bank},0,\"{ordering_account}\",\"{beneficiary_account}\",\
         \"{ordering_party}\",\"{beneficiary}\",0,{beneficiary_bank},\"{title}\",,,\
         \"{CLASSIFICATION_TRANSFER}\",\"\"\r\n",
        date = r.execution_date.format("%Y%m%d"),
    ))
}

/// Writes a whole import file: the records of `refunds` in order.
pub fn refund_file(refunds: &[Refund]) -> Result<String, ElixirError> {
    let mut out = String::new();
    for (index, refund) in refunds.iter().enumerate() {
        let record = refund_record(refund).map_err(|e| ElixirError::InBatch {
            index,
            source: Box::new(e),
        })?;
        out.push_str(&record);
    }
    Ok(out)
}

fn amount_in_grosze(amount: Decimal) -> Result<i64, ElixirError> {
    let bad = |why: &str| field_err("amount", format!("{amount} {why}"));
    if amount <= Decimal::ZERO {
        return Err(bad("is not greater than zero"));
    }
    if amount.normalize().scale() > 2 {
        return Err(bad("has more than 2 decimals"));
    }
    let grosze = (amount * Decimal::ONE_HUNDRED).trunc();
    i64::try_from(grosze)
        .ok()
        .filter(|g| *g < 1_000_000_000_000_000)
        .ok_or_else(|| bad("is too large for the 15-digit amount field"))
}

fn nrb(account: &str, field: &'static str) -> Result<String, ElixirError> {
    let compact: String = account.chars().filter(|c| !c.is_whitespace()).collect();
    let bare = compact.strip_prefix("PL").unwrap_or(&compact);
    if is_valid_nrb(bare) {
        Ok(bare.to_string())
    } else {
        Err(field_err(
            field,
            format!("\"{account}\" is not a valid 26-digit Polish account number"),
        ))
    }
}

/// Joins up to 4 lines of up to 35 characters with '|', transliterated and upper-cased.
fn text_lines(lines: &[String], field: &'static str) -> Result<String, ElixirError> {
    if lines.len() > MAX_LINES {
        return Err(field_err(
            field,
            format!("{} lines, at most {MAX_LINES} allowed", lines.len()),
        ));
    }
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        let safe = transliterate(line.trim()).map_err(|c| {
            field_err(
                field,
                format!("\"{line}\": character '{c}' is not allowed in Elixir-0"),
            )
        })?;
        if safe.chars().count() > MAX_LINE_CHARS {
            return Err(field_err(
                field,
                format!("\"{line}\" is longer than {MAX_LINE_CHARS} characters"),
            ));
        }
        out.push(safe);
    }
    if out.iter().all(String::is_empty) {
        return Err(field_err(field, "is empty"));
    }
    Ok(out.join("|"))
}

/// Banks read Elixir-0 files in different code pages (CP1250, ISO-8859-2, Mazovia), so the
/// export stays in plain upper-case ASCII: Polish letters lose their diacritics, and only the
/// SWIFT "x" character set is allowed ('"' and '|' would break the record's structure).
fn transliterate(text: &str) -> Result<String, char> {
    text.chars()
        .map(|c| {
            let c = match c {
                'ą' | 'Ą' => 'A',
                'ć' | 'Ć' => 'C',
                'ę' | 'Ę' => 'E',
                'ł' | 'Ł' => 'L',
                'ń' | 'Ń' => 'N',
                'ó' | 'Ó' => 'O',
                'ś' | 'Ś' => 'S',
                'ź' | 'Ź' | 'ż' | 'Ż' => 'Z',
                other => other.to_ascii_uppercase(),
            };
            let allowed = c.is_ascii_uppercase()
                || c.is_ascii_digit()
                || matches!(
                    c,
                    ' ' | '/' | '-' | '?' | ':' | '(' | ')' | '.' | ',' | '\'' | '+'
                );
            if allowed {
                Ok(c)
            } else {
                Err(c)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polish_letters_become_ascii_capitals() {
        assert_eq!(
            transliterate("Zażółć gęślą jaźń").as_deref(),
            Ok("ZAZOLC GESLA JAZN")
        );
        assert_eq!(
            transliterate("ŁÓDŹ, ul. Ćmy 1/2"),
            Ok("LODZ, UL. CMY 1/2".to_string())
        );
        assert_eq!(transliterate("A|B"), Err('|'));
        assert_eq!(transliterate("\"X\""), Err('"'));
    }
}
