//! ewoda-billing: tariffs, consumption, invoices and corrections, KSeF XML, PDFs, individual
//! bank accounts, statements and payment posting, reminders, interest notes, the ledger.

pub mod elixir;
pub mod ksef;
pub mod statement;
