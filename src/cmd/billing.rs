//! `ewoda billing quote|interest|account` (SPEC §5).

use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Compute one invoice from a JSON description, without a database.
    Quote {
        /// Input JSON file, or - for stdin.
        file: Option<String>,
    },
}

pub fn run(_command: Command) -> ExitCode {
    eprintln!("ewoda billing: not in this build yet");
    ExitCode::from(2)
}
