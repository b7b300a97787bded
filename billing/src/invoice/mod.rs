//! Invoices: gap-free numbering, issuing (invoice + lines + ledger charge in one transaction),
//! corrective invoices (KOR), the printable document and its PDF with a payment QR code.

pub mod correction;
pub mod document;
pub mod issue;
pub mod numbering;
pub mod pdf;
pub mod pdf_store;
pub mod qr;
pub mod query;
pub mod vat;
