//! The portal's one integration-test binary: the real router against a real PostgreSQL, one
//! fresh database per test (see `support`).

mod api;
mod applications;
mod auth;
mod ebok_money;
mod info;
mod invoice_list;
mod mail;
mod matrix;
mod meters;
mod money_world;
mod profile;
mod push;
mod store;
mod support;
mod ui;
