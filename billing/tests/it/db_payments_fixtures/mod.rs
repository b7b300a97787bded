//! The payments tests' database: the shared base rows, customers 4711 and 4712 with virtual
//! accounts (settlement 10901014, prefix 1234) and open invoices numbered up to
//! FW/2026/05/000123.
#![allow(dead_code)]

pub use crate::db_fixtures::{base, customer, d};
use ewoda_billing::invoice::issue::{issue, DraftLine, InvoiceDraft, IssuedInvoice};
use ewoda_billing::tariff::Period;
use rust_decimal::Decimal;
use sqlx::PgConnection;

/// Issues a one-line, VAT-free invoice of `gross` on `issued_on` (due 14 days later).
pub async fn invoice(
    conn: &mut PgConnection,
    customer_id: i64,
    contract_id: i64,
    issued_on: &str,
    gross: Decimal,
) -> IssuedInvoice {
    let issued = d(issued_on);
    let period = Period::new(issued - chrono::Days::new(30), issued).unwrap();
    let line = DraftLine {
        item: "abonament".into(),
        from: period.from(),
        to: period.to(),
        quantity: Decimal::ONE,
        unit: "period".into(),
        unit_price: gross,
        net: gross,
        vat_percent: Decimal::ZERO,
        estimated: false,
    };
    issue(
        conn,
        &InvoiceDraft {
            customer_id,
            contract_id: Some(contract_id),
            billing_run_id: None,
            corrects_invoice_id: None,
            correction_reason: None,
            period,
            issued_on: issued,
            due_on: issued + chrono::Days::new(14),
            estimated: false,
            lines: vec![line],
            net: gross,
            vat: Decimal::ZERO,
            gross,
        },
    )
    .await
    .unwrap()
}

/// The sample world.
pub struct World {
    /// Customer 4711.
    pub c4711: i64,
    /// Customer 4712.
    pub c4712: i64,
    /// 4712's FW/2026/02/000120, 50.00.
    pub feb_4712: IssuedInvoice,
    /// 4711's FW/2026/03/000121, 100.00.
    pub mar_4711: IssuedInvoice,
    /// 4712's FW/2026/04/000122, 120.00.
    pub apr_4712: IssuedInvoice,
    /// 4711's FW/2026/05/000123, 267.41.
    pub may_4711: IssuedInvoice,
}

/// Builds the sample world in an empty database.
pub async fn world(conn: &mut PgConnection) -> World {
    base(conn).await;
    let (c4711, _, k4711) = customer(conn, "4711", 1).await;
    let (c4712, _, k4712) = customer(conn, "4712", 1).await;
    ewoda_billing::virtual_accounts::assign_all(conn)
        .await
        .unwrap();
    sqlx::query("insert into invoice_series (series, year, last_number) values ('FW', 2026, 119)")
        .execute(&mut *conn)
        .await
        .unwrap();
    let money = |g: i64| Decimal::new(g, 2);
    let feb_4712 = invoice(conn, c4712, k4712, "2026-02-10", money(5000)).await;
    let mar_4711 = invoice(conn, c4711, k4711, "2026-03-10", money(10000)).await;
    let apr_4712 = invoice(conn, c4712, k4712, "2026-04-10", money(12000)).await;
    let may_4711 = invoice(conn, c4711, k4711, "2026-05-04", money(26741)).await;
    assert_eq!(may_4711.number, "FW/2026/05/000123");
    World {
        c4711,
        c4712,
        feb_4712,
        mar_4711,
        apr_4712,
        may_4711,
    }
}

/// Every payment posting as (customer, value date, amount, payment's bank reference).
pub async fn payment_postings(
    conn: &mut PgConnection,
) -> Vec<(i64, chrono::NaiveDate, Decimal, String)> {
    sqlx::query_as(
        "select l.customer_id, l.value_date, l.amount, p.bank_reference
         from ledger_posting l join payment p using (payment_id)
         where l.kind = 'payment' order by l.posting_id",
    )
    .fetch_all(conn)
    .await
    .unwrap()
}

/// Every allocation as (bank reference, invoice number, amount), by payment then invoice.
pub async fn allocations(conn: &mut PgConnection) -> Vec<(String, String, Decimal)> {
    sqlx::query_as(
        "select p.bank_reference, i.number, a.amount
         from payment_allocation a join payment p using (payment_id) join invoice i using (invoice_id)
         order by a.payment_id, i.number",
    )
    .fetch_all(conn)
    .await
    .unwrap()
}
