//! Import of a handheld reading set's export file: TXT (`serial;YYYY-MM-DD HH:MM:SS;m³ with a
//! decimal comma;TAK|NIE`, Europe/Warsaw local time, CRLF or LF) or CSV with the header
//! `numer_licznika,data_odczytu,stan_m3,alarm_wycieku`. All-or-nothing in one transaction,
//! every error names its line, and a re-import stores nothing new.

use crate::alarms::AlarmKind;
use crate::pipeline::vee::VeeConfig;
use crate::pipeline::writer::{process_batch_cached, MeterCache, PartitionCover};
use crate::pipeline::{Item, MeterReading, MeterRef, StatusFlag};
use crate::store::Source;
use chrono::{DateTime, LocalResult, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Warsaw;
use ewoda_common::Volume;
use rust_decimal::Decimal;
use sqlx::PgPool;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// The CSV variant's header.
pub const CSV_HEADER: [&str; 4] = ["numer_licznika", "data_odczytu", "stan_m3", "alarm_wycieku"];

/// The file to import: a path or its bytes.
#[derive(Debug, Clone, Copy)]
pub enum ReadingSetInput<'a> {
    Path(&'a Path),
    Bytes(&'a [u8]),
}

impl<'a> From<&'a Path> for ReadingSetInput<'a> {
    fn from(p: &'a Path) -> Self {
        ReadingSetInput::Path(p)
    }
}

impl<'a> From<&'a [u8]> for ReadingSetInput<'a> {
    fn from(b: &'a [u8]) -> Self {
        ReadingSetInput::Bytes(b)
    }
}

/// One problem in one line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub meter: Option<String>,
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.meter {
            Some(m) => write!(f, "line {}: meter {m}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// Why an import stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the file holds no readings")]
    Empty,
    #[error("{} (nothing was imported{})", .0[0], more(.0.len()))]
    Lines(Vec<LineError>),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

fn more(n: usize) -> String {
    match n {
        0 | 1 => String::new(),
        n => format!("; {} more errors", n - 1),
    }
}

/// One parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadingLine {
    pub line: usize,
    pub serial: String,
    pub read_at: DateTime<Utc>,
    pub volume: Volume,
    pub leak: bool,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub readings: u64,
    pub stored: u64,
    /// Readings that were already stored (a re-import stores nothing new).
    pub already_stored: u64,
    pub leak_alarms_opened: u64,
    pub alarms_cleared: u64,
}

impl ImportReport {
    /// True when the whole file had been imported before.
    pub fn nothing_new(&self) -> bool {
        self.stored == 0 && self.readings > 0
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} readings: {} stored, {} already stored, {} leak alarms opened, {} alarms cleared",
            self.readings,
            self.stored,
            self.already_stored,
            self.leak_alarms_opened,
            self.alarms_cleared
        )?;
        if self.nothing_new() {
            write!(f, " (nothing new: this file was imported before)")?;
        }
        Ok(())
    }
}

/// Imports a reading set with the default validation settings.
pub async fn import_reading_set(
    pool: &PgPool,
    input: impl Into<ReadingSetInput<'_>>,
) -> Result<ImportReport, ImportError> {
    import_reading_set_with(pool, input, &VeeConfig::default()).await
}

