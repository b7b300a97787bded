//! Stage 3 of a batch — VEE: the candidates of each meter in time order, each checked by
//! [`vee::check`] against the later of its stored and its in-batch previous reading.
//! Duplicates (stored or within the batch) are counted and dropped; rejections become dead
//! letters.

use super::previous::Previous;
use super::resolve::{Candidate, Rejected};
use super::vee::{self, MeterProfile, Prev, VeeConfig};
use crate::store::NewReading;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// A reading VEE accepted.
pub(super) struct Accepted {
    /// Index of its candidate.
    pub candidate: usize,
    pub row: NewReading,
    /// The register fell: a reverse-flow alarm.
    pub reverse: bool,
    pub zero_use: bool,
}

/// What VEE made of the candidates.
pub(super) struct Validated {
    pub accepted: Vec<Accepted>,
    pub duplicates: u64,
    pub rejected: Vec<Rejected>,
}

/// Runs VEE over the candidates.
pub(super) fn validate(
    vee_cfg: &VeeConfig,
    candidates: &[Candidate<'_>],
    previous: &Previous,
    now: DateTime<Utc>,
) -> Validated {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by_key(|&i| (candidates[i].meter.meter_id, candidates[i].reading.read_at));
    let mut out = Validated {
        accepted: Vec::new(),
        duplicates: 0,
        rejected: Vec::new(),
    };
    let mut last_in_batch: HashMap<i64, Vec<Prev>> = HashMap::new();
    let win = vee_cfg.dedupe_window();
    for i in order {
        let c = &candidates[i];
        let (mid, at, vol) = (c.meter.meter_id, c.reading.read_at, c.reading.volume.ml());
        let batch_prev = last_in_batch.get(&mid).map(Vec::as_slice).unwrap_or(&[]);
        let dup_in_batch = batch_prev
            .iter()
            .any(|p| p.read_at == at || (p.volume_ml == vol && (p.read_at - at).abs() <= win));
        if previous.dup[i] || dup_in_batch {
            out.duplicates += 1;
            continue;
        }
        let prev = match (previous.prev[i], batch_prev.last().copied()) {
            (Some(a), Some(b)) => Some(if a.read_at >= b.read_at { a } else { b }),
            (a, b) => a.or(b),
        };
        let profile = MeterProfile {
            register_digits: c.meter.register_digits,
            bulk: c.meter.bulk,
            first_after_replacement: c.replaced_another && prev.is_none(),
        };
        match vee::check(vee_cfg, &profile, prev, at, vol, now) {
            Ok(v) => {
                last_in_batch.entry(mid).or_default().push(Prev {
                    read_at: at,
                    volume_ml: vol,
                });
                out.accepted.push(Accepted {
                    candidate: i,
                    row: NewReading {
                        meter_id: mid,
                        read_at: at,
                        volume_ml: vol,
                        source: c.reading.source,
                        quality: v.quality,
                    },
                    reverse: v.reverse_flow(),
                    zero_use: v.zero_use,
                });
            }
            Err(e) => out.rejected.push(Rejected::reading(
                c.pos,
                c.reading,
                "rejected",
                format!("meter {}: {e}", c.meter.serial),
            )),
        }
    }
    out
}
