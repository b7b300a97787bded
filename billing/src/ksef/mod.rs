//! KSeF e-invoices: a typed model of a water/sewage VAT invoice and its correction (KOR), and
//! the FA(3) XML the National e-Invoice System accepts.

pub mod ack;
pub mod from_invoice;
pub mod model;
pub mod xml;

pub use self::model::{
    Address, BankAccount, Buyer, BuyerId, CorrectedInvoice, Correction, CorrectionEffect,
    Exemption, InvoiceKind, InvoiceLine, KsefInvoice, Note, Payment, PaymentForm, SaleDate, Seller,
    ThirdParty, ThirdPartyRole, VatRate, VatSummary,
};
pub use self::xml::{invoice_xml, FA3_NAMESPACE};

/// Why an invoice cannot be written as FA(3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KsefError {
    /// A field of the model breaks an FA(3) rule.
    #[error("{field}: {message}")]
    Field {
        /// Path of the field in the model with its FA(3) element, e.g. "lines[2].quantity (P_8B)".
        field: String,
        /// What is wrong, quoting the value.
        message: String,
    },
}

impl KsefError {
    pub(crate) fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        KsefError::Field {
            field: field.into(),
            message: message.into(),
        }
    }
}