/// Imports a reading set: parses every line, validates and stores all readings in one
/// transaction, or nothing when any line is wrong.
pub async fn import_reading_set_with(
    pool: &PgPool,
    input: impl Into<ReadingSetInput<'_>>,
    vee: &VeeConfig,
) -> Result<ImportReport, ImportError> {
    let owned;
    let bytes = match input.into() {
        ReadingSetInput::Bytes(b) => b,
        ReadingSetInput::Path(p) => {
            owned = std::fs::read(p).map_err(|source| ImportError::Io {
                path: p.display().to_string(),
                source,
            })?;
            &owned[..]
        }
    };
    let lines = parse_reading_set(bytes)?;
    let items: Vec<Item> = lines
        .iter()
        .map(|l| {
            Item::Reading(MeterReading {
                meter: MeterRef::Serial(l.serial.clone()),
                read_at: l.read_at,
                volume: l.volume,
                status: vec![StatusFlag {
                    kind: AlarmKind::Leak,
                    active: l.leak,
                }],
                source: Source::Handheld,
            })
        })
        .collect();
    let mut tx = pool.begin().await?;
    let mut report = ImportReport::default();
    let mut errors = Vec::new();
    // The writer's path: meters resolved once into a cache for the whole file (not trusted
    // for last readings: collectors may store the same meters meanwhile).
    let mut cache = MeterCache::new(std::time::Duration::from_secs(3600));
    let refs: Vec<MeterRef> = lines
        .iter()
        .map(|l| MeterRef::Serial(l.serial.clone()))
        .collect();
    // Every meter of the file locked at once, in order: the chunks below lock subsets again
    // (a no-op), so a collector writing the same meters cannot deadlock with the import.
    cache.resolve_and_lock(&mut tx, &refs).await?;
    let mut cover = PartitionCover::default();
    let now = Utc::now();
    const CHUNK: usize = 5000;
    for (k, chunk) in items.chunks(CHUNK).enumerate() {
        let (r, range) = process_batch_cached(&mut tx, vee, &cover, &mut cache, chunk, now).await?;
        // Partitions created by this transaction exist for its later chunks.
        if let Some((a, b)) = range {
            cover.extend(a, b);
        }
        for (pos, reason) in &r.rejected {
            if let Some(l) = lines.get(k * CHUNK + pos) {
                errors.push(LineError {
                    line: l.line,
                    meter: Some(l.serial.clone()),
                    message: line_message(reason, &l.serial),
                });
            }
        }
        report.readings += r.readings;
        report.stored += r.stored;
        report.already_stored += r.duplicates;
        report.leak_alarms_opened += r.alarms_opened;
        report.alarms_cleared += r.alarms_cleared;
    }
    if !errors.is_empty() {
        tx.rollback().await?;
        errors.sort_by_key(|e| e.line);
        return Err(ImportError::Lines(errors));
    }
    tx.commit().await?;
    Ok(report)
}

/// The writer's dead-letter reason without the meter it already names.
fn line_message(reason: &str, serial: &str) -> String {
    if reason == format!("unknown meter {serial}") {
        return "unknown meter".into();
    }
    let prefix = format!("meter {serial}: ");
    let short = format!("meter {serial} ");
    reason
        .strip_prefix(&prefix)
        .or_else(|| reason.strip_prefix(&short))
        .unwrap_or(reason)
        .to_string()
}

/// Parses a whole file (TXT or CSV, detected by the CSV header), collecting every line error.
pub fn parse_reading_set(bytes: &[u8]) -> Result<Vec<ReadingLine>, ImportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let header: Vec<String> = String::from_utf8_lossy(first)
        .trim()
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    let (lines, errors) = if header == CSV_HEADER {
        parse_csv(bytes)
    } else {
        parse_txt(bytes)
    };
    if !errors.is_empty() {
        return Err(ImportError::Lines(errors));
    }
    if lines.is_empty() {
        return Err(ImportError::Empty);
    }
    Ok(lines)
}

fn parse_txt(bytes: &[u8]) -> (Vec<ReadingLine>, Vec<LineError>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let Ok(text) = std::str::from_utf8(raw) else {
            errors.push(LineError {
                line,
                meter: None,
                message: "not valid UTF-8 text".into(),
            });
            continue;
        };
        if text.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = text.split(';').map(str::trim).collect();
        match parse_fields(line, &fields, ';') {
            Ok(r) => out.push(r),
            Err(e) => errors.push(e),
        }
    }
    (out, errors)
}

fn parse_csv(bytes: &[u8]) -> (Vec<ReadingLine>, Vec<LineError>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut rec = csv::ByteRecord::new();
    loop {
        let line = usize::try_from(rdr.position().line()).unwrap_or(0);
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                let line = rec
                    .position()
                    .and_then(|p| usize::try_from(p.line()).ok())
                    .unwrap_or(line);
                let fields: Result<Vec<&str>, _> = rec.iter().map(std::str::from_utf8).collect();
                let Ok(fields) = fields else {
                    errors.push(LineError {
                        line,
                        meter: None,
                        message: "not valid UTF-8 text".into(),
                    });
                    continue;
                };
                if fields.iter().all(|f| f.is_empty()) {
                    continue;
                }
                match parse_fields(line, &fields, ',') {
                    Ok(r) => out.push(r),
                    Err(e) => errors.push(e),
                }
            }
            Err(e) => {
                errors.push(LineError {
                    line: e
                        .position()
                        .and_then(|p| usize::try_from(p.line()).ok())
                        .unwrap_or(line),
                    meter: None,
                    message: format!("malformed CSV: {e}"),
                });
                break;
            }
        }
    }
    (out, errors)
}

