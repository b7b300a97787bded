//! The demo utility and the `ewoda demo` runtime.

pub mod live;
mod names;
mod run;
pub mod seed;

pub use run::{run, DemoError, DemoOptions};
pub use seed::{
    demo_fleet, seed, DemoFleet, SeedError, SeedOptions, SeedSummary, DEMO_LOGINS, DEMO_PASSWORD,
};
