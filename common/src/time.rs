//! Dates in the utility's time zone (Europe/Warsaw): local days for rollups, billing periods,
//! and the money dates (payment, refund, notice, interest). Money dates are always computed
//! here in Rust from an instant — never from the database server's `current_date`, whose
//! time zone is the server's (a UTC server is still on yesterday at 00:30 in Warsaw).

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Warsaw;

/// Where "now" comes from: the system clock in production, a fixed instant in tests.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;

    /// Today in Warsaw.
    fn today(&self) -> NaiveDate {
        local_day(self.now())
    }
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock stopped at one instant (tests, replays).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// Today in Warsaw by the system clock (for binaries; libraries take a date or a [`Clock`]).
pub fn today() -> NaiveDate {
    SystemClock.today()
}

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

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// 00:30 in Warsaw is still the previous day in UTC, in winter (UTC+1), summer (UTC+2) and
    /// on both DST change days; the clock's `today` is the Warsaw day every time.
    #[test]
    fn half_past_midnight_in_warsaw_is_already_tomorrow() {
        for (instant, warsaw_day) in [
            ("2026-01-15T23:30:00Z", "2026-01-16"),
            ("2026-07-15T22:30:00Z", "2026-07-16"),
            // Spring forward on 29 March 2026 (02:00 CET → 03:00 CEST): 00:30 is still CET.
            ("2026-03-28T23:30:00Z", "2026-03-29"),
            // The day after it, 00:30 is CEST.
            ("2026-03-29T22:30:00Z", "2026-03-30"),
            // Fall back on 25 October 2026 (03:00 CEST → 02:00 CET): 00:30 is still CEST.
            ("2026-10-24T22:30:00Z", "2026-10-25"),
            ("2026-10-25T23:30:00Z", "2026-10-26"),
        ] {
            let clock = FixedClock(utc(instant));
            assert_eq!(clock.today().to_string(), warsaw_day, "{instant}");
            assert_eq!(clock.now().date_naive().succ_opt().unwrap(), clock.today());
        }
        // 23:59 Warsaw on the fall-back day stays on its day.
        let late = FixedClock(utc("2026-10-25T22:59:00Z"));
        assert_eq!(late.today().to_string(), "2026-10-25");
        let fall = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
        assert_eq!(day_start(fall).to_rfc3339(), "2026-10-24T22:00:00+00:00");
        assert_eq!(
            day_start(fall.succ_opt().unwrap()).to_rfc3339(),
            "2026-10-25T23:00:00+00:00"
        );
    }
}
