//! `ewoda dunning …`: reminders by level (`run`), interest notes (`notes`), the PDF of a
//! reminder or note (`pdf`) and the KSeF FA(3) XML of an issued invoice (`ksef`).

use ewoda_billing::dunning::{self, DunningConfig};
use ewoda_billing::invoice::pdf::InvoicePdfRenderer;
use ewoda_billing::ksef::from_invoice;
use ewoda_common::config::CommonConfig;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Issue the reminders due today (idempotent) and print a summary.
    Run {
        /// The day of the run (default today).
        #[arg(long)]
        today: Option<chrono::NaiveDate>,
        /// Levels and limits (TOML); the built-in defaults otherwise.
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(flatten)]
        common: CommonConfig,
    },
    /// Issue interest notes for invoices paid late (one per invoice) and print a summary.
    Notes {
        /// The notes' date (default today).
        #[arg(long)]
        on: Option<chrono::NaiveDate>,
        /// Also invoices still unpaid past due on that day.
        #[arg(long)]
        include_unpaid: bool,
        /// Levels and limits (TOML); the built-in defaults otherwise.
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(flatten)]
        common: CommonConfig,
    },
    /// Write the PDF of a reminder or interest note.
    Pdf {
        /// Its number, e.g. WZ/2026/11/000001.
        number: String,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        common: CommonConfig,
    },
    /// Write the KSeF FA(3) XML of an issued invoice or correction.
    Ksef {
        /// The invoice number, e.g. FW/2026/11/000001.
        number: String,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        common: CommonConfig,
    },
}

pub fn run(command: Command) -> ExitCode {
    super::block_on(dispatch(command))
}

fn common(command: &Command) -> &CommonConfig {
    match command {
        Command::Run { common, .. }
        | Command::Notes { common, .. }
        | Command::Pdf { common, .. }
        | Command::Ksef { common, .. } => common,
    }
}

fn config(path: Option<&PathBuf>) -> anyhow::Result<DunningConfig> {
    match path {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
            Ok(DunningConfig::from_toml(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?)
        }
        None => Ok(DunningConfig::default()),
    }
}

async fn dispatch(command: Command) -> anyhow::Result<()> {
    let services =
        ewoda_common::services::Services::start(&ewoda_common::services::ServiceOptions {
            mqtt_url: Some(String::new()),
            ..common(&command).service_options()
        })?;
    let pool = ewoda_common::db::connect(&services.database_url, 2).await?;
    ewoda_common::db::migrate(&pool).await?;
    let today = ewoda_common::time::today();
    let result = async {
        let pool = &pool;
        match command {
        Command::Run {
            today: day, config: path, ..
        } => {
            let cfg = config(path.as_ref())?;
            let day = day.unwrap_or(today);
            let r = dunning::run_dunning(pool, &cfg, day).await?;
            for n in &r.issued {
                println!(
                    "{}  customer {}  level {}  {} PLN",
                    n.number, n.customer_id, n.level, n.total
                );
            }
            for (customer, error) in &r.failed {
                println!("customer {customer}: {error}");
            }
            println!(
                "dunning {day}: {} customers overdue, {} reminders issued, {} already reminded, {} below minimum, {} failed",
                r.customers_checked,
                r.issued.len(),
                r.up_to_date,
                r.below_minimum,
                r.failed.len()
            );
            if !r.failed.is_empty() {
                anyhow::bail!("{} customers failed", r.failed.len());
            }
        }
        Command::Notes {
            on,
            include_unpaid,
            config: path,
            ..
        } => {
            let cfg = config(path.as_ref())?;
            let on = on.unwrap_or(today);
            let rates = ewoda_billing::rates::statutory_rates(&mut *pool.acquire().await?).await?;
            let r = dunning::issue_interest_notes(pool, &rates, &cfg, on, include_unpaid).await?;
            for n in &r.issued {
                println!(
                    "{}  customer {}  interest {}  compensation {}  total {} PLN",
                    n.number,
                    n.customer_id,
                    n.interest,
                    n.compensation_pln
                        .map_or_else(|| "-".to_string(), |c| c.to_string()),
                    n.total
                );
            }
            for (invoice, error) in &r.failed {
                println!("invoice {invoice}: {error}");
            }
            println!(
                "interest notes {on}: {} invoices late, {} notes issued, {} below minimum, {} failed",
                r.checked,
                r.issued.len(),
                r.below_minimum,
                r.failed.len()
            );
            if !r.failed.is_empty() {
                anyhow::bail!("{} invoices failed", r.failed.len());
            }
        }
        Command::Pdf { number, out, .. } => {
            let mut conn = pool.acquire().await?;
            let doc = dunning::load(&mut conn, &number).await?;
            let pdf = dunning::render_dunning_pdf(&InvoicePdfRenderer::new()?, &doc)?;
            std::fs::write(&out, pdf).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
            println!("{}: {}", number, out.display());
        }
        Command::Ksef { number, out, .. } => {
            let mut conn = pool.acquire().await?;
            let id = from_invoice::invoice_id(&mut conn, &number).await?;
            let xml = from_invoice::ksef_xml(&mut conn, id).await?;
            std::fs::write(&out, xml).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
            println!("{}: {}", number, out.display());
        }
        }
        anyhow::Ok(())
    }
    .await;
    pool.close().await;
    services.stop();
    result
}
