//! The error of billing code that touches the database (ledger, invoices, billing runs,
//! virtual accounts, PDFs from stored invoices): a calculation error, a database error or a
//! refused request, each naming what was at fault.

use crate::calc_error::CalcError;

/// Why a stored-data operation of the billing crate failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A billing calculation refused its input.
    #[error("{0}")]
    Calc(#[from] CalcError),
    /// A referenced row does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked up, e.g. `invoice 42`.
        what: String,
    },
    /// A value breaks a rule of the operation.
    #[error("{field}: {message}")]
    Invalid {
        /// The field or argument at fault.
        field: String,
        /// What is wrong with it.
        message: String,
    },
}

impl StoreError {
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        StoreError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        StoreError::NotFound { what: what.into() }
    }
}
