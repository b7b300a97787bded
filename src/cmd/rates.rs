//! `ewoda rates import FILE`: NBP table A mid rates (archive CSV or XML) or NBP reference
//! rates (`stopy_procentowe` XML or `date,rate` CSV) into the database, all or nothing.

use ewoda_billing::rates;
use ewoda_common::config::CommonConfig;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Import one NBP rates file (format detected from its content); idempotent.
    Import {
        /// The file, e.g. archiwum_tab_a_2026.csv or stopy_procentowe_archiwum.xml.
        file: PathBuf,
        /// Currencies taken from a table A file (repeatable).
        #[arg(long = "currency", default_values_t = rates::DEFAULT_CURRENCIES.iter().map(|c| c.to_string()).collect::<Vec<_>>())]
        currencies: Vec<String>,
        #[command(flatten)]
        common: CommonConfig,
    },
}

pub fn run(command: Command) -> ExitCode {
    super::block_on(dispatch(command))
}

async fn dispatch(command: Command) -> anyhow::Result<()> {
    let Command::Import {
        file,
        currencies,
        common,
    } = command;
    let bytes = std::fs::read(&file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let codes: Vec<&str> = currencies.iter().map(String::as_str).collect();
    // Parse before starting anything, so a bad file fails fast and touches nothing.
    let parsed =
        rates::parse(&bytes, &codes).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    super::with_database(&common, |pool| async move {
        let r = rates::store(&pool, &parsed).await?;
        let span = r
            .span
            .map_or_else(String::new, |(a, b)| format!(" ({a} … {b})"));
        println!(
            "{}: {} {} rows{span}, {} new, {} changed",
            file.display(),
            r.kind,
            r.rows,
            r.inserted,
            r.changed
        );
        Ok(())
    })
    .await
}
