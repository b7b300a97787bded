//! The list component every list uses: multi-column filter, sort, column choice, paging, and
//! export of the same query to CSV and XLSX. A list is data — a [`ListDef`] naming its SQL
//! source and [`Column`]s (each a whitelisted SQL expression) — and one call:
//!
//! ```text
//! let query = ListQuery::parse(&USERS, &pairs);              // from Query<Vec<(String, String)>>
//! match list::run(&state.pool, &USERS, &query, None, &page).await? {
//!     Listed::Export(file) => Ok(file),
//!     Listed::Page(list) => Ok(ui::ok(&UsersPage { page, list })),
//! }
//! ```
//! and `{% include "ui/list.html" %}` in the template. A customer's list passes its scope,
//! `Some(("i.customer_id", customer_id))`, so it cannot show another customer's rows.
//!
//! URL parameters (plain GET forms, so it all works without JavaScript): `f_<column>` filter
//! values, `sort=<column>`, `desc=1`, `page=N`, `per=25|50|100`, `col=<column>` (repeated:
//! the columns shown), `export=csv|xlsx`.

use super::Page;
use crate::error::AppError;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row};

/// How a column's values are typed (for export and alignment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Integer,
    /// numeric(14,2) PLN.
    Money,
    Date,
}

/// How a column can be filtered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    None,
    /// Case-insensitive substring.
    Contains,
    /// One of the given values (value, fluent id of its label).
    Choice(&'static [(&'static str, &'static str)]),
}

/// One column: URL key, fluent id of its header, SQL expression, type, filter, shown by
/// default.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub key: &'static str,
    pub label: &'static str,
    pub sql: &'static str,
    pub kind: Kind,
    pub filter: Filter,
    pub shown: bool,
}

/// A list: its id (export file name), `from …` clause, columns, default sort, and an optional
/// link per row (`href` prefix followed by the value of the `link_key` column). `from` is a
/// function so a clause can be built from another module's SQL (the ledger's open amount).
#[derive(Debug, Clone, Copy)]
pub struct ListDef {
    pub id: &'static str,
    pub from: fn() -> std::borrow::Cow<'static, str>,
    pub columns: &'static [Column],
    pub default_sort: &'static str,
    pub default_desc: bool,
    pub link: Option<(&'static str, &'static str)>,
}

/// Rows per page allowed.
const PER_PAGE: &[i64] = &[25, 50, 100];
/// Largest export (rows).
const EXPORT_LIMIT: i64 = 100_000;

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    Csv,
    Xlsx,
}

/// A parsed list request; unknown columns and values are ignored, never trusted into SQL.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filters: Vec<(&'static Column, String)>,
    pub sort: &'static Column,
    pub desc: bool,
    pub page: i64,
    pub per: i64,
    pub shown: Vec<&'static Column>,
    pub export: Option<Export>,
    /// The day `{today}` in a column's SQL stands for (the app's clock); without it the
    /// database's `current_date`.
    pub today: Option<chrono::NaiveDate>,
}

/// A column's SQL with `{today}` filled in: a date literal built from a typed
/// [`chrono::NaiveDate`] (digits and dashes only, never user input).
fn sql_of<'a>(c: &'a Column, q: &ListQuery) -> std::borrow::Cow<'a, str> {
    if !c.sql.contains("{today}") {
        return std::borrow::Cow::Borrowed(c.sql);
    }
    let today = match q.today {
        Some(d) => format!("date '{}'", d.format("%Y-%m-%d")),
        None => "current_date".to_string(),
    };
    std::borrow::Cow::Owned(c.sql.replace("{today}", &today))
}

