//! The billing run: for a month (and optionally one district) prices every active contract
//! whose billing cycle ends that month — volume from stored readings, estimates or norms
//! ([`crate::readings`]), prices from [`crate::quote::quote`] — then previews (proposed invoices
//! and exceptions), approves and issues. Loads everything in bulk (one query per kind) and
//! issues per batch of customers in one transaction each. Idempotent: a contract already
//! invoiced for an overlapping period is skipped, and `invoice_once_per_run` backs that up.

use crate::calc_error::CalcError;
use crate::invoice::correction;
use crate::invoice::issue::{issue_many, InvoiceDraft, IssuedInvoice};
use crate::quote::{quote, CustomerKind, Quote, QuoteInput};
use crate::readings::{
    self, Basis, BoundReads, Installation, MeterRole, StoredRead, VolumeProblem,
};
use crate::store_error::StoreError;
use crate::tariff::{Fee, FeePer, Period, Tariff, TariffVersion};
use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::{PgConnection, PgPool, Row};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

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

/// A contract as loaded for a run.
#[derive(Debug, Clone)]
struct ContractRow {
    contract_id: i64,
    number: String,
    customer_id: i64,
    premises_id: i64,
    tariff_group_id: i64,
    water: bool,
    sewage: bool,
    billing_months: u32,
    valid_from: NaiveDate,
    valid_to: Option<NaiveDate>,
    household: bool,
    persons: Option<i16>,
    einvoice: bool,
}

/// Which contracts to load.
enum Scope<'a> {
    Area(Option<&'a str>),
    Contracts(&'a [i64]),
}

async fn load_contracts(
    conn: &mut PgConnection,
    scope: &Scope<'_>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<ContractRow>, StoreError> {
    let (area, ids): (Option<&str>, Option<&[i64]>) = match scope {
        Scope::Area(a) => (*a, None),
        Scope::Contracts(ids) => (None, Some(ids)),
    };
    if let Some(code) = area {
        let known: bool =
            sqlx::query_scalar("select exists (select 1 from district where code = $1)")
                .bind(code)
                .fetch_one(&mut *conn)
                .await?;
        if !known {
            return Err(StoreError::invalid(
                "area",
                format!("no district with code {code:?}"),
            ));
        }
    }
    let rows = sqlx::query(
        "select c.contract_id, c.number, c.customer_id, c.premises_id, c.tariff_group_id, c.water,
                c.sewage, c.billing_months, c.valid_from, c.valid_to, cu.kind = 'household',
                p.persons, cu.einvoice
         from contract c
         join customer cu using (customer_id)
         join premises p using (premises_id)
         left join district d on d.district_id = p.district_id
         where c.valid_from <= $2 and (c.valid_to is null or c.valid_to >= $1)
           and ($3::text is null or d.code = $3)
           and ($4::bigint[] is null or c.contract_id = any($4))
         order by c.customer_id, c.contract_id",
    )
    .bind(from)
    .bind(to)
    .bind(area)
    .bind(ids)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(ContractRow {
                contract_id: r.try_get(0)?,
                number: r.try_get(1)?,
                customer_id: r.try_get(2)?,
                premises_id: r.try_get(3)?,
                tariff_group_id: r.try_get(4)?,
                water: r.try_get(5)?,
                sewage: r.try_get(6)?,
                billing_months: u32::try_from(r.try_get::<i16, _>(7)?).unwrap_or(1),
                valid_from: r.try_get(8)?,
                valid_to: r.try_get(9)?,
                household: r.try_get(10)?,
                persons: r.try_get(11)?,
                einvoice: r.try_get(12)?,
            })
        })
        .collect()
}

/// A tariff version's validity and norm volume per person-month.
type NormSpan = (NaiveDate, Option<NaiveDate>, Option<Decimal>);

/// Tariff groups with their versions' norms: group → (tariff, [(from, to, norm)]).
struct Tariffs {
    groups: HashMap<i64, Result<Tariff, CalcError>>,
    norms: HashMap<i64, Vec<NormSpan>>,
}

