//! ewoda-demo: the demo utility (seed, live simulated feed) and the `ewoda demo` runtime.
//! It sits above every other crate, so the portal does not depend on the simulator.

pub mod instance;
pub mod live;
mod names;
mod run;
pub mod seed;

pub use run::{bill_recent_months, run, DemoError, DemoOptions};
pub use seed::{
    demo_fleet, seed, DemoFleet, SeedError, SeedOptions, SeedSummary, DEMO_LOGINS, DEMO_PASSWORD,
};
