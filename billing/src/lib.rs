//! ewoda-billing: tariffs, consumption, invoices and corrections, KSeF XML, PDFs, individual
//! bank accounts, statements and payment posting, reminders, interest notes, the ledger.

pub mod account;
pub mod bench;
pub mod calc_error;
pub mod consumption;
pub mod customer;
pub mod documents;
pub mod dunning;
pub mod elixir;
pub mod interest;
pub mod invoice;
pub mod ksef;
pub mod ledger;
pub mod payments;
pub mod quote;
pub mod readings;
pub mod run;
pub mod statement;
pub mod store_error;
pub mod tariff;
pub mod virtual_accounts;
