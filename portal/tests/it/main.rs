//! The portal's one integration-test binary: the real router against a real PostgreSQL, one
//! fresh database per test (see `support`).

mod auth;
mod matrix;
mod store;
mod support;
mod ui;
