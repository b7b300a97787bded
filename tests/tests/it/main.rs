//! The crate's one integration-test binary (one link instead of one per file).

mod bench_portal;
mod broker_restart;
mod demo_accounts;
mod demo_live;
mod foundation;
mod radio;
mod safe_defaults;
mod scaling;
mod services;
mod transport_collect;
mod transport_serial;
