//! `ewoda bill --period YYYY-MM [--area CODE] [--issue]`: a billing run. Without `--issue` it
//! previews: computes the proposals and exceptions and stores them as a run in state preview
//! (issues nothing). `--approve RUN` freezes a stored preview; `--issue-run RUN` issues exactly
//! its stored proposals (refusing, with the list, those whose data changed since). `--issue`
//! does preview → approve → issue in one step for scripts, through the same stored preview.

use ewoda_billing::run::{self, RunOptions, RunPlan, RunSummary, SkippedContract};
use ewoda_common::config::CommonConfig;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The month to bill, e.g. 2026-10 (contracts whose billing cycle ends that month).
    #[arg(long, required_unless_present_any = ["approve", "issue_run"])]
    pub period: Option<String>,
    /// Only premises in this district (code).
    #[arg(long)]
    pub area: Option<String>,
    /// Preview, approve and issue in one step (otherwise only a stored preview).
    #[arg(long, conflicts_with_all = ["approve", "issue_run"])]
    pub issue: bool,
    /// Approve the stored preview of this run (a clerk reviewed its exceptions).
    #[arg(long, value_name = "RUN", conflicts_with = "issue_run")]
    pub approve: Option<i64>,
    /// Issue the stored proposals of this approved run.
    #[arg(long, value_name = "RUN")]
    pub issue_run: Option<i64>,
    /// Issue day (default today).
    #[arg(long)]
    pub issued_on: Option<chrono::NaiveDate>,
    /// Months of history an estimate averages.
    #[arg(long, default_value_t = 6)]
    pub estimate_months: u32,
    /// Exceptions (and skipped contracts) to list (the rest are counted).
    #[arg(long, default_value_t = 50)]
    pub show: usize,
    #[command(flatten)]
    pub common: CommonConfig,
}

pub fn run(args: Args) -> ExitCode {
    super::finish(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(bill(args))),
    )
}

async fn bill(args: Args) -> anyhow::Result<()> {
    let services =
        ewoda_common::services::Services::start(&ewoda_common::services::ServiceOptions {
            mqtt_url: Some(String::new()),
            ..args.common.service_options()
        })?;
    let pool = ewoda_common::db::connect(&services.database_url, 4).await?;
    ewoda_common::db::migrate(&pool).await?;
    let result = bill_with(&pool, &args).await;
    pool.close().await;
    services.stop();
    result
}

/// The run options of `--period`, or of the stored run `--issue-run` names.
async fn options(pool: &sqlx::PgPool, args: &Args) -> anyhow::Result<RunOptions> {
    let today = ewoda_common::time::local_day(chrono::Utc::now());
    let (period, area) = match (args.issue_run, &args.period) {
        (Some(run_id), _) => {
            let mut conn = pool.acquire().await?;
            let info = run::run_info(&mut conn, run_id).await?;
            (info.month.from().format("%Y-%m").to_string(), info.area)
        }
        (None, Some(p)) => (p.clone(), args.area.clone()),
        (None, None) => anyhow::bail!("--period is required"),
    };
    Ok(RunOptions {
        area,
        issued_on: args.issued_on.unwrap_or(today),
        estimate_months: args.estimate_months,
        ..RunOptions::for_month(&period, today)?
    })
}

async fn bill_with(pool: &sqlx::PgPool, args: &Args) -> anyhow::Result<()> {
    if let Some(run_id) = args.approve {
        run::approve(pool, run_id).await?;
        println!("run {run_id}: approved; issue it with `ewoda bill --issue-run {run_id}`");
        return Ok(());
    }
    let opts = options(pool, args).await?;
    if let Some(run_id) = args.issue_run {
        let (bar, mut progress) = progress_bar();
        let summary = run::issue(pool, run_id, &opts, &mut progress).await;
        bar.finish_and_clear();
        print_summary(&summary?, args.show);
    } else if args.issue {
        let (bar, mut progress) = progress_bar();
        let outcome = run::bill_period(pool, &opts, &mut progress).await;
        bar.finish_and_clear();
        let outcome = outcome?;
        if outcome.accounts_assigned > 0 {
            println!("assigned {} virtual accounts", outcome.accounts_assigned);
        }
        if !outcome.reconciled.is_empty() {
            println!(
                "reconciled {} earlier estimated invoices with corrections",
                outcome.reconciled.len()
            );
        }
        print_summary(&outcome.summary, args.show);
    } else {
        let (run_id, plan) = run::create_preview(pool, &opts).await?;
        print_plan(&plan, args.show);
        println!("preview only: nothing issued (add --issue to issue)");
        println!(
            "run {run_id}: preview stored; approve with `ewoda bill --approve {run_id}`, then \
             `ewoda bill --issue-run {run_id}`"
        );
    }
    Ok(())
}

