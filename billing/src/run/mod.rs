//! The billing run: for a month (and optionally one district) prices every active contract
//! whose billing cycle ends that month — volume from stored readings along the read chain,
//! estimates or norms ([`crate::readings`], `chain`), prices from [`crate::quote::quote`] —
//! in stages: `load` (everything in bulk, one query per kind), `price` (proposals and
//! exceptions), `store` (the preview stored as a run; approval freezes it), [`issue`] (posts
//! the stored proposals per batch of customers, one transaction each, under a per-month lock
//! with a re-check across runs; refuses proposals whose input changed; `post` writes the
//! invoices set-based from the stored rows) and `reconcile`
//! (estimates corrected once the real reading arrives). A contract gets one sales invoice per
//! period whatever the runs; `invoice_once_per_contract_period` backs that up.

mod chain;
mod issue;
mod load;
mod post;
mod price;
mod reconcile;
mod store;

pub use issue::issue;
pub use reconcile::{reconcile_estimate, reconcile_estimates};
pub use store::{create_preview, run_info, RunInfo};

use crate::invoice::issue::IssuedInvoice;
use crate::quote::Quote;
use crate::readings::MeterReads;
use crate::store_error::StoreError;
use crate::tariff::Period;
use chrono::{Datelike, Months, NaiveDate};
use rust_decimal::Decimal;
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::time::Duration;

/// Settings of a billing run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOptions {
    /// The calendar month the run is for (cycles ending this month are billed).
    pub month: Period,
    /// Only premises in this district (code), or all.
    pub area: Option<String>,
    /// Issue day of the invoices.
    pub issued_on: NaiveDate,
    /// Days from issue to due date.
    pub due_days: u32,
    /// Months of history an estimate averages.
    pub estimate_months: u32,
    /// A measured volume above this × the average for the period is implausible (held).
    pub implausible_factor: Decimal,
    /// How far from a period bound a reading may be and still count, in days.
    pub read_tolerance_days: u32,
    /// Customers per issuing transaction.
    pub batch_customers: usize,
}

impl RunOptions {
    /// Defaults for `month` ("2026-10"): issued today, due in 14 days, 6 months of history,
    /// implausible above 3×, reads within 7 days of a bound, 2,000 customers per batch.
    pub fn for_month(month: &str, today: NaiveDate) -> Result<Self, StoreError> {
        let bad = || StoreError::invalid("period", format!("{month:?} is not YYYY-MM"));
        let (y, m) = month.split_once('-').ok_or_else(bad)?;
        let (y, m): (i32, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        let first = NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(bad)?;
        Ok(RunOptions {
            month: month_span(first, 1).ok_or_else(bad)?,
            area: None,
            issued_on: today,
            due_days: 14,
            estimate_months: 6,
            implausible_factor: Decimal::from(3),
            read_tolerance_days: 7,
            batch_customers: 2_000,
        })
    }

    /// The calendar month of the run.
    pub fn month_period(&self) -> Period {
        self.month
    }

    /// The due day of invoices issued with these options.
    pub fn due_on(&self) -> NaiveDate {
        self.issued_on
            .checked_add_days(chrono::Days::new(u64::from(self.due_days)))
            .unwrap_or(self.issued_on)
    }
}

/// `months` calendar months ending with the month of `last_month`.
fn month_span(last_month: NaiveDate, months: u32) -> Option<Period> {
    let first_of_last = last_month.with_day(1)?;
    let from = first_of_last.checked_sub_months(Months::new(months.saturating_sub(1)))?;
    let to = first_of_last
        .checked_add_months(Months::new(1))?
        .pred_opt()?;
    Period::new(from, to).ok()
}

/// The contract's billing period for a run month, if its cycle (aligned to January) ends then.
pub fn cycle_period(run_month: NaiveDate, billing_months: u32) -> Option<Period> {
    let k = billing_months.max(1);
    if run_month.month() % k == 0 || k == 1 {
        month_span(run_month, k)
    } else {
        None
    }
}

/// What a proposed invoice's volume rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeBasis {
    /// Meter reads.
    Measured,
    /// An estimate (flagged on the invoice).
    Estimated,
    /// A norm (no meter).
    Norm,
}

