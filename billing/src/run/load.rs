//! Loading a run's input in bulk (one query per kind): the contracts due and not yet
//! invoiced, the tariffs, and — through [`crate::readings::query`] — installations, bound reads
//! and consumption history.

use super::{chain, RunOptions};
use crate::calc_error::CalcError;
use crate::readings::{self, query, BoundReads, Installation};
use crate::store_error::StoreError;
use crate::tariff::{Fee, FeePer, Period, Tariff, TariffVersion};
use chrono::{Months, NaiveDate};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool, Row};
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// A contract as loaded for a run.
#[derive(Debug, Clone)]
pub(super) struct ContractRow {
    pub(super) contract_id: i64,
    pub(super) number: String,
    pub(super) customer_id: i64,
    pub(super) premises_id: i64,
    pub(super) tariff_group_id: i64,
    pub(super) water: bool,
    pub(super) sewage: bool,
    pub(super) billing_months: u32,
    pub(super) valid_from: NaiveDate,
    pub(super) valid_to: Option<NaiveDate>,
    pub(super) household: bool,
    pub(super) persons: Option<i16>,
    pub(super) einvoice: bool,
}

/// Which contracts to load.
pub(super) enum Scope<'a> {
    Area(Option<&'a str>),
    Contracts(&'a [i64]),
}

pub(super) async fn load_contracts(
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
                c.sewage, c.billing_months, c.valid_from, c.valid_to,
                cu.kind = 'household' as household, p.persons, cu.einvoice
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
                contract_id: r.try_get("contract_id")?,
                number: r.try_get("number")?,
                customer_id: r.try_get("customer_id")?,
                premises_id: r.try_get("premises_id")?,
                tariff_group_id: r.try_get("tariff_group_id")?,
                water: r.try_get("water")?,
                sewage: r.try_get("sewage")?,
                billing_months: u32::try_from(r.try_get::<i16, _>("billing_months")?).unwrap_or(1),
                valid_from: r.try_get("valid_from")?,
                valid_to: r.try_get("valid_to")?,
                household: r.try_get("household")?,
                persons: r.try_get("persons")?,
                einvoice: r.try_get("einvoice")?,
            })
        })
        .collect()
}

/// A tariff version's validity and norm volume per person-month.
type NormSpan = (NaiveDate, Option<NaiveDate>, Option<Decimal>);

/// Tariff groups with their versions' norms: group → (tariff, [(from, to, norm)]).
pub(super) struct Tariffs {
    pub(super) groups: HashMap<i64, Result<Tariff, CalcError>>,
    /// A digest of each group's versions and fees, part of a proposal's fingerprint.
    pub(super) digests: HashMap<i64, String>,
    pub(super) norms: HashMap<i64, Vec<NormSpan>>,
}

