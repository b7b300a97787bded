//! `ewoda bench …`: benchmarks that print their figure as the last line.

use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Telegram decode rate over the shared vectors mix.
    Decode,
}

pub fn run(command: Command) -> ExitCode {
    match command {
        Command::Decode => {
            let mut out = std::io::stdout().lock();
            match ewoda_collector::wmbus::bench::run(&mut out) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("ewoda bench decode: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}
