//! NBP rates as data: table A mid exchange rates (the NBP archive CSV `archiwum_tab_a_YYYY.csv`
//! and the XML of api.nbp.pl or of the nbp.pl `a…z…xml` files) into `exchange_rate`, and NBP
//! reference rates (NBP's `stopy_procentowe_archiwum.xml` or a `date,rate` CSV) into
//! `reference_rate`. `ewoda rates import FILE` detects the format; [`load_shipped`] loads the
//! real history shipped in `billing/data/` (the demo calls it); [`statutory_rates`] gives the
//! interest calculations the embedded tables extended by what was imported.

use crate::interest::{RateTable, StatutoryRates};
use crate::store_error::StoreError;
use crate::xmlscan::{attr, line_of, xml_tokens, Tok};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::{PgConnection, PgPool, Row};
use std::collections::BTreeMap;

/// Real NBP table A EUR mid rates, 2023-01-02 … 2025-04-08, in the NBP archive CSV format.
pub const SHIPPED_EUR_CSV: &str = include_str!("../data/nbp_eur_mid.csv");
/// Real NBP reference rates (the table the interest calculations embed).
pub const SHIPPED_REFERENCE_CSV: &str = include_str!("../data/nbp_reference_rate.csv");

/// The currencies imported from table A files unless asked otherwise (the EUR compensation).
pub const DEFAULT_CURRENCIES: &[&str] = &["EUR"];

/// One mid rate of one NBP table A.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MidRate {
    /// ISO 4217 code.
    pub currency: String,
    /// The table's effective date.
    pub day: NaiveDate,
    /// PLN per one unit.
    pub mid: Decimal,
    /// The table's number, e.g. `022/A/NBP/2024`, when the file names it.
    pub table_no: Option<String>,
}

/// What a rates file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RatesFile {
    /// NBP table A mid rates.
    MidRates(Vec<MidRate>),
    /// NBP reference rates: (first day in force, percent).
    ReferenceRates(Vec<(NaiveDate, Decimal)>),
}

/// What an import stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// `mid rates` or `reference rates`.
    pub kind: &'static str,
    /// Rows in the file (of the wanted currencies).
    pub rows: usize,
    /// Rows new to the database.
    pub inserted: u64,
    /// Rows whose stored value the file changed (NBP corrected a table).
    pub changed: u64,
    /// First and last day in the file.
    pub span: Option<(NaiveDate, NaiveDate)>,
}

fn bad(line: usize, message: impl Into<String>) -> StoreError {
    StoreError::invalid(format!("rates file line {line}"), message)
}

/// Parses any supported rates file (detected by its content); table A rows only for
/// `currencies`. Nothing is stored.
pub fn parse(bytes: &[u8], currencies: &[&str]) -> Result<RatesFile, StoreError> {
    // NBP's CSV is CP1250; only its currency names are not ASCII, and they are not needed.
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_start_matches('\u{feff}');
    let head = text.trim_start();
    if head.starts_with('<') {
        if head.contains("stopy_procentowe") || head.contains("<pozycje") {
            return reference_xml(text).map(RatesFile::ReferenceRates);
        }
        return table_a_xml(text, currencies).map(RatesFile::MidRates);
    }
    let first = head.lines().next().unwrap_or("").trim().to_lowercase();
    if first.starts_with("data;") || first.starts_with("dane;") {
        return table_a_csv(text, currencies).map(RatesFile::MidRates);
    }
    if first.replace(' ', "") == "date,rate" {
        let table = RateTable::from_csv(text)?;
        return Ok(RatesFile::ReferenceRates(table.rows().to_vec()));
    }
    Err(bad(
        1,
        format!(
            "{:?} is neither an NBP table A (CSV `data;1USD;…` or XML) nor a reference-rate \
             file (`stopy_procentowe` XML or `date,rate` CSV)",
            first.chars().take(40).collect::<String>()
        ),
    ))
}

/// A table A column header: `1EUR`, `100HUF` → (units, code).
fn currency_column(header: &str) -> Option<(u32, String)> {
    let split = header.find(|c: char| !c.is_ascii_digit())?;
    let (units, code) = header.split_at(split);
    let code = code.trim();
    (code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase()))
        .then(|| Some((units.parse().ok()?, code.to_string())))
        .flatten()
}

