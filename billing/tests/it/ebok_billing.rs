//! eBOK's billing queries against real PostgreSQL with two customers (4711 and 4712 of the
//! payments world): each sees only their own premises, money, invoices, PDFs, payments and
//! documents, and another customer's ids read as not found.

use crate::db_payments_fixtures::{d, world, World};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use ewoda_billing::customer::{self, ContactChange};
use ewoda_billing::documents::{self, DocumentRef, NewDocument};
use ewoda_billing::invoice::issue::{issue, DraftLine, InvoiceDraft};
use ewoda_billing::invoice::pdf::InvoicePdfRenderer;
use ewoda_billing::invoice::pdf_store;
use ewoda_billing::invoice::query::{self, InvoiceFilter, InvoiceKind, PaymentStatus};
use ewoda_billing::payments::fake_operator::FakeOperator;
use ewoda_billing::payments::history;
use ewoda_billing::payments::online::{Notification, Przelewy24};
use ewoda_billing::payments::online_items::{self, start_online_payment, PayerLinks};
use ewoda_billing::payments::PaymentError;
use ewoda_billing::tariff::Period;
use ewoda_common::scope::{CustomerId, PageRequest};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sqlx::{PgConnection, PgPool};

/// 2026-05-10: 4711's March invoice (due 03-24) is overdue, May's (due 05-18) is open.
fn today() -> chrono::NaiveDate {
    d("2026-05-10")
}

fn ids(w: &World) -> (CustomerId, CustomerId) {
    (CustomerId::new(w.c4711), CustomerId::new(w.c4712))
}

/// A second premises and contract of 4711 (a property manager); returns the contract id.
async fn second_contract(conn: &mut PgConnection, customer: i64) -> i64 {
    sqlx::query_scalar(
        "with a as (insert into address (street, building, postcode, city, commune)
                    values ('ul. Ogrodowa', '12', '00-003', 'Łężyce', 'Łężyce') returning address_id),
              p as (insert into premises (address_id, kind, district_id)
                    select address_id, 'garden', 1 from a returning premises_id)
         insert into contract (number, customer_id, premises_id, tariff_group_id, valid_from, sewage)
         select 'UM/4711/2', $1, premises_id, 1, '2026-04-01', false from p returning contract_id",
    )
    .bind(customer)
    .fetch_one(conn)
    .await
    .unwrap()
}

