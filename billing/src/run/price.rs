//! Pricing: each contract's period from the loaded data to a proposal, an exception, or both
//! (an estimate), by [`crate::quote::quote`] — the same code as `ewoda billing quote`.

use super::load::{load, ContractRow, Loaded, Scope};
use super::{
    cycle_period, ExceptionKind, Proposal, RunException, RunOptions, RunPlan, Timings, VolumeBasis,
};
use crate::consumption::VolumeSource;
use crate::quote::{quote, CustomerKind, Quote, QuoteInput};
use crate::readings::{self, Basis, BoundReads, Installation, MeterReads, VolumeProblem};
use crate::store_error::StoreError;
use crate::tariff::Period;
use chrono::Months;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A period's volume and what it rests on.
struct Volume {
    source: VolumeSource,
    sub_meter_m3: Option<Decimal>,
    basis: VolumeBasis,
    reads: Vec<MeterReads>,
    note: Option<(ExceptionKind, String)>,
}

/// The premises's volume in the period: measured along the read chain, else a norm (no
/// meter) or an estimate (a read missing); an exception when none applies.
fn volume(
    c: &ContractRow,
    period: Period,
    l: &Loaded,
    history: &[Decimal],
    installs: &[Installation],
    reads: &HashMap<i64, BoundReads>,
) -> Result<Volume, (ExceptionKind, String)> {
    let months = u32::try_from(period.months().len()).unwrap_or(1);
    let plain = |source, basis| Volume {
        source,
        sub_meter_m3: None,
        basis,
        reads: Vec::new(),
        note: None,
    };
    match readings::basis(period, installs, reads) {
        Ok(Basis::Measured(m)) => Ok(Volume {
            source: m.source,
            sub_meter_m3: m.sub_meter_m3,
            basis: VolumeBasis::Measured,
            reads: m.reads,
            note: None,
        }),
        Ok(Basis::NoMeter) => {
            let norm = l.tariffs.norm_on(c.tariff_group_id, period.to());
            readings::norm(c.persons, norm, months, period.month_share())
                .map(|v| plain(v, VolumeBasis::Norm))
                .ok_or((
                    ExceptionKind::MissingReading,
                    "no meter, and no persons or norm to bill by".into(),
                ))
        }
        Err(problem @ VolumeProblem::MissingReading { .. }) => {
            let (measured, part) = readings::estimate_base(period, installs, reads);
            let share = period.month_share() * part;
            match readings::estimate(history, months, share, measured) {
                Some(v) => Ok(Volume {
                    note: Some((
                        ExceptionKind::Estimated,
                        format!("{problem}; estimated from {} months", history.len()),
                    )),
                    ..plain(v, VolumeBasis::Estimated)
                }),
                None => Err((
                    ExceptionKind::MissingReading,
                    format!("{problem}; no history to estimate from"),
                )),
            }
        }
        Err(p @ VolumeProblem::Negative { .. }) => Err((ExceptionKind::Negative, p.to_string())),
        Err(p) => Err((ExceptionKind::Invalid, p.to_string())),
    }
}

/// A digest of everything a proposal was computed from: the contract, its tariff, the reads
/// used and the history an estimate averaged. Issue refuses a proposal whose input changed.
fn fingerprint(
    c: &ContractRow,
    period: Period,
    tariff_digest: &str,
    v: &Volume,
    history: &[Decimal],
) -> String {
    let history = if v.basis == VolumeBasis::Estimated {
        history
    } else {
        &[]
    };
    let text = format!(
        "{c:?}|{period:?}|{tariff_digest}|{:?}|{:?}|{history:?}",
        v.basis, v.reads
    );
    hex::encode(Sha256::digest(text))
}

/// The history months an estimate of `period` averages (the months before it).
fn history_before(l: &Loaded, c: &ContractRow, period: Period, opts: &RunOptions) -> Vec<Decimal> {
    l.history
        .get(&c.premises_id)
        .map(|h| {
            let from = period
                .from()
                .checked_sub_months(Months::new(opts.estimate_months))
                .unwrap_or(period.from());
            h.range(from..period.from()).map(|(_, v)| *v).collect()
        })
        .unwrap_or_default()
}