/// `4,3434` (NBP's decimal comma) or `4.3434`.
fn nbp_decimal(s: &str, line: usize, what: &str) -> Result<Decimal, StoreError> {
    let s = s.trim();
    s.replace(',', ".")
        .parse::<Decimal>()
        .ok()
        .filter(|d| *d > Decimal::ZERO)
        .ok_or_else(|| bad(line, format!("{what}: {s:?} is not a positive number")))
}

/// Per-unit rate; refuses a multi-unit column whose per-unit value needs more than the 4
/// decimals `exchange_rate.mid` keeps.
fn per_unit(value: Decimal, units: u32, line: usize, what: &str) -> Result<Decimal, StoreError> {
    let mid = value / Decimal::from(units);
    if mid.normalize().scale() > 4 {
        return Err(bad(
            line,
            format!("{what}: {value} per {units} units needs more than 4 decimals per unit"),
        ));
    }
    Ok(mid)
}

/// The NBP archive CSV: a header `data;1THB;1USD;…;nr tabeli;pełny numer tabeli;`, a row of
/// currency names, one row per table (`20240131;…`), and trailing `kod ISO` / `nazwa waluty`
/// / `liczba jednostek` rows.
fn table_a_csv(text: &str, currencies: &[&str]) -> Result<Vec<MidRate>, StoreError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
    let (_, header) = lines.next().unwrap_or((1, ""));
    let header: Vec<&str> = header.split(';').map(str::trim).collect();
    let full_no = header
        .iter()
        .position(|h| h.to_lowercase().starts_with("pełny") || h.contains("numer tabeli"));
    let mut wanted = Vec::new();
    for code in currencies {
        let column = header
            .iter()
            .position(|h| currency_column(h).is_some_and(|(_, c)| c == *code))
            .ok_or_else(|| bad(1, format!("no {code} column in the header")))?;
        let (units, _) = currency_column(header[column]).unwrap_or((1, String::new()));
        wanted.push((column, units, code.to_string()));
    }
    let mut out = Vec::new();
    for (n, line) in lines {
        let cells: Vec<&str> = line.split(';').collect();
        let first = cells.first().map_or("", |c| c.trim());
        if !(first.len() == 8 && first.chars().all(|c| c.is_ascii_digit())) {
            continue; // the names row, the trailing description rows, blank lines
        }
        let day = NaiveDate::parse_from_str(first, "%Y%m%d")
            .map_err(|e| bad(n, format!("date {first:?}: {e}")))?;
        let table_no = full_no
            .and_then(|i| cells.get(i))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        for (column, units, code) in &wanted {
            let what = header[*column];
            let cell = cells
                .get(*column)
                .ok_or_else(|| bad(n, format!("{what}: missing")))?;
            let mid = per_unit(nbp_decimal(cell, n, what)?, *units, n, what)?;
            out.push(MidRate {
                currency: code.clone(),
                day,
                mid,
                table_no: table_no.clone(),
            });
        }
    }
    if out.is_empty() {
        return Err(bad(1, "no table rows (YYYYMMDD;…) in the file"));
    }
    Ok(out)
}

/// What the table A XML parser has seen of the current table and rate.
#[derive(Default)]
struct TableState {
    table_day: Option<NaiveDate>,
    table_no: Option<String>,
    series_code: Option<String>,
    in_rate: bool,
    rate_day: Option<NaiveDate>,
    rate_no: Option<String>,
    code: Option<String>,
    units: u32,
    mid: Option<Decimal>,
}