impl Tariffs {
    pub(super) fn norm_on(&self, group: i64, day: NaiveDate) -> Option<Decimal> {
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
        let per: String = r.try_get("per")?;
        fees.entry(r.try_get("tariff_version_id")?)
            .or_default()
            .push(Fee {
                name: r.try_get("name")?,
                amount: r.try_get("amount")?,
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
        let id: i64 = r.try_get("tariff_version_id")?;
        let group: i64 = r.try_get("tariff_group_id")?;
        let from: NaiveDate = r.try_get("valid_from")?;
        let to: Option<NaiveDate> = r.try_get("valid_to")?;
        norms
            .entry(group)
            .or_default()
            .push((from, to, r.try_get("norm_m3_per_person_month")?));
        versions.entry(group).or_default().push(TariffVersion {
            from,
            to,
            // Stored with the column's scale (6.9500); priced as written in the tariff (6.95),
            // so the run's output is the same as `ewoda billing quote`'s.
            water_m3: r.try_get::<Decimal, _>("water_m3")?.normalize(),
            sewage_m3: r.try_get::<Decimal, _>("sewage_m3")?.normalize(),
            vat_percent: r.try_get::<Decimal, _>("vat_percent")?.normalize(),
            fees: fees.remove(&id).unwrap_or_default(),
            einvoice_discount: r.try_get::<Decimal, _>("einvoice_discount")?.normalize(),
        });
    }
    let digests = versions
        .iter()
        .map(|(g, v)| (*g, hex::encode(Sha256::digest(format!("{v:?}")))))
        .collect();
    Ok(Tariffs {
        groups: versions
            .into_iter()
            .map(|(g, v)| (g, Tariff::new(v)))
            .collect(),
        digests,
        norms,
    })
}

/// Everything a plan is computed from, loaded in bulk.
pub(super) struct Loaded {
    pub(super) contracts: Vec<(ContractRow, Period)>,
    pub(super) not_due: usize,
    pub(super) already_invoiced: usize,
    pub(super) tariffs: Tariffs,
    pub(super) installations: HashMap<i64, Vec<Installation>>,
    pub(super) reads: HashMap<(i64, NaiveDate, NaiveDate), BoundReads>,
    pub(super) history: HashMap<i64, BTreeMap<NaiveDate, Decimal>>,
}

/// Loads the contracts due in `window` and their pricing input; the history is loaded on a
/// second connection of `pool` while the first loads the meters' input.
pub(super) async fn load(
    pool: &PgPool,
    scope: &Scope<'_>,
    periods: &dyn Fn(&ContractRow) -> Option<Period>,
    window: Period,
    opts: &RunOptions,
) -> Result<Loaded, StoreError> {
    let t = Instant::now();
    let mut conn = pool.acquire().await?;
    let all = load_contracts(&mut conn, scope, window.from(), window.to()).await?;
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
    let before = due.len();
    let due = not_invoiced(&mut conn, due, window.from()).await?;
    let already_invoiced = before - due.len();
    tracing::debug!(
        ms = t.elapsed().as_millis() as u64,
        "loaded invoiced periods"
    );
    // A pool of one connection (held here) loads the history after the rest.
    if pool.options().get_max_connections() < 2 {
        let mut loaded = inputs(&mut conn, due, window, opts).await?;
        (loaded.not_due, loaded.already_invoiced) = (not_due, already_invoiced);
        return Ok(loaded);
    }
    let span = Span::of(&due, window)?;
    let mut other = pool.acquire().await?;
    let (meters, history) = tokio::try_join!(
        meter_inputs(&mut conn, &due, &span, opts),
        history(&mut other, &span, opts)
    )?;
    Ok(Loaded {
        contracts: due,
        not_due,
        already_invoiced,
        tariffs: meters.0,
        installations: meters.1,
        reads: meters.2,
        history,
    })
}

/// Drops the contracts already invoiced (by any run) for a period overlapping theirs.
async fn not_invoiced(
    conn: &mut PgConnection,
    mut due: Vec<(ContractRow, Period)>,
    since: NaiveDate,
) -> Result<Vec<(ContractRow, Period)>, StoreError> {
    let ids: Vec<i64> = due.iter().map(|(c, _)| c.contract_id).collect();
    let invoiced = sqlx::query(
        "select contract_id, period_from, period_to from invoice
         where kind = 'VAT' and contract_id = any($1) and period_to >= $2",
    )
    .bind(&ids)
    .bind(since)
    .fetch_all(&mut *conn)
    .await?;
    let mut done: HashMap<i64, Vec<(NaiveDate, NaiveDate)>> = HashMap::new();
    for r in invoiced {
        done.entry(r.try_get("contract_id")?)
            .or_default()
            .push((r.try_get("period_from")?, r.try_get("period_to")?));
    }
    due.retain(|(c, p)| {
        done.get(&c.contract_id)
            .is_none_or(|v| !v.iter().any(|(f, t)| *f <= p.to() && *t >= p.from()))
    });
    Ok(due)
}

/// The premises and the days a set of contracts' periods cover.
struct Span {
    premises: Vec<i64>,
    earliest: NaiveDate,
    latest: NaiveDate,
}

impl Span {
    fn of(due: &[(ContractRow, Period)], window: Period) -> Result<Span, StoreError> {
        let mut premises: Vec<i64> = due.iter().map(|(c, _)| c.premises_id).collect();
        premises.sort_unstable();
        premises.dedup();
        let (earliest, latest) = due
            .iter()
            .fold((window.to(), window.from()), |(a, b), (_, p)| {
                (a.min(p.from()), b.max(p.to()))
            });
        Ok(Span {
            premises,
            earliest: earliest.min(latest),
            latest: latest.max(earliest),
        })
    }
}

/// Tariffs, installations by premises, and the reads at the bounds of each (meter, period).
type MeterInputs = (
    Tariffs,
    HashMap<i64, Vec<Installation>>,
    HashMap<(i64, NaiveDate, NaiveDate), BoundReads>,
);

/// The tariffs, installations and the reads at the period bounds (the period opening at the
/// read chain where there is one).
async fn meter_inputs(
    conn: &mut PgConnection,
    due: &[(ContractRow, Period)],
    span: &Span,
    opts: &RunOptions,
) -> Result<MeterInputs, StoreError> {
    let t = Instant::now();
    let tariffs = load_tariffs(conn).await?;
    let (s, e) = readings::bounds(Period::new(span.earliest, span.latest)?);
    let installations = query::installations(conn, &span.premises, s, e).await?;
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "loaded installations");
    let mut wanted: Vec<(i64, Period)> = Vec::new();
    for (c, p) in due {
        for i in installations.get(&c.premises_id).into_iter().flatten() {
            wanted.push((i.meter_id, *p));
        }
    }
    wanted.sort_unstable_by_key(|(m, p)| (*m, p.from(), p.to()));
    wanted.dedup();
    let mut reads = query::bound_reads(conn, &wanted, opts.read_tolerance_days).await?;
    for (key, opening) in chain::openings(conn, &wanted).await? {
        reads.entry(key).or_default().opening = Some(opening);
    }
    tracing::debug!(
        meters = wanted.len(),
        ms = t.elapsed().as_millis() as u64,
        "loaded bound reads and the read chain"
    );
    Ok((tariffs, installations, reads))
}

/// The monthly history of the premises, from the months an estimate averages.
async fn history(
    conn: &mut PgConnection,
    span: &Span,
    opts: &RunOptions,
) -> Result<HashMap<i64, BTreeMap<NaiveDate, Decimal>>, StoreError> {
    let t = Instant::now();
    let from = span
        .earliest
        .checked_sub_months(Months::new(opts.estimate_months))
        .unwrap_or(span.earliest);
    let history = query::monthly_history(conn, &span.premises, from, span.latest).await?;
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "loaded history");
    Ok(history)
}

/// The pricing input of contracts and their periods on one connection: tariffs,
/// installations, the reads at the bounds and monthly history.
pub(super) async fn inputs(
    conn: &mut PgConnection,
    due: Vec<(ContractRow, Period)>,
    window: Period,
    opts: &RunOptions,
) -> Result<Loaded, StoreError> {
    let span = Span::of(&due, window)?;
    let (tariffs, installations, reads) = meter_inputs(conn, &due, &span, opts).await?;
    let history = history(conn, &span, opts).await?;
    Ok(Loaded {
        contracts: due,
        not_due: 0,
        already_invoiced: 0,
        tariffs,
        installations,
        reads,
        history,
    })
}
