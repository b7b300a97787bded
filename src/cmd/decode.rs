//! `ewoda decode` (SPEC §5): thin glue over `ewoda_collector::wmbus::cli::run_decode`.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// AES-128 key (32 hex digits) for encrypted telegrams.
    #[arg(long)]
    pub key: Option<String>,
    /// Telegrams in hex; when none are given, one per line is read from stdin.
    pub hex: Vec<String>,
}

pub fn run(args: Args) -> ExitCode {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut input = stdin.lock();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match ewoda_collector::wmbus::cli::run_decode(
        args.key.as_deref(),
        &args.hex,
        &mut input,
        &mut out,
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ewoda decode: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
