//! Hourly consumption profiles: integer litres per hour, deterministic per (seed, meter, hour).
//!
//! Households and flats peak in the morning and evening and are near zero at night (many
//! zero-flow hours); businesses use water in office hours on weekdays; garden sub-meters water
//! on dry summer evenings. Each hour's expected volume is the meter's daily volume times an
//! hour-of-day weight (integer per-mille-style weights), times a per-day and a per-hour random
//! factor; the fraction of a litre is rounded stochastically so the mean is kept.

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, Timelike, Utc};
use chrono_tz::Europe::Warsaw;
use ewoda_common::rng::Rng;

/// The kind of a meter's customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MeterKind {
    /// A detached house.
    House,
    /// A flat in a block of flats.
    Flat,
    /// A business (shop, office, workshop).
    Business,
    /// A garden sub-meter behind a house's main meter.
    Garden,
    /// A district inlet (bulk) meter.
    Bulk,
}

impl MeterKind {
    /// A short lower-case name (`house`, `flat`, `business`, `garden`, `bulk`).
    pub fn as_str(self) -> &'static str {
        match self {
            MeterKind::House => "house",
            MeterKind::Flat => "flat",
            MeterKind::Business => "business",
            MeterKind::Garden => "garden",
            MeterKind::Bulk => "bulk",
        }
    }
}

/// The local calendar facts of one simulated hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourInfo {
    /// Local (Europe/Warsaw) start of the hour.
    pub local: NaiveDateTime,
    /// Local hour of day 0–23.
    pub hour: u32,
    /// Monday = 0 … Sunday = 6.
    pub weekday: u32,
    /// Month 1–12.
    pub month: u32,
    /// Days since 0001-01-01 (CE) of the local date (keys the per-day randomness).
    pub day_number: i64,
}

impl HourInfo {
    /// The facts of the hour starting at `start`.
    pub fn at(start: DateTime<Utc>) -> Self {
        let local = start.with_timezone(&Warsaw).naive_local();
        HourInfo {
            local,
            hour: local.hour(),
            weekday: local.weekday().num_days_from_monday(),
            month: local.month(),
            day_number: i64::from(local.date().num_days_from_ce()),
        }
    }

    /// The facts of hour `h` after `epoch`.
    pub fn of(epoch: DateTime<Utc>, h: i64) -> Self {
        Self::at(epoch + Duration::hours(h))
    }
}

const HOUSEHOLD_WEEKDAY: [i64; 24] = [
    3, 1, 1, 1, 1, 10, 45, 80, 70, 50, 40, 40, 45, 40, 35, 35, 40, 55, 75, 90, 85, 70, 50, 20,
];
const HOUSEHOLD_WEEKEND: [i64; 24] = [
    5, 2, 1, 1, 1, 3, 15, 40, 70, 80, 65, 55, 55, 45, 40, 35, 40, 55, 70, 85, 80, 65, 50, 25,
];
const BUSINESS_WEEKDAY: [i64; 24] = [
    0, 0, 0, 0, 0, 0, 10, 60, 110, 110, 100, 95, 110, 100, 95, 90, 70, 30, 10, 0, 0, 0, 0, 0,
];
const GARDEN_EVENING: [i64; 24] = [
    0, 0, 0, 0, 0, 10, 30, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 120, 200, 220, 120, 30, 0,
];

/// A meter's consumption parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// What kind of use.
    pub kind: MeterKind,
    /// Mean litres per (working) day; for gardens, litres on a watering day.
    pub daily_litres: i64,
}

impl Profile {
    /// Draws a profile for `kind` (persons per dwelling, business size, garden size).
    pub fn draw(kind: MeterKind, rng: &mut Rng) -> Self {
        let daily_litres = match kind {
            MeterKind::House => rng.range(1, 5) * rng.range(85, 130),
            MeterKind::Flat => rng.range(1, 4) * rng.range(70, 110),
            MeterKind::Business => rng.range(150, 3000),
            MeterKind::Garden => rng.range(200, 800),
            MeterKind::Bulk => 0,
        };
        Profile { kind, daily_litres }
    }

    /// Litres used in the hour (before faults), deterministic per (seed, meter, hour).
    pub fn litres(&self, seed: u64, meter: usize, h: i64, info: &HourInfo) -> i64 {
        let base = Rng::new(seed).fork(0x5EED_0000 + meter as u64);
        let mut day = base.fork(0xDA70_0000_0000 + info.day_number as u64);
        let mut hour = base.fork(h as u64);
        let day_factor = day.range(700, 1300);
        let weekend = info.weekday >= 5;
        let (weights, scale): (&[i64; 24], i64) = match self.kind {
            MeterKind::House | MeterKind::Flat => {
                if weekend {
                    (&HOUSEHOLD_WEEKEND, 1100)
                } else {
                    (&HOUSEHOLD_WEEKDAY, 1000)
                }
            }
            MeterKind::Business => (&BUSINESS_WEEKDAY, if weekend { 100 } else { 1000 }),
            MeterKind::Garden => {
                let season_per_mille = match info.month {
                    5..=8 => 700,
                    4 | 9 => 300,
                    _ => 0,
                };
                // A rainy day means no watering at all.
                if !day.chance(season_per_mille) {
                    return 0;
                }
                (&GARDEN_EVENING, 1000)
            }
            MeterKind::Bulk => return 0,
        };
        let w = weights[info.hour as usize % 24];
        if w == 0 {
            return 0;
        }
        let sum: i64 = weights.iter().sum();
        let hour_factor = hour.range(400, 1600);
        let expected_ml = self.daily_litres * 1000 * w / sum * scale / 1000 * day_factor / 1000
            * hour_factor
            / 1000;
        (expected_ml + hour.below(1000) as i64) / 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn profile(kind: MeterKind) -> Profile {
        Profile {
            kind,
            daily_litres: 300,
        }
    }

    #[test]
    fn deterministic_and_non_negative() {
        let epoch = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        for h in 0..500 {
            let info = HourInfo::of(epoch, h);
            let a = profile(MeterKind::House).litres(7, 3, h, &info);
            assert_eq!(a, profile(MeterKind::House).litres(7, 3, h, &info));
            assert!(a >= 0);
        }
    }

    #[test]
    fn households_peak_in_the_evening_and_rest_at_night() {
        let epoch = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
        let p = profile(MeterKind::House);
        let (mut night, mut evening) = (0, 0);
        for h in 0..24 * 28 {
            let info = HourInfo::of(epoch, h);
            let l = p.litres(1, 1, h, &info);
            match info.hour {
                1..=4 => night += l,
                18..=21 => evening += l,
                _ => {}
            }
        }
        assert!(evening > 20 * night, "evening {evening} night {night}");
    }

    #[test]
    fn businesses_close_at_night_and_gardens_rest_in_winter() {
        let winter = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
        for h in 0..24 * 14 {
            let info = HourInfo::of(winter, h);
            assert_eq!(profile(MeterKind::Garden).litres(1, 2, h, &info), 0);
            if info.hour < 6 || info.hour > 18 {
                assert_eq!(profile(MeterKind::Business).litres(1, 2, h, &info), 0);
            }
        }
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap();
        let total: i64 = (0..24 * 30)
            .map(|h| profile(MeterKind::Garden).litres(1, 2, h, &HourInfo::of(summer, h)))
            .sum();
        assert!(total > 1000);
    }
}
