//! The portal's one integration-test binary: the real router against a real PostgreSQL, one
//! fresh database per test (see `support`).

mod applications;
mod auth;
mod mail;
mod matrix;
mod info;
mod meters;
mod profile;
mod push;
mod ebok_money;
mod money_world;
mod store;
mod support;
mod ui;
