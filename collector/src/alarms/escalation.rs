//! Escalation: an alarm still `open` (nobody acknowledged or took it) longer than its kind's
//! timer, or whose `occurrences` reached `recurring_occurrences` (then as many more since its
//! last escalation), goes up one level: severity one step (info → warning → critical), `escalation_level` + 1,
//! the step appended to `details.escalations`, and an `alarm_escalated` notification.
//!
//! The pass is one statement that picks the due alarms `for update skip locked` and updates
//! them, so a re-run or a second collector running the pass at the same moment escalates
//! nothing twice: a row another pass holds is skipped, and one it already escalated no longer
//! matches (its timer and occurrence baseline restarted). The outbox dedup key carries the
//! level as a second guard.

use super::{notify, AlarmKind, Notice, Target};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgPool;
use std::collections::BTreeMap;

/// When alarms escalate (`[rules.escalation]`). A kind's setting comes from `kinds.<kind>`,
/// else the built-in default for the kind (leak, burst, backflow: 60 minutes; night_flow: 3
/// occurrences, i.e. the third night over the threshold), else the general value. 0 turns a
/// trigger off.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EscalationConfig {
    /// Runs the pass at all.
    pub enabled: bool,
    /// Minutes an alarm may stay `open` (since it opened or last escalated) before it
    /// escalates; acknowledged and assigned alarms do not run this timer.
    pub unacknowledged_minutes: u32,
    /// `occurrences` that escalate the alarm, whatever its state (counted from 0 the first
    /// time, then from the count at the last escalation). Off by default: status-flag alarms count every telegram and rule alarms every
    /// evaluation, so the count measures the reporting rate more than recurrence.
    pub recurring_occurrences: u32,
    /// The highest escalation level.
    pub max_level: i16,
    /// Per-kind settings.
    pub kinds: BTreeMap<AlarmKind, KindEscalation>,
}

/// One kind's escalation settings; unset fields fall back (see [`EscalationConfig`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KindEscalation {
    pub unacknowledged_minutes: Option<u32>,
    pub recurring_occurrences: Option<u32>,
}

impl Default for EscalationConfig {
    fn default() -> Self {
        EscalationConfig {
            enabled: true,
            unacknowledged_minutes: 24 * 60,
            recurring_occurrences: 0,
            max_level: 2,
            kinds: BTreeMap::new(),
        }
    }
}

/// The built-in per-kind settings, under the configured ones.
fn builtin(kind: AlarmKind) -> KindEscalation {
    match kind {
        AlarmKind::Leak | AlarmKind::Burst | AlarmKind::Backflow => KindEscalation {
            unacknowledged_minutes: Some(60),
            recurring_occurrences: None,
        },
        // Night flow repeats once per night over the threshold.
        AlarmKind::NightFlow => KindEscalation {
            unacknowledged_minutes: None,
            recurring_occurrences: Some(3),
        },
        _ => KindEscalation::default(),
    }
}

impl EscalationConfig {
    /// The effective (unacknowledged minutes, recurring occurrences) of a kind; 0 = off.
    pub fn rule_for(&self, kind: AlarmKind) -> (u32, u32) {
        let own = self.kinds.get(&kind).copied().unwrap_or_default();
        let base = builtin(kind);
        (
            own.unacknowledged_minutes
                .or(base.unacknowledged_minutes)
                .unwrap_or(self.unacknowledged_minutes),
            own.recurring_occurrences
                .or(base.recurring_occurrences)
                .unwrap_or(self.recurring_occurrences),
        )
    }

    /// Checks the values; the error names the field under `[rules.escalation]`.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if !(1..=10).contains(&self.max_level) {
            return Err(("max_level".into(), "must be between 1 and 10".into()));
        }
        Ok(())
    }
}

/// What one escalation pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EscalationReport {
    /// Alarms escalated by the unacknowledged timer (possibly also by repeats).
    pub by_timer: u64,
    /// Alarms escalated by repeats alone.
    pub by_repeats: u64,
}

/// An alarm the pass escalated, as it is now, and which triggers were due.
#[derive(sqlx::FromRow)]
struct Escalated {
    alarm_id: i64,
    meter_id: Option<i64>,
    district_id: Option<i64>,
    kind: String,
    severity: String,
    escalation_level: i16,
    by_timer: bool,
    by_repeats: bool,
}

