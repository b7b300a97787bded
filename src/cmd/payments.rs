//! `ewoda payments import|unmatched|export-refunds`: statement import, the clerk's queue and
//! the Elixir-0 refund file, against the database at DATABASE_URL.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use ewoda_billing::payments::{self, StatementFormat};
use ewoda_billing::statement::csv::BANK_CSV;
use ewoda_billing::statement::Mt940Profile;

/// The `ewoda payments` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Import a bank statement: store, match, post and allocate its incoming payments.
    Import {
        /// The statement file.
        file: PathBuf,
        /// mt940 or csv (default: csv for *.csv files, else mt940).
        #[arg(long)]
        format: Option<String>,
        /// The bank's MT940 `:86:` profile (tilde, angle, caret).
        #[arg(long, default_value = "tilde")]
        profile: String,
        /// PostgreSQL URL.
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
    },
    /// List payments waiting for a clerk, one JSON object per line.
    Unmatched {
        /// PostgreSQL URL.
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
    },
    /// Write every unexported refund to an Elixir-0 file and mark them exported.
    ExportRefunds {
        /// Where to write the file.
        #[arg(long)]
        out: PathBuf,
        /// Execution date (default: today).
        #[arg(long)]
        execution_date: Option<chrono::NaiveDate>,
        /// Replace an existing file at --out (otherwise that is an error).
        #[arg(long)]
        force: bool,
        /// PostgreSQL URL.
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
    },
}

/// Runs one payments subcommand; exit 0 ok, 1 on any error (printed on stderr).
pub fn run(command: Command) -> ExitCode {
    super::finish(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(dispatch(command))),
    )
}

async fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Import {
            file,
            format,
            profile,
            database_url,
        } => {
            let is_csv = match format.as_deref() {
                Some("csv") => true,
                Some("mt940") => false,
                Some(other) => anyhow::bail!("--format {other:?}: expected mt940 or csv"),
                None => file
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("csv")),
            };
            let format = if is_csv {
                StatementFormat::Csv(BANK_CSV)
            } else {
                let p = Mt940Profile::by_name(&profile)
                    .with_context(|| format!("--profile {profile:?}: unknown MT940 profile"))?;
                StatementFormat::Mt940(p.clone())
            };
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let pool = ewoda_common::db::connect(&database_url, 2).await?;
            ewoda_common::db::migrate(&pool).await?;
            let report = payments::import_statement(&pool, &bytes, &format).await?;
            let imported: Vec<_> = report
                .imported
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "payment_id": p.payment_id,
                        "bank_reference": p.bank_reference,
                        "amount": p.amount.to_string(),
                        "customer_id": p.customer_id,
                        "matched_by": p.matched_by.map(|m| m.as_str()),
                        "allocations": p.allocations.iter().map(|a| serde_json::json!({
                            "invoice_id": a.invoice_id, "amount": a.amount.to_string()
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::json!({
                    "credits": report.credits,
                    "debits_skipped": report.debits_skipped,
                    "imported": imported,
                    "unmatched": report.unmatched(),
                    "duplicates": report.duplicates,
                })
            );
        }
        Command::Unmatched { database_url } => {
            let pool = ewoda_common::db::connect(&database_url, 2).await?;
            ewoda_common::db::migrate(&pool).await?;
            for p in payments::list_unmatched(&pool).await? {
                println!(
                    "{}",
                    serde_json::json!({
                        "payment_id": p.payment_id,
                        "source": p.source,
                        "bank_reference": p.bank_reference,
                        "amount": p.amount.to_string(),
                        "booked_on": p.booked_on,
                        "payer_name": p.payer_name,
                        "payer_account": p.payer_account,
                        "title": p.title,
                        "to_account": p.to_account,
                    })
                );
            }
        }
        Command::ExportRefunds {
            out,
            execution_date,
            force,
            database_url,
        } => {
            let pool = ewoda_common::db::connect(&database_url, 2).await?;
            ewoda_common::db::migrate(&pool).await?;
            let (account, party) = payments::utility_ordering(&pool).await?;
            let day = execution_date.unwrap_or_else(ewoda_common::time::today);
            let n =
                payments::export_refunds_to_file(&pool, &account, &party, day, &out, force).await?;
            eprintln!("{n} refund(s) written to {}", out.display());
        }
    }
    Ok(())
}
