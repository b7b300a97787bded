//! The handheld reading application's export file, in its two formats.
//!
//! TXT: one line per reading, `;`-separated, CRLF line ends, UTF-8:
//! `serial;YYYY-MM-DD HH:MM:SS;register m³ with a decimal comma and 3 decimals;TAK|NIE`
//! (read time in Europe/Warsaw local time; TAK = leak alarm). Example:
//! `2112345678;2026-02-01 09:15:00;1234,567;NIE`.
//!
//! CSV: header `numer_licznika,data_odczytu,stan_m3,alarm_wycieku`, then the same fields with a
//! decimal point (`2112345678,2026-02-01 09:15:00,1234.567,NIE`), CRLF line ends.
//!
//! Public API: [`readings`] (from the fleet at given instants), [`Reading`], [`write_txt`],
//! [`write_csv`], [`to_txt`], [`to_csv`]. The register is what the display shows: whole litres
//! (the millilitre truth truncated), so it equals `Fleet::register_at` floored to the litre.

use crate::fleet::Fleet;
use crate::SimError;
use chrono::{DateTime, Utc};
use chrono_tz::Europe::Warsaw;
use ewoda_common::Volume;
use std::io::Write;

/// One reading as the handheld records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// Meter serial as printed.
    pub serial: String,
    /// When it was read.
    pub read_at: DateTime<Utc>,
    /// Register shown, whole litres.
    pub register: Volume,
    /// Leak alarm shown.
    pub leak: bool,
}

impl Reading {
    /// Local read time `YYYY-MM-DD HH:MM:SS`.
    pub fn local_time(&self) -> String {
        self.read_at
            .with_timezone(&Warsaw)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    /// Register in m³ with 3 decimals and the given decimal separator.
    pub fn register_m3(&self, separator: char) -> String {
        let litres = self.register.ml().div_euclid(1000);
        format!("{}{}{:03}", litres / 1000, separator, litres % 1000)
    }

    fn alarm(&self) -> &'static str {
        if self.leak {
            "TAK"
        } else {
            "NIE"
        }
    }
}

/// Readings of the given meters at the given instants, as the handheld takes them.
pub fn readings(fleet: &Fleet, plan: &[(usize, DateTime<Utc>)]) -> Result<Vec<Reading>, SimError> {
    plan.iter()
        .map(|&(meter, t)| {
            let register = fleet.register_at(meter, t)?;
            Ok(Reading {
                serial: fleet.generation_at(meter, t)?.serial.clone(),
                read_at: t,
                register: Volume::from_litres(register.ml().div_euclid(1000)),
                leak: fleet.status_at(meter, t)?.leak,
            })
        })
        .collect()
}

/// Writes the TXT format.
pub fn write_txt<W: Write>(mut w: W, readings: &[Reading]) -> Result<(), SimError> {
    for r in readings {
        write!(
            w,
            "{};{};{};{}\r\n",
            r.serial,
            r.local_time(),
            r.register_m3(','),
            r.alarm()
        )?;
    }
    Ok(())
}

/// Writes the CSV format.
pub fn write_csv<W: Write>(mut w: W, readings: &[Reading]) -> Result<(), SimError> {
    write!(w, "numer_licznika,data_odczytu,stan_m3,alarm_wycieku\r\n")?;
    for r in readings {
        write!(
            w,
            "{},{},{},{}\r\n",
            r.serial,
            r.local_time(),
            r.register_m3('.'),
            r.alarm()
        )?;
    }
    Ok(())
}

/// The TXT file as a string.
pub fn to_txt(readings: &[Reading]) -> String {
    let mut buf = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_txt(&mut buf, readings);
    String::from_utf8_lossy(&buf).into_owned()
}

/// The CSV file as a string.
pub fn to_csv(readings: &[Reading]) -> String {
    let mut buf = Vec::new();
    let _ = write_csv(&mut buf, readings);
    String::from_utf8_lossy(&buf).into_owned()
}
