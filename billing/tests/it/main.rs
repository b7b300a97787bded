//! The crate's one integration-test binary (one link instead of one per file).

mod calc_props;
mod cases;
mod db_dunning;
mod db_fixtures;
mod db_invoice;
mod db_ksef;
mod db_ledger;
mod db_payments;
mod db_payments_fixtures;
mod db_payments_props;
mod db_payments_refunds;
mod db_run;
mod db_statement_banks;
mod db_statement_identity;
mod elixir_refund;
mod ksef_common;
mod ksef_props;
mod ksef_samples;
mod ksef_schema;
mod online_payments;
mod statement_props;
mod statement_samples;
