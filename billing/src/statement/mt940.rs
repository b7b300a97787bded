//! SWIFT MT940 statement parser: fields and continuation lines, a full `:61:` parse, `:86:`
//! through a bank profile, and the balance check. All-or-nothing: any error in a mandatory
//! field returns nothing; an optional subfield that fails validation is left out and the line
//! flagged. Files as banks deliver them: SOH/ETX framing (mBank CompanyNet), `NONREF` without
//! a `//` reference (Pekao), several `:86:` fields per entry (ING), 0xFF-filled empty subfields
//! (PKO BP).

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

use super::account::normalize_account;
use super::profiles::Mt940Profile;
use super::{Balance, EntryMark, Statement, StatementError, StatementLine};

/// Parses every statement of an MT940 file, reading `:86:` with `profile`.
pub fn parse_mt940(input: &str, profile: &Mt940Profile) -> Result<Vec<Statement>, StatementError> {
    let (fields, last_line) = tokenize(input)?;
    let mut statements = Vec::new();
    let mut current: Option<Builder> = None;
    let mut previous_tag = "";
    for field in &fields {
        match field.tag {
            "20" => {
                if let Some(b) = current.take() {
                    statements.push(b.finish(field.line.saturating_sub(1))?);
                }
                current = Some(Builder::new(field.line, field.text()));
            }

            "-" => {
                if let Some(b) = current.take() {
                    statements.push(b.finish(field.line)?);
                }
            }
            _ => {
                let Some(b) = current.as_mut() else {
                    return Err(StatementError::field(
                        field.line,
                        &field.label(),
                        "field before the statement reference (:20:)",
                    ));
                };
                b.take(field, previous_tag, profile)?;
            }
        }
        // Several :86: after one :61: describe the same entry (ING writes the transaction code
        // alone first, then the structured details).
        if !(field.tag == "86" && previous_tag == "61") {
            previous_tag = field.tag;
        }
    }
    if let Some(b) = current.take() {
        statements.push(b.finish(last_line)?);
    }
    if statements.is_empty() {
        return Err(StatementError::Truncated {
            line: last_line,
            message: "no statement (:20:) in the file".into(),
        });
    }
    Ok(statements)
}

/// One field: its tag (without colons; "-" for the end-of-statement line) and its lines.
struct Field<'a> {
    tag: &'a str,
    line: usize,
    lines: Vec<&'a str>,
}

impl Field<'_> {
    fn label(&self) -> String {
        format!(":{}:", self.tag)
    }

    /// The first line of the value.
    fn text(&self) -> &str {
        self.lines.first().copied().unwrap_or("").trim()
    }
}

/// Splits the file into fields; returns them and the number of the last line.
fn tokenize(input: &str) -> Result<(Vec<Field<'_>>, usize), StatementError> {
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    let mut fields: Vec<Field> = Vec::new();
    let mut last_line = 0;
    for (index, raw) in input.split('\n').enumerate() {
        let line_no = index + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        // mBank CompanyNet frames each account's message with SOH (0x01) ... ETX (0x03).
        let line = line.trim_matches(|c| c == '\u{1}' || c == '\u{3}');
        if line.trim().is_empty() {
            continue;
        }
        last_line = line_no;
        if line == "-" || line == "-}" {
            fields.push(Field {
                tag: "-",
                line: line_no,
                lines: Vec::new(),
            });
            continue;
        }
        // SWIFT envelope lines such as "{1:F01...}{2:...}{4:" carry nothing we need.
        if line.starts_with('{') {
            continue;
        }
        if let Some((tag, value)) = split_tag(line) {
            fields.push(Field {
                tag,
                line: line_no,
                lines: vec![value],
            });
            continue;
        }
        match fields.last_mut() {
            Some(field) if field.tag != "-" => field.lines.push(line),
            _ => {
                return Err(StatementError::field(
                    line_no,
                    "text",
                    format!("\"{line}\" is outside any field"),
                ))
            }
        }
    }
    Ok((fields, last_line))
}

