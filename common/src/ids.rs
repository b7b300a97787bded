//! Validated identifiers of people and companies: PESEL and NIP. The database checks the
//! same rules (`pesel_valid`, `nip_valid`), so bad data is refused at both doors.

use crate::Error;
use chrono::NaiveDate;
use std::fmt;

/// A Polish personal identification number with a valid check digit and birth date.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pesel(String);

impl Pesel {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::Invalid {
            what: "PESEL",
            value: s.to_string(),
            reason: reason.to_string(),
        };
        let d = digits::<11>(s).ok_or_else(|| invalid("must be 11 digits"))?;
        const W: [u32; 10] = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];
        let sum: u32 = W.iter().zip(d.iter()).map(|(w, x)| w * x).sum();
        if (10 - sum % 10) % 10 != d[10] {
            return Err(invalid("wrong check digit"));
        }
        if Self::birth_date_of(&d).is_none() {
            return Err(invalid("no such date of birth"));
        }
        Ok(Pesel(s.to_string()))
    }

    /// Builds a valid PESEL from a birth date, a 4-digit serial (its last digit encodes sex).
    pub fn generate(birth: NaiveDate, serial: u16) -> Self {
        use chrono::Datelike;
        let y = birth.year();
        let century_offset = match y {
            1800..=1899 => 80,
            1900..=1999 => 0,
            2000..=2099 => 20,
            2100..=2199 => 40,
            _ => 60,
        };
        let mut s = format!(
            "{:02}{:02}{:02}{:04}",
            y % 100,
            birth.month() + century_offset,
            birth.day(),
            serial % 10_000
        );
        let d: Vec<u32> = s.bytes().map(|b| (b - b'0') as u32).collect();
        const W: [u32; 10] = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];
        let sum: u32 = W.iter().zip(d.iter()).map(|(w, x)| w * x).sum();
        s.push(char::from(b'0' + ((10 - sum % 10) % 10) as u8));
        Pesel(s)
    }

    fn birth_date_of(d: &[u32; 11]) -> Option<NaiveDate> {
        let yy = (d[0] * 10 + d[1]) as i32;
        let mm = d[2] * 10 + d[3];
        let dd = d[4] * 10 + d[5];
        let (century, month) = match mm {
            81..=92 => (1800, mm - 80),
            1..=12 => (1900, mm),
            21..=32 => (2000, mm - 20),
            41..=52 => (2100, mm - 40),
            61..=72 => (2200, mm - 60),
            _ => return None,
        };
        NaiveDate::from_ymd_opt(century + yy, month, dd)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Pesel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Polish tax identification number (10 digits, mod-11 check digit).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Nip(String);

impl Nip {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let cleaned: String = s.chars().filter(|c| *c != '-' && *c != ' ').collect();
        let invalid = |reason: &str| Error::Invalid {
            what: "NIP",
            value: s.to_string(),
            reason: reason.to_string(),
        };
        let d = digits::<10>(&cleaned).ok_or_else(|| invalid("must be 10 digits"))?;
        match Self::check_digit(&d[..9]) {
            Some(c) if c == d[9] => Ok(Nip(cleaned)),
            _ => Err(invalid("wrong check digit")),
        }
    }

    /// Completes 9 digits with the check digit, or None when no digit fits (remainder 10).
    pub fn complete(first9: &str) -> Option<Self> {
        let d = digits::<9>(first9)?;
        let c = Self::check_digit(&d)?;
        Some(Nip(format!("{first9}{c}")))
    }

    fn check_digit(d: &[u32]) -> Option<u32> {
        const W: [u32; 9] = [6, 5, 7, 2, 3, 4, 5, 6, 7];
        let r = W.iter().zip(d).map(|(w, x)| w * x).sum::<u32>() % 11;
        (r != 10).then_some(r)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Nip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn digits<const N: usize>(s: &str) -> Option<[u32; N]> {
    let b = s.as_bytes();
    if b.len() != N || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut out = [0u32; N];
    for (o, c) in out.iter_mut().zip(b) {
        *o = (c - b'0') as u32;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pesel_known_values() {
        assert!(Pesel::parse("44051401359").is_ok());
        assert!(Pesel::parse("02070803628").is_ok());
        assert!(Pesel::parse("44051401358").is_err(), "check digit");
        // 30 February with a correct check digit: the date makes it invalid.
        let base = "440230";
        let mut s = format!("{base}0135");
        let w = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];
        let sum: u32 = s.bytes().zip(w).map(|(b, w)| (b - b'0') as u32 * w).sum();
        s.push(char::from(b'0' + ((10 - sum % 10) % 10) as u8));
        assert!(Pesel::parse(&s).is_err(), "no 30 February");
        assert!(Pesel::parse("4405140135").is_err(), "length");
    }

    #[test]
    fn nip_known_values() {
        assert!(Nip::parse("5261040828").is_ok());
        assert!(Nip::parse("526-104-08-28").is_ok());
        assert!(Nip::parse("5261040827").is_err());
        assert_eq!(Nip::complete("526104082").unwrap().as_str(), "5261040828");
    }

    proptest::proptest! {
        #[test]
        fn generated_pesel_is_valid(days in 0i64..80_000, serial in 0u16..10_000) {
            let birth = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + chrono::Duration::days(days);
            let p = Pesel::generate(birth, serial);
            proptest::prop_assert!(Pesel::parse(p.as_str()).is_ok(), "{}", p);
        }
    }
}
