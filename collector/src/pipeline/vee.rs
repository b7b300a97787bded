//! Validation (VEE) of one reading against the meter's previous stored reading: monotonic
//! register, rollover, implausible flow, reverse flow, zero use and clock checks. Pure: the
//! writer fetches the previous reading and applies the verdict.

use crate::quality;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

/// Tunables of the validation rules.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VeeConfig {
    /// Plausible maximum flow of a `main`/`sub` meter in litres per hour (10 m³/h).
    pub max_flow_l_per_h: i64,
    /// Plausible maximum flow of a `bulk` (district inlet) meter in litres per hour.
    pub bulk_max_flow_l_per_h: i64,
    /// Readings of one meter with the same register value this close together are one reading
    /// delivered twice (radio repeats, several receivers with different receive times).
    pub dedupe_window_secs: i64,
    /// A timestamp further than this in the future is flagged clock-suspect.
    pub clock_tolerance_secs: i64,
    /// A timestamp further than this in the future is rejected.
    pub max_future_secs: i64,
}

impl Default for VeeConfig {
    fn default() -> Self {
        VeeConfig {
            max_flow_l_per_h: 10_000,
            bulk_max_flow_l_per_h: 2_000_000,
            dedupe_window_secs: 120,
            clock_tolerance_secs: 300,
            max_future_secs: 86_400,
        }
    }
}

impl VeeConfig {
    /// The dedupe window as a duration.
    pub fn dedupe_window(&self) -> Duration {
        Duration::seconds(self.dedupe_window_secs)
    }
}

/// What VEE needs to know about the meter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterProfile {
    pub register_digits: i16,
    pub bulk: bool,
    /// This is the first reading of an installation that replaced another meter.
    pub first_after_replacement: bool,
}

/// The previous stored reading of the same meter (strictly earlier).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prev {
    pub read_at: DateTime<Utc>,
    pub volume_ml: i64,
}

/// The result of validating one reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub quality: i16,
    /// Consumption since the previous reading (rollover applied); None for a first reading or
    /// reverse flow.
    pub consumption_ml: Option<i64>,
    pub zero_use: bool,
}

impl Verdict {
    /// The register went down without a rollover.
    pub fn reverse_flow(&self) -> bool {
        self.quality & quality::REVERSE_FLOW != 0
    }
}

/// Why a reading is refused outright.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    #[error("read_at {read_at} is more than {max_secs} s in the future")]
    Future {
        read_at: DateTime<Utc>,
        max_secs: i64,
    },
    #[error("volume {volume_ml} ml does not fit a {digits}-digit register")]
    Overflow { volume_ml: i64, digits: i16 },
    #[error("negative volume {volume_ml} ml")]
    Negative { volume_ml: i64 },
}

/// The register wraps at 10^digits m³, in millilitres.
pub fn wrap_ml(register_digits: i16) -> i64 {
    let digits = u32::try_from(register_digits.clamp(1, 12)).unwrap_or(12);
    10_i64.pow(digits) * 1_000_000
}

