//! Benchmarks of the billing run and of invoice PDFs (`ewoda bench billing|pdf`): synthetic
//! data built set-based in a fresh database, a whole run with issue, figures printed.

use crate::account::Iban;
use crate::calc_error::CalcError;
use crate::invoice::document::{vat_rows, InvoiceDocument, Party};
use crate::invoice::issue::DraftLine;
use crate::invoice::pdf::{render_invoice_pdf, PdfError};
use crate::run::{self, RunOptions, RunPlan, RunSummary};
use crate::store_error::StoreError;
use crate::tariff::Period;
use chrono::NaiveDate;
use ewoda_common::Money;
use rust_decimal::Decimal;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgPool};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// The benchmark's month and issue day.
const MONTH: &str = "2026-10";

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

/// Creates an empty database next to `admin_url`'s and returns its URL and name.
pub async fn create_database(admin_url: &str) -> Result<(String, String), StoreError> {
    let opts = PgConnectOptions::from_str(admin_url)?;
    let name = format!("ewoda_bench_{}", std::process::id());
    let mut conn = sqlx::PgConnection::connect_with(&opts).await?;
    sqlx::query(&format!("drop database if exists {name}"))
        .execute(&mut conn)
        .await?;
    sqlx::query(&format!("create database {name}"))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let url = match admin_url.split_once('?') {
        Some((base, query)) => format!("{}/{name}?{query}", strip_db(base)),
        None => format!("{}/{name}", strip_db(admin_url)),
    };
    Ok((url, name))
}

fn strip_db(url: &str) -> &str {
    // postgres://user@host:port/db → postgres://user@host:port
    match url.find("://").map(|i| i + 3) {
        Some(start) => match url.get(start..).and_then(|rest| rest.find('/')) {
            Some(slash) => url.get(..start + slash).unwrap_or(url),
            None => url,
        },
        None => url,
    }
}

/// Drops a database made by [`create_database`].
pub async fn drop_database(admin_url: &str, name: &str) -> Result<(), StoreError> {
    let opts = PgConnectOptions::from_str(admin_url)?;
    let mut conn = sqlx::PgConnection::connect_with(&opts).await?;
    sqlx::query(&format!("drop database if exists {name} with (force)"))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}

