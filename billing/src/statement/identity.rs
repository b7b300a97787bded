//! The identity of a statement entry: the whole entry in its statement, not the bank
//! reference alone (banks repeat references and write `NONREF`). `key` is stored unique, so a
//! re-imported file stores nothing new while two different credits with one reference are both
//! stored; `loose` finds the same entry reported in another statement (a re-sent or
//! renumbered statement, the CSV export of it), which a clerk must judge.

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
}

/// The identities of a statement's lines, in order. Entries identical in every field are
/// told apart by their occurrence (the statement's balance shows they are all real).
pub fn entry_identities(ctx: StatementContext<'_>, lines: &[StatementLine]) -> Vec<EntryIdentity> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    lines
        .iter()
        .map(|line| {
            let whole = canonical(&[
                ctx.format,
                ctx.account,
                ctx.number,
                &line.value_date.to_string(),
                &line.booked_on.to_string(),
                &format!("{:?}", line.mark),
                &line.amount.normalize().to_string(),
                &line.currency,
                &line.customer_reference,
                &line.bank_reference,
                &collapse(&line.details),
            ]);
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
            EntryIdentity { key, loose }
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

    #[test]
    fn wrapping_and_line_ends_do_not_change_details() {
        assert_eq!(collapse("JAN KOWAL\r\nSKI  UL.\nX"), "JAN KOWALSKI UL.X");
        assert_eq!(collapse("JAN \nKOWALSKI"), collapse("JAN KOWALSKI"));
    }
}
