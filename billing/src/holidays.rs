//! Polish working days for money law. Art. 115 KC: a due date on a Saturday (SN III CZP
//! 103/12 treats it as a day off) , a Sunday or a public holiday (ustawa o dniach wolnych od
//! pracy, incl. the Easter-based ones and, from 2025, Christmas Eve) moves to the next working
//! day, so paying then is on time. The EUR compensation uses the NBP rate of the last working
//! day of the month before the one in which the debt fell due.

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// Easter Sunday (Gregorian calendar; the anonymous "Meeus/Jones/Butcher" algorithm).
pub fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

/// A statutory public holiday in Poland (dzień ustawowo wolny od pracy).
pub fn is_public_holiday(day: NaiveDate) -> bool {
    let fixed = matches!(
        (day.month(), day.day()),
        (1, 1) | (1, 6) | (5, 1) | (5, 3) | (8, 15) | (11, 1) | (11, 11) | (12, 25) | (12, 26)
    );
    // Wigilia is a public holiday from 2025 (ustawa of 6 December 2024).
    let christmas_eve = day.year() >= 2025 && (day.month(), day.day()) == (12, 24);
    let movable = easter_sunday(day.year()).is_some_and(|easter| {
        // Easter Sunday and Monday, Pentecost Sunday (+49), Corpus Christi (+60).
        [0, 1, 49, 60]
            .iter()
            .any(|offset| easter.checked_add_days(Days::new(*offset)) == Some(day))
    });
    fixed || christmas_eve || movable
}

/// Neither a Saturday, a Sunday nor a public holiday.
pub fn is_working_day(day: NaiveDate) -> bool {
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !is_public_holiday(day)
}

/// Art. 115 KC: the due date itself when it is a working day, otherwise the next working day.
pub fn effective_due(due: NaiveDate) -> NaiveDate {
    let mut day = due;
    while !is_working_day(day) {
        match day.succ_opt() {
            Some(next) => day = next,
            None => return day,
        }
    }
    day
}

/// The last working day of the month before `day`'s month (for the NBP rate of the EUR
/// compensation).
pub fn last_working_day_of_previous_month(day: NaiveDate) -> NaiveDate {
    let mut d = day
        .with_day(1)
        .and_then(|first| first.pred_opt())
        .unwrap_or(day);
    while !is_working_day(d) {
        match d.pred_opt() {
            Some(prev) => d = prev,
            None => return d,
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn easter_dates_are_known_ones() {
        for (year, easter) in [
            (2023, "2023-04-09"),
            (2024, "2024-03-31"),
            (2025, "2025-04-20"),
            (2026, "2026-04-05"),
            (2027, "2027-03-28"),
        ] {
            assert_eq!(easter_sunday(year), Some(d(easter)), "{year}");
        }
    }

    #[test]
    fn polish_holidays_including_movable_ones_and_christmas_eve_from_2025() {
        for holiday in [
            "2026-01-01",
            "2026-01-06",
            "2026-04-06", // Easter Monday
            "2026-05-24", // Pentecost
            "2026-06-04", // Corpus Christi
            "2026-08-15",
            "2026-11-11",
            "2025-12-24",
            "2026-12-24",
            "2026-12-26",
        ] {
            assert!(is_public_holiday(d(holiday)), "{holiday}");
        }
        assert!(
            !is_public_holiday(d("2024-12-24")),
            "Wigilia only from 2025"
        );
        assert!(!is_public_holiday(d("2026-04-07")));
        assert!(!is_working_day(d("2026-03-07")), "Saturday");
        assert!(is_working_day(d("2026-03-09")));
    }

    #[test]
    fn due_dates_move_to_the_next_working_day() {
        // Saturday → Monday; Easter Sunday → Tuesday after Easter Monday.
        assert_eq!(effective_due(d("2026-03-07")), d("2026-03-09"));
        assert_eq!(effective_due(d("2026-04-05")), d("2026-04-07"));
        // Wigilia 2025 (Wednesday) → 27 December is a Saturday → Monday 29 December.
        assert_eq!(effective_due(d("2025-12-24")), d("2025-12-29"));
        // 1 May 2026 (Friday), 2 May Saturday, 3 May Sunday and holiday → Monday 4 May.
        assert_eq!(effective_due(d("2026-05-01")), d("2026-05-04"));
        assert_eq!(effective_due(d("2026-03-10")), d("2026-03-10"));
    }

    #[test]
    fn last_working_day_of_the_month_before() {
        // January 2026 ends on a Saturday: the last working day is Friday 30 January.
        assert_eq!(
            last_working_day_of_previous_month(d("2026-02-15")),
            d("2026-01-30")
        );
        // December 2025: 31 December is a Wednesday.
        assert_eq!(
            last_working_day_of_previous_month(d("2026-01-15")),
            d("2025-12-31")
        );
        // May 2026 ends on a Sunday → Friday 29 May.
        assert_eq!(
            last_working_day_of_previous_month(d("2026-06-01")),
            d("2026-05-29")
        );
    }
}