fn parse_fields(line: usize, f: &[&str], sep: char) -> Result<ReadingLine, LineError> {
    let err = |meter: Option<&str>, message: String| LineError {
        line,
        meter: meter.map(str::to_string),
        message,
    };
    if f.len() != 4 {
        return Err(err(
            None,
            format!(
                "expected 4 fields separated by '{sep}' (meter number, read date-time, register m³, leak alarm TAK/NIE), found {}",
                f.len()
            ),
        ));
    }
    let serial = f[0];
    if serial.is_empty() {
        return Err(err(None, "meter number is empty".into()));
    }
    let m = Some(serial);
    let read_at = parse_local(f[1]).map_err(|e| err(m, e))?;
    let volume = parse_m3(f[2]).map_err(|e| err(m, e))?;
    let leak = match f[3].to_ascii_uppercase().as_str() {
        "TAK" => true,
        "NIE" => false,
        other => {
            return Err(err(
                m,
                format!("leak alarm must be TAK or NIE, found '{other}'"),
            ));
        }
    };
    Ok(ReadingLine {
        line,
        serial: serial.to_string(),
        read_at,
        volume,
        leak,
    })
}

/// Parses `YYYY-MM-DD HH:MM:SS` in Europe/Warsaw local time (in the autumn overlap the
/// earlier instant, as `ewoda_common::time::local` does; a time in the spring gap is an error).
pub fn parse_local(s: &str) -> Result<DateTime<Utc>, String> {
    let (date, time) = s
        .split_once(' ')
        .ok_or_else(|| format!("read '{s}': expected YYYY-MM-DD HH:MM:SS"))?;
    let num = |part: &str, len: usize, what: &str| -> Result<u32, String> {
        if part.len() == len && part.bytes().all(|b| b.is_ascii_digit()) {
            part.parse()
                .map_err(|_| format!("read {date}: invalid {what}"))
        } else {
            Err(format!("read '{s}': expected YYYY-MM-DD HH:MM:SS"))
        }
    };
    let d: Vec<&str> = date.split('-').collect();
    let t: Vec<&str> = time.trim().split(':').collect();
    let ([y, mo, da], [h, mi, se]) = (d.as_slice(), t.as_slice()) else {
        return Err(format!("read '{s}': expected YYYY-MM-DD HH:MM:SS"));
    };
    let (y, mo, da) = (num(y, 4, "year")?, num(mo, 2, "month")?, num(da, 2, "day")?);
    let (h, mi, se) = (
        num(h, 2, "hour")?,
        num(mi, 2, "minute")?,
        num(se, 2, "second")?,
    );
    if !(1..=12).contains(&mo) {
        return Err(format!("read {date}: invalid month"));
    }
    let day = NaiveDate::from_ymd_opt(y as i32, mo, da)
        .ok_or_else(|| format!("read {date}: invalid day"))?;
    if h > 23 {
        return Err(format!("read {s}: invalid hour"));
    }
    if mi > 59 {
        return Err(format!("read {s}: invalid minute"));
    }
    let naive = day
        .and_hms_opt(h, mi, se)
        .ok_or_else(|| format!("read {s}: invalid second"))?;
    match Warsaw.from_local_datetime(&naive) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, _) => Ok(a.with_timezone(&Utc)),
        LocalResult::None => Err(format!(
            "read {s}: this local time does not exist in Europe/Warsaw (clocks moved forward)"
        )),
    }
}