/// Builds `n` synthetic customers on a migrated, empty database: each with premises, a monthly
/// contract, a main meter read at the ends of August, September and October 2026 and six
/// months of rollups; 1 % miss October's read (estimated), 2 % have no meter (norm), 5 % have a
/// garden sub-meter.
pub async fn seed(pool: &PgPool, n: usize) -> Result<(), StoreError> {
    let n = i64::try_from(n).map_err(|_| StoreError::invalid("customers", "too many"))?;
    let mut tx = pool.begin().await?;
    let steps = [
        "insert into utility (name, short_name, nip, street, postcode, city, bank_name,
             settlement_number, account_prefix, collection_iban)
         values ('Zakład Wodociągów i Kanalizacji w Benchowie', 'ZWiK Benchowo', '7711002238',
             'ul. Rynek 1', '00-001', 'Benchowo', 'Bank', '10901014', '1234',
             'PL61109010140000071219812874')",
        "insert into district (code, name) values ('D1', 'Północ'), ('D2', 'Południe')",
        "insert into tariff_group (code, name, customer_kind) values ('G1', 'Gospodarstwa domowe', 'household')",
        "insert into tariff_version (tariff_group_id, valid_from, valid_to, water_m3, sewage_m3,
             vat_percent, norm_m3_per_person_month)
         values (1, '2025-06-01', '2026-05-31', 6.95, 12.35, 8, 3.0),
                (1, '2026-06-01', null, 7.21, 12.80, 8, 3.0)",
        "insert into tariff_fee (tariff_version_id, name, amount, per)
         values (1, 'abonament wodny', 7.89, 'month'), (1, 'abonament kanalizacyjny', 1.45, 'month'),
                (2, 'abonament wodny', 8.10, 'month'), (2, 'abonament kanalizacyjny', 1.52, 'month')",
        "select reading_ensure_partitions('2026-03-01', '2026-12-31')",
        "insert into address (address_id, street, building, postcode, city, commune)
         overriding system value
         select g, 'ul. Wodna', g::text, '00-002', 'Benchowo', 'Benchowo' from generate_series(1, $1) g",
        "insert into premises (premises_id, address_id, kind, district_id, persons)
         overriding system value
         select g, g, 'house', 1 + g % 2, 1 + g % 4 from generate_series(1, $1) g",
        "insert into customer (customer_id, number, kind, first_name, last_name)
         overriding system value
         select g, g::text, 'household', 'Jan', 'Kowalski' from generate_series(1, $1) g",
        "insert into contract (contract_id, number, customer_id, premises_id, tariff_group_id, valid_from)
         overriding system value
         select g, 'UM/' || g, g, g, 1, '2025-01-01' from generate_series(1, $1) g",
        // Meters: premises g % 50 = 7 has none; g % 20 = 3 also has a sub-meter (id n + g).
        "insert into meter (meter_id, serial, manufacturer, model, role)
         overriding system value
         select g, 'B' || g, 'ELS', 'bench', 'main' from generate_series(1, $1) g where g % 50 <> 7
         union all
         select $1 + g, 'S' || g, 'ELS', 'bench', 'sub' from generate_series(1, $1) g
         where g % 20 = 3 and g % 50 <> 7",
        "insert into meter_installation (meter_id, premises_id, role, parent_meter_id, installed_at, installed_read_ml)
         select meter_id, case when role = 'main' then meter_id else meter_id - $1 end, role,
                case when role = 'sub' then meter_id - $1 end, '2024-01-01', 0
         from meter",
        // Registers: start at g·1000 l, use 8–15 m³ a month (sub-meters 1 m³).
        "insert into reading (meter_id, read_at, volume_ml, source)
         select m.meter_id, t.at,
                (m.meter_id % 10000) * 1000000 + t.k * case when m.role = 'main' then (8 + m.meter_id % 8) * 1000000 else 1000000 end,
                'wmbus'
         from meter m
         cross join (values (0, timestamptz '2026-08-31 23:30+02'), (1, '2026-09-30 23:30+02'),
                            (2, '2026-10-31 23:30+01')) as t(k, at)
         where not (t.k = 2 and m.meter_id % 100 = 11)",
        "insert into reading_daily (meter_id, day, first_read_at, last_read_at, first_volume_ml,
             last_volume_ml, consumption_ml, reading_count)
         select m.meter_id, d::date, d, d, 0, 0, (8 + m.meter_id % 8) * 1000000, 1
         from meter m cross join generate_series(timestamp '2026-04-15', '2026-09-15', interval '1 month') d
         where m.role = 'main'",
    ];
    for sql in steps {
        let q = sqlx::query(sql);
        let q = if sql.contains("$1") { q.bind(n) } else { q };
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    sqlx::query("analyze").execute(pool).await?;
    Ok(())
}

/// What the billing benchmark measured.
#[derive(Debug, Clone)]
pub struct BillingBenchReport {
    /// Customers built.
    pub customers: usize,
    /// Time to build them.
    pub seed: Duration,
    /// The issue's summary.
    pub summary: RunSummary,
    /// Time of the stored preview (plan + storing its proposals).
    pub preview: Duration,
    /// The stored preview's plan (its timings and store steps).
    pub preview_plan: RunPlan,
    /// Wall time of the run (stored preview, approval, issue with its re-check).
    pub run: Duration,
}

/// Seeds `customers` into the migrated empty database behind `pool`, then runs and issues
/// October 2026 and times it.
pub async fn billing(pool: &PgPool, customers: usize) -> Result<BillingBenchReport, StoreError> {
    let t0 = Instant::now();
    seed(pool, customers).await?;
    let seed_time = t0.elapsed();
    let opts = RunOptions {
        issued_on: day(2026, 11, 2),
        ..RunOptions::for_month(MONTH, day(2026, 11, 2))?
    };
    let t1 = Instant::now();
    let (run_id, preview_plan) = run::create_preview(pool, &opts).await?;
    let preview = t1.elapsed();
    run::approve(pool, run_id).await?;
    let summary = run::issue(pool, run_id, &opts, &mut |_, _| {}).await?;
    Ok(BillingBenchReport {
        customers,
        seed: seed_time,
        summary,
        preview,
        preview_plan,
        run: t1.elapsed(),
    })
}

