//! Bank CSV statement exports: columns found by their (Polish) header names, decimal commas,
//! line-numbered errors, all-or-nothing.

use chrono::NaiveDate;

use super::account::normalize_account;
use super::mt940::parse_amount;
use super::{EntryMark, StatementError, StatementLine};

/// Which header names hold which data in one bank's CSV export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvProfile {
    /// Name used in configuration.
    pub name: &'static str,
    /// Field delimiter, e.g. b';'.
    pub delimiter: u8,
    /// chrono format of the date columns.
    pub date_format: &'static str,
    /// Booking date column.
    pub booked_on: &'static str,
    /// Value date column; the booking date when absent.
    pub value_date: Option<&'static str>,
    /// Signed amount column (negative = debit).
    pub amount: &'static str,
    /// Currency column.
    pub currency: Option<&'static str>,
    /// Currency when the export has no currency column.
    pub default_currency: &'static str,
    /// Credited (virtual) account column.
    pub virtual_account: Option<&'static str>,
    /// Payer account column.
    pub payer_account: Option<&'static str>,
    /// Payer name column.
    pub payer_name: Option<&'static str>,
    /// Payer address column.
    pub payer_address: Option<&'static str>,
    /// Title column.
    pub title: &'static str,
    /// The bank's unique transaction id column.
    pub bank_reference: &'static str,
}

/// The layout of the shared sample (`bank_csv_sample.csv`).
pub const BANK_CSV: CsvProfile = CsvProfile {
    name: "bank_csv",
    delimiter: b';',
    date_format: "%Y-%m-%d",
    booked_on: "Data księgowania",
    value_date: Some("Data waluty"),
    amount: "Kwota",
    currency: Some("Waluta"),
    default_currency: "PLN",
    virtual_account: Some("Rachunek wirtualny"),
    payer_account: Some("Rachunek nadawcy"),
    payer_name: Some("Nadawca"),
    payer_address: None,
    title: "Tytuł",
    bank_reference: "Id transakcji",
};

/// Entries of a CSV export (CSV exports carry no balances).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvStatement {
    /// Incoming payments.
    pub credits: Vec<StatementLine>,
    /// Outgoing entries, kept apart.
    pub debits: Vec<StatementLine>,
}

/// Parses a CSV export with `profile`.
pub fn parse_csv(input: &str, profile: &CsvProfile) -> Result<CsvStatement, StatementError> {
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(profile.delimiter)
        .has_headers(true)
        .flexible(false)
        .from_reader(input.as_bytes());
    let headers = reader.headers().map_err(|e| csv_error(&e, 1))?.clone();
    let columns = Columns::find(&headers, profile)?;
    let mut credits = Vec::new();
    let mut debits = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(&e, 0))?;
        let entry = record_entry(&record, &headers, &columns, profile)?;
        if entry.mark == EntryMark::Credit {
            credits.push(entry);
        } else {
            debits.push(entry);
        }
    }
    Ok(CsvStatement { credits, debits })
}

/// Where the profile's columns are in this file's header line.
struct Columns {
    booked: usize,
    value: Option<usize>,
    amount: usize,
    currency: Option<usize>,
    virtual_account: Option<usize>,
    payer_account: Option<usize>,
    payer_name: Option<usize>,
    payer_address: Option<usize>,
    title: usize,
    reference: usize,
}

impl Columns {
    fn find(headers: &::csv::StringRecord, profile: &CsvProfile) -> Result<Self, StatementError> {
        let folded: Vec<String> = headers.iter().map(fold).collect();
        let required = |name: &'static str| {
            folded.iter().position(|h| *h == fold(name)).ok_or_else(|| {
                StatementError::field(1, name, "column is missing from the header line")
            })
        };
        let optional = |name: Option<&'static str>| name.map(required).transpose();
        Ok(Columns {
            booked: required(profile.booked_on)?,
            value: optional(profile.value_date)?,
            amount: required(profile.amount)?,
            currency: optional(profile.currency)?,
            virtual_account: optional(profile.virtual_account)?,
            payer_account: optional(profile.payer_account)?,
            payer_name: optional(profile.payer_name)?,
            payer_address: optional(profile.payer_address)?,
            title: required(profile.title)?,
            reference: required(profile.bank_reference)?,
        })
    }
}

