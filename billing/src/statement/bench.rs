//! `ewoda bench statement`: one MT940 statement of N credit entries (default 50,000) imported
//! in one all-or-nothing transaction into a seeded database — matching by virtual account and
//! invoice number, repeated references and `NONREF`, allocation — then imported again (nothing
//! new). The figure is the first import's wall time.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use sqlx::PgPool;

use crate::payments::{import_statement, PaymentError, StatementFormat};
use crate::statement::profiles::TILDE;

/// What the statement benchmark measured.
#[derive(Debug, Clone)]
pub struct StatementBenchReport {
    /// Credit entries in the statement.
    pub lines: usize,
    /// Size of the file.
    pub bytes: usize,
    /// The first import (all entries new).
    pub import: Duration,
    /// Payments stored by it.
    pub stored: usize,
    /// Of those, matched to a customer and posted.
    pub posted: usize,
    /// The second import of the same file (every entry a duplicate).
    pub reimport: Duration,
}

/// Customers the statement pays to.
const CUSTOMERS: usize = 10_000;

/// Seeds customers with virtual accounts and one open invoice each on the migrated empty
/// database behind `pool`, then imports an N-entry statement twice and times both.
pub async fn statement(pool: &PgPool, lines: usize) -> Result<StatementBenchReport, PaymentError> {
    crate::bench::seed(pool, CUSTOMERS).await?;
    let mut conn = pool.acquire().await?;
    crate::virtual_accounts::assign_all(&mut conn).await?;
    sqlx::query(
        "insert into invoice (number, series, year, seq, kind, customer_id, period_from,
             period_to, issued_on, due_on, net, vat, gross)
         select 'FW/2026/10/' || lpad(customer_id::text, 6, '0'), 'FW', 2026, customer_id, 'VAT',
                customer_id, '2026-10-01', '2026-10-31', '2026-11-02', '2026-11-16', 100, 0, 100
         from customer",
    )
    .execute(&mut *conn)
    .await?;
    let accounts: Vec<String> =
        sqlx::query_scalar("select iban::text from virtual_account order by customer_id")
            .fetch_all(&mut *conn)
            .await?;
    drop(conn);
    let text = statement_text(&accounts, lines);
    let format = StatementFormat::Mt940(TILDE);
    let started = Instant::now();
    let first = import_statement(pool, text.as_bytes(), &format).await?;
    let import = started.elapsed();
    let started = Instant::now();
    let again = import_statement(pool, text.as_bytes(), &format).await?;
    let reimport = started.elapsed();
    if first.imported.len() != lines || !again.imported.is_empty() {
        return Err(PaymentError::invalid(
            "bench",
            format!(
                "{} of {lines} entries stored, {} on re-import",
                first.imported.len(),
                again.imported.len()
            ),
        ));
    }
    Ok(StatementBenchReport {
        lines,
        bytes: text.len(),
        import,
        stored: first.imported.len(),
        posted: first.imported.len() - first.unmatched(),
        reimport,
    })
}

/// One statement: entry i pays customer i mod CUSTOMERS; references repeat in pairs and every
/// tenth is `NONREF`; every third names its invoice; every fiftieth goes to the collection
/// account with no invoice number (the clerk's queue).
fn statement_text(accounts: &[String], lines: usize) -> String {
    let mut text = String::with_capacity(lines * 200);
    text.push_str(
        ":20:BENCH/1\r\n:25:/PL61109010140000071219812874\r\n:28C:00001/001\r\n\
         :60F:C261101PLN0,00\r\n",
    );
    let mut total = Decimal::ZERO;
    for i in 0..lines {
        let customer = i % accounts.len().max(1);
        let grosze = 2_500 + (i % 4) as i64 * 2_500;
        total += Decimal::new(grosze, 2);
        let reference = if i % 10 == 9 {
            "NONREF".to_string()
        } else {
            format!("NONREF//B{:09}", i / 2)
        };
        let (to, title) = match i {
            _ if i % 50 == 49 => (
                "PL61109010140000071219812874".to_string(),
                "OPLATA ZA WODE".to_string(),
            ),
            _ if i % 3 == 0 => (
                accounts.get(customer).cloned().unwrap_or_default(),
                format!("FW/2026/10/{:06}", customer + 1),
            ),
            _ => (
                accounts.get(customer).cloned().unwrap_or_default(),
                format!("WODA KLIENT {}", customer + 1),
            ),
        };
        let _ = write!(
            text,
            ":61:2611021102CN{},{:02}N525{reference}\r\n\
             :86:525~00VE02PRZELEW~20{title}~32JAN KOWALSKI~63{to}\r\n",
            grosze / 100,
            grosze % 100
        );
    }
    let _ = write!(
        text,
        ":62F:C261102PLN{}\r\n-\r\n",
        total.to_string().replace('.', ",")
    );
    text
}
