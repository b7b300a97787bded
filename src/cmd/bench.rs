//! `ewoda bench …`: benchmarks that print their figure as the last line.

use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Telegram decode rate over the shared vectors mix.
    Decode,
}

pub fn run(_command: Command) -> ExitCode {
    eprintln!("ewoda bench: not in this build yet");
    ExitCode::from(2)
}