/// Prices one contract's period from loaded data: a proposal, an exception, or both (estimate).
pub(super) fn price(
    c: &ContractRow,
    period: Period,
    l: &Loaded,
    opts: &RunOptions,
) -> (Option<Proposal>, Option<RunException>) {
    let exception = |(kind, message): (ExceptionKind, String)| RunException {
        contract_id: c.contract_id,
        contract_number: c.number.clone(),
        customer_id: c.customer_id,
        kind,
        message,
    };
    let tariff = match l.tariffs.groups.get(&c.tariff_group_id) {
        None => Err(format!(
            "tariff group {} has no versions",
            c.tariff_group_id
        )),
        Some(Err(e)) => Err(format!("tariff group {}: {e}", c.tariff_group_id)),
        Some(Ok(t)) if c.water => Ok(t),
        Some(Ok(_)) => Err("sewage-only contracts are billed by a clerk".into()),
    };
    let tariff = match tariff {
        Ok(t) => t,
        Err(m) => return (None, Some(exception((ExceptionKind::Invalid, m)))),
    };
    let history = history_before(l, c, period, opts);
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
    let mut v = match volume(c, period, l, &history, installs, &reads) {
        Ok(v) => v,
        Err(e) => return (None, Some(exception(e))),
    };
    let input = QuoteInput {
        customer_kind: if c.household {
            CustomerKind::Household
        } else {
            CustomerKind::Business
        },
        period,
        tariff: tariff.clone(),
        volume: v.source.clone(),
        sub_meter_m3: v.sub_meter_m3,
        sewage: c.sewage,
        einvoice: c.einvoice,
    };
    let q = match quote(&input) {
        Ok(q) => q,
        Err(e) => {
            return (
                None,
                Some(exception((ExceptionKind::Invalid, e.to_string()))),
            )
        }
    };
    if let Some(problem) = implausible(&q, &v, &history, period, opts) {
        return (None, Some(exception((ExceptionKind::Implausible, problem))));
    }
    if v.basis == VolumeBasis::Estimated {
        v.reads = readings::estimated_reads(period, installs, &reads, q.volume_m3);
    }
    let digest = l
        .tariffs
        .digests
        .get(&c.tariff_group_id)
        .map(String::as_str)
        .unwrap_or_default();
    let fingerprint = fingerprint(c, period, digest, &v, &history);
    (
        Some(Proposal {
            contract_id: c.contract_id,
            contract_number: c.number.clone(),
            customer_id: c.customer_id,
            period,
            basis: v.basis,
            quote: q,
            reads: v.reads,
            fingerprint,
        }),
        v.note.map(exception),
    )
}

/// Why a measured volume is implausible: far above the average of the history.
fn implausible(
    q: &Quote,
    v: &Volume,
    history: &[Decimal],
    period: Period,
    opts: &RunOptions,
) -> Option<String> {
    if v.basis != VolumeBasis::Measured || history.is_empty() {
        return None;
    }
    let months = u32::try_from(period.months().len()).unwrap_or(1);
    let avg = history.iter().copied().sum::<Decimal>() / Decimal::from(history.len());
    let expected = avg * Decimal::from(months);
    (q.volume_m3 > Decimal::ONE && q.volume_m3 > opts.implausible_factor * expected).then(|| {
        format!(
            "{} m³ is more than {}× the average {} m³ for the period",
            q.volume_m3,
            opts.implausible_factor,
            expected.round_dp(3)
        )
    })
}

/// Loads and prices a whole run month.
pub(super) async fn plan(pool: &PgPool, opts: &RunOptions) -> Result<RunPlan, StoreError> {
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
        load(pool, &scope, &cycle, window, opts).await?
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
        steps: super::Steps::default(),
    })
}