/// Validates `volume_ml` read at `read_at` against `prev`.
pub fn check(
    cfg: &VeeConfig,
    meter: &MeterProfile,
    prev: Option<Prev>,
    read_at: DateTime<Utc>,
    volume_ml: i64,
    now: DateTime<Utc>,
) -> Result<Verdict, Reject> {
    if volume_ml < 0 {
        return Err(Reject::Negative { volume_ml });
    }
    let wrap = wrap_ml(meter.register_digits);
    if volume_ml >= wrap {
        return Err(Reject::Overflow {
            volume_ml,
            digits: meter.register_digits,
        });
    }
    if read_at > now + Duration::seconds(cfg.max_future_secs) {
        return Err(Reject::Future {
            read_at,
            max_secs: cfg.max_future_secs,
        });
    }
    let mut q = 0;
    if read_at > now + Duration::seconds(cfg.clock_tolerance_secs) {
        q |= quality::CLOCK_SUSPECT;
    }
    if meter.first_after_replacement {
        q |= quality::REPLACEMENT;
    }
    let mut consumption = None;
    let mut zero_use = false;
    if let Some(p) = prev {
        let delta = volume_ml - p.volume_ml;
        let used = if delta >= 0 {
            Some(delta)
        } else if p.volume_ml >= wrap / 2 && volume_ml < wrap / 2 {
            q |= quality::ROLLOVER;
            Some(delta + wrap)
        } else {
            q |= quality::REVERSE_FLOW;
            None
        };
        if let Some(used) = used {
            zero_use = used == 0;
            let secs = (read_at - p.read_at).num_seconds().max(1);
            let max_l_h = if meter.bulk {
                cfg.bulk_max_flow_l_per_h
            } else {
                cfg.max_flow_l_per_h
            };
            // used[ml] / secs > max[l/h] * 1000 / 3600, compared without division.
            if i128::from(used) * 3600 > i128::from(max_l_h) * 1000 * i128::from(secs) {
                q |= quality::IMPLAUSIBLE;
            }
        }
        consumption = used;
    }
    if q & (quality::IMPLAUSIBLE | quality::REVERSE_FLOW | quality::CLOCK_SUSPECT) == 0 {
        q |= quality::VALIDATED;
    }
    Ok(Verdict {
        quality: q,
        consumption_ml: consumption,
        zero_use,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::*;
    use chrono::TimeZone;

    fn t(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap() + Duration::hours(h)
    }

    fn meter() -> MeterProfile {
        MeterProfile {
            register_digits: 5,
            bulk: false,
            first_after_replacement: false,
        }
    }

    type Case = (&'static str, Option<Prev>, i64, i64, i16, Option<i64>, bool);

    #[test]
    fn table() {
        let cfg = VeeConfig::default();
        let now = t(100);
        let m = meter();
        let p = |h, ml| {
            Some(Prev {
                read_at: t(h),
                volume_ml: ml,
            })
        };
        // (name, prev, read hour, volume ml, quality, consumption, zero use)
        let cases: Vec<Case> = vec![
            ("first reading", None, 1, 5_000_000, VALIDATED, None, false),
            (
                "normal use",
                p(0, 1_000_000),
                1,
                1_250_000,
                VALIDATED,
                Some(250_000),
                false,
            ),
            (
                "zero use",
                p(0, 1_000_000),
                1,
                1_000_000,
                VALIDATED,
                Some(0),
                true,
            ),
            (
                "rollover",
                p(0, 99_999_900_000),
                1,
                100_000,
                VALIDATED | ROLLOVER,
                Some(200_000),
                false,
            ),
            (
                "reverse flow",
                p(0, 1_000_000),
                1,
                990_000,
                REVERSE_FLOW,
                None,
                false,
            ),
            (
                "reverse flow near wrap",
                p(0, 99_999_900_000),
                1,
                99_999_800_000,
                REVERSE_FLOW,
                None,
                false,
            ),
            (
                "exactly max flow",
                p(0, 0),
                1,
                10_000_000,
                VALIDATED,
                Some(10_000_000),
                false,
            ),
            (
                "implausible flow",
                p(0, 0),
                1,
                10_000_001,
                IMPLAUSIBLE,
                Some(10_000_001),
                false,
            ),
            (
                "implausible rollover",
                p(0, 99_999_000_000),
                1,
                49_000_000_000,
                ROLLOVER | IMPLAUSIBLE,
                Some(49_001_000_000),
                false,
            ),
            (
                "clock suspect",
                p(0, 0),
                101,
                1_000,
                CLOCK_SUSPECT,
                Some(1_000),
                false,
            ),
        ];
        for (name, prev, h, ml, q, cons, zero) in cases {
            let v = check(&cfg, &m, prev, t(h), ml, now).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                (v.quality, v.consumption_ml, v.zero_use),
                (q, cons, zero),
                "{name}"
            );
        }
    }

    #[test]
    fn bulk_meters_and_replacement() {
        let cfg = VeeConfig::default();
        let m = MeterProfile {
            register_digits: 8,
            bulk: true,
            first_after_replacement: true,
        };
        let prev = Some(Prev {
            read_at: t(0),
            volume_ml: 0,
        });
        let v = check(&cfg, &m, prev, t(1), 500_000_000, t(10)).unwrap();
        assert_eq!(v.quality, VALIDATED | REPLACEMENT);
    }

    #[test]
    fn rejects() {
        let cfg = VeeConfig::default();
        let m = meter();
        assert_eq!(
            check(&cfg, &m, None, t(0), 100_000_000_000, t(0)),
            Err(Reject::Overflow {
                volume_ml: 100_000_000_000,
                digits: 5
            })
        );
        assert_eq!(
            check(&cfg, &m, None, t(0), -1, t(0)),
            Err(Reject::Negative { volume_ml: -1 })
        );
        assert!(matches!(
            check(&cfg, &m, None, t(25), 1, t(0)),
            Err(Reject::Future { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_never_negative(
            digits in 4i16..=10, prev_ml in 0i64..10_000_000_000_000_000, ml in -10i64..10_000_000_000_000_000,
            dt in -100_000i64..100_000_000, bulk: bool,
        ) {
            let m = MeterProfile { register_digits: digits, bulk, first_after_replacement: false };
            let prev = Some(Prev { read_at: t(0), volume_ml: prev_ml.min(wrap_ml(digits) - 1) });
            let read_at = t(0) + Duration::seconds(dt);
            if let Ok(v) = check(&VeeConfig::default(), &m, prev, read_at, ml, t(0)) {
                proptest::prop_assert!(v.consumption_ml.is_none_or(|c| c >= 0));
                proptest::prop_assert_eq!(v.reverse_flow(), v.consumption_ml.is_none());
            }
        }
    }
}
