//! `ewoda decode` (SPEC §5).

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// AES-128 key (32 hex digits) for encrypted telegrams.
    #[arg(long)]
    pub key: Option<String>,
    /// Telegrams in hex; when none are given, one per line is read from stdin.
    pub hex: Vec<String>,
}

pub fn run(_args: Args) -> ExitCode {
    eprintln!("ewoda decode: the decoder is not in this build yet");
    ExitCode::from(2)
}