/// One record as a statement line; errors name the line and the column.
fn record_entry(
    record: &::csv::StringRecord,
    headers: &::csv::StringRecord,
    cols: &Columns,
    profile: &CsvProfile,
) -> Result<StatementLine, StatementError> {
    let line = record
        .position()
        .map_or(0, |p| usize::try_from(p.line()).unwrap_or(0));
    let cell = |c: usize| record.get(c).unwrap_or("").trim();
    let opt_cell = |c: Option<usize>| c.map(cell).filter(|v| !v.is_empty());
    let header = |c: usize| headers.get(c).unwrap_or("").to_string();
    let field_err = |c: usize, m: String| StatementError::Field {
        line,
        field: header(c),
        message: m,
    };
    let date = |c: usize| {
        NaiveDate::parse_from_str(cell(c), profile.date_format).map_err(|_| {
            field_err(
                c,
                format!("\"{}\" is not a {} date", cell(c), profile.date_format),
            )
        })
    };
    let booked_on = date(cols.booked)?;
    let value_date = match cols.value {
        Some(c) => date(c)?,
        None => booked_on,
    };
    let (mark, amount) = parse_signed_amount(cell(cols.amount)).ok_or_else(|| {
        field_err(
            cols.amount,
            format!("\"{}\" is not a number", cell(cols.amount)),
        )
    })?;
    let currency = match cols.currency {
        Some(c) => {
            let v = cell(c);
            if v.len() != 3 || !v.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(field_err(
                    c,
                    format!("\"{v}\" is not a 3-letter currency code"),
                ));
            }
            v.to_string()
        }
        None => profile.default_currency.to_string(),
    };
    // Optional accounts failing their check are left out and the line flagged.
    let mut warnings = Vec::new();
    let mut account = |c: Option<usize>| match (c, opt_cell(c)) {
        (Some(col), Some(v)) => match normalize_account(v) {
            Ok(a) => Some(a),
            Err(m) => {
                warnings.push(format!("line {line} ({}): {m}; left out", header(col)));
                None
            }
        },
        _ => None,
    };
    let virtual_account = account(cols.virtual_account);
    let payer_account = account(cols.payer_account);
    let bank_reference = cell(cols.reference);
    if bank_reference.is_empty() {
        return Err(field_err(
            cols.reference,
            "is empty; every entry needs the bank's id".into(),
        ));
    }
    Ok(StatementLine {
        booked_on,
        value_date,
        mark,
        amount,
        currency,
        bank_reference: bank_reference.to_string(),
        customer_reference: String::new(),
        virtual_account,
        payer_account,
        payer_name: opt_cell(cols.payer_name).map(str::to_string),
        payer_address: opt_cell(cols.payer_address).map(str::to_string),
        title: cell(cols.title).to_string(),
        details: record
            .iter()
            .collect::<Vec<_>>()
            .join(&char::from(profile.delimiter).to_string()),
        warnings,
        line,
    })
}

/// "-1 234,50" → (Debit, 1234.50); zero is not an entry.
fn parse_signed_amount(text: &str) -> Option<(EntryMark, rust_decimal::Decimal)> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let (mark, digits) = match compact.strip_prefix('-') {
        Some(rest) => (EntryMark::Debit, rest),
        None => (
            EntryMark::Credit,
            compact.strip_prefix('+').unwrap_or(&compact),
        ),
    };
    let amount = if digits.contains(',') {
        parse_amount(digits)?
    } else {
        parse_amount(&format!("{digits},"))?
    };
    (!amount.is_zero()).then_some((mark, amount))
}

/// Header comparison ignores case, surrounding spaces and Polish diacritics.
fn fold(header: &str) -> String {
    header
        .trim()
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'ą' => 'a',
            'ć' => 'c',
            'ę' => 'e',
            'ł' => 'l',
            'ń' => 'n',
            'ó' => 'o',
            'ś' => 's',
            'ź' | 'ż' => 'z',
            other => other,
        })
        .collect()
}

fn csv_error(e: &::csv::Error, fallback_line: usize) -> StatementError {
    let line = e.position().map_or(fallback_line, |p| {
        usize::try_from(p.line()).unwrap_or(fallback_line)
    });
    let message = match e.kind() {
        ::csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("{len} columns where the header has {expected_len}")
        }
        ::csv::ErrorKind::Utf8 { .. } => "text is not UTF-8".to_string(),
        _ => e.to_string(),
    };
    StatementError::Field {
        line,
        field: "CSV".into(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    #[test]
    fn signed_amounts() {
        assert_eq!(
            parse_signed_amount("267,41"),
            Some((EntryMark::Credit, Decimal::new(26741, 2)))
        );
        assert_eq!(
            parse_signed_amount("-1 234,5"),
            Some((EntryMark::Debit, Decimal::new(12345, 1)))
        );
        assert_eq!(
            parse_signed_amount("300"),
            Some((EntryMark::Credit, Decimal::new(300, 0)))
        );
        assert_eq!(parse_signed_amount("0,00"), None);
        assert_eq!(parse_signed_amount("2,6x"), None);
    }

    #[test]
    fn headers_fold_diacritics() {
        assert_eq!(fold(" Data Księgowania "), "data ksiegowania");
        assert_eq!(fold("Tytuł"), fold("Tytul"));
    }
}
