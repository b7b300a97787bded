//! Pricing: each contract's period from the loaded data to a proposal, an exception, or both
//! (an estimate), by [`crate::quote::quote`] — the same code as `ewoda billing quote`.

use super::load::{load, ContractRow, Loaded, Scope};
use super::{
    cycle_period, ExceptionKind, Proposal, RunException, RunOptions, RunPlan, Timings, VolumeBasis,
};
use crate::quote::{quote, CustomerKind, QuoteInput};
use crate::readings::{self, Basis, BoundReads, Installation, VolumeProblem};
use crate::store_error::StoreError;
use crate::tariff::Period;
use chrono::Months;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Prices one contract's period from loaded data: a proposal, an exception, or both (estimate).
pub(super) fn price(
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

/// Loads and prices a whole run month.
pub(super) async fn plan(
    conn: &mut PgConnection,
    opts: &RunOptions,
) -> Result<RunPlan, StoreError> {
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
