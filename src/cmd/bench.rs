//! `ewoda bench …`: benchmarks that print their figure as the last line.

use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Telegram decode rate over the shared vectors mix.
    Decode,
    /// A whole billing run with issue over N synthetic customers.
    Billing {
        #[arg(long, default_value_t = 100_000)]
        customers: usize,
    },
    /// Invoice PDF render time.
    Pdf,
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
        Command::Billing { customers } => super::bill::bench_billing(customers),
        Command::Pdf => super::bill::bench_pdf(),
    }
}