/// A progress bar and the `progress(done, total)` callback that feeds it.
fn progress_bar() -> (
    indicatif::ProgressBar,
    impl FnMut(usize, usize) + Send + 'static,
) {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} invoices {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let feed = bar.clone();
    (bar, move |done: usize, total: usize| {
        feed.set_length(total as u64);
        feed.set_position(done as u64);
    })
}

fn print_skipped(title: &str, list: &[SkippedContract], show: usize) {
    if list.is_empty() {
        return;
    }
    println!("{title}: {}", list.len());
    for s in list.iter().take(show) {
        println!(
            "  contract {:<14} customer {:<8} {}",
            s.contract_number, s.customer_id, s.reason
        );
    }
    if list.len() > show {
        println!("  … and {} more", list.len() - show);
    }
}

fn print_summary(summary: &RunSummary, show: usize) {
    print_plan(&summary.plan, show);
    print_skipped(
        "skipped (already invoiced by another run)",
        &summary.skipped,
        show,
    );
    print_skipped(
        "refused (data changed since the preview; preview again)",
        &summary.refused,
        show,
    );
    println!(
        "run {}: issued {} invoices ({} lines), gross {} PLN{}",
        summary.run_id,
        summary.issued,
        summary.lines,
        summary.gross,
        summary
            .numbers
            .as_ref()
            .map(|(a, b)| format!(", numbers {a} … {b}"))
            .unwrap_or_default()
    );
}

fn print_plan(plan: &RunPlan, show: usize) {
    println!(
        "period {} – {}{}: {} contracts, {} not due this month, {} already invoiced, {} invoices proposed, gross {} PLN",
        plan.month.from(),
        plan.month.to(),
        plan.area.as_deref().map(|a| format!(" (area {a})")).unwrap_or_default(),
        plan.contracts,
        plan.not_due,
        plan.already_invoiced,
        plan.proposals.len(),
        plan.total_gross()
    );
    let counts: Vec<String> = plan
        .exception_counts()
        .iter()
        .map(|(k, n)| {
            format!(
                "{} {n}{}",
                k.as_str(),
                if k.held() { " (held)" } else { "" }
            )
        })
        .collect();
    println!(
        "exceptions: {}",
        if counts.is_empty() {
            "none".into()
        } else {
            counts.join(", ")
        }
    );
    for e in plan.exceptions.iter().take(show) {
        println!(
            "  {:<16} contract {:<14} customer {:<8} {}",
            e.kind.as_str(),
            e.contract_number,
            e.customer_id,
            e.message
        );
    }
    if plan.exceptions.len() > show {
        println!("  … and {} more", plan.exceptions.len() - show);
    }
}

/// `ewoda bench billing --customers N`: a fresh database on DATABASE_URL's server (dropped
/// afterwards) or a private cluster, N synthetic customers, one whole run with issue.
pub fn bench_billing(customers: usize) -> ExitCode {
    super::block_on(bench_billing_async(customers))
}

async fn bench_billing_async(customers: usize) -> anyhow::Result<()> {
    let r = super::with_scratch_database(|pool| async move {
        Ok(ewoda_billing::bench::billing(&pool, customers).await?)
    })
    .await?;
    println!(
        "seeded {} customers in {:.2} s",
        r.customers,
        r.seed.as_secs_f64()
    );
    for line in r.breakdown() {
        println!("{line}");
    }
    let counts: Vec<String> = r
        .summary
        .plan
        .exception_counts()
        .iter()
        .map(|(k, n)| format!("{} {n}", k.as_str()))
        .collect();
    println!(
        "issued {} invoices, {} lines, gross {} PLN; exceptions: {}",
        r.summary.issued,
        r.summary.lines,
        r.summary.gross,
        counts.join(", ")
    );
    println!(
        "billing: {} customers in {:.2} s",
        r.customers,
        r.run.as_secs_f64()
    );
    Ok(())
}

/// `ewoda bench pdf`: renders a typical invoice 500 times.
pub fn bench_pdf() -> ExitCode {
    super::finish((|| {
        let r = ewoda_billing::bench::pdf(500)?;
        println!("{} renders, {} bytes each", r.iterations, r.bytes);
        println!(
            "pdf: p50 {:.1} ms, p99 {:.1} ms",
            r.p50.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3
        );
        Ok(())
    })())
}
