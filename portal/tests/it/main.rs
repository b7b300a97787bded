//! The portal's one integration-test binary: the real router against a real PostgreSQL, one
//! fresh database per test (see `support`).

mod auth;
mod ebok_money;
mod matrix;
mod money_world;
mod store;
mod support;
mod ui;