/// api.nbp.pl XML (`ArrayOfExchangeRatesTable` with `Rate`s of `Code`/`Mid`, or an
/// `ExchangeRatesSeries` of one currency) and the nbp.pl table files (`tabela_kursow` with
/// `pozycja`s of `kod_waluty`/`przelicznik`/`kurs_sredni`).
fn table_a_xml(xml: &str, currencies: &[&str]) -> Result<Vec<MidRate>, StoreError> {
    let mut st = TableState::default();
    let mut open: Option<&str> = None;
    let mut out = Vec::new();
    for (at, tok) in xml_tokens(xml).map_err(|line| bad(line, "a tag is not closed"))? {
        let n = line_of(xml, at);
        match tok {
            Tok::Open(name, _) => {
                if matches!(name, "Rate" | "pozycja") {
                    st.in_rate = true;
                    st.units = 1;
                }
                open = Some(name);
            }
            Tok::Text(text) => match open.unwrap_or("") {
                "EffectiveDate" | "data_publikacji" => {
                    let day = text
                        .parse()
                        .map_err(|e| bad(n, format!("date {text:?}: {e}")))?;
                    if st.in_rate {
                        st.rate_day = Some(day)
                    } else {
                        st.table_day = Some(day)
                    }
                }
                "No" | "numer_tabeli" => {
                    if st.in_rate {
                        st.rate_no = Some(text.into())
                    } else {
                        st.table_no = Some(text.into())
                    }
                }
                "Code" | "kod_waluty" => {
                    if st.in_rate {
                        st.code = Some(text.into())
                    } else {
                        st.series_code = Some(text.into())
                    }
                }
                "przelicznik" => {
                    st.units = text
                        .parse()
                        .map_err(|_| bad(n, format!("przelicznik {text:?} is not a number")))?;
                }
                "Mid" | "kurs_sredni" => st.mid = Some(nbp_decimal(text, n, "Mid")?),
                _ => {}
            },
            Tok::Close(name) => {
                open = None;
                if matches!(name, "Rate" | "pozycja") {
                    if let Some(rate) = finish_rate(&mut st, currencies, n)? {
                        out.push(rate);
                    }
                }
            }
        }
    }
    if out.is_empty() {
        return Err(bad(
            1,
            format!("no table A rate of {currencies:?} in the XML"),
        ));
    }
    Ok(out)
}

/// The rate just closed, when it is of a wanted currency; resets the rate's fields.
fn finish_rate(
    st: &mut TableState,
    currencies: &[&str],
    line: usize,
) -> Result<Option<MidRate>, StoreError> {
    st.in_rate = false;
    let code = st.code.take().or_else(|| st.series_code.clone());
    let (day, no, mid) = (st.rate_day.take(), st.rate_no.take(), st.mid.take());
    let Some(code) = code.filter(|c| currencies.contains(&c.as_str())) else {
        return Ok(None);
    };
    let day = day
        .or(st.table_day)
        .ok_or_else(|| bad(line, format!("{code}: no EffectiveDate")))?;
    let mid = mid.ok_or_else(|| bad(line, format!("{code}: no Mid")))?;
    Ok(Some(MidRate {
        mid: per_unit(mid, st.units.max(1), line, &code)?,
        currency: code,
        day,
        table_no: no.or_else(|| st.table_no.clone()),
    }))
}

/// NBP's `stopy_procentowe_archiwum.xml`: `<pozycje obowiazuje_od="2025-12-04">` with
/// `<pozycja id="ref" oprocentowanie="4,00" …/>` (the reference rate) among the other rates.
fn reference_xml(xml: &str) -> Result<Vec<(NaiveDate, Decimal)>, StoreError> {
    let mut from: Option<NaiveDate> = None;
    let mut out = Vec::new();
    for (at, tok) in xml_tokens(xml).map_err(|line| bad(line, "a tag is not closed"))? {
        let n = line_of(xml, at);
        match tok {
            Tok::Open("pozycje", attrs) => {
                let day = attr(attrs, "obowiazuje_od")
                    .ok_or_else(|| bad(n, "pozycje without obowiazuje_od"))?;
                from = Some(
                    day.parse()
                        .map_err(|e| bad(n, format!("obowiazuje_od {day:?}: {e}")))?,
                );
            }
            Tok::Open("pozycja", attrs) if attr(attrs, "id") == Some("ref") => {
                let day = from.ok_or_else(|| bad(n, "pozycja outside pozycje"))?;
                let rate = attr(attrs, "oprocentowanie")
                    .ok_or_else(|| bad(n, "pozycja ref without oprocentowanie"))?;
                out.push((day, nbp_decimal(rate, n, "oprocentowanie")?));
            }
            _ => {}
        }
    }
    if out.is_empty() {
        return Err(bad(1, "no reference rate (pozycja id=\"ref\") in the XML"));
    }
    Ok(out)
}

/// Stores a parsed file in one transaction (all or nothing); re-importing changes nothing.
pub async fn store(pool: &PgPool, file: &RatesFile) -> Result<ImportReport, StoreError> {
    let mut tx = pool.begin().await?;
    let report = match file {
        RatesFile::MidRates(rates) => store_mid(&mut tx, rates).await?,
        RatesFile::ReferenceRates(rates) => store_reference(&mut tx, rates).await?,
    };
    tx.commit().await?;
    Ok(report)
}

