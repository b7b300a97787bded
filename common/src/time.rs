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

/// The instant of a local (Europe/Warsaw) wall-clock time; in the autumn DST overlap the
/// earlier instant, in the spring gap the first valid minute after it.
pub fn local(day: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    let mut t = day
        .and_hms_opt(hour.min(23), minute.min(59), 0)
        .expect("hour and minute are clamped to valid values");
    loop {
        if let Some(x) = Warsaw.from_local_datetime(&t).earliest() {
            return x.with_timezone(&Utc);
        }
        t += chrono::Duration::minutes(1);
    }
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
        let spring = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        assert_eq!(
            local(spring, 2, 30).to_rfc3339(),
            "2026-03-29T01:00:00+00:00"
        );
        assert_eq!(local(d, 23, 59).to_rfc3339(), "2026-07-01T21:59:00+00:00");
    }
}