/// Recognises ":NN:" or ":NNa:" at the start of a line.
fn split_tag(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix(':')?;
    let end = rest.find(':')?;
    let tag = &rest[..end];
    let b = tag.as_bytes();
    let ok = (b.len() == 2 || b.len() == 3)
        && b[..2].iter().all(u8::is_ascii_digit)
        && b.get(2).is_none_or(u8::is_ascii_uppercase);
    ok.then(|| (tag, &rest[end + 1..]))
}

/// A :61: entry with its optional :86: details, not yet given a currency.
struct Entry {
    line: usize,
    value_date: NaiveDate,
    booked_on: NaiveDate,
    mark: EntryMark,
    amount: Decimal,
    bank_reference: String,
    customer_reference: String,
    /// The :61: and :86: lines as written.
    raw: String,
    details: Details,
}

#[derive(Default)]
struct Details {
    /// Whether the text had subfields (unstructured text is all title).
    structured: bool,
    virtual_account: Option<String>,
    payer_account: Option<String>,
    payer_name: Option<String>,
    payer_address: Option<String>,
    title: String,
    warnings: Vec<String>,
}

impl Details {
    /// Folds a later :86: of the same entry in: structured details win, a lone transaction
    /// code before them is dropped, other text is kept in front of the title.
    fn merge(self, later: Details) -> Details {
        let code_only = self.title.bytes().all(|b| b.is_ascii_digit());
        let title = match (
            self.title.is_empty() || (code_only && later.structured),
            later.title.is_empty(),
        ) {
            (true, _) => later.title,
            (false, true) => self.title,
            (false, false) => format!("{} {}", self.title, later.title),
        };
        let mut warnings = self.warnings;
        warnings.extend(later.warnings);
        Details {
            structured: self.structured || later.structured,
            virtual_account: self.virtual_account.or(later.virtual_account),
            payer_account: self.payer_account.or(later.payer_account),
            payer_name: self.payer_name.or(later.payer_name),
            payer_address: self.payer_address.or(later.payer_address),
            title,
            warnings,
        }
    }
}

struct Builder {
    start_line: usize,
    reference: String,
    account: Option<String>,
    number: Option<String>,
    opening: Option<Balance>,
    closing: Option<Balance>,
    closing_line: usize,
    entries: Vec<Entry>,
}

impl Builder {
    fn new(start_line: usize, reference: &str) -> Self {
        Builder {
            start_line,
            reference: reference.to_string(),
            account: None,
            number: None,
            opening: None,
            closing: None,
            closing_line: 0,
            entries: Vec::new(),
        }
    }

    fn missing(&self, field: &str) -> StatementError {
        StatementError::Missing {
            line: self.start_line,
            field: field.into(),
        }
    }

