//! `ewoda collect`: runs the collector from a TOML config until SIGINT/SIGTERM, or imports
//! one reading-set file with `--import`.

use ewoda_collector::collect::{self, ImportOnceError};
use ewoda_collector::config::CollectConfig;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Collector configuration (TOML); without it: no sources, URLs from the environment.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Import one reading-set file (TXT or CSV), print the report and exit.
    #[arg(long, value_name = "FILE")]
    pub import: Option<PathBuf>,
}

pub fn run(args: Args) -> ExitCode {
    let cfg = match &args.config {
        Some(p) => CollectConfig::load(p),
        None => Ok(CollectConfig::empty()),
    };
    let cfg = match cfg {
        Ok(c) => c,
        Err(e) => return super::finish(Err(e.into())),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return super::finish(Err(e.into())),
    };
    if let Some(file) = args.import {
        return match rt.block_on(collect::import_file(&cfg, &file)) {
            Ok(report) => {
                println!("{}: {report}", file.display());
                ExitCode::SUCCESS
            }
            Err(ImportOnceError::Import(e)) => {
                if let ewoda_collector::reading_set::ImportError::Lines(lines) = &e {
                    for l in lines {
                        eprintln!("{}: {l}", file.display());
                    }
                    eprintln!("{}: nothing was imported", file.display());
                } else {
                    eprintln!("ewoda: {}: {e}", file.display());
                }
                ExitCode::from(2)
            }
            Err(e) => super::finish(Err(e.into())),
        };
    }
    super::finish(
        rt.block_on(collect::run(cfg, ewoda_common::shutdown::signal()))
            .map(|totals| {
                eprintln!(
                    "collector stopped: {} readings stored, {} duplicates, {} dead letters",
                    totals.stored, totals.duplicates, totals.dead_letters
                );
            })
            .map_err(Into::into),
    )
}
