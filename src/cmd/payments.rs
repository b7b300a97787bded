//! `ewoda payments import|unmatched|assign|dismiss|reviewed|export-refunds`: statement import,
//! the clerk's queue and its answers, and the Elixir-0 refund file, against DATABASE_URL.

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
        /// The bank's MT940 `:86:` profile: pko, pekao, ing, mbank, santander, millennium, bnp,
        /// alior, credit_agricole (or the generic tilde, angle, caret).
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
    /// A clerk assigns a payment from the queue to a customer (posted and allocated).
    Assign {
        /// The payment.
        #[arg(long)]
        payment: i64,
        /// The customer (customer_id).
        #[arg(long)]
        customer: i64,
        /// Who assigns (audited).
        #[arg(long)]
        clerk: String,
        /// PostgreSQL URL.
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
    },
    /// A clerk dismisses a possible duplicate from the queue (stored, never posted).
    Dismiss {
        /// The payment.
        #[arg(long)]
        payment: i64,
        /// Who dismisses (audited).
        #[arg(long)]
        clerk: String,
        /// PostgreSQL URL.
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
    },
    /// A clerk marks a returned or reversed credit as reviewed (it leaves the queue).
    Reviewed {
        /// The reversal.
        #[arg(long)]
        reversal: i64,
        /// Who reviewed it (audited).
        #[arg(long)]
        clerk: String,
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
        } => import(&file, format.as_deref(), &profile, &database_url).await?,
        Command::Unmatched { database_url } => unmatched(&database_url).await?,
        Command::Assign {
            payment,
            customer,
            clerk,
            database_url,
        } => {
            let pool = ewoda_common::db::connect(&database_url, 2).await?;
            ewoda_common::db::migrate(&pool).await?;
            let allocations = payments::assign_unmatched(&pool, payment, customer, &clerk).await?;
            let allocations: Vec<_> = allocations
                .iter()
                .map(|a| serde_json::json!({"invoice_id": a.invoice_id, "amount": a.amount.to_string()}))
                .collect();
            println!(
                "{}",
                serde_json::json!({"payment_id": payment, "allocations": allocations})
            );
        }
        Command::Dismiss {
            payment,
            clerk,
            database_url,
        } => {
            let pool = ewoda_common::db::connect(&database_url, 2).await?;
            ewoda_common::db::migrate(&pool).await?;
            payments::dismiss_duplicate(&pool, payment, &clerk).await?;
        }
        Command::Reviewed {
            reversal,
            clerk,
            database_url,
        } => {
            let pool = ewoda_common::db::connect(&database_url, 2).await?;
            ewoda_common::db::migrate(&pool).await?;
            payments::review_reversal(&pool, reversal, &clerk).await?;
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

/// `payments import`: prints what the import did as one JSON object.
async fn import(
    file: &std::path::Path,
    format: Option<&str>,
    profile: &str,
    database_url: &str,
) -> anyhow::Result<()> {
    let is_csv = match format {
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
        let p = Mt940Profile::by_name(profile)
            .with_context(|| format!("--profile {profile:?}: unknown MT940 profile"))?;
        StatementFormat::Mt940(p.clone())
    };
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let pool = ewoda_common::db::connect(database_url, 2).await?;
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
                "review": p.review,
                "duplicate_of": p.duplicate_of,
                "warnings": p.warnings,
            })
        })
        .collect();
    let skipped: Vec<_> = report
        .skipped_statements
        .iter()
        .map(|s| {
            serde_json::json!({"line": s.line, "account": s.account, "number": s.number,
                "currency": s.currency, "reason": s.reason})
        })
        .collect();
    let reversals: Vec<_> = report
        .reversals
        .iter()
        .map(|r| {
            serde_json::json!({"reversal_id": r.reversal_id, "mark": r.mark,
                "amount": r.amount.to_string(), "payment_id": r.payment_id,
                "refund_id": r.refund_id,
                "customer_id": r.customer_id,
                "reopened_invoices": r.reopened.iter().map(|(i, _)| i).collect::<Vec<_>>()})
        })
        .collect();
    // Credits repeated from another statement (a monthly after the dailies): not stored again.
    let already: Vec<_> = report
        .already_imported
        .iter()
        .map(|a| {
            serde_json::json!({"bank_reference": a.bank_reference,
                "amount": a.amount.to_string(), "payment_id": a.payment_id,
                "statement_number": a.statement_number})
        })
        .collect();
    println!(
        "{}",
        serde_json::json!({
            "encoding": report.encoding.as_str(),
            "credits": report.credits,
            "debits_skipped": report.debits_skipped,
            "imported": imported,
            "unmatched": report.unmatched(),
            "duplicates": report.duplicates,
            "already_imported": already,
            "reversals": reversals,
            "reversals_already_imported": report.reversals_already_imported,
            "skipped_statements": skipped,
        })
    );
    Ok(())
}

/// `payments unmatched`: the clerk's queue, one JSON object per line.
async fn unmatched(database_url: &str) -> anyhow::Result<()> {
    let pool = ewoda_common::db::connect(database_url, 2).await?;
    ewoda_common::db::migrate(&pool).await?;
    for p in payments::list_unmatched(&pool).await? {
        println!(
            "{}",
            serde_json::json!({
                "kind": "payment",
                "payment_id": p.payment_id,
                "source": p.source,
                "bank_reference": p.bank_reference,
                "amount": p.amount.to_string(),
                "booked_on": p.booked_on,
                "payer_name": p.payer_name,
                "payer_account": p.payer_account,
                "title": p.title,
                "to_account": p.to_account,
                "review": p.review,
                "duplicate_of": p.duplicate_of,
                "warnings": p.warnings,
            })
        );
    }
    for r in payments::list_reversals(&pool).await? {
        println!(
            "{}",
            serde_json::json!({
                "kind": "reversal",
                "reversal_id": r.reversal_id,
                "mark": r.mark,
                "bank_reference": r.bank_reference,
                "amount": r.amount.to_string(),
                "booked_on": r.booked_on,
                "title": r.title,
                "payment_id": r.payment_id,
                "refund_id": r.refund_id,
                "customer_id": r.customer_id,
                "reopened": r.undone,
            })
        );
    }
    Ok(())
}

/// `ewoda bench statement`: on a scratch database (created on DATABASE_URL and dropped after,
/// or a private cluster when it is unset); the last line is the figure.
pub fn bench_statement(lines: usize) -> ExitCode {
    super::block_on(bench_statement_async(lines))
}

async fn bench_statement_async(lines: usize) -> anyhow::Result<()> {
    let r = super::with_scratch_database(|pool| async move {
        Ok(ewoda_billing::statement::bench::statement(&pool, lines).await?)
    })
    .await?;
    println!(
        "{} bytes; {} payments stored, {} posted; re-import (all duplicates) {:.2} s",
        r.bytes,
        r.stored,
        r.posted,
        r.reimport.as_secs_f64()
    );
    println!(
        "statement: {} lines in {:.2} s",
        r.lines,
        r.import.as_secs_f64()
    );
    Ok(())
}
