//! Bank statements in, payment lines out: MT940 (with per-bank `:86:` profiles) and bank CSV
//! exports, parsed all-or-nothing into exact amounts ready for posting.

mod account;

pub(crate) use self::account::{is_valid_nrb, normalize_account};
pub mod bench;
pub mod csv;
pub mod encoding;
pub mod identity;
pub mod mt940;
pub mod profiles;

use chrono::NaiveDate;
use rust_decimal::Decimal;

pub use self::csv::{parse_csv, CsvProfile, CsvStatement};
pub use self::encoding::{decode, TextEncoding};
pub use self::mt940::parse_mt940;
pub use self::profiles::{Mt940Profile, MT940_PROFILES};

/// How an entry moves the account balance (MT940 :61: debit/credit mark).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryMark {
    /// Money in (C).
    Credit,
    /// Money out (D).
    Debit,
    /// Reversal of an earlier credit (RC): money out.
    ReversalOfCredit,
    /// Reversal of an earlier debit (RD): money in.
    ReversalOfDebit,
}

impl EntryMark {
    /// True when the entry increases the balance.
    pub fn adds_to_balance(self) -> bool {
        matches!(self, EntryMark::Credit | EntryMark::ReversalOfDebit)
    }
}

/// One booked entry of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    /// Booking (entry) date.
    pub booked_on: NaiveDate,
    /// Value date.
    pub value_date: NaiveDate,
    /// Direction of the entry; only `Credit` lines are incoming payments.
    pub mark: EntryMark,
    /// Amount, always > 0; the direction is in `mark`.
    pub amount: Decimal,
    /// ISO currency code, e.g. "PLN".
    pub currency: String,
    /// The bank's id of the entry (MT940 `//` reference, else the customer reference; CSV
    /// transaction id); `NONREF` when the bank gives none. Not unique: banks repeat it.
    pub bank_reference: String,
    /// The MT940 `:61:` customer reference (before `//`), often `NONREF`; empty in CSV.
    pub customer_reference: String,
    /// The credited account (individual/virtual account), 26-digit NRB or IBAN.
    pub virtual_account: Option<String>,
    /// The payer's account, 26-digit NRB (Polish) or IBAN (foreign).
    pub payer_account: Option<String>,
    /// The payer's name.
    pub payer_name: Option<String>,
    /// The payer's address, when the bank gives it.
    pub payer_address: Option<String>,
    /// The transfer title (the joined title subfields).
    pub title: String,
    /// The entry exactly as the bank wrote it (`:61:` and `:86:` lines; the CSV record), part
    /// of its identity.
    pub details: String,
    /// Optional subfields that failed validation and were left out (e.g. a payer IBAN failing
    /// mod-97): the line is kept, flagged.
    pub warnings: Vec<String>,
    /// The file line where the entry starts.
    pub line: usize,
}

/// A balance line (:60F:, :62F:), signed: negative for a debit balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    /// Date of the balance.
    pub date: NaiveDate,
    /// ISO currency code.
    pub currency: String,
    /// Signed amount.
    pub amount: Decimal,
}

/// One MT940 statement (from :20: to :62F:).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The file line of its `:20:`.
    pub line: usize,
    /// Statement reference (:20:).
    pub reference: String,
    /// Statement number (:28C:).
    pub number: String,
    /// The statement's own account (:25:), 26-digit NRB or IBAN.
    pub account: String,
    /// Opening balance (:60F: or :60M:).
    pub opening: Balance,
    /// Closing balance (:62F: or :62M:).
    pub closing: Balance,
    /// Incoming payments (mark `Credit`), in file order.
    pub credits: Vec<StatementLine>,
    /// Every other entry (debits and reversals), kept apart so they are never posted as payments.
    pub debits: Vec<StatementLine>,
}

/// Why a statement file was rejected; line numbers are 1-based lines of the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    /// A field has a bad value.
    #[error("line {line} ({field}): {message}")]
    Field {
        /// Line where the field starts.
        line: usize,
        /// The field's tag or column name, e.g. ":61:" or "Kwota".
        field: String,
        /// What is wrong, quoting the value.
        message: String,
    },
    /// A statement lacks a mandatory field.
    #[error("statement starting at line {line}: missing {field}")]
    Missing {
        /// Line where the statement starts.
        line: usize,
        /// The missing field.
        field: String,
    },
    /// Opening balance plus entries does not give the closing balance.
    #[error("statement starting at line {line}: opening {opening} + credits {credits} - debits {debits} = {computed}, but closing balance (:62F:) is {closing}")]
    Unbalanced {
        /// Line where the statement starts.
        line: usize,
        /// Opening balance.
        opening: Decimal,
        /// Sum of balance-increasing entries.
        credits: Decimal,
        /// Sum of balance-decreasing entries.
        debits: Decimal,
        /// What the closing balance should be.
        computed: Decimal,
        /// What the file says.
        closing: Decimal,
    },
    /// The file ends in the middle of a statement, or holds none.
    #[error("line {line}: {message}")]
    Truncated {
        /// Last line read.
        line: usize,
        /// What was expected.
        message: String,
    },
}

impl StatementError {
    pub(crate) fn field(line: usize, field: &str, message: impl Into<String>) -> Self {
        StatementError::Field {
            line,
            field: field.to_string(),
            message: message.into(),
        }
    }
}
