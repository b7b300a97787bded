//! Import of a handheld reading set's export file, as handheld and office software writes
//! it: one reading per line — meter number, read date-time, register m³, leak alarm TAK/NIE —
//! separated by `;` (the set's TXT, Polish Excel's CSV), tabs or `,` (the CSV variant, with
//! its header `numer_licznika,data_odczytu,stan_m3,alarm_wycieku`); an optional header line;
//! UTF-8 or Windows-1250 (detected), LF, CRLF or CR line ends, a trailing separator; dates
//! `YYYY-MM-DD` or `DD.MM.YYYY` with or without `HH:MM[:SS]` (Europe/Warsaw; a bare date is
//! read at 12:00); registers with a decimal comma or point and thousands separated by spaces
//! (`1 124,080`). All-or-nothing in one transaction; every error of the file — format and
//! database alike — is reported in one pass with its line, and a re-import stores nothing new.

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
    /// Alarms opened, by their kind (a leak flag, a falling register's reverse flow, …).
    pub alarms_opened: Vec<(AlarmKind, u64)>,
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
            "{} readings: {} stored, {} already stored, ",
            self.readings, self.stored, self.already_stored,
        )?;
        if self.alarms_opened.is_empty() {
            write!(f, "no alarms opened")?;
        } else {
            let kinds: Vec<String> = self
                .alarms_opened
                .iter()
                .map(|(k, n)| format!("{n} {}", k.as_str()))
                .collect();
            write!(f, "alarms opened: {}", kinds.join(", "))?;
        }
        write!(f, ", {} alarms cleared", self.alarms_cleared)?;
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
    let (lines, mut errors) = parse_lines(bytes);
    if lines.is_empty() && errors.is_empty() {
        return Err(ImportError::Empty);
    }
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
        for (kind, n) in r.opened_by_kind {
            match report.alarms_opened.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, c)) => *c += n,
                None => report.alarms_opened.push((kind, n)),
            }
        }
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

/// Parses a whole file, collecting every line error.
pub fn parse_reading_set(bytes: &[u8]) -> Result<Vec<ReadingLine>, ImportError> {
    let (lines, errors) = parse_lines(bytes);
    if !errors.is_empty() {
        return Err(ImportError::Lines(errors));
    }
    if lines.is_empty() {
        return Err(ImportError::Empty);
    }
    Ok(lines)
}

/// The file as text: UTF-8 (a BOM dropped) when it is valid UTF-8, else Windows-1250 (what
/// Polish Windows software writes; every byte decodes), with line ends made `\n`.
pub fn decode_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => std::borrow::Cow::Borrowed(t),
        Err(_) => {
            encoding_rs::WINDOWS_1250
                .decode_without_bom_handling(bytes)
                .0
        }
    };
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// The separator of the file: `;` or a tab when the first line holds one, else `,`.
fn separator(text: &str) -> u8 {
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    if first.contains(';') {
        b';'
    } else if first.contains('\t') {
        b'\t'
    } else {
        b','
    }
}