/// Escalates, as of `now`, every alarm that is due; one transaction.
pub async fn escalate(
    pool: &PgPool,
    cfg: &EscalationConfig,
    now: DateTime<Utc>,
) -> Result<EscalationReport, sqlx::Error> {
    let mut report = EscalationReport::default();
    if !cfg.enabled {
        return Ok(report);
    }
    let mut kinds = Vec::new();
    let mut after_secs = Vec::new();
    let mut repeats = Vec::new();
    for kind in AlarmKind::ALL {
        let (minutes, occurrences) = cfg.rule_for(kind);
        if minutes == 0 && occurrences == 0 {
            continue;
        }
        kinds.push(kind.as_str());
        after_secs.push(i64::from(minutes) * 60);
        repeats.push(i64::from(occurrences));
    }
    if kinds.is_empty() {
        return Ok(report);
    }
    let mut tx = pool.begin().await?;
    // `due` locks the rows (skipping those another pass holds) and re-checks them on their
    // newest version, so the conditions hold for what the update writes.
    let rows: Vec<Escalated> = sqlx::query_as(
        "with rule as (
                 select * from unnest($1::text[], $2::bigint[], $3::bigint[])
                     as r(kind, after_secs, repeats)),
             due as materialized (
                 select a.alarm_id, t.by_timer, t.by_repeats
                 from alarm a join rule r on r.kind = a.kind
                 cross join lateral (select
                        a.state = 'open' and r.after_secs > 0
                            and coalesce(a.escalated_at, a.opened_at)
                                + r.after_secs * interval '1 second' <= $4 as by_timer,
                        r.repeats > 0
                            and a.occurrences - a.escalated_occurrences >= r.repeats
                            as by_repeats) t
                 where a.state in ('open', 'acknowledged', 'assigned')
                   and a.escalation_level < $5
                   and (t.by_timer or t.by_repeats)
                 order by a.alarm_id
                 for update of a skip locked)
             update alarm a set
                 escalation_level = a.escalation_level + 1,
                 escalated_at = $4,
                 escalated_occurrences = a.occurrences,
                 severity = case a.severity when 'info' then 'warning' else 'critical' end,
                 details = a.details || jsonb_build_object('escalations',
                     coalesce(a.details -> 'escalations', '[]'::jsonb) || jsonb_build_array(
                         jsonb_build_object(
                             'level', a.escalation_level + 1,
                             'at', $4,
                             'reason', case when d.by_timer then 'unacknowledged'
                                            else 'recurring' end,
                             'from_severity', a.severity,
                             'state', a.state,
                             'occurrences', a.occurrences)))
             from due d
             where a.alarm_id = d.alarm_id
             returning a.alarm_id, a.meter_id, a.district_id, a.kind, a.severity,
                       a.escalation_level, d.by_timer, d.by_repeats",
    )
    .bind(&kinds)
    .bind(&after_secs)
    .bind(&repeats)
    .bind(now)
    .bind(cfg.max_level)
    .fetch_all(&mut *tx)
    .await?;
    for e in rows {
        let Some(kind) = AlarmKind::parse(&e.kind) else {
            continue;
        };
        let by_timer = e.by_timer;
        let target = match (e.meter_id, e.district_id) {
            (Some(m), _) => Target::Meter(m),
            (None, Some(d)) => Target::District(d),
            (None, None) => continue,
        };
        if by_timer {
            report.by_timer += 1;
        } else {
            report.by_repeats += 1;
        }
        let mut n = Notice::new(e.alarm_id, target, kind, "escalated", now);
        n.severity = &e.severity;
        n.level = Some(e.escalation_level);
        n.extra = serde_json::json!({
            "reason": if by_timer { "unacknowledged" } else { "recurring" },
            "recurring": e.by_repeats,
        });
        notify(&mut tx, &n).await?;
    }
    tx.commit().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_rules_fall_back_from_kind_to_builtin_to_general() {
        let mut cfg = EscalationConfig::default();
        assert_eq!(cfg.rule_for(AlarmKind::Leak), (60, 0));
        assert_eq!(cfg.rule_for(AlarmKind::Backflow), (60, 0));
        assert_eq!(cfg.rule_for(AlarmKind::Tamper), (1440, 0));
        assert_eq!(cfg.rule_for(AlarmKind::NightFlow), (1440, 3));
        cfg.unacknowledged_minutes = 720;
        cfg.recurring_occurrences = 50;
        cfg.kinds.insert(
            AlarmKind::Leak,
            KindEscalation {
                unacknowledged_minutes: None,
                recurring_occurrences: Some(5),
            },
        );
        cfg.kinds.insert(
            AlarmKind::NoData,
            KindEscalation {
                unacknowledged_minutes: Some(0),
                recurring_occurrences: Some(0),
            },
        );
        assert_eq!(cfg.rule_for(AlarmKind::Leak), (60, 5));
        assert_eq!(cfg.rule_for(AlarmKind::Tamper), (720, 50));
        assert_eq!(cfg.rule_for(AlarmKind::NightFlow), (720, 3));
        assert_eq!(cfg.rule_for(AlarmKind::NoData), (0, 0));
    }

    #[test]
    fn max_level_is_checked() {
        let mut cfg = EscalationConfig::default();
        assert!(cfg.validate().is_ok());
        cfg.max_level = 0;
        assert_eq!(
            cfg.validate(),
            Err(("max_level".into(), "must be between 1 and 10".into()))
        );
    }
}