impl ListQuery {
    pub fn parse(def: &'static ListDef, pairs: &[(String, String)]) -> ListQuery {
        let get = |k: &str| pairs.iter().find(|(p, _)| p == k).map(|(_, v)| v.as_str());
        let column = |key: &str| def.columns.iter().find(|c| c.key == key);
        let filters = def
            .columns
            .iter()
            .filter(|c| c.filter != Filter::None)
            .filter_map(|c| {
                let v = get(&format!("f_{}", c.key))?.trim();
                let allowed = match c.filter {
                    Filter::Choice(values) => values.iter().any(|(val, _)| *val == v),
                    _ => true,
                };
                (!v.is_empty() && allowed).then(|| (c, v.to_string()))
            })
            .collect();
        let chosen: Vec<&'static Column> = pairs
            .iter()
            .filter(|(k, _)| k == "col")
            .filter_map(|(_, v)| column(v))
            .collect();
        let shown = if chosen.is_empty() {
            def.columns.iter().filter(|c| c.shown).collect()
        } else {
            def.columns
                .iter()
                .filter(|c| chosen.iter().any(|x| x.key == c.key))
                .collect()
        };
        let sort = get("sort")
            .and_then(column)
            .or_else(|| column(def.default_sort))
            .unwrap_or(&def.columns[0]);
        ListQuery {
            filters,
            sort,
            desc: get("desc")
                .map(|v| v == "1")
                .unwrap_or(def.default_desc && get("sort").is_none()),
            page: get("page")
                .and_then(|v| v.parse().ok())
                .filter(|p| *p >= 1)
                .unwrap_or(1),
            per: get("per")
                .and_then(|v| v.parse().ok())
                .filter(|p| PER_PAGE.contains(p))
                .unwrap_or(PER_PAGE[0]),
            shown,
            export: match get("export") {
                Some("csv") => Some(Export::Csv),
                Some("xlsx") => Some(Export::Xlsx),
                _ => None,
            },
            today: None,
        }
    }
}

/// What [`run`] returns: an export file or a page of rows to render.
pub enum Listed {
    Export(Response),
    Page(ListView),
}

