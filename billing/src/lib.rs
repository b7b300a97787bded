//! ewoda-billing: tariffs, consumption, invoices and corrections, KSeF XML, PDFs, individual
//! bank accounts, statements and payment posting, reminders, interest notes, the ledger.

pub mod account;
pub mod calc_error;
pub mod consumption;
pub mod elixir;
pub mod interest;
pub mod ksef;
pub mod quote;
pub mod statement;
pub mod tariff;
