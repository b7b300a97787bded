//! Dates in the utility's time zone (Europe/Warsaw): local days for rollups, billing periods.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Warsaw;

/// The local calendar day of an instant.
pub fn local_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Warsaw).date_naive()
}

/// The instant local midnight of `day` begins (DST-safe: midnight always exists in Warsaw).
pub fn day_start(day: NaiveDate) -> DateTime<Utc> {
    Warsaw
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight is a valid time"))
        .earliest()
        .expect("Warsaw has no DST gap at midnight")
        .with_timezone(&Utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warsaw_days() {
        let d = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
        assert_eq!(day_start(d).to_rfc3339(), "2026-06-30T22:00:00+00:00");
        let w = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
        assert_eq!(day_start(w).to_rfc3339(), "2026-01-14T23:00:00+00:00");
        assert_eq!(local_day(day_start(d)), d);
    }
}