/// An invoice the run would issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// The contract.
    pub contract_id: i64,
    /// Its number.
    pub contract_number: String,
    /// The buyer.
    pub customer_id: i64,
    /// The billed period.
    pub period: Period,
    /// Where the volume comes from.
    pub basis: VolumeBasis,
    /// The priced invoice.
    pub quote: Quote,
    /// Per meter, the reads the volume runs between (stored with the invoice).
    pub reads: Vec<MeterReads>,
    /// A digest of the input (contract, tariff, reads, history); issue refuses the proposal
    /// when the data gives another.
    pub fingerprint: String,
}

/// Why a contract needs a look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExceptionKind {
    /// Billed on an estimate (issued, flagged).
    Estimated,
    /// Far above the average (held).
    Implausible,
    /// No reading and no history to estimate from, or no norm (held).
    MissingReading,
    /// A register went down (held).
    Negative,
    /// Inconsistent data: tariff, reads, sub-meter above the volume (held).
    Invalid,
}

impl ExceptionKind {
    /// Short name for listings.
    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionKind::Estimated => "estimated",
            ExceptionKind::Implausible => "implausible",
            ExceptionKind::MissingReading => "missing_reading",
            ExceptionKind::Negative => "negative",
            ExceptionKind::Invalid => "invalid",
        }
    }

    /// Whether the contract is left out of the issue (all but estimates).
    pub fn held(self) -> bool {
        self != ExceptionKind::Estimated
    }
}

/// One exception of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunException {
    /// The contract.
    pub contract_id: i64,
    /// Its number.
    pub contract_number: String,
    /// The customer.
    pub customer_id: i64,
    /// What is wrong.
    pub kind: ExceptionKind,
    /// Details for the clerk.
    pub message: String,
}

/// Where the time of a run went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// Loading contracts, tariffs, installations, reads and history.
    pub load: Duration,
    /// Computing volumes and prices.
    pub compute: Duration,
    /// Writing invoices, lines and postings.
    pub issue: Duration,
}

/// Wall time per named step of a stage (store, re-check, posting), summed over batches, in
/// the order the steps first ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Steps(pub Vec<(&'static str, Duration)>);

impl Steps {
    /// Adds `spent` to the step `name`.
    pub fn add(&mut self, name: &'static str, spent: Duration) {
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some((_, d)) => *d += spent,
            None => self.0.push((name, spent)),
        }
    }

    /// The steps as `name 1.23 s, …`.
    pub fn describe(&self) -> String {
        self.0
            .iter()
            .map(|(n, d)| format!("{n} {:.2} s", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The outcome of a preview: what would be issued and what needs a look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPlan {
    /// The run month.
    pub month: Period,
    /// District filter.
    pub area: Option<String>,
    /// Contracts active in the month (in the area).
    pub contracts: usize,
    /// Contracts whose cycle does not end this month.
    pub not_due: usize,
    /// Contracts already invoiced for an overlapping period.
    pub already_invoiced: usize,
    /// Invoices to issue (estimates included, held exceptions excluded).
    pub proposals: Vec<Proposal>,
    /// Exceptions (held ones have no proposal).
    pub exceptions: Vec<RunException>,
    /// Time spent.
    pub timings: Timings,
    /// Time per step of storing the preview (a stored preview) or of the issue (the re-check
    /// plan an issue returns).
    pub steps: Steps,
}

impl RunPlan {
    /// Σ gross of the proposals.
    pub fn total_gross(&self) -> Decimal {
        self.proposals.iter().map(|p| p.quote.gross).sum()
    }

    /// Exceptions counted by kind.
    pub fn exception_counts(&self) -> BTreeMap<ExceptionKind, usize> {
        let mut m = BTreeMap::new();
        for e in &self.exceptions {
            *m.entry(e.kind).or_insert(0) += 1;
        }
        m
    }
}

/// Computes what a run would issue, writing nothing.
pub async fn preview(pool: &PgPool, opts: &RunOptions) -> Result<RunPlan, StoreError> {
    price::plan(pool, opts).await
}

/// Opens a billing run in state `preview` for the month and area — its proposals and
/// exceptions computed and stored — and returns its id.
pub async fn create_run(pool: &PgPool, opts: &RunOptions) -> Result<i64, StoreError> {
    Ok(store::create_preview(pool, opts).await?.0)
}

/// Approves a run in preview (a clerk has reviewed the exceptions).
pub async fn approve(pool: &PgPool, run_id: i64) -> Result<(), StoreError> {
    let done = sqlx::query(
        "update billing_run set state = 'approved', approved_at = now()
         where billing_run_id = $1 and state = 'preview'",
    )
    .bind(run_id)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        let state: Option<String> =
            sqlx::query_scalar("select state from billing_run where billing_run_id = $1")
                .bind(run_id)
                .fetch_optional(pool)
                .await?;
        return match state {
            None => Err(StoreError::not_found(format!("billing run {run_id}"))),
            Some(s) if s == "approved" => Ok(()),
            Some(s) => Err(StoreError::invalid(
                "billing_run",
                format!("run {run_id} is {s}, not preview"),
            )),
        };
    }
    Ok(())
}

/// What an issue did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    /// The run.
    pub run_id: i64,
    /// The plan it issued from.
    pub plan: RunPlan,
    /// Invoices issued now.
    pub issued: usize,
    /// Their lines.
    pub lines: usize,
    /// Σ gross issued now.
    pub gross: Decimal,
    /// First and last number issued.
    pub numbers: Option<(String, String)>,
    /// Stored proposals not issued because the contract already has its invoice (another run).
    pub skipped: Vec<SkippedContract>,
    /// Stored proposals refused because their input changed since the preview.
    pub refused: Vec<SkippedContract>,
}

/// A stored proposal that issue did not post, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedContract {
    /// The contract.
    pub contract_id: i64,
    /// Its number.
    pub contract_number: String,
    /// The customer.
    pub customer_id: i64,
    /// Why.
    pub reason: String,
}

