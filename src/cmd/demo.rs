//! `ewoda demo`, `ewoda migrate`, `ewoda setup`.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
}

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {}

pub fn run(_args: Args) -> ExitCode {
    ExitCode::from(2)
}

pub fn migrate(_args: MigrateArgs) -> ExitCode {
    ExitCode::from(2)
}

pub fn setup() -> ExitCode {
    ExitCode::from(2)
}