/// Every reading line of the file and every format error, each with its line number.
fn parse_lines(bytes: &[u8]) -> (Vec<ReadingLine>, Vec<LineError>) {
    let text = decode_text(bytes);
    let sep = separator(&text);
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(sep)
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let (mut out, mut errors) = (Vec::new(), Vec::new());
    let mut first = true;
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                errors.push(LineError {
                    line,
                    meter: None,
                    message: format!("malformed line: {e}"),
                });
                break;
            }
        };
        let line = rec.position().map_or(0, |p| p.line() as usize);
        let mut fields: Vec<&str> = rec.iter().collect();
        // A trailing separator (spreadsheets write one) leaves an empty last field.
        while fields.len() > 4 && fields.last() == Some(&"") {
            fields.pop();
        }
        if fields.iter().all(|f| f.is_empty()) {
            continue;
        }
        // A header line: its date column does not start with a digit.
        if std::mem::take(&mut first)
            && !fields
                .get(1)
                .is_some_and(|d| d.starts_with(|c: char| c.is_ascii_digit()))
        {
            continue;
        }
        match parse_fields(line, &fields, sep as char) {
            Ok(r) => out.push(r),
            Err(e) => errors.push(e),
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
                "expected 4 fields separated by '{}' (meter number, read date-time, register m³, leak alarm TAK/NIE), found {}",
                if sep == '\t' { "\\t".to_string() } else { sep.to_string() },
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

/// Parses `YYYY-MM-DD` or `DD.MM.YYYY`, with or without ` HH:MM[:SS]` (or `T`), in
/// Europe/Warsaw local time; a bare date is read at 12:00 (in the autumn overlap the earlier
/// instant, as `ewoda_common::time::local` does; a time in the spring gap is an error).
pub fn parse_local(s: &str) -> Result<DateTime<Utc>, String> {
    let expected =
        || format!("read '{s}': expected YYYY-MM-DD or DD.MM.YYYY, optionally with HH:MM[:SS]");
    let (date, time) = match s.split_once([' ', 'T']) {
        Some((d, t)) => (d, Some(t.trim())),
        None => (s, None),
    };
    let digits = |part: &str, lens: &[usize]| -> Option<u32> {
        (lens.contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse().ok())
            .flatten()
    };
    let dashed: Vec<&str> = date.split('-').collect();
    let dotted: Vec<&str> = date.split('.').collect();
    let ymd = match (dashed.as_slice(), dotted.as_slice()) {
        ([y, mo, da], _) => (digits(y, &[4]), digits(mo, &[2]), digits(da, &[2])),
        (_, [da, mo, y]) => (digits(y, &[4]), digits(mo, &[1, 2]), digits(da, &[1, 2])),
        _ => (None, None, None),
    };
    let (Some(y), Some(mo), Some(da)) = ymd else {
        return Err(expected());
    };
    let hms: Vec<&str> = time.map_or(vec!["12", "00"], |t| t.split(':').collect());
    let (h, mi, se) = match hms.as_slice() {
        [h, mi] => (digits(h, &[1, 2]), digits(mi, &[2]), Some(0)),
        [h, mi, se] => (digits(h, &[1, 2]), digits(mi, &[2]), digits(se, &[2])),
        _ => (None, None, None),
    };
    let (Some(h), Some(mi), Some(se)) = (h, mi, se) else {
        return Err(expected());
    };
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

/// Parses a register value in m³: a decimal comma or point, at most 6 decimals, thousands
/// optionally grouped by spaces (also no-break spaces, as spreadsheets write them) or, when
/// the decimal separator is a comma, by points (`1 124,080`, `1.124,080`).
pub fn parse_m3(s: &str) -> Result<Volume, String> {
    let bad = || format!("register value '{s}' is not a non-negative number of m³");
    let (int, frac, grouping) = match (s.rfind(','), s.rfind('.')) {
        (Some(c), Some(p)) if c > p => (
            &s[..c],
            Some(&s[c + 1..]),
            &['.', ' ', '\u{a0}', '\u{202f}'][..],
        ),
        (Some(c), None) => (&s[..c], Some(&s[c + 1..]), &[' ', '\u{a0}', '\u{202f}'][..]),
        (None, Some(p)) => (&s[..p], Some(&s[p + 1..]), &[' ', '\u{a0}', '\u{202f}'][..]),
        (None, None) => (s, None, &[' ', '\u{a0}', '\u{202f}'][..]),
        _ => return Err(bad()),
    };
    let groups: Vec<&str> = int.split(grouping).collect();
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    let grouped_ok =
        groups.len() == 1 || (groups[0].len() <= 3 && groups[1..].iter().all(|g| g.len() == 3));
    if !groups.iter().all(|g| digits(g)) || !grouped_ok || frac.is_some_and(|f| !digits(f)) {
        return Err(bad());
    }
    let normal = match frac {
        Some(f) => format!("{}.{f}", groups.concat()),
        None => groups.concat(),
    };
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

    #[test]
    fn office_and_handheld_variants_parse_alike() {
        let want = |lines: &[ReadingLine]| {
            lines
                .iter()
                .map(|l| {
                    (
                        l.line,
                        l.serial.clone(),
                        l.read_at.to_rfc3339(),
                        l.volume.ml(),
                        l.leak,
                    )
                })
                .collect::<Vec<_>>()
        };
        let expected = vec![
            (
                2,
                "0012345".to_string(),
                "2026-05-04T08:15:00+00:00".to_string(),
                1_124_080_000,
                false,
            ),
            (
                3,
                "0012346".to_string(),
                "2026-05-04T10:00:00+00:00".to_string(),
                7_500_000,
                true,
            ),
        ];
        // Polish Excel: semicolons, a header, DD.MM.YYYY, a space (here no-break) as the
        // thousands separator, a trailing separator, CRLF, Windows-1250 (ł is 0xB3).
        let mut excel =
            b"Numer licznika;Data odczytu;Stan [m\xB3];Alarm wycieku (ca\xB3y);\r\n".to_vec();
        excel
            .extend(b"0012345;04.05.2026 10:15;1\xA0124,080;NIE;\r\n0012346;4.5.2026;7,5;tak;\r\n");
        assert_eq!(want(&parse_reading_set(&excel).unwrap()), expected);
        // Tab-separated with a UTF-8 header and bare CR line ends.
        let tabs = "nr\tdata\tstan\talarm\r0012345\t2026-05-04 10:15:00\t1 124,080\tNIE\r0012346\t04.05.2026 12:00:00\t7.500\tTAK\r";
        assert_eq!(want(&parse_reading_set(tabs.as_bytes()).unwrap()), expected);
        // The handheld's TXT with a header line and HH:MM times.
        let txt = "numer;data;stan;alarm\n0012345;2026-05-04 10:15;1.124,08;NIE\n0012346;2026-05-04T12:00;7,5;TAK\n";
        assert_eq!(want(&parse_reading_set(txt.as_bytes()).unwrap()), expected);
        assert_eq!(decode_text(b"\xB9\x9C\xE6"), "ąść");
    }

    #[test]
    fn every_format_error_of_a_file_is_reported_at_once() {
        let txt = "0012345;31.04.2026;1;NIE\n0012346;2026-05-04;12 34,5;NIE\n0012347;2026-05-04 25:00;1;NIE\n0012348;2026-05-04;1,5;NIE\n0012349;05/04/2026;1;NIE\n";
        let Err(ImportError::Lines(errs)) = parse_reading_set(txt.as_bytes()) else {
            panic!("expected line errors");
        };
        let msgs: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs,
            [
                "line 1: meter 0012345: read 31.04.2026: invalid day",
                "line 2: meter 0012346: register value '12 34,5' is not a non-negative number of m³",
                "line 3: meter 0012347: read 2026-05-04 25:00: invalid hour",
                "line 5: meter 0012349: read '05/04/2026': expected YYYY-MM-DD or DD.MM.YYYY, optionally with HH:MM[:SS]",
            ]
        );
    }

    proptest::proptest! {
        #[test]
        fn any_file_parses_or_errors(text in "[0-9;,.: \\-TAKNIE\r\n]{0,300}") {
            let _ = parse_reading_set(text.as_bytes());
        }
    }
}