impl BillingBenchReport {
    /// Where the run's time went, one stage a line: the stored preview (load, compute, each
    /// store statement), the issue's re-check (read back, plan) and each posting statement.
    pub fn breakdown(&self) -> Vec<String> {
        let secs = |d: Duration| d.as_secs_f64();
        let p = &self.preview_plan.timings;
        let i = &self.summary.plan;
        vec![
            format!(
                "stored preview {:.2} s: load {:.2} s, compute {:.2} s; store: {}",
                secs(self.preview),
                secs(p.load),
                secs(p.compute),
                self.preview_plan.steps.describe()
            ),
            format!(
                "issue {:.2} s: {} (re-check plan: load {:.2} s, compute {:.2} s; from the \
                 first analyze on {:.2} s)",
                secs(self.run.saturating_sub(self.preview)),
                i.steps.describe(),
                secs(i.timings.load),
                secs(i.timings.compute),
                secs(i.timings.issue)
            ),
        ]
    }
}

/// A typical household invoice: two tariff versions' water and sewage lines, two monthly fees.
pub fn typical_invoice() -> Result<InvoiceDocument, CalcError> {
    let line = |item: &str, q: Decimal, unit: &str, price: Decimal| DraftLine {
        item: item.to_string(),
        from: day(2026, 9, 1),
        to: day(2026, 10, 31),
        quantity: q,
        unit: unit.to_string(),
        unit_price: price,
        net: Money::round(q * price).amount(),
        vat_percent: Decimal::from(8),
        estimated: false,
    };
    let lines = vec![
        line("water", Decimal::new(12_345, 3), "m3", Decimal::new(721, 2)),
        line(
            "sewage",
            Decimal::new(12_345, 3),
            "m3",
            Decimal::new(1280, 2),
        ),
        line(
            "abonament wodny",
            Decimal::ONE,
            "month",
            Decimal::new(810, 2),
        ),
        line(
            "abonament wodny",
            Decimal::ONE,
            "month",
            Decimal::new(810, 2),
        ),
        line(
            "abonament kanalizacyjny",
            Decimal::ONE,
            "month",
            Decimal::new(152, 2),
        ),
        line(
            "abonament kanalizacyjny",
            Decimal::ONE,
            "month",
            Decimal::new(152, 2),
        ),
    ];
    let net: Decimal = lines.iter().map(|l| l.net).sum();
    let vat = Money::vat(net, Decimal::from(8)).amount();
    Ok(InvoiceDocument {
        number: "FW/2026/11/000123".into(),
        corrects: None,
        correction_reason: None,
        issued_on: day(2026, 11, 2),
        period: Period::new(day(2026, 9, 1), day(2026, 10, 31))?,
        due_on: day(2026, 11, 16),
        seller: Party {
            name: "Zakład Wodociągów i Kanalizacji w Przykładowie Sp. z o.o.".into(),
            address: vec!["ul. Rynek 1".into(), "00-001 Przykładowo".into()],
            nip: Some("7711002238".into()),
        },
        seller_short_name: "ZWiK Przykładowo".into(),
        buyer: Party {
            name: "Grzegorz Brzęczyszczykiewicz".into(),
            address: vec!["ul. Łąkowa 12/3".into(), "00-002 Przykładowo".into()],
            nip: None,
        },
        customer_number: "4711".into(),
        contract_number: Some("UM/2024/00042".into()),
        vat_rows: vat_rows(&lines, vat),
        lines,
        net,
        vat,
        gross: net + vat,
        account: Iban::parse("PL79109010141234000000004711").ok(),
        estimated: false,
    })
}

/// Render times of the typical invoice.
#[derive(Debug, Clone)]
pub struct PdfBenchReport {
    /// Renders.
    pub iterations: usize,
    /// Bytes of one PDF.
    pub bytes: usize,
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
}

/// Renders the typical invoice `iterations` times with [`render_invoice_pdf`] (fonts parsed
/// each time, as on demand) and reports percentiles.
pub fn pdf(iterations: usize) -> Result<PdfBenchReport, PdfError> {
    let doc = typical_invoice()?;
    let mut times = Vec::with_capacity(iterations.max(1));
    let mut bytes = 0;
    for _ in 0..iterations.max(1) {
        let t = Instant::now();
        let out = render_invoice_pdf(&doc)?;
        times.push(t.elapsed());
        bytes = out.len();
    }
    times.sort_unstable();
    let at = |q: f64| {
        let i = ((times.len() as f64 - 1.0) * q).round() as usize;
        times.get(i).copied().unwrap_or_default()
    };
    Ok(PdfBenchReport {
        iterations: times.len(),
        bytes,
        p50: at(0.5),
        p99: at(0.99),
    })
}
