//! Payments into the ledger: bank statements imported idempotently and matched to customers
//! (virtual account, then invoice number in the title, else a clerk's queue), allocation to open
//! invoices, overpayment refunds exported as Elixir-0, and online payments through a
//! Przelewy24-style operator (with a protocol-faithful fake for tests).

pub mod allocation;
pub mod fake_operator;
pub mod history;
pub mod import;
pub mod matching;
pub mod online;
pub mod online_items;
pub mod online_status;
pub mod online_store;
pub mod queue;
pub mod refunds;
pub mod reversal;

pub use self::allocation::{plan_allocation, Allocation};
pub use self::import::{
    import_statement, AlreadyImported, ImportReport, ImportedPayment, SkippedStatement,
    StatementFormat,
};
pub use self::matching::{invoice_numbers_in, MatchedBy};
pub use self::queue::{assign_unmatched, dismiss_duplicate, list_unmatched, UnmatchedPayment};
pub use self::refunds::{
    export_refunds, export_refunds_to_file, refund_overpayment, utility_ordering,
};
pub use self::reversal::{list_reversals, review_reversal, ImportedReversal, ReversalToReview};

use crate::elixir::ElixirError;
use crate::statement::StatementError;
use crate::store_error::StoreError;

/// Why a payment operation failed; nothing was posted when it is returned.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// The statement file was rejected (names the line and field).
    #[error("statement: {0}")]
    Statement(#[from] StatementError),
    /// The ledger or another stored-data operation refused.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The database refused or failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// The refund file could not be written.
    #[error("elixir: {0}")]
    Elixir(#[from] ElixirError),
    /// A value breaks a rule of the operation.
    #[error("{field}: {message}")]
    Invalid {
        /// The field or argument at fault.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A referenced row does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked up, e.g. `payment 42`.
        what: String,
    },
    /// An online-payment notification was refused (bad signature, wrong amount, …).
    #[error("notification rejected: {0}")]
    Rejected(String),
    /// The payment operator failed or answered something unexpected.
    #[error("payment operator: {0}")]
    Operator(String),
}

impl PaymentError {
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        PaymentError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}