/// The report of an upsert from its `returning (xmax = 0) as inserted` rows.
fn report(
    kind: &'static str,
    days: &[NaiveDate],
    rows: &[sqlx::postgres::PgRow],
) -> Result<ImportReport, StoreError> {
    let mut inserted = 0;
    for r in rows {
        if r.try_get::<bool, _>("inserted")? {
            inserted += 1;
        }
    }
    Ok(ImportReport {
        kind,
        rows: days.len(),
        inserted,
        changed: rows.len() as u64 - inserted,
        span: days
            .iter()
            .min()
            .zip(days.iter().max())
            .map(|(a, b)| (*a, *b)),
    })
}

async fn store_mid(conn: &mut PgConnection, rates: &[MidRate]) -> Result<ImportReport, StoreError> {
    let currency: Vec<&str> = rates.iter().map(|r| r.currency.as_str()).collect();
    let day: Vec<NaiveDate> = rates.iter().map(|r| r.day).collect();
    let mid: Vec<Decimal> = rates.iter().map(|r| r.mid).collect();
    let no: Vec<Option<&str>> = rates.iter().map(|r| r.table_no.as_deref()).collect();
    let rows = sqlx::query(
        "insert into exchange_rate (currency, day, mid, table_no)
         select * from unnest($1::text[], $2::date[], $3::numeric[], $4::text[])
         on conflict (currency, day) do update set mid = excluded.mid,
             table_no = coalesce(excluded.table_no, exchange_rate.table_no)
         where exchange_rate.mid <> excluded.mid
            or exchange_rate.table_no is distinct from coalesce(excluded.table_no, exchange_rate.table_no)
         returning (xmax = 0) as inserted",
    )
    .bind(&currency)
    .bind(&day)
    .bind(&mid)
    .bind(&no)
    .fetch_all(conn)
    .await?;
    report("mid rates", &day, &rows)
}

async fn store_reference(
    conn: &mut PgConnection,
    rates: &[(NaiveDate, Decimal)],
) -> Result<ImportReport, StoreError> {
    let day: Vec<NaiveDate> = rates.iter().map(|r| r.0).collect();
    let rate: Vec<Decimal> = rates.iter().map(|r| r.1).collect();
    let rows = sqlx::query(
        "insert into reference_rate (valid_from, rate_percent)
         select * from unnest($1::date[], $2::numeric[])
         on conflict (valid_from) do update set rate_percent = excluded.rate_percent
         where reference_rate.rate_percent <> excluded.rate_percent
         returning (xmax = 0) as inserted",
    )
    .bind(&day)
    .bind(&rate)
    .fetch_all(conn)
    .await?;
    report("reference rates", &day, &rows)
}

/// `ewoda rates import FILE`: parses and stores one file.
pub async fn import(
    pool: &PgPool,
    bytes: &[u8],
    currencies: &[&str],
) -> Result<ImportReport, StoreError> {
    store(pool, &parse(bytes, currencies)?).await
}

/// Loads the real NBP history shipped in `billing/data/` (EUR mid rates and reference rates);
/// idempotent. The demo seed calls this.
pub async fn load_shipped(pool: &PgPool) -> Result<Vec<ImportReport>, StoreError> {
    let mut reports = Vec::new();
    for file in [SHIPPED_EUR_CSV, SHIPPED_REFERENCE_CSV] {
        reports.push(import(pool, file.as_bytes(), DEFAULT_CURRENCIES).await?);
    }
    Ok(reports)
}

/// The statutory rates for interest: the embedded tables, with the reference rates imported
/// into `reference_rate` added (a stored row wins over an embedded one of the same day).
pub async fn statutory_rates(conn: &mut PgConnection) -> Result<StatutoryRates, StoreError> {
    let mut rates = StatutoryRates::embedded()?;
    let stored = sqlx::query("select valid_from, rate_percent from reference_rate")
        .fetch_all(conn)
        .await?;
    let mut rows: BTreeMap<NaiveDate, Decimal> = rates.reference.rows().iter().copied().collect();
    for r in stored {
        rows.insert(r.try_get("valid_from")?, r.try_get("rate_percent")?);
    }
    rates.reference = RateTable::from_rows(rows)?;
    Ok(rates)
}
