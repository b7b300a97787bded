//! `ewoda ksef ack FILE`: stores the KSeF numbers of sent invoices from a UPO or a
//! `invoice number;KSeF number` list, all or nothing.

use ewoda_billing::ksef::ack;
use ewoda_common::config::CommonConfig;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Import KSeF numbers (UPO XML or a number list); idempotent.
    Ack {
        /// The UPO or list file.
        file: PathBuf,
        #[command(flatten)]
        common: CommonConfig,
    },
}

pub fn run(command: Command) -> ExitCode {
    super::block_on(dispatch(command))
}

async fn dispatch(command: Command) -> anyhow::Result<()> {
    let Command::Ack { file, common } = command;
    let bytes = std::fs::read(&file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let acks = ack::parse(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    super::with_database(&common, |pool| async move {
        let r = ack::store(&pool, &acks)
            .await
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        println!(
            "{}: {} KSeF numbers stored, {} already known",
            file.display(),
            r.stored,
            r.already
        );
        Ok(())
    })
    .await
}