/// A correction of 4711's March invoice lowering it by 20.00.
async fn correction(conn: &mut PgConnection, w: &World) -> i64 {
    let period = Period::new(d("2026-02-08"), d("2026-03-10")).unwrap();
    let line = DraftLine {
        item: "abonament".into(),
        from: period.from(),
        to: period.to(),
        quantity: Decimal::ZERO,
        unit: "period".into(),
        unit_price: dec!(80),
        net: dec!(-20),
        vat_percent: Decimal::ZERO,
        estimated: false,
    };
    let draft = InvoiceDraft {
        customer_id: w.c4711,
        contract_id: None,
        billing_run_id: None,
        corrects_invoice_id: Some(w.mar_4711.invoice_id),
        correction_reason: Some("zła cena".into()),
        period,
        issued_on: d("2026-04-02"),
        due_on: d("2026-04-16"),
        estimated: false,
        lines: vec![line],
        net: dec!(-20),
        vat: Decimal::ZERO,
        gross: dec!(-20),
    };
    issue(conn, &draft).await.unwrap().invoice_id
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn premises_and_contracts_are_the_customers_own(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    let w = world(&mut conn).await;
    let (a, b) = ids(&w);
    let second = second_contract(&mut conn, w.c4711).await;
    let mine = customer::premises(&mut conn, a, today()).await.unwrap();
    assert_eq!(
        mine.iter()
            .map(|p| (p.contract_number.as_str(), p.address.as_str(), p.active))
            .collect::<Vec<_>>(),
        [
            ("UM/4711", "ul. Żółwia 7/2, 00-002 Łężyce", true),
            ("UM/4711/2", "ul. Ogrodowa 12, 00-003 Łężyce", true)
        ]
    );
    let theirs = customer::premises(&mut conn, b, today()).await.unwrap();
    assert_eq!(theirs.len(), 1);
    assert!(customer::contract(&mut conn, b, second, today())
        .await
        .unwrap()
        .is_none());
    let one = customer::contract(&mut conn, a, second, today())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((one.premises_kind.as_str(), one.sewage), ("garden", false));
    // Before it started the contract is listed but not active.
    let early = customer::premises(&mut conn, a, d("2026-03-01"))
        .await
        .unwrap();
    assert_eq!(early.iter().filter(|p| p.active).count(), 1);
}

/// A customer with nothing posted (read in the same one statement as the others): zeros, no
/// open items, no account yet, nothing to transfer; the utility is there as the recipient.
#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn summary_of_a_customer_with_nothing_posted(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    let _w = world(&mut conn).await;
    let id: i64 = sqlx::query_scalar(
        "insert into customer (number, kind, first_name, last_name)
         values ('4799', 'household', 'Ewa', 'Zielińska') returning customer_id",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    let s = customer::account_summary(&mut conn, CustomerId::new(id), today())
        .await
        .unwrap();
    assert_eq!(
        (s.balance, s.to_pay, s.overpayment, s.overdue),
        (dec!(0), dec!(0), dec!(0), dec!(0))
    );
    assert!(s.open_items.is_empty() && s.next_due.is_none() && s.account.is_none());
    assert!(
        s.recipient.is_some(),
        "the utility, read in the same statement"
    );
    assert!(customer::payment_data_for_balance(&s, "4799")
        .unwrap()
        .is_none());
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn summary_shows_balance_next_due_open_items_and_overpayment(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    let w = world(&mut conn).await;
    let (a, b) = ids(&w);
    let s = customer::account_summary(&mut conn, a, today())
        .await
        .unwrap();
    assert_eq!(
        (s.balance, s.to_pay, s.overpayment),
        (dec!(367.41), dec!(367.41), dec!(0))
    );
    assert_eq!(s.overdue, dec!(100.00));
    let next = s.next_due.unwrap();
    assert_eq!(
        (next.due_on, next.amount, next.overdue),
        (d("2026-03-24"), dec!(100.00), true)
    );
    assert_eq!(
        s.open_items
            .iter()
            .map(|o| o.number.as_str())
            .collect::<Vec<_>>(),
        ["FW/2026/03/000121", "FW/2026/05/000123"]
    );
    assert_eq!(s.account.unwrap().iban, "PL79109010141234000000004711");
    let other = customer::account_summary(&mut conn, b, today())
        .await
        .unwrap();
    assert_eq!(other.balance, dec!(170.00));
    assert!(other
        .open_items
        .iter()
        .all(|o| o.number != "FW/2026/05/000123"));

    // A credit of 300.00 not allocated to any invoice (e.g. an earlier overpayment) lowers
    // what is due: 67.41 in all, so the next due amount is 67.41, not March's 100.00.
    let credit = ewoda_billing::ledger::NewPosting::new(
        w.c4711,
        d("2026-05-08"),
        ewoda_billing::ledger::PostingKind::Payment,
        dec!(-300.00),
        "nadpłata",
    );
    ewoda_billing::ledger::post(&mut conn, &credit)
        .await
        .unwrap();
    let s = customer::account_summary(&mut conn, a, today())
        .await
        .unwrap();
    assert_eq!((s.to_pay, s.overdue), (dec!(67.41), dec!(67.41)));
    assert_eq!(s.next_due.unwrap().amount, dec!(67.41));

    // 200.00 more leaves 132.59 over: shown as an overpayment, nothing due.
    let mut p = ewoda_billing::ledger::NewPosting::new(
        w.c4711,
        d("2026-05-09"),
        ewoda_billing::ledger::PostingKind::Payment,
        dec!(-200.00),
        "wpłata",
    );
    p.payment_id = None;
    ewoda_billing::ledger::post(&mut conn, &p).await.unwrap();
    let s = customer::account_summary(&mut conn, a, today())
        .await
        .unwrap();
    assert_eq!(
        (s.balance, s.to_pay, s.overpayment),
        (dec!(-132.59), dec!(0), dec!(132.59))
    );
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(
        (&json["balance"], &json["overpayment"], &json["next_due"]),
        (
            &serde_json::json!("-132.59"),
            &serde_json::json!("132.59"),
            &serde_json::Value::Null
        ),
        "money as exact decimal strings in the API"
    );
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn payment_data_carries_the_virtual_account_and_qr_text(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    let w = world(&mut conn).await;
    let (a, b) = ids(&w);
    let p = customer::payment_data(&mut conn, a, Some(w.may_4711.invoice_id), today())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.amount, dec!(267.41));
    assert_eq!(
        p.qr_text,
        "7711002238|PL|79109010141234000000004711|026741|ZWiK Łężyce|FW/2026/05/000123|||"
    );
    assert_eq!(p.account.printed, "PL79 1090 1014 1234 0000 0000 4711");
    let all = customer::payment_data(&mut conn, a, None, today())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (all.amount, all.title.as_str()),
        (dec!(367.41), "Odbiorca 4711")
    );
    // The dashboard's way, from the summary it has read: the same transfer.
    let summary = customer::account_summary(&mut conn, a, today())
        .await
        .unwrap();
    let from_summary = customer::payment_data_for_balance(&summary, "4711").unwrap();
    assert_eq!(from_summary.as_ref(), Some(&all));
    let none_owed = customer::AccountSummary {
        balance: dec!(-5.00),
        ..summary
    };
    assert!(customer::payment_data_for_balance(&none_owed, "4711")
        .unwrap()
        .is_none());
    // Another customer's invoice gives nothing to pay.
    assert!(
        customer::payment_data(&mut conn, b, Some(w.may_4711.invoice_id), today())
            .await
            .unwrap()
            .is_none()
    );
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn invoice_list_filters_pages_and_scopes(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    let w = world(&mut conn).await;
    let (a, b) = ids(&w);
    let kor = correction(&mut conn, &w).await;
    let all = InvoiceFilter::default();
    let page = query::list(&mut conn, a, &all, PageRequest::default(), today())
        .await
        .unwrap();
    let numbers = |p: &ewoda_common::scope::Page<query::InvoiceSummary>| {
        p.items.iter().map(|i| i.number.clone()).collect::<Vec<_>>()
    };
    assert_eq!(page.total, 3);
    assert_eq!(numbers(&page)[0], "FW/2026/05/000123");
    let statuses: Vec<_> = page.items.iter().map(|i| i.status).collect();
    assert_eq!(
        statuses,
        [
            PaymentStatus::Open,
            PaymentStatus::Paid,
            PaymentStatus::Overdue
        ]
    );

    let overdue = InvoiceFilter {
        status: Some(PaymentStatus::Overdue),
        ..all.clone()
    };
    let p = query::list(&mut conn, a, &overdue, PageRequest::default(), today())
        .await
        .unwrap();
    assert_eq!(numbers(&p), ["FW/2026/03/000121"]);
    let kors = InvoiceFilter {
        kind: Some(InvoiceKind::Kor),
        ..all.clone()
    };
    let p = query::list(&mut conn, a, &kors, PageRequest::default(), today())
        .await
        .unwrap();
    assert_eq!(p.items[0].invoice_id, kor);
    assert_eq!(p.items[0].corrects_invoice_id, Some(w.mar_4711.invoice_id));
    let april_on = InvoiceFilter {
        issued_from: Some(d("2026-04-01")),
        issued_to: Some(d("2026-04-30")),
        ..all.clone()
    };
    let p = query::list(&mut conn, a, &april_on, PageRequest::default(), today())
        .await
        .unwrap();
    assert_eq!(p.total, 1);
    let second = second_contract(&mut conn, w.c4711).await;
    let of_second = InvoiceFilter {
        contract_id: Some(second),
        ..all.clone()
    };
    let p = query::list(&mut conn, a, &of_second, PageRequest::default(), today())
        .await
        .unwrap();
    assert_eq!(p.total, 0);

    // Paging: two per page, the second page holds the last one; past the end is empty.
    let p2 = query::list(&mut conn, a, &all, PageRequest::new(2, 2), today())
        .await
        .unwrap();
    assert_eq!((p2.total, p2.items.len(), p2.pages()), (3, 1, 2));
    let p9 = query::list(&mut conn, a, &all, PageRequest::new(9, 2), today())
        .await
        .unwrap();
    assert_eq!((p9.total, p9.items.len()), (3, 0));

    let theirs = query::list(&mut conn, b, &all, PageRequest::default(), today())
        .await
        .unwrap();
    assert_eq!(numbers(&theirs), ["FW/2026/04/000122", "FW/2026/02/000120"]);
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn invoice_detail_has_lines_vat_corrections_and_is_scoped(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    let w = world(&mut conn).await;
    let (a, b) = ids(&w);
    let kor = correction(&mut conn, &w).await;
    sqlx::query(
        "update invoice set ksef_number = '7711002237-20260310-ABCDEF-01' where invoice_id = $1",
    )
    .bind(w.mar_4711.invoice_id)
    .execute(&mut *conn)
    .await
    .unwrap();
    let det = query::detail(&mut conn, a, w.mar_4711.invoice_id, today())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        det.summary.ksef_number.as_deref(),
        Some("7711002237-20260310-ABCDEF-01")
    );
    assert_eq!(det.lines.len(), 1);
    assert_eq!(det.lines[0].net, dec!(100.00));
    assert_eq!(det.vat_rows.len(), 1);
    assert_eq!(
        (
            det.vat_rows[0].vat_percent,
            det.vat_rows[0].net,
            det.vat_rows[0].gross
        ),
        (dec!(0), dec!(100.00), dec!(100.00))
    );
    assert_eq!(det.corrections.len(), 1);
    assert_eq!(det.corrections[0].invoice_id, kor);
    let kd = query::detail(&mut conn, a, kor, today())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kd.corrects_number.as_deref(), Some("FW/2026/03/000121"));
    assert_eq!(kd.correction_reason.as_deref(), Some("zła cena"));
    assert!(query::detail(&mut conn, b, w.mar_4711.invoice_id, today())
        .await
        .unwrap()
        .is_none());
    assert!(query::detail(&mut conn, a, 999_999, today())
        .await
        .unwrap()
        .is_none());
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn pdf_is_rendered_once_then_served_from_storage(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    let w = world(&mut conn).await;
    let (a, b) = ids(&w);
    let renderer = InvoicePdfRenderer::new().unwrap();
    let id = w.may_4711.invoice_id;
    assert!(!pdf_store::is_stored(&mut conn, id).await.unwrap());
    assert!(pdf_store::for_customer(&mut conn, &renderer, b, id)
        .await
        .unwrap()
        .is_none());
    assert!(
        !pdf_store::is_stored(&mut conn, id).await.unwrap(),
        "a refused request renders nothing"
    );
    let first = pdf_store::for_customer(&mut conn, &renderer, a, id)
        .await
        .unwrap()
        .unwrap();
    assert!(first.bytes.starts_with(b"%PDF"));
    assert_eq!(first.filename, "FW_2026_05_000123.pdf");
    // Served from the table: replace the stored bytes and the download returns them as stored.
    sqlx::query("update invoice_pdf set pdf = '%PDF-stored' where invoice_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await
        .unwrap();
    let again = pdf_store::for_customer(&mut conn, &renderer, a, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.bytes, b"%PDF-stored");
    // Storing at issue keeps the first stored copy.
    assert_eq!(
        pdf_store::store(&mut conn, &renderer, id).await.unwrap(),
        b"%PDF-stored"
    );
    // The other three invoices of the world get theirs in one pass; a second pass has none left.
    assert_eq!(
        pdf_store::render_missing(&mut conn, &renderer, 100)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        pdf_store::render_missing(&mut conn, &renderer, 100)
            .await
            .unwrap(),
        0
    );
    assert!(pdf_store::is_stored(&mut conn, w.feb_4712.invoice_id)
        .await
        .unwrap());
}

#[derive(Clone)]
struct Shop {
    pool: PgPool,
    operator: Przelewy24,
}

async fn status(State(shop): State<Shop>, Json(n): Json<Notification>) -> StatusCode {
    match online_items::notify(&shop.pool, &shop.operator, &n).await {
        Ok(_) => StatusCode::OK,
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

async fn shop(pool: &PgPool) -> (FakeOperator, Shop, PayerLinks) {
    let fake = FakeOperator::start(5, 5, "key", "crc-key").await.unwrap();
    let shop = Shop {
        pool: pool.clone(),
        operator: Przelewy24::new(fake.config()),
    };
    let app = Router::new()
        .route("/p24/status", post(status))
        .with_state(shop.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let links = PayerLinks {
        email: "lucja@example.pl".into(),
        url_return: "http://127.0.0.1/ebok/".into(),
        url_status: format!("http://{}/p24/status", listener.local_addr().unwrap()),
    };
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (fake, shop, links)
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn online_payment_of_several_items_posts_and_shows_in_history(pool: PgPool) {
    let w = world(&mut pool.acquire().await.unwrap()).await;
    let (a, b) = ids(&w);
    let (fake, shop, links) = shop(&pool).await;
    let items = [w.may_4711.invoice_id, w.mar_4711.invoice_id];
    let started = start_online_payment(&pool, &shop.operator, a, &items, &links)
        .await
        .unwrap();
    assert_eq!(started.amount, dec!(367.41));
    let registered = fake.transaction(&started.token).unwrap();
    assert_eq!(registered.request.amount, 36741);
    assert_eq!(
        registered.request.description,
        "Faktury FW/2026/05/000123, FW/2026/03/000121"
    );
    let n = fake.pay(&started.token).unwrap();
    assert_eq!(fake.deliver(&n).await.unwrap(), 200);

    let mut conn = pool.acquire().await.unwrap();
    let s = customer::account_summary(&mut conn, a, today())
        .await
        .unwrap();
    assert_eq!((s.balance, s.open_items.len()), (dec!(0), 0));
    let h = history::history(&mut conn, a, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(h.total, 1);
    let p = &h.items[0];
    assert_eq!(
        (p.amount, p.source.as_str(), p.unallocated),
        (dec!(367.41), "online", dec!(0))
    );
    assert_eq!(
        p.allocations
            .iter()
            .map(|a| (a.number.as_str(), a.amount))
            .collect::<Vec<_>>(),
        [
            ("FW/2026/03/000121", dec!(100.00)),
            ("FW/2026/05/000123", dec!(267.41))
        ]
    );
    assert_eq!(
        history::history(&mut conn, b, PageRequest::default())
            .await
            .unwrap()
            .total,
        0
    );
    let recorded: i64 =
        sqlx::query_scalar("select count(*) from online_transaction_item where session_id = $1")
            .bind(&started.session_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(recorded, 2);
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn online_payment_goes_to_the_items_chosen_not_the_oldest(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    let w = world(&mut conn).await;
    let (a, _) = ids(&w);
    let k4711: i64 =
        sqlx::query_scalar("select contract_id from contract where number = 'UM/4711'")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    let june =
        crate::db_payments_fixtures::invoice(&mut conn, w.c4711, k4711, "2026-06-01", dec!(50.00))
            .await;
    drop(conn);
    let (fake, shop, links) = shop(&pool).await;
    // March (100.00, the oldest) is left out on purpose.
    let chosen = [june.invoice_id, w.may_4711.invoice_id];
    let started = start_online_payment(&pool, &shop.operator, a, &chosen, &links)
        .await
        .unwrap();
    assert_eq!(started.amount, dec!(317.41));
    let n = fake.pay(&started.token).unwrap();
    for _ in 0..2 {
        assert_eq!(fake.deliver(&n).await.unwrap(), 200);
    }
    let mut conn = pool.acquire().await.unwrap();
    let open = customer::open_items(&mut conn, a, today()).await.unwrap();
    assert_eq!(
        open.iter()
            .map(|o| (o.number.as_str(), o.open))
            .collect::<Vec<_>>(),
        [("FW/2026/03/000121", dec!(100.00))]
    );
    let h = history::history(&mut conn, a, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(h.items[0].allocations.len(), 2);
    assert_eq!(h.items[0].unallocated, dec!(0));
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn online_payment_refuses_items_not_the_customers_or_not_open(pool: PgPool) {
    let w = world(&mut pool.acquire().await.unwrap()).await;
    let (a, _) = ids(&w);
    let (_fake, shop, links) = shop(&pool).await;
    let refused = |r: Result<_, PaymentError>| match r {
        Err(PaymentError::Invalid { field, message }) => format!("{field}: {message}"),
        other => panic!("expected a refusal, got {other:?}"),
    };
    let theirs = w.apr_4712.invoice_id;
    let msg = refused(
        start_online_payment(
            &pool,
            &shop.operator,
            a,
            &[w.may_4711.invoice_id, theirs],
            &links,
        )
        .await,
    );
    assert_eq!(
        msg,
        format!("items[1]: invoice {theirs} is not an open item of this customer")
    );
    let msg = refused(start_online_payment(&pool, &shop.operator, a, &[], &links).await);
    assert_eq!(msg, "items: choose at least one open item");
    let may = w.may_4711.invoice_id;
    let msg = refused(start_online_payment(&pool, &shop.operator, a, &[may, may], &links).await);
    assert_eq!(msg, format!("items[1]: invoice {may} is listed twice"));
    // A correction that lowers the bill has nothing open to pay.
    let kor = correction(&mut pool.acquire().await.unwrap(), &w).await;
    let msg = refused(start_online_payment(&pool, &shop.operator, a, &[kor], &links).await);
    assert_eq!(
        msg,
        format!("items[0]: invoice {kor} is not an open item of this customer")
    );
    let started: i64 = sqlx::query_scalar("select count(*) from online_transaction")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(started, 0, "nothing recorded for a refused request");
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn documents_list_and_download_within_scope(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    let w = world(&mut conn).await;
    let (a, b) = ids(&w);
    let k4711: i64 =
        sqlx::query_scalar("select contract_id from contract where number = 'UM/4711'")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    let k4712: i64 =
        sqlx::query_scalar("select contract_id from contract where number = 'UM/4712'")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    let doc = NewDocument {
        contract_id: Some(k4711),
        kind: "contract".into(),
        title: "Umowa UM/4711".into(),
        filename: "umowa.pdf".into(),
        content_type: "application/pdf".into(),
        bytes: b"%PDF-umowa".to_vec(),
        issued_on: d("2025-01-01"),
    };
    let file = documents::add(&mut conn, a, &doc).await.unwrap();
    let foreign = NewDocument {
        contract_id: Some(k4712),
        ..doc.clone()
    };
    let err = documents::add(&mut conn, a, &foreign).await.unwrap_err();
    assert!(err.to_string().starts_with("contract_id: "), "{err}");
    sqlx::query(
        "insert into dunning_notice (number, customer_id, kind, issued_on, principal)
         values ('WZ/2026/05/000001', $1, 'reminder', '2026-05-01', 100.00)",
    )
    .bind(w.c4711)
    .execute(&mut *conn)
    .await
    .unwrap();

    let list = documents::list(&mut conn, a).await.unwrap();
    assert_eq!(
        list.iter()
            .map(|e| (e.kind.as_str(), e.title.as_str()))
            .collect::<Vec<_>>(),
        [
            ("invoice", "FW/2026/05/000123"),
            ("reminder", "WZ/2026/05/000001"),
            ("invoice", "FW/2026/03/000121"),
            ("contract", "Umowa UM/4711")
        ]
    );
    let json = serde_json::to_value(&list[3]).unwrap();
    assert_eq!(json["id"], file.to_string());
    let renderer = InvoicePdfRenderer::new().unwrap();
    let got = documents::download(&mut conn, &renderer, a, file)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (got.filename.as_str(), got.bytes.as_slice()),
        ("umowa.pdf", &b"%PDF-umowa"[..])
    );
    assert!(documents::download(&mut conn, &renderer, b, file)
        .await
        .unwrap()
        .is_none());
    let inv = DocumentRef::Invoice(w.may_4711.invoice_id);
    assert!(documents::download(&mut conn, &renderer, b, inv)
        .await
        .unwrap()
        .is_none());
    let pdf = documents::download(&mut conn, &renderer, a, inv)
        .await
        .unwrap()
        .unwrap();
    assert!(pdf.bytes.starts_with(b"%PDF"));
    let notice = list[1].id;
    assert!(documents::download(&mut conn, &renderer, b, notice)
        .await
        .unwrap()
        .is_none());
    assert_eq!(query::notices(&mut conn, a).await.unwrap().len(), 1);
    assert!(query::notices(&mut conn, b).await.unwrap().is_empty());
    assert_eq!(documents::list(&mut conn, b).await.unwrap().len(), 2);
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn contact_change_applies_to_one_customer_with_an_audit_entry(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    let w = world(&mut conn).await;
    let (a, b) = ids(&w);
    let change = ContactChange {
        email: Some("lucja@example.pl".into()),
        phone: Some("+48 600 100 200".into()),
    };
    let mut tx = pool.begin().await.unwrap();
    customer::apply_contact_change(&mut tx, a, &change, "clerk:anna")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let p = customer::profile(&mut conn, a).await.unwrap();
    assert_eq!(
        (p.email.as_deref(), p.phone.as_deref()),
        (Some("lucja@example.pl"), Some("+48 600 100 200"))
    );
    assert_eq!(customer::profile(&mut conn, b).await.unwrap().email, None);
    let (actor, before, after): (String, serde_json::Value, serde_json::Value) = sqlx::query_as(
        "select actor, before, after from audit_log where entity = 'customer' and entity_id = $1",
    )
    .bind(w.c4711.to_string())
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(actor, "clerk:anna");
    assert_eq!(before, serde_json::json!({"email": null, "phone": null}));
    assert_eq!(after["email"], "lucja@example.pl");
    let bad = ContactChange {
        email: Some("nie-mail".into()),
        phone: None,
    };
    let err = customer::apply_contact_change(&mut conn, a, &bad, "clerk:anna")
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("email: "), "{err}");
}