/// What [`bill_period`] did.
#[derive(Debug, Clone)]
pub struct BillOutcome {
    /// Customers who got their virtual account now.
    pub accounts_assigned: u64,
    /// The run.
    pub summary: RunSummary,
    /// Earlier estimated invoices reconciled by a correction now that readings exist.
    pub reconciled: Vec<IssuedInvoice>,
}

/// A whole run without a clerk in between: gives every customer a virtual account (invoices
/// print it), reconciles earlier estimated invoices whose real readings have arrived since (a
/// KOR each, so the new period opens at the real read), then previews the run (stored),
/// approves and issues it — the same stored preview a clerk would approve. What
/// `ewoda bill --issue` and the demo do.
pub async fn bill_period(
    pool: &PgPool,
    opts: &RunOptions,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<BillOutcome, StoreError> {
    let mut conn = pool.acquire().await?;
    let accounts_assigned = crate::virtual_accounts::assign_all(&mut conn).await?;
    drop(conn);
    let reconciled = reconcile_estimates(pool, opts).await?;
    let run_id = create_run(pool, opts).await?;
    approve(pool, run_id).await?;
    let summary = issue(pool, run_id, opts, progress).await?;
    Ok(BillOutcome {
        accounts_assigned,
        summary,
        reconciled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn cycles_align_to_january() {
        let oct = d("2026-10-01");
        assert_eq!(
            cycle_period(oct, 1),
            Some(Period::new(d("2026-10-01"), d("2026-10-31")).unwrap())
        );
        assert_eq!(
            cycle_period(oct, 2),
            Some(Period::new(d("2026-09-01"), d("2026-10-31")).unwrap())
        );
        assert_eq!(cycle_period(oct, 3), None);
        assert_eq!(
            cycle_period(d("2026-12-01"), 12),
            Some(Period::new(d("2026-01-01"), d("2026-12-31")).unwrap())
        );
        assert_eq!(
            cycle_period(d("2026-06-01"), 6),
            Some(Period::new(d("2026-01-01"), d("2026-06-30")).unwrap())
        );
    }

    #[test]
    fn period_argument() {
        let o = RunOptions::for_month("2026-02", d("2026-03-02")).unwrap();
        assert_eq!(
            o.month_period(),
            Period::new(d("2026-02-01"), d("2026-02-28")).unwrap()
        );
        assert!(RunOptions::for_month("2026-13", d("2026-03-02")).is_err());
        assert!(RunOptions::for_month("october", d("2026-03-02")).is_err());
    }
}