    fn take(
        &mut self,
        field: &Field,
        previous_tag: &str,
        profile: &Mt940Profile,
    ) -> Result<(), StatementError> {
        let label = field.label();
        match field.tag {
            "25" => {
                let raw = field.text();
                // Some banks write "BIC/account"; the account is after the last '/'.
                let raw = raw.rsplit('/').find(|s| !s.is_empty()).unwrap_or(raw);
                let account = normalize_account(raw)
                    .map_err(|m| StatementError::field(field.line, &label, m))?;
                self.account = Some(account);
            }
            "28" | "28C" => self.number = Some(field.text().to_string()),
            "60F" | "60M" => self.opening = Some(parse_balance(field.text(), field.line, &label)?),
            "61" => {
                if self.closing.is_some() {
                    return Err(StatementError::field(
                        field.line,
                        &label,
                        "entry after the closing balance",
                    ));
                }
                if self.opening.is_none() {
                    return Err(self.missing("opening balance (:60F:)"));
                }
                let mut entry = parse_61(field.text(), field.line)?;
                entry.raw = field.lines.join("\n");
                self.entries.push(entry);
            }
            // Only an :86: right after a :61: describes that entry; others are statement-level
            // remarks.
            "86" if previous_tag == "61" => {
                let text: String = field.lines.concat();
                let details = parse_86(&text, field.line, profile)?;
                if let Some(entry) = self.entries.last_mut() {
                    entry.raw.push_str("\n:86:");
                    entry.raw.push_str(&field.lines.join("\n"));
                    entry.details = std::mem::take(&mut entry.details).merge(details);
                }
            }
            "62F" | "62M" => {
                self.closing = Some(parse_balance(field.text(), field.line, &label)?);
                self.closing_line = field.line;
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(self, last_line: usize) -> Result<Statement, StatementError> {
        let account = self
            .account
            .clone()
            .ok_or_else(|| self.missing("account (:25:)"))?;
        let number = self
            .number
            .clone()
            .ok_or_else(|| self.missing("statement number (:28C:)"))?;
        let opening = self
            .opening
            .clone()
            .ok_or_else(|| self.missing("opening balance (:60F:)"))?;
        let closing = self
            .closing
            .clone()
            .ok_or_else(|| StatementError::Truncated {
                line: last_line,
                message: format!(
                    "the statement starting at line {} ends without a closing balance (:62F:); \
                 the file looks truncated",
                    self.start_line
                ),
            })?;
        if closing.currency != opening.currency {
            return Err(StatementError::field(
                self.closing_line,
                ":62F:",
                format!(
                    "currency {} differs from the opening balance's {}",
                    closing.currency, opening.currency
                ),
            ));
        }
        let mut credits_sum = Decimal::ZERO;
        let mut debits_sum = Decimal::ZERO;
        for entry in &self.entries {
            let sum = if entry.mark.adds_to_balance() {
                &mut credits_sum
            } else {
                &mut debits_sum
            };
            *sum = sum.checked_add(entry.amount).ok_or_else(|| {
                StatementError::field(entry.line, ":61:", "amounts overflow when summed")
            })?;
        }
        let computed = opening.amount + credits_sum - debits_sum;
        if computed != closing.amount {
            return Err(StatementError::Unbalanced {
                line: self.start_line,
                opening: opening.amount,
                credits: credits_sum,
                debits: debits_sum,
                computed,
                closing: closing.amount,
            });
        }
        let mut credits = Vec::new();
        let mut debits = Vec::new();
        for entry in self.entries {
            let line = StatementLine {
                booked_on: entry.booked_on,
                value_date: entry.value_date,
                mark: entry.mark,
                amount: entry.amount,
                currency: opening.currency.clone(),
                bank_reference: entry.bank_reference,
                customer_reference: entry.customer_reference,
                virtual_account: entry.details.virtual_account,
                payer_account: entry.details.payer_account,
                payer_name: entry.details.payer_name,
                payer_address: entry.details.payer_address,
                title: entry.details.title,
                details: entry.raw,
                warnings: entry.details.warnings,
                line: entry.line,
            };
            if entry.mark == EntryMark::Credit {
                credits.push(line);
            } else {
                debits.push(line);
            }
        }
        Ok(Statement {
            line: self.start_line,
            reference: self.reference,
            number,
            account,
            opening,
            closing,
            credits,
            debits,
        })
    }
}

/// `C260504PLN12500,00`: mark, YYMMDD, currency, amount.
fn parse_balance(text: &str, line: usize, label: &str) -> Result<Balance, StatementError> {
    let err = |m: String| StatementError::field(line, label, m);
    let sign = match text.get(..1) {
        Some("C") => Decimal::ONE,
        Some("D") => Decimal::NEGATIVE_ONE,
        _ => {
            return Err(err(format!(
                "balance \"{text}\" does not start with C or D"
            )))
        }
    };
    let date_text = text.get(1..7).unwrap_or("");
    let date = parse_yymmdd(date_text)
        .ok_or_else(|| err(format!("date \"{date_text}\" is not a valid YYMMDD date")))?;
    let currency = text.get(7..10).unwrap_or("");
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(err(format!(
            "currency \"{currency}\" is not a 3-letter code"
        )));
    }
    let amount_text = text.get(10..).unwrap_or("");
    let amount = parse_amount(amount_text)
        .ok_or_else(|| err(format!("amount \"{amount_text}\" is not a number")))?;
    Ok(Balance {
        date,
        currency: currency.to_string(),
        amount: sign * amount,
    })
}

/// Parses `YYMMDD[MMDD]mark[funds]amount type reference[//bankref]`.
fn parse_61(text: &str, line: usize) -> Result<Entry, StatementError> {
    let err = |m: String| StatementError::field(line, ":61:", m);
    let b = text.as_bytes();
    let value_text = text.get(..6).unwrap_or(text);
    let value_date = parse_yymmdd(value_text).ok_or_else(|| {
        err(format!(
            "value date \"{value_text}\" is not a valid YYMMDD date"
        ))
    })?;
    let mut pos = 6;
    let mut booked_on = value_date;
    if b.len() >= pos + 4 && b[pos..pos + 4].iter().all(u8::is_ascii_digit) {
        let entry_text = &text[pos..pos + 4];
        booked_on = entry_date_near(entry_text, value_date).ok_or_else(|| {
            err(format!(
                "entry date \"{entry_text}\" is not a valid MMDD date"
            ))
        })?;
        pos += 4;
    }
    let (mark, mark_len) = match (b.get(pos), b.get(pos + 1)) {
        (Some(b'R'), Some(b'C')) => (EntryMark::ReversalOfCredit, 2),
        (Some(b'R'), Some(b'D')) => (EntryMark::ReversalOfDebit, 2),
        (Some(b'C'), _) => (EntryMark::Credit, 1),
        (Some(b'D'), _) => (EntryMark::Debit, 1),
        _ => {
            let found = text.get(pos..pos + 2).unwrap_or("");
            return Err(err(format!(
                "debit/credit mark \"{found}\" is not C, D, RC or RD"
            )));
        }
    };
    pos += mark_len;
    // Optional funds code: the third letter of the currency code, directly before the amount.
    if b.get(pos).is_some_and(u8::is_ascii_alphabetic)
        && b.get(pos + 1).is_some_and(u8::is_ascii_digit)
    {
        pos += 1;
    }
    let amount_end = b[pos..]
        .iter()
        .position(|c| matches!(c, b'N' | b'F' | b'S'))
        .map_or(b.len(), |p| pos + p);
    let amount_text = text.get(pos..amount_end).unwrap_or("");
    let amount = parse_amount(amount_text)
        .ok_or_else(|| err(format!("amount \"{amount_text}\" is not a number")))?;
    if amount.is_zero() {
        return Err(err(format!("amount \"{amount_text}\" is zero")));
    }
    let type_text = text.get(amount_end..amount_end + 4).unwrap_or("");
    if type_text.len() != 4 || !type_text.bytes().skip(1).all(|c| c.is_ascii_alphanumeric()) {
        return Err(err(format!(
            "transaction type \"{type_text}\" is not N/F/S and 3 characters"
        )));
    }
    let rest = text.get(amount_end + 4..).unwrap_or("");
    let (customer_ref, bank_ref) = match rest.split_once("//") {
        Some((c, r)) => (c.trim(), Some(r.trim())),
        None => (rest.trim(), None),
    };
    // Pekao writes `NONREF` with no `//` part: the entry then has no reference at all, and its
    // identity rests on the rest of the entry (see `identity`).
    let bank_reference = match bank_ref.filter(|r| !r.is_empty()) {
        Some(r) => r.to_string(),
        None if !customer_ref.is_empty() => customer_ref.to_string(),
        None => NO_REFERENCE.to_string(),
    };
    Ok(Entry {
        line,
        value_date,
        booked_on,
        mark,
        amount,
        bank_reference,
        customer_reference: customer_ref.to_string(),
        raw: String::new(),
        details: Details::default(),
    })
}

/// What a bank writes when an entry has no reference.
pub const NO_REFERENCE: &str = "NONREF";

/// PKO BP fills empty subfields with 0xFF bytes (˙ in both Polish code pages).
fn clean_value(v: &str) -> &str {
    v.trim_matches(|c: char| c.is_whitespace() || c == '\u{2d9}' || c == '\u{ff}')
}

/// Splits `code<sep>NNvalue<sep>NNvalue…` into subfields; a part without a 2-digit code is the
/// separator character used inside the previous value (titles may contain it).
fn subfields(rest: &str, sep: char) -> Vec<(u8, String)> {
    let mut out: Vec<(u8, String)> = Vec::new();
    for part in rest.split(sep) {
        let code = part
            .get(..2)
            .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|c| c.parse::<u8>().ok());
        match (code, out.last_mut()) {
            (Some(code), _) => out.push((code, part[2..].to_string())),
            (None, Some((_, value))) => {
                value.push(sep);
                value.push_str(part);
            }
            (None, None) => out.push((0, part.to_string())),
        }
    }
    out
}

/// The character that opens the subfields of this `:86:`: the profile's, or — when the text
/// has no subfield under it — the first of the separators Polish banks use that opens one
/// (Santander writes `:86:>20…` where the MultiCash layout has `<`). A separator opens a
/// subfield where two digits follow it.
fn subfield_separator(text: &str, preferred: char) -> char {
    let opens = |sep: char| {
        text.match_indices(sep).any(|(i, _)| {
            let after = text.as_bytes().get(i + 1..i + 3);
            after.is_some_and(|d| d.iter().all(u8::is_ascii_digit))
        })
    };
    if opens(preferred) {
        return preferred;
    }
    ['<', '>', '~', '^']
        .into_iter()
        .find(|&sep| opens(sep))
        .unwrap_or(preferred)
}

/// Reads `:86:` through the profile; unstructured text becomes the title.
fn parse_86(text: &str, line: usize, profile: &Mt940Profile) -> Result<Details, StatementError> {
    let sep = subfield_separator(text, profile.separator);
    let Some((_code, rest)) = text.split_once(sep) else {
        return Ok(Details {
            title: clean_value(text).to_string(),
            ..Details::default()
        });
    };
    let subfields = subfields(rest, sep);
    let join = |codes: &[u8], joiner: &str| -> Option<String> {
        let values = codes
            .iter()
            .flat_map(|code| subfields.iter().filter(move |(c, _)| c == code));
        // Without a joiner the bank cut one text at a fixed width: its spaces at the cuts are
        // part of it.
        let joined = if joiner.is_empty() {
            let text: String = values
                .map(|(_, v)| v.trim_matches(|c| c == '\u{2d9}' || c == '\u{ff}'))
                .collect();
            clean_value(&text).to_string()
        } else {
            let parts: Vec<&str> = values
                .map(|(_, v)| clean_value(v))
                .filter(|v| !v.is_empty())
                .collect();
            parts.join(joiner)
        };
        (!joined.is_empty()).then_some(joined)
    };
    let mut warnings = Vec::new();
    // Optional accounts: one failing its check is left out and the line flagged, so a payer's
    // typo never rejects the statement.
    let mut account = |raw: String, what: &str| match normalize_account(&raw) {
        Ok(a) => Some(a),
        Err(m) => {
            warnings.push(format!("line {line} (:86:): {what}: {m}; left out"));
            None
        }
    };
    let payer_account = match profile.payer_account.and_then(|c| join(&[c], "")) {
        Some(raw) => account(raw, "payer account"),
        None => match profile.payer_bank_and_account {
            Some((bank, number)) => match (join(&[bank], ""), join(&[number], "")) {
                (Some(b), Some(n)) if b.len() + n.len() == 26 => {
                    account(format!("{b}{n}"), "payer account")
                }
                _ => None,
            },
            None => None,
        },
    };
    let virtual_account = profile
        .virtual_account
        .and_then(|c| join(&[c], ""))
        .and_then(|raw| account(raw, "virtual account"));
    Ok(Details {
        structured: true,
        virtual_account,
        payer_account,
        payer_name: join(profile.payer_name, " "),
        payer_address: join(profile.payer_address, " "),
        title: join(profile.title, profile.title_joiner).unwrap_or_default(),
        warnings,
    })
}

/// SWIFT amount: digits, a decimal comma, at most 2 decimals ("267,41", "300,").
pub(crate) fn parse_amount(text: &str) -> Option<Decimal> {
    let (int, frac) = text.split_once(',')?;
    let ok = !int.is_empty()
        && int.len() + frac.len() <= 14
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= 2
        && frac.bytes().all(|b| b.is_ascii_digit());
    if !ok {
        return None;
    }
    let digits = format!("{int}{frac}");
    let mantissa: i64 = digits.parse().ok()?;
    u32::try_from(frac.len())
        .ok()
        .and_then(|scale| Decimal::try_new(mantissa, scale).ok())
}

fn parse_yymmdd(text: &str) -> Option<NaiveDate> {
    if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let yy: i32 = text[..2].parse().ok()?;
    let mm: u32 = text[2..4].parse().ok()?;
    let dd: u32 = text[4..].parse().ok()?;
    NaiveDate::from_ymd_opt(2000 + yy, mm, dd)
}

/// The MMDD entry date has no year: take the one closest to the value date (year ends).
fn entry_date_near(text: &str, value_date: NaiveDate) -> Option<NaiveDate> {
    let mm: u32 = text.get(..2)?.parse().ok()?;
    let dd: u32 = text.get(2..4)?.parse().ok()?;
    let year = value_date.year();
    [year - 1, year, year + 1]
        .into_iter()
        .filter_map(|y| NaiveDate::from_ymd_opt(y, mm, dd))
        .min_by_key(|d| (*d - value_date).num_days().abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_exact_and_strict() {
        assert_eq!(parse_amount("267,41"), Some(Decimal::new(26741, 2)));
        assert_eq!(parse_amount("300,"), Some(Decimal::new(300, 0)));
        assert_eq!(parse_amount("12x,00"), None);
        assert_eq!(parse_amount("12,345"), None);
        assert_eq!(parse_amount("12.00"), None);
        assert_eq!(parse_amount(",5"), None);
    }

    #[test]
    fn the_subfield_separator_is_the_one_the_text_uses() {
        assert_eq!(subfield_separator("020<00PRZELEW<20FV 1", '<'), '<');
        assert_eq!(subfield_separator(">20FV 1>32JAN KOWALSKI", '<'), '>');
        assert_eq!(subfield_separator("150~00X~20FV 1", '<'), '~');
        // A title that merely contains the character, no subfield: the profile's stays.
        assert_eq!(subfield_separator("WPLATA > 20 ZL", '<'), '<');
        assert_eq!(subfield_separator("150", '~'), '~');
    }

    #[test]
    fn entry_date_crosses_year_end() {
        let value = NaiveDate::from_ymd_opt(2025, 12, 31).unwrap();
        assert_eq!(
            entry_date_near("0102", value),
            NaiveDate::from_ymd_opt(2026, 1, 2)
        );
        assert_eq!(
            entry_date_near("1230", value),
            NaiveDate::from_ymd_opt(2025, 12, 30)
        );
        assert_eq!(entry_date_near("1332", value), None);
    }
}
