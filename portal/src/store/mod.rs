//! The portal's own tables as typed, scoped functions for eBOK and the API: consents with
//! history, notification preferences and push subscriptions, contact-data change requests,
//! applications (data-driven forms that become numbered cases) and attachments stored as
//! files. Customer functions take the session's [`CustomerId`]; a record id of another
//! customer reads as None or [`StoreError::NotFound`].
//!
//! [`CustomerId`]: ewoda_common::scope::CustomerId

pub mod application;
pub mod attachment;
pub mod consent;
pub mod contact_change;
pub mod preference;

use ewoda_common::scope::FieldError;

/// Why a portal store function failed; nothing was written when it is returned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// The input was refused; each error names its field.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// The record is not there, or not the caller's.
    #[error("{0} not found")]
    NotFound(String),
    /// Billing refused (e.g. applying a contact change).
    #[error("billing: {0}")]
    Billing(#[from] ewoda_billing::store_error::StoreError),
    /// A stored file could not be written or read.
    #[error("attachment file {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl StoreError {
    pub(crate) fn field(
        field: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        StoreError::Invalid(vec![FieldError::new(field, code, message)])
    }
}
