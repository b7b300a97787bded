//! The identity of a statement entry: the whole entry in its statement, not the bank
//! reference alone (banks repeat references and write `NONREF`). `key` is stored unique, so a
//! re-imported file stores nothing new while two different credits with one reference are both
//! stored; `credit` recognises the same credit repeated entry for entry in another statement
//! of the account (a monthly statement after the daily ones); `loose` finds what may be the
//! same money reported differently (the CSV export of it, other details), which a clerk must
//! judge.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::mt940::NO_REFERENCE;
use super::StatementLine;

/// Where a line was read: the format and, for MT940, the statement's account and number.
#[derive(Debug, Clone, Copy)]
pub struct StatementContext<'a> {
    /// `mt940` or `csv`.
    pub format: &'a str,
    /// The statement's account (`:25:`); empty for CSV exports.
    pub account: &'a str,
    /// The statement and sequence number (`:28C:`); empty for CSV exports.
    pub number: &'a str,
}

/// The keys of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryIdentity {
    /// Hash of the whole entry in its statement plus its occurrence among identical entries.
    pub key: String,
    /// Hash of what identifies the money movement across statements (account credited, value
    /// date, amount, the bank's reference — or, with no reference, the entry's details).
    pub loose: String,
    /// Hash of the whole entry without its statement's format and number: the same credit
    /// reported again in another statement of the account (the monthly statement repeating
    /// the daily ones), identical in every field the bank wrote for it.
    pub credit: String,
}

/// The identities of a statement's lines, in order. Entries identical in every field are
/// told apart by their occurrence (the statement's balance shows they are all real).
pub fn entry_identities(ctx: StatementContext<'_>, lines: &[StatementLine]) -> Vec<EntryIdentity> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    lines
        .iter()
        .map(|line| {
            // The entry's own fields; joined after format, account and number they make the
            // same text as ever, so keys stored before stay valid.
            let fields = canonical(&[
                line.value_date.to_string().as_str(),
                &line.booked_on.to_string(),
                &format!("{:?}", line.mark),
                &line.amount.normalize().to_string(),
                &line.currency,
                &line.customer_reference,
                &line.bank_reference,
                &collapse(&line.details),
            ]);
            let credit = hash(&canonical(&[ctx.account, &fields]));
            let whole = canonical(&[ctx.format, ctx.account, ctx.number, &fields]);
            let occurrence = seen.entry(whole.clone()).or_insert(0);
            *occurrence += 1;
            let key = hash(&format!("{whole}\u{1f}{occurrence}"));
            let credited = line.virtual_account.as_deref().unwrap_or(ctx.account);
            let movement = if has_reference(&line.bank_reference) {
                line.bank_reference.clone()
            } else {
                collapse(&line.title)
            };
            let loose = hash(&canonical(&[
                credited,
                &line.value_date.to_string(),
                &format!("{:?}", line.mark),
                &line.amount.normalize().to_string(),
                &movement,
            ]));
            EntryIdentity { key, loose, credit }
        })
        .collect()
}

/// Whether a bank reference identifies anything (not empty, not `NONREF`).
pub fn has_reference(reference: &str) -> bool {
    !reference.is_empty() && !reference.eq_ignore_ascii_case(NO_REFERENCE)
}

fn canonical(parts: &[&str]) -> String {
    parts.join("\u{1f}")
}

/// Lines joined as the bank cut them (at a fixed width, often inside a word) and whitespace
/// runs made one space, so a re-sent file wrapped differently keeps its identities.
fn collapse(text: &str) -> String {
    let joined: String = text.split(['\r', '\n']).collect();
    joined.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statement::EntryMark;
    use rust_decimal_macros::dec;

    fn line() -> StatementLine {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 5, 5).unwrap();
        StatementLine {
            booked_on: day,
            value_date: day,
            mark: EntryMark::Credit,
            amount: dec!(267.41),
            currency: "PLN".into(),
            bank_reference: "2605051234567".into(),
            customer_reference: "NONREF".into(),
            virtual_account: None,
            payer_account: None,
            payer_name: None,
            payer_address: None,
            title: "FW/2026/05/000123".into(),
            details: ":61:2605050505CN267,41N525NONREF//2605051234567\n:86:525~20FW".into(),
            warnings: Vec::new(),
            line: 5,
        }
    }

    fn ctx<'a>(number: &'a str) -> StatementContext<'a> {
        StatementContext {
            format: "mt940",
            account: "61109010140000071219812874",
            number,
        }
    }

    #[test]
    fn keys_stored_before_the_credit_key_keep_their_value() {
        let l = line();
        // The whole-entry text as it was always built: format, account, number, then fields.
        let whole = [
            "mt940",
            "61109010140000071219812874",
            "00087/001",
            "2026-05-05",
            "2026-05-05",
            "Credit",
            "267.41",
            "PLN",
            "NONREF",
            "2605051234567",
            &collapse(&l.details),
        ]
        .join("\u{1f}");
        let ids = entry_identities(ctx("00087/001"), &[l.clone(), l]);
        assert_eq!(ids[0].key, hash(&format!("{whole}\u{1f}1")));
        assert_eq!(ids[1].key, hash(&format!("{whole}\u{1f}2")));
    }

    #[test]
    fn the_credit_key_ignores_the_statement_number_only() {
        let a = &entry_identities(ctx("00087/001"), &[line()])[0];
        let b = &entry_identities(ctx("00088/001"), &[line()])[0];
        assert_ne!(a.key, b.key);
        assert_eq!(a.credit, b.credit);
        let mut later = line();
        later.booked_on = later.booked_on.succ_opt().unwrap();
        assert_ne!(
            entry_identities(ctx("00088/001"), &[later])[0].credit,
            a.credit
        );
    }

    #[test]
    fn wrapping_and_line_ends_do_not_change_details() {
        assert_eq!(collapse("JAN KOWAL\r\nSKI  UL.\nX"), "JAN KOWALSKI UL.X");
        assert_eq!(collapse("JAN \nKOWALSKI"), collapse("JAN KOWALSKI"));
    }
}