/// Runs the list query (scoped by `scope`: SQL column = value) and returns the export or the
/// page's view. A page and the number of rows come in one statement; only a page past the
/// last (a stale link) needs the count and the last page asked again.
pub async fn run(
    pool: &PgPool,
    def: &'static ListDef,
    q: &ListQuery,
    scope: Option<(&'static str, i64)>,
    page: &Page,
) -> Result<Listed, AppError> {
    let mut conn = pool.acquire().await?;
    if let Some(export) = q.export {
        let (rows, _) = fetch(&mut conn, def, q, scope, EXPORT_LIMIT, 0).await?;
        return Ok(Listed::Export(export_file(def, q, &rows, export, page)?));
    }
    let offset = (q.page - 1).saturating_mul(q.per);
    let (mut rows, mut total) = fetch(&mut conn, def, q, scope, q.per, offset).await?;
    let mut current = q.page;
    if rows.is_empty() && q.page > 1 {
        total = count(&mut conn, def, q, scope).await?;
        current = ((total + q.per - 1) / q.per).max(1);
        (rows, _) = fetch(&mut conn, def, q, scope, q.per, (current - 1) * q.per).await?;
    }
    let last = ((total + q.per - 1) / q.per).max(1);
    Ok(Listed::Page(ListView::new(
        def, q, rows, total, current, last, page,
    )))
}

fn where_clause(qb: &mut QueryBuilder<'_, Postgres>, q: &ListQuery, scope: Option<(&str, i64)>) {
    qb.push(" where true");
    if let Some((column, value)) = scope {
        qb.push(format!(" and {column} = ")).push_bind(value);
    }
    for (c, v) in &q.filters {
        match c.filter {
            Filter::Contains => {
                let pattern = format!(
                    "%{}%",
                    v.replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_")
                );
                qb.push(format!(" and ({})::text ilike ", sql_of(c, q)))
                    .push_bind(pattern);
            }
            Filter::Choice(_) => {
                qb.push(format!(" and ({})::text = ", sql_of(c, q)))
                    .push_bind(v.clone());
            }
            Filter::None => {}
        }
    }
}

async fn count(
    conn: &mut PgConnection,
    def: &ListDef,
    q: &ListQuery,
    scope: Option<(&str, i64)>,
) -> Result<i64, AppError> {
    let mut qb = QueryBuilder::new(format!("select count(*) as n from {}", (def.from)()));
    where_clause(&mut qb, q, scope);
    let row = qb.build().fetch_one(conn).await?;
    Ok(row.try_get("n")?)
}

/// Rows as text, one value per shown column (plus the link key, last, when the list links),
/// and the number of rows of the whole list (0 when the page is empty).
async fn fetch(
    conn: &mut PgConnection,
    def: &ListDef,
    q: &ListQuery,
    scope: Option<(&str, i64)>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Vec<String>>, i64), AppError> {
    let mut select: Vec<String> = q
        .shown
        .iter()
        .enumerate()
        .map(|(i, c)| format!("({})::text as c{i}", sql_of(c, q)))
        .collect();
    let link = def
        .link
        .and_then(|(key, _)| def.columns.iter().find(|c| c.key == key));
    if let Some(c) = link {
        select.push(format!("({})::text as link", sql_of(c, q)));
    }
    let mut qb = QueryBuilder::new(format!(
        "select {}, count(*) over () as total_rows from {}",
        select.join(", "),
        (def.from)()
    ));
    where_clause(&mut qb, q, scope);
    let dir = if q.desc { "desc" } else { "asc" };
    qb.push(format!(
        " order by ({}) {dir} nulls last, 1 limit ",
        sql_of(q.sort, q)
    ))
    .push_bind(limit)
    .push(" offset ")
    .push_bind(offset);
    let rows = qb.build().fetch_all(conn).await?;
    let total = match rows.first() {
        Some(row) => row.try_get("total_rows")?,
        None => 0,
    };
    let rows = rows
        .iter()
        .map(|row| {
            let mut values = Vec::with_capacity(select.len());
            for i in 0..q.shown.len() {
                let v: Option<String> = row.try_get(format!("c{i}").as_str())?;
                values.push(v.unwrap_or_default());
            }
            if link.is_some() {
                let v: Option<String> = row.try_get("link")?;
                values.push(v.unwrap_or_default());
            }
            Ok(values)
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok((rows, total))
}

fn export_file(
    def: &ListDef,
    q: &ListQuery,
    rows: &[Vec<String>],
    export: Export,
    page: &Page,
) -> Result<Response, AppError> {
    let headers: Vec<String> = q.shown.iter().map(|c| page.t(c.label)).collect();
    let n = q.shown.len();
    let (body, content_type, ext) = match export {
        Export::Csv => (
            csv_bytes(&headers, rows, n)?,
            "text/csv; charset=utf-8",
            "csv",
        ),
        Export::Xlsx => (
            xlsx_bytes(&headers, q, rows)?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
    };
    let disposition = format!("attachment; filename=\"{}.{ext}\"", def.id);
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

fn csv_bytes(headers: &[String], rows: &[Vec<String>], n: usize) -> Result<Vec<u8>, AppError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| AppError::Internal(format!("csv export: {e}"));
    w.write_record(headers).map_err(err)?;
    for r in rows {
        w.write_record(&r[..n]).map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| AppError::Internal(format!("csv export: {e}")))
}

fn xlsx_bytes(
    headers: &[String],
    q: &ListQuery,
    rows: &[Vec<String>],
) -> Result<Vec<u8>, AppError> {
    use rust_xlsxwriter::{Format, Workbook};
    let err = |e: rust_xlsxwriter::XlsxError| AppError::Internal(format!("xlsx export: {e}"));
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format("0.00");
    for (c, h) in headers.iter().enumerate() {
        sheet
            .write_string_with_format(0, c as u16, h, &bold)
            .map_err(err)?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, column) in q.shown.iter().enumerate() {
            let v = &row[c];
            // XLSX keeps numbers as doubles; amounts are exact decimals with two places, which
            // a double shows exactly at two places. Everything else stays text.
            match (column.kind, v.parse::<f64>()) {
                (Kind::Integer, Ok(n)) => sheet.write_number(r, c as u16, n).map(|_| ()),
                (Kind::Money, Ok(n)) => sheet
                    .write_number_with_format(r, c as u16, n, &money)
                    .map(|_| ()),
                _ => sheet.write_string(r, c as u16, v).map(|_| ()),
            }
            .map_err(err)?;
        }
    }
    book.save_to_buffer().map_err(err)
}

/// Everything `templates/ui/list.html` shows, with hrefs built here so the template stays
/// plain.
pub struct ListView {
    pub id: &'static str,
    pub total: i64,
    pub summary: String,
    pub headers: Vec<HeaderCell>,
    pub rows: Vec<RowView>,
    pub filters: Vec<FilterField>,
    pub columns: Vec<ColumnChoice>,
    pub per: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
    pub csv: String,
    pub xlsx: String,
    /// Hidden inputs that keep sort and column choice when the filter form is sent.
    pub keep: Vec<(String, String)>,
}

pub struct HeaderCell {
    pub label: String,
    pub href: String,
    /// `ascending` / `descending` / `none`, for `aria-sort`.
    pub aria_sort: &'static str,
    pub numeric: bool,
}

pub struct RowView {
    pub cells: Vec<String>,
    pub href: Option<String>,
}

pub struct FilterField {
    pub name: String,
    pub label: String,
    pub value: String,
    /// Empty for a text input; else the choices (value, label).
    pub choices: Vec<(String, String)>,
}

pub struct ColumnChoice {
    pub key: &'static str,
    pub label: String,
    pub checked: bool,
}

impl ListView {
    fn new(
        def: &ListDef,
        q: &ListQuery,
        rows: Vec<Vec<String>>,
        total: i64,
        current: i64,
        last: i64,
        page: &Page,
    ) -> ListView {
        let base = |sort: &str, desc: bool, p: i64| href(&page.path, q, sort, desc, p);
        let headers = q
            .shown
            .iter()
            .map(|c| {
                let active = c.key == q.sort.key;
                HeaderCell {
                    label: page.t(c.label),
                    href: base(c.key, active && !q.desc, 1),
                    aria_sort: match (active, q.desc) {
                        (false, _) => "none",
                        (true, false) => "ascending",
                        (true, true) => "descending",
                    },
                    numeric: matches!(c.kind, Kind::Integer | Kind::Money),
                }
            })
            .collect();
        let n = q.shown.len();
        let rows = rows
            .into_iter()
            .map(|mut r| {
                let href = def
                    .link
                    .map(|(_, prefix)| format!("{prefix}{}", urlencode_path(&r[n])));
                r.truncate(n);
                RowView { cells: r, href }
            })
            .collect();
        let filters = def
            .columns
            .iter()
            .filter(|c| c.filter != Filter::None)
            .map(|c| FilterField {
                name: format!("f_{}", c.key),
                label: page.t(c.label),
                value: q
                    .filters
                    .iter()
                    .find(|(f, _)| f.key == c.key)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default(),
                choices: match c.filter {
                    Filter::Choice(values) => values
                        .iter()
                        .map(|(v, label)| (v.to_string(), page.t(label)))
                        .collect(),
                    _ => Vec::new(),
                },
            })
            .collect();
        // The link key, when hidden by default, only builds the row links: not a choice.
        let link_key = def.link.map(|(key, _)| key);
        let columns = def
            .columns
            .iter()
            .filter(|c| c.shown || Some(c.key) != link_key)
            .map(|c| ColumnChoice {
                key: c.key,
                label: page.t(c.label),
                checked: q.shown.iter().any(|s| s.key == c.key),
            })
            .collect();
        let mut keep = vec![("sort".to_string(), q.sort.key.to_string())];
        if q.desc {
            keep.push(("desc".into(), "1".into()));
        }
        ListView {
            id: def.id,
            total,
            summary: page.tn("list-summary", total),
            headers,
            rows,
            filters,
            columns,
            per: q.per,
            prev: (current > 1).then(|| base(q.sort.key, q.desc, current - 1)),
            next: (current < last).then(|| base(q.sort.key, q.desc, current + 1)),
            csv: format!("{}&export=csv", base(q.sort.key, q.desc, 1)),
            xlsx: format!("{}&export=xlsx", base(q.sort.key, q.desc, 1)),
            keep,
        }
    }
}

/// The list's URL with the current filters and columns and the given sort and page.
fn href(path: &str, q: &ListQuery, sort: &str, desc: bool, page: i64) -> String {
    let mut pairs: Vec<(String, String)> = q
        .filters
        .iter()
        .map(|(c, v)| (format!("f_{}", c.key), v.clone()))
        .collect();
    pairs.extend(
        q.shown
            .iter()
            .map(|c| ("col".to_string(), c.key.to_string())),
    );
    pairs.push(("sort".into(), sort.into()));
    if desc {
        pairs.push(("desc".into(), "1".into()));
    }
    pairs.push(("per".into(), q.per.to_string()));
    pairs.push(("page".into(), page.to_string()));
    format!(
        "{path}?{}",
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    )
}

fn urlencode_path(s: &str) -> String {
    super::urlencode(s)
}