impl Tariffs {
    fn norm_on(&self, group: i64, day: NaiveDate) -> Option<Decimal> {
        self.norms
            .get(&group)?
            .iter()
            .find(|(f, t, _)| *f <= day && t.is_none_or(|t| day <= t))
            .and_then(|(_, _, n)| *n)
    }
}

async fn load_tariffs(conn: &mut PgConnection) -> Result<Tariffs, StoreError> {
    let fee_rows = sqlx::query(
        "select tariff_version_id, name, amount, per from tariff_fee order by tariff_version_id, tariff_fee_id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut fees: HashMap<i64, Vec<Fee>> = HashMap::new();
    for r in fee_rows {
        let per: String = r.try_get(3)?;
        fees.entry(r.try_get(0)?).or_default().push(Fee {
            name: r.try_get(1)?,
            amount: r.try_get(2)?,
            per: if per == "period" {
                FeePer::Period
            } else {
                FeePer::Month
            },
        });
    }
    let rows = sqlx::query(
        "select tariff_version_id, tariff_group_id, valid_from, valid_to, water_m3, sewage_m3,
                vat_percent, norm_m3_per_person_month, einvoice_discount
         from tariff_version order by tariff_group_id, valid_from",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut versions: HashMap<i64, Vec<TariffVersion>> = HashMap::new();
    let mut norms: HashMap<i64, Vec<NormSpan>> = HashMap::new();
    for r in rows {
        let id: i64 = r.try_get(0)?;
        let group: i64 = r.try_get(1)?;
        let from: NaiveDate = r.try_get(2)?;
        let to: Option<NaiveDate> = r.try_get(3)?;
        norms
            .entry(group)
            .or_default()
            .push((from, to, r.try_get(7)?));
        versions.entry(group).or_default().push(TariffVersion {
            from,
            to,
            // Stored with the column's scale (6.9500); priced as written in the tariff (6.95),
            // so the run's output is the same as `ewoda billing quote`'s.
            water_m3: r.try_get::<Decimal, _>(4)?.normalize(),
            sewage_m3: r.try_get::<Decimal, _>(5)?.normalize(),
            vat_percent: r.try_get::<Decimal, _>(6)?.normalize(),
            fees: fees.remove(&id).unwrap_or_default(),
            einvoice_discount: r.try_get::<Decimal, _>(8)?.normalize(),
        });
    }
    Ok(Tariffs {
        groups: versions
            .into_iter()
            .map(|(g, v)| (g, Tariff::new(v)))
            .collect(),
        norms,
    })
}

async fn load_installations(
    conn: &mut PgConnection,
    premises: &[i64],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<HashMap<i64, Vec<Installation>>, StoreError> {
    let rows = sqlx::query(
        "select mi.premises_id, mi.meter_id, mi.role, mi.installed_at, mi.installed_read_ml,
                mi.removed_at, mi.removed_read_ml, m.register_digits
         from meter_installation mi join meter m using (meter_id)
         where mi.premises_id = any($1) and mi.installed_at < $3
           and (mi.removed_at is null or mi.removed_at > $2)",
    )
    .bind(premises)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?;
    let mut out: HashMap<i64, Vec<Installation>> = HashMap::new();
    for r in rows {
        let role: String = r.try_get(2)?;
        let Some(role) = MeterRole::parse(&role) else {
            continue;
        };
        out.entry(r.try_get(0)?).or_default().push(Installation {
            meter_id: r.try_get(1)?,
            role,
            installed_at: r.try_get(3)?,
            installed_read_ml: r.try_get(4)?,
            removed_at: r.try_get(5)?,
            removed_read_ml: r.try_get(6)?,
            register_digits: u32::try_from(r.try_get::<i16, _>(7)?).unwrap_or(5),
        });
    }
    Ok(out)
}

/// The reads nearest the bounds of each (meter, period) — one index probe per meter and bound.
async fn load_bound_reads(
    conn: &mut PgConnection,
    wanted: &[(i64, Period)],
    tolerance_days: u32,
) -> Result<HashMap<(i64, NaiveDate, NaiveDate), BoundReads>, StoreError> {
    let mut meters = Vec::with_capacity(wanted.len());
    let mut starts = Vec::with_capacity(wanted.len());
    let mut ends = Vec::with_capacity(wanted.len());
    for (m, p) in wanted {
        let (s, e) = readings::bounds(*p);
        meters.push(*m);
        starts.push(s);
        ends.push(e);
    }
    let tol = chrono::Duration::days(i64::from(tolerance_days));
    if meters.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query(
        // $5/$6 bound the whole window by constants so the planner prunes the partitions
        // outside it; the per-meter bounds then probe the primary key.
        "select x.n, bs.read_at, bs.volume_ml, a_s.read_at, a_s.volume_ml,
                be.read_at, be.volume_ml, ae.read_at, ae.volume_ml
         from unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[]) with ordinality
              as x(meter_id, s, e, n)
         left join lateral (select read_at, volume_ml from reading r
                            where r.meter_id = x.meter_id and r.read_at between $5 and $6
                              and r.read_at <= x.s and r.read_at >= x.s - $4
                            order by read_at desc limit 1) bs on true
         left join lateral (select read_at, volume_ml from reading r
                            where bs.read_at is null and r.meter_id = x.meter_id
                              and r.read_at between $5 and $6
                              and r.read_at > x.s and r.read_at <= x.s + $4 and r.read_at < x.e
                            order by read_at limit 1) a_s on true
         left join lateral (select read_at, volume_ml from reading r
                            where r.meter_id = x.meter_id and r.read_at between $5 and $6
                              and r.read_at <= x.e and r.read_at >= x.e - $4 and r.read_at > x.s
                            order by read_at desc limit 1) be on true
         left join lateral (select read_at, volume_ml from reading r
                            where be.read_at is null and r.meter_id = x.meter_id
                              and r.read_at between $5 and $6
                              and r.read_at > x.e and r.read_at <= x.e + $4
                            order by read_at limit 1) ae on true",
    )
    .bind(&meters)
    .bind(&starts)
    .bind(&ends)
    .bind(tol)
    .bind(starts.iter().min().map(|s| *s - tol))
    .bind(ends.iter().max().map(|e| *e + tol))
    .fetch_all(conn)
    .await?;
    let pick = |r: &sqlx::postgres::PgRow, i: usize| -> Result<Option<StoredRead>, sqlx::Error> {
        let at: Option<DateTime<Utc>> = r.try_get(i)?;
        let ml: Option<i64> = r.try_get(i + 1)?;
        Ok(at
            .zip(ml)
            .map(|(at, volume_ml)| StoredRead { at, volume_ml }))
    };
    let mut out = HashMap::with_capacity(rows.len());
    for r in &rows {
        let n: i64 = r.try_get(0)?;
        let Some(key) = usize::try_from(n - 1).ok().and_then(|i| wanted.get(i)) else {
            continue;
        };
        out.insert(
            (key.0, key.1.from(), key.1.to()),
            BoundReads {
                before_start: pick(r, 1)?,
                after_start: pick(r, 3)?,
                before_end: pick(r, 5)?,
                after_end: pick(r, 7)?,
            },
        );
    }
    Ok(out)
}

/// Monthly consumption (m³) of each premises's main meters, by month start.
async fn load_history(
    conn: &mut PgConnection,
    premises: &[i64],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<HashMap<i64, BTreeMap<NaiveDate, Decimal>>, StoreError> {
    let rows = sqlx::query(
        "select mi.premises_id, date_trunc('month', d.day)::date, sum(d.consumption_ml)::bigint
         from reading_daily d
         join meter_installation mi on mi.meter_id = d.meter_id and mi.role = 'main'
         where mi.premises_id = any($1) and d.day >= $2 and d.day < $3
         group by 1, 2",
    )
    .bind(premises)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?;
    let mut out: HashMap<i64, BTreeMap<NaiveDate, Decimal>> = HashMap::new();
    for r in rows {
        out.entry(r.try_get(0)?)
            .or_default()
            .insert(r.try_get(1)?, readings::ml_to_m3(r.try_get(2)?));
    }
    Ok(out)
}

/// Everything a plan is computed from, loaded in bulk.
struct Loaded {
    contracts: Vec<(ContractRow, Period)>,
    not_due: usize,
    already_invoiced: usize,
    tariffs: Tariffs,
    installations: HashMap<i64, Vec<Installation>>,
    reads: HashMap<(i64, NaiveDate, NaiveDate), BoundReads>,
    history: HashMap<i64, BTreeMap<NaiveDate, Decimal>>,
}

async fn load(
    conn: &mut PgConnection,
    scope: &Scope<'_>,
    periods: &dyn Fn(&ContractRow) -> Option<Period>,
    window: Period,
    opts: &RunOptions,
) -> Result<Loaded, StoreError> {
    let t = Instant::now();
    let all = load_contracts(conn, scope, window.from(), window.to()).await?;
    tracing::debug!(
        contracts = all.len(),
        ms = t.elapsed().as_millis() as u64,
        "loaded contracts"
    );
    let mut not_due = 0;
    let mut due: Vec<(ContractRow, Period)> = Vec::with_capacity(all.len());
    for c in all {
        let clipped = periods(&c).and_then(|p| {
            let from = p.from().max(c.valid_from);
            let to = c.valid_to.map_or(p.to(), |t| t.min(p.to()));
            Period::new(from, to).ok()
        });
        match clipped {
            Some(p) => due.push((c, p)),
            None => not_due += 1,
        }
    }
    let ids: Vec<i64> = due.iter().map(|(c, _)| c.contract_id).collect();
    let invoiced = sqlx::query(
        "select contract_id, period_from, period_to from invoice
         where kind = 'VAT' and contract_id = any($1) and period_to >= $2",
    )
    .bind(&ids)
    .bind(window.from())
    .fetch_all(&mut *conn)
    .await?;
    let mut done: HashMap<i64, Vec<(NaiveDate, NaiveDate)>> = HashMap::new();
    for r in invoiced {
        done.entry(r.try_get(0)?)
            .or_default()
            .push((r.try_get(1)?, r.try_get(2)?));
    }
    let before = due.len();
    due.retain(|(c, p)| {
        done.get(&c.contract_id)
            .is_none_or(|v| !v.iter().any(|(f, t)| *f <= p.to() && *t >= p.from()))
    });
    let already_invoiced = before - due.len();

    tracing::debug!(
        ms = t.elapsed().as_millis() as u64,
        "loaded invoiced periods"
    );
    let tariffs = load_tariffs(conn).await?;
    let mut premises: Vec<i64> = due.iter().map(|(c, _)| c.premises_id).collect();
    premises.sort_unstable();
    premises.dedup();
    let (earliest, latest) = due
        .iter()
        .fold((window.to(), window.from()), |(a, b), (_, p)| {
            (a.min(p.from()), b.max(p.to()))
        });
    let span = Period::new(earliest.min(latest), latest.max(earliest))?;
    let (s, e) = readings::bounds(span);
    let installations = load_installations(conn, &premises, s, e).await?;
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "loaded installations");
    let mut wanted: Vec<(i64, Period)> = Vec::new();
    for (c, p) in &due {
        for i in installations.get(&c.premises_id).into_iter().flatten() {
            wanted.push((i.meter_id, *p));
        }
    }
    wanted.sort_unstable_by_key(|(m, p)| (*m, p.from(), p.to()));
    wanted.dedup();
    let reads = load_bound_reads(conn, &wanted, opts.read_tolerance_days).await?;
    tracing::debug!(
        meters = wanted.len(),
        ms = t.elapsed().as_millis() as u64,
        "loaded bound reads"
    );
    let history_from = earliest
        .checked_sub_months(Months::new(opts.estimate_months))
        .unwrap_or(earliest);
    let history = load_history(conn, &premises, history_from, latest).await?;
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "loaded history");
    Ok(Loaded {
        contracts: due,
        not_due,
        already_invoiced,
        tariffs,
        installations,
        reads,
        history,
    })
}

/// Prices one contract's period from loaded data: a proposal, an exception, or both (estimate).
fn price(
    c: &ContractRow,
    period: Period,
    l: &Loaded,
    opts: &RunOptions,
) -> (Option<Proposal>, Option<RunException>) {
    let exception = |kind: ExceptionKind, message: String| RunException {
        contract_id: c.contract_id,
        contract_number: c.number.clone(),
        customer_id: c.customer_id,
        kind,
        message,
    };
    let Some(tariff) = l.tariffs.groups.get(&c.tariff_group_id) else {
        return (
            None,
            Some(exception(
                ExceptionKind::Invalid,
                format!("tariff group {} has no versions", c.tariff_group_id),
            )),
        );
    };
    let tariff = match tariff {
        Ok(t) => t,
        Err(e) => {
            return (
                None,
                Some(exception(
                    ExceptionKind::Invalid,
                    format!("tariff group {}: {e}", c.tariff_group_id),
                )),
            )
        }
    };
    if !c.water {
        return (
            None,
            Some(exception(
                ExceptionKind::Invalid,
                "sewage-only contracts are billed by a clerk".into(),
            )),
        );
    }
    let months = u32::try_from(period.months().len()).unwrap_or(1);
    // Average history of the months before the period.
    let history: Vec<Decimal> = l
        .history
        .get(&c.premises_id)
        .map(|h| {
            let from = period
                .from()
                .checked_sub_months(Months::new(opts.estimate_months))
                .unwrap_or(period.from());
            h.range(from..period.from()).map(|(_, v)| *v).collect()
        })
        .unwrap_or_default();
    let installs: &[Installation] = l
        .installations
        .get(&c.premises_id)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let reads: HashMap<i64, BoundReads> = installs
        .iter()
        .filter_map(|i| {
            l.reads
                .get(&(i.meter_id, period.from(), period.to()))
                .map(|r| (i.meter_id, *r))
        })
        .collect();
    let mut notes = None;
    let (volume, sub_meter_m3, basis) = match readings::basis(period, installs, &reads) {
        Ok(Basis::Measured(m)) => (m.source, m.sub_meter_m3, VolumeBasis::Measured),
        Ok(Basis::NoMeter) => {
            let norm = l.tariffs.norm_on(c.tariff_group_id, period.to());
            match readings::norm(c.persons, norm, months) {
                Some(v) => (v, None, VolumeBasis::Norm),
                None => {
                    return (
                        None,
                        Some(exception(
                            ExceptionKind::MissingReading,
                            "no meter, and no persons or norm to bill by".into(),
                        )),
                    )
                }
            }
        }
        Err(problem @ VolumeProblem::MissingReading { .. }) => {
            match readings::estimate(&history, months) {
                Some(v) => {
                    notes = Some(exception(
                        ExceptionKind::Estimated,
                        format!("{problem}; estimated from {} months", history.len()),
                    ));
                    (v, None, VolumeBasis::Estimated)
                }
                None => {
                    return (
                        None,
                        Some(exception(
                            ExceptionKind::MissingReading,
                            format!("{problem}; no history to estimate from"),
                        )),
                    )
                }
            }
        }
        Err(p @ VolumeProblem::Negative { .. }) => {
            return (
                None,
                Some(exception(ExceptionKind::Negative, p.to_string())),
            )
        }
        Err(p) => return (None, Some(exception(ExceptionKind::Invalid, p.to_string()))),
    };
    let input = QuoteInput {
        customer_kind: if c.household {
            CustomerKind::Household
        } else {
            CustomerKind::Business
        },
        period,
        tariff: tariff.clone(),
        volume,
        sub_meter_m3,
        sewage: c.sewage,
        einvoice: c.einvoice,
    };
    let q = match quote(&input) {
        Ok(q) => q,
        Err(e) => return (None, Some(exception(ExceptionKind::Invalid, e.to_string()))),
    };
    if basis == VolumeBasis::Measured && !history.is_empty() {
        let avg = history.iter().copied().sum::<Decimal>() / Decimal::from(history.len());
        let expected = avg * Decimal::from(months);
        if q.volume_m3 > Decimal::ONE && q.volume_m3 > opts.implausible_factor * expected {
            return (
                None,
                Some(exception(
                    ExceptionKind::Implausible,
                    format!(
                        "{} m³ is more than {}× the average {} m³ for the period",
                        q.volume_m3,
                        opts.implausible_factor,
                        expected.round_dp(3)
                    ),
                )),
            );
        }
    }
    (
        Some(Proposal {
            contract_id: c.contract_id,
            contract_number: c.number.clone(),
            customer_id: c.customer_id,
            period,
            basis,
            quote: q,
        }),
        notes,
    )
}

/// Computes what a run would issue, writing nothing.
pub async fn preview(pool: &PgPool, opts: &RunOptions) -> Result<RunPlan, StoreError> {
    let mut conn = pool.acquire().await?;
    plan(&mut conn, opts).await
}

async fn plan(conn: &mut PgConnection, opts: &RunOptions) -> Result<RunPlan, StoreError> {
    let t0 = Instant::now();
    let month = opts.month_period();
    // Twelve-month cycles ending this month start eleven months earlier.
    let window = Period::new(
        month
            .from()
            .checked_sub_months(Months::new(11))
            .unwrap_or(month.from()),
        month.to(),
    )?;
    let contracts = {
        let scope = Scope::Area(opts.area.as_deref());
        let run_month = opts.month.from();
        let cycle = move |c: &ContractRow| cycle_period(run_month, c.billing_months);
        load(conn, &scope, &cycle, window, opts).await?
    };
    let t1 = Instant::now();
    let mut proposals = Vec::with_capacity(contracts.contracts.len());
    let mut exceptions = Vec::new();
    for (c, p) in &contracts.contracts {
        let (proposal, exception) = price(c, *p, &contracts, opts);
        proposals.extend(proposal);
        exceptions.extend(exception);
    }
    let t2 = Instant::now();
    Ok(RunPlan {
        month,
        area: opts.area.clone(),
        contracts: contracts.contracts.len() + contracts.not_due + contracts.already_invoiced,
        not_due: contracts.not_due,
        already_invoiced: contracts.already_invoiced,
        proposals,
        exceptions,
        timings: Timings {
            load: t1 - t0,
            compute: t2 - t1,
            issue: Duration::ZERO,
        },
    })
}

/// Opens a billing run in state `preview` for the month and area and returns its id.
pub async fn create_run(pool: &PgPool, opts: &RunOptions) -> Result<i64, StoreError> {
    let month = opts.month_period();
    Ok(sqlx::query_scalar(
        "insert into billing_run (period_from, period_to, area) values ($1, $2, $3)
         returning billing_run_id",
    )
    .bind(month.from())
    .bind(month.to())
    .bind(opts.area.as_deref())
    .fetch_one(pool)
    .await?)
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
}

/// Issues an approved run: recomputes the plan, then per batch of customers (one transaction
/// each) issues invoices with their lines and ledger charges, skipping contracts that got an
/// invoice in the meantime. `progress(done, total)` is called after each batch. Re-issuing an
/// issued run issues nothing new.
pub async fn issue(
    pool: &PgPool,
    run_id: i64,
    opts: &RunOptions,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<RunSummary, StoreError> {
    let state: Option<String> =
        sqlx::query_scalar("select state from billing_run where billing_run_id = $1")
            .bind(run_id)
            .fetch_optional(pool)
            .await?;
    match state.as_deref() {
        None => return Err(StoreError::not_found(format!("billing run {run_id}"))),
        Some("preview") => {
            return Err(StoreError::invalid(
                "billing_run",
                format!("run {run_id} is not approved"),
            ))
        }
        _ => {}
    }
    let mut conn = pool.acquire().await?;
    let mut plan = plan(&mut conn, opts).await?;
    drop(conn);
    let t0 = Instant::now();
    let due_on = opts
        .issued_on
        .checked_add_days(Days::new(u64::from(opts.due_days)))
        .unwrap_or(opts.issued_on);
    let drafts: Vec<InvoiceDraft> = plan
        .proposals
        .iter()
        .map(|p| InvoiceDraft {
            billing_run_id: Some(run_id),
            ..InvoiceDraft::from_quote(
                p.customer_id,
                Some(p.contract_id),
                p.period,
                &p.quote,
                opts.issued_on,
                due_on,
            )
        })
        .collect();
    let total = drafts.len();
    let mut issued: Vec<IssuedInvoice> = Vec::with_capacity(total);
    let mut lines = 0;
    let mut start = 0;
    let mut batches = 0u32;
    progress(0, total);
    while start < total {
        let batch_started = Instant::now();
        // A batch ends at a customer boundary so a customer's invoices share a transaction.
        let mut end = (start + opts.batch_customers.max(1)).min(total);
        while end < total
            && drafts.get(end).map(|d| d.customer_id) == drafts.get(end - 1).map(|d| d.customer_id)
        {
            end += 1;
        }
        let batch = drafts.get(start..end).unwrap_or_default();
        let mut tx = pool.begin().await?;
        // Serialises concurrent issuers of the same run, then drops what they already issued.
        sqlx::query("select 1 from billing_run where billing_run_id = $1 for update")
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
        let ids: Vec<i64> = batch.iter().filter_map(|d| d.contract_id).collect();
        let existing: HashSet<i64> = sqlx::query_scalar(
            "select contract_id from invoice where billing_run_id = $1 and kind = 'VAT'
               and contract_id = any($2)",
        )
        .bind(run_id)
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        let fresh: Vec<InvoiceDraft> = batch
            .iter()
            .filter(|d| d.contract_id.is_none_or(|c| !existing.contains(&c)))
            .cloned()
            .collect();
        let done = issue_many(&mut tx, &fresh).await?;
        tx.commit().await?;
        lines += fresh.iter().map(|d| d.lines.len()).sum::<usize>();
        issued.extend(done);
        start = end;
        batches += 1;
        // The tables start empty in a first run; without fresh statistics the planner keeps
        // plans (foreign-key checks, the lookups above) made for empty tables, which turn into
        // sequential scans as they grow. Refreshing at 1, 2, 4, 8, … batches keeps them right.
        if batches.is_power_of_two() {
            sqlx::query("analyze invoice, invoice_line, ledger_posting")
                .execute(pool)
                .await?;
        }
        tracing::debug!(
            batch = batches,
            invoices = end,
            ms = batch_started.elapsed().as_millis() as u64,
            "issued batch"
        );
        progress(start, total);
    }
    sqlx::query("update billing_run set state = 'issued', issued_at = coalesce(issued_at, now()) where billing_run_id = $1")
        .bind(run_id)
        .execute(pool)
        .await?;
    plan.timings.issue = t0.elapsed();
    Ok(RunSummary {
        run_id,
        issued: issued.len(),
        lines,
        gross: issued.iter().map(|i| i.gross).sum(),
        numbers: issued
            .first()
            .zip(issued.last())
            .map(|(a, b)| (a.number.clone(), b.number.clone())),
        plan,
    })
}

/// Re-prices an estimated invoice from the readings now stored; when the volume is no longer
/// an estimate, issues the KOR that reconciles it (in the caller's transaction) and returns
/// it, otherwise returns None.
pub async fn reconcile_estimate(
    conn: &mut PgConnection,
    invoice_id: i64,
    opts: &RunOptions,
) -> Result<Option<IssuedInvoice>, StoreError> {
    let cur = correction::current(conn, invoice_id).await?;
    if !cur.estimated {
        return Ok(None);
    }
    let Some(contract_id) = cur.contract_id else {
        return Ok(None);
    };
    let ids = [contract_id];
    let period = cur.period;
    let fixed = move |_: &ContractRow| Some(period);
    let mut loaded = load(conn, &Scope::Contracts(&ids), &fixed, period, opts).await?;
    // `load` drops contracts invoiced for the period — this one is; price it all the same.
    if loaded.contracts.is_empty() {
        let again =
            load_contracts(conn, &Scope::Contracts(&ids), period.from(), period.to()).await?;
        loaded.contracts = again.into_iter().map(|c| (c, period)).collect();
        let premises: Vec<i64> = loaded
            .contracts
            .iter()
            .map(|(c, _)| c.premises_id)
            .collect();
        let (s, e) = readings::bounds(period);
        loaded.installations = load_installations(conn, &premises, s, e).await?;
        let wanted: Vec<(i64, Period)> = loaded
            .installations
            .values()
            .flatten()
            .map(|i| (i.meter_id, period))
            .collect();
        loaded.reads = load_bound_reads(conn, &wanted, opts.read_tolerance_days).await?;
    }
    let Some((c, p)) = loaded.contracts.first() else {
        return Ok(None);
    };
    let (proposal, _) = price(c, *p, &loaded, opts);
    match proposal {
        Some(pr) if pr.basis == VolumeBasis::Measured => {
            let due_on = opts
                .issued_on
                .checked_add_days(Days::new(u64::from(opts.due_days)))
                .unwrap_or(opts.issued_on);
            let kor = correction::correct(
                conn,
                invoice_id,
                &pr.quote,
                "Rozliczenie faktury szacunkowej według odczytu rzeczywistego",
                opts.issued_on,
                due_on,
            )
            .await?;
            Ok(Some(kor))
        }
        _ => Ok(None),
    }
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
/// print it), creates the run, approves and issues it, then reconciles earlier estimated
/// invoices whose real readings have arrived since (a KOR each). What `ewoda bill --issue`
/// and the demo do.
pub async fn bill_period(
    pool: &PgPool,
    opts: &RunOptions,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<BillOutcome, StoreError> {
    let mut conn = pool.acquire().await?;
    let accounts_assigned = crate::virtual_accounts::assign_all(&mut conn).await?;
    drop(conn);
    let run_id = create_run(pool, opts).await?;
    approve(pool, run_id).await?;
    let summary = issue(pool, run_id, opts, progress).await?;
    let reconciled = reconcile_estimates(pool, opts).await?;
    Ok(BillOutcome {
        accounts_assigned,
        summary,
        reconciled,
    })
}

/// Reconciles every estimated invoice of a period before the run's month that a correction
/// has not yet settled, each in its own transaction; ones still without readings stay.
pub async fn reconcile_estimates(
    pool: &PgPool,
    opts: &RunOptions,
) -> Result<Vec<IssuedInvoice>, StoreError> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "select invoice_id from invoice
         where kind = 'VAT' and estimated and period_to < $1 order by invoice_id",
    )
    .bind(opts.month_period().from())
    .fetch_all(pool)
    .await?;
    let mut done = Vec::new();
    for id in ids {
        let mut tx = pool.begin().await?;
        if let Some(kor) = reconcile_estimate(&mut tx, id, opts).await? {
            done.push(kor);
        }
        tx.commit().await?;
    }
    Ok(done)
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
