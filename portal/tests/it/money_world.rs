//! Billing data for the money pages: the utility, a contract per fixture customer (1001 has two
//! premises), individual accounts, and invoices dated around today — 1001 owes an overdue
//! 100.00 and an open 267.41 (23 % VAT on part of it); 1002 owes 50.00.

use chrono::{Days, NaiveDate};
use ewoda_billing::invoice::issue::{issue, DraftLine, InvoiceDraft};
use ewoda_billing::tariff::Period;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sqlx::{PgConnection, PgPool};

/// Ids the tests ask for.
#[derive(Debug, Clone, Copy)]
pub struct World {
    pub overdue_1001: i64,
    pub open_1001: i64,
    pub open_1002: i64,
    pub second_contract_1001: i64,
}

pub fn today() -> NaiveDate {
    ewoda_common::time::local_day(chrono::Utc::now())
}

/// Builds the world once per database (the security matrix asks for it per route).
pub async fn ensure(pool: &PgPool) -> World {
    let mut conn = pool.acquire().await.unwrap();
    let exists: bool = sqlx::query_scalar("select exists (select 1 from utility)")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    if !exists {
        build(&mut conn).await;
    }
    let id = |customer: &'static str, nth: i64| {
        sqlx::query_scalar::<_, i64>(
            "select invoice_id from invoice i join customer c using (customer_id)
             where c.number = $1 order by i.issued_on offset $2 limit 1",
        )
        .bind(customer)
        .bind(nth)
    };
    let overdue_1001 = id("1001", 0).fetch_one(&mut *conn).await.unwrap();
    let open_1001 = id("1001", 1).fetch_one(&mut *conn).await.unwrap();
    let open_1002 = id("1002", 0).fetch_one(&mut *conn).await.unwrap();
    let second_contract_1001 =
        sqlx::query_scalar("select contract_id from contract where number = 'UM/1001/2'")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    World {
        overdue_1001,
        open_1001,
        open_1002,
        second_contract_1001,
    }
}

async fn exec(conn: &mut PgConnection, sql: &str) {
    sqlx::query(sql).execute(&mut *conn).await.unwrap();
}

async fn build(conn: &mut PgConnection) {
    let nip = ewoda_common::ids::Nip::complete("771100223").unwrap();
    sqlx::query(
        "insert into utility (name, short_name, nip, street, postcode, city, bank_name,
             settlement_number, account_prefix, collection_iban)
         values ('Zakład Wodociągów i Kanalizacji w Łężycach Sp. z o.o.', 'ZWiK Łężyce', $1,
             'ul. Źródlana 1', '00-001', 'Łężyce', 'Bank', '10901014', '1234',
             'PL61109010140000071219812874')",
    )
    .bind(nip.as_str())
    .execute(&mut *conn)
    .await
    .unwrap();
    exec(
        conn,
        "insert into district (code, name) values ('D1', 'Północ')",
    )
    .await;
    exec(conn, "insert into tariff_group (code, name, customer_kind) values ('G1', 'Gospodarstwa', 'household')").await;
    for (customer, n, street) in [
        ("1001", "UM/1001", "ul. Żółwia"),
        ("1001", "UM/1001/2", "ul. Ogrodowa"),
        ("1002", "UM/1002", "ul. Lipowa"),
    ] {
        sqlx::query(
            "with a as (insert into address (street, building, flat, postcode, city, commune)
                        values ($3, '7', '2', '00-002', 'Łężyce', 'Łężyce') returning address_id),
                  p as (insert into premises (address_id, kind, district_id, persons)
                        select address_id, 'flat', (select district_id from district where code = 'D1'), 3 from a returning premises_id)
             insert into contract (number, customer_id, premises_id, tariff_group_id, valid_from)
             select $2, (select customer_id from customer where number = $1), premises_id,
                    (select tariff_group_id from tariff_group where code = 'G1'), '2025-01-01' from p",
        )
        .bind(customer)
        .bind(n)
        .bind(street)
        .execute(&mut *conn)
        .await
        .unwrap();
    }
    ewoda_billing::virtual_accounts::assign_all(conn)
        .await
        .unwrap();
    let t = today();
    invoice(conn, "1001", t - Days::new(40), &[(dec!(100.00), dec!(0))]).await;
    invoice(
        conn,
        "1001",
        t - Days::new(5),
        &[(dec!(200.00), dec!(8)), (dec!(50.00), dec!(23))],
    )
    .await;
    invoice(conn, "1002", t - Days::new(3), &[(dec!(50.00), dec!(0))]).await;
}

/// Issues an invoice of (net, VAT %) lines, due 14 days after `issued`.
async fn invoice(
    conn: &mut PgConnection,
    customer: &str,
    issued: NaiveDate,
    lines: &[(Decimal, Decimal)],
) {
    let (customer_id, contract_id): (i64, i64) = sqlx::query_as(
        "select c.customer_id, k.contract_id from customer c join contract k using (customer_id)
         where c.number = $1 order by k.contract_id limit 1",
    )
    .bind(customer)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    let period = Period::new(issued - Days::new(30), issued).unwrap();
    let lines: Vec<DraftLine> = lines
        .iter()
        .map(|(net, vat)| DraftLine {
            item: "water".into(),
            from: period.from(),
            to: period.to(),
            quantity: dec!(1),
            unit: "period".into(),
            unit_price: *net,
            net: *net,
            vat_percent: *vat,
            estimated: false,
        })
        .collect();
    let net: Decimal = lines.iter().map(|l| l.net).sum();
    let vat: Decimal = lines
        .iter()
        .map(|l| (l.net * l.vat_percent / dec!(100)).round_dp(2))
        .sum();
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
            due_on: issued + Days::new(14),
            estimated: false,
            lines,
            net,
            vat,
            gross: net + vat,
        },
    )
    .await
    .unwrap();
}