/// Parses a register value in m³ with a decimal comma or point; at most 6 decimals.
pub fn parse_m3(s: &str) -> Result<Volume, String> {
    let normal = s.replace(',', ".");
    let valid = !normal.is_empty()
        && normal.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && normal.bytes().filter(|b| *b == b'.').count() <= 1
        && !normal.starts_with('.')
        && !normal.ends_with('.');
    if !valid {
        return Err(format!(
            "register value '{s}' is not a non-negative number of m³"
        ));
    }
    let d =
        Decimal::from_str(&normal).map_err(|_| format!("register value '{s}' is not a number"))?;
    Volume::from_m3(d)
        .ok_or_else(|| format!("register value '{s}' has more than 6 decimals or is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_txt_with_crlf_and_commas() {
        let txt = b"0012345;2026-05-04 10:15:00;123,456;NIE\r\n0012346;2026-01-15 08:00:00;7.5;TAK\r\n\r\n";
        let lines = parse_reading_set(txt).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].serial, "0012345");
        assert_eq!(lines[0].read_at.to_rfc3339(), "2026-05-04T08:15:00+00:00");
        assert_eq!(lines[0].volume.ml(), 123_456_000);
        assert!(!lines[0].leak);
        assert_eq!(lines[1].read_at.to_rfc3339(), "2026-01-15T07:00:00+00:00");
        assert_eq!(
            (lines[1].line, lines[1].volume.ml(), lines[1].leak),
            (2, 7_500_000, true)
        );
    }

    #[test]
    fn line_errors_name_line_meter_and_field() {
        let mut txt = String::new();
        for i in 1..=16 {
            txt.push_str(&format!("00100{i:02};2026-05-04 10:15:00;1,0;NIE\n"));
        }
        txt.push_str("0012345;2026-13-01 10:00:00;1,0;NIE\n");
        txt.push_str("0012346;2026-05-01 10:00:00;1,0;YES\n");
        txt.push_str("0012347;2026-05-01 10:00:00;-1;NIE\n");
        txt.push_str("0012348;2026-03-29 02:30:00;1;NIE\n");
        txt.push_str("0012349;2026-02-30 10:00:00;1;NIE\n");
        txt.push_str("just one field\n");
        let Err(ImportError::Lines(errs)) = parse_reading_set(txt.as_bytes()) else {
            panic!("expected line errors");
        };
        let msgs: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs,
            vec![
                "line 17: meter 0012345: read 2026-13-01: invalid month",
                "line 18: meter 0012346: leak alarm must be TAK or NIE, found 'YES'",
                "line 19: meter 0012347: register value '-1' is not a non-negative number of m³",
                "line 20: meter 0012348: read 2026-03-29 02:30:00: this local time does not exist in Europe/Warsaw (clocks moved forward)",
                "line 21: meter 0012349: read 2026-02-30: invalid day",
                "line 22: expected 4 fields separated by ';' (meter number, read date-time, register m³, leak alarm TAK/NIE), found 1",
            ]
        );
    }

    #[test]
    fn parses_csv_with_header() {
        let csv = b"numer_licznika,data_odczytu,stan_m3,alarm_wycieku\n0012345,2026-10-25 02:30:00,12.5,TAK\n0012346,2026-05-04 10:15:00,1.000001,NIE\n";
        let lines = parse_reading_set(csv).unwrap();
        // The autumn overlap takes the earlier instant (still CEST, UTC+2).
        assert_eq!(lines[0].read_at.to_rfc3339(), "2026-10-25T00:30:00+00:00");
        assert_eq!((lines[0].line, lines[1].line), (2, 3));
        assert_eq!(lines[1].volume.ml(), 1_000_001);
        let bad = b"numer_licznika,data_odczytu,stan_m3,alarm_wycieku\n0012345,2026-05-04 10:15:00,12.5\n";
        let Err(ImportError::Lines(errs)) = parse_reading_set(bad) else {
            panic!()
        };
        assert_eq!(errs[0].line, 2);
        assert!(matches!(
            parse_reading_set(b"\n\n"),
            Err(ImportError::Empty)
        ));
    }

    proptest::proptest! {
        #[test]
        fn any_file_parses_or_errors(text in "[0-9;,.: \\-TAKNIE\r\n]{0,300}") {
            let _ = parse_reading_set(text.as_bytes());
        }
    }
}
