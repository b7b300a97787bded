//! Online payments end to end over loopback HTTP: the shop registers with the fake
//! Przelewy24-style operator, the operator POSTs signed notifications to the shop's status
//! endpoint, the shop verifies and posts once; bad signatures and wrong amounts post nothing.

use crate::db_payments_fixtures;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use db_payments_fixtures::{world, World};
use ewoda_billing::ledger;
use ewoda_billing::payments::fake_operator::FakeOperator;
use ewoda_billing::payments::online::{
    handle_notification, handle_notification_on, notification_sign, Notification, OnlineOrder,
    OnlineOutcome, Przelewy24, RegisteredTransaction,
};
use ewoda_billing::payments::online_store;
use ewoda_billing::payments::PaymentError;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sqlx::PgPool;

const CRC: &str = "a1b2c3d4e5f6a7b8";

#[derive(Clone)]
struct Shop {
    pool: PgPool,
    operator: Przelewy24,
}

/// The shop's `urlStatus` endpoint: 200 when posted (now or before), 400 when rejected. The
/// registration is looked up in the database (`online_transaction`).
async fn status(State(shop): State<Shop>, Json(n): Json<Notification>) -> StatusCode {
    match online_store::notify(&shop.pool, &shop.operator, &n).await {
        Ok(_) => StatusCode::OK,
        Err(PaymentError::Rejected(_)) => StatusCode::BAD_REQUEST,
        Err(_) => StatusCode::BAD_GATEWAY,
    }
}

struct Setup {
    world: World,
    fake: FakeOperator,
    shop: Shop,
    status_url: String,
}

async fn setup(pool: &PgPool) -> Setup {
    let world = world(&mut pool.acquire().await.unwrap()).await;
    let fake = FakeOperator::start(111_222, 111_222, "api-key-secret", CRC)
        .await
        .unwrap();
    let shop = Shop {
        pool: pool.clone(),
        operator: Przelewy24::new(fake.config()),
    };
    let app = Router::new()
        .route("/p24/status", post(status))
        .with_state(shop.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let status_url = format!("http://{}/p24/status", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Setup {
        world,
        fake,
        shop,
        status_url,
    }
}

/// Registers 4711's May invoice (267.41) and returns the operator's token.
async fn register(s: &Setup, session: &str) -> String {
    let order = OnlineOrder {
        session_id: session.to_string(),
        customer_id: s.world.c4711,
        invoice_id: Some(s.world.may_4711.invoice_id),
        amount: dec!(267.41),
        description: "Faktura FW/2026/05/000123".into(),
        email: "jan.kowalski@example.pl".into(),
        url_return: "http://127.0.0.1/ebok/platnosci".into(),
        url_status: s.status_url.clone(),
    };
    let reg = online_store::start_online_payment(&s.shop.pool, &s.shop.operator, &order)
        .await
        .unwrap();
    let status: String =
        sqlx::query_scalar("select status from online_transaction where session_id = $1")
            .bind(session)
            .fetch_one(&s.shop.pool)
            .await
            .unwrap();
    assert_eq!(status, "registered");
    assert!(
        online_store::start_online_payment(&s.shop.pool, &s.shop.operator, &order)
            .await
            .is_err(),
        "a session id is used once"
    );
    assert_eq!(
        reg.redirect_url,
        format!("{}/trnRequest/{}", s.fake.base_url(), reg.token)
    );
    reg.token
}

async fn online_payments(pool: &PgPool) -> Vec<(String, Decimal, Option<i64>, Option<String>)> {
    sqlx::query_as(
        "select bank_reference, amount, customer_id, matched_by from payment
         where source = 'online' order by payment_id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn posting_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from ledger_posting where kind = 'payment'")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn happy_path_registers_redirects_notifies_verifies_and_posts(pool: PgPool) {
    let s = setup(&pool).await;
    let token = register(&s, "ewoda-4711-1").await;
    let t = s.fake.transaction(&token).unwrap();
    assert_eq!(
        (
            t.request.merchant_id,
            t.request.pos_id,
            t.request.amount,
            t.request.currency.as_str(),
            t.request.url_status.as_str(),
            t.request.description.as_str()
        ),
        (
            111_222,
            111_222,
            26741,
            "PLN",
            s.status_url.as_str(),
            "Faktura FW/2026/05/000123"
        )
    );
    let page = reqwest::get(format!("{}/trnRequest/{token}", s.fake.base_url()))
        .await
        .unwrap();
    assert_eq!(page.status(), 200);

    let n = s.fake.pay(&token).unwrap();
    assert_eq!(n.sign, notification_sign(&n, CRC));
    assert_eq!(s.fake.deliver(&n).await.unwrap(), 200);
    assert!(s.fake.transaction(&token).unwrap().verified);
    assert_eq!(
        online_payments(&pool).await,
        vec![(
            n.order_id.to_string(),
            dec!(267.41),
            Some(s.world.c4711),
            Some("online".to_string())
        )]
    );
    let alloc: Vec<(i64, Decimal)> =
        sqlx::query_as("select invoice_id, amount from payment_allocation")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(alloc, vec![(s.world.may_4711.invoice_id, dec!(267.41))]);
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(
        ledger::balance(&mut conn, s.world.c4711).await.unwrap(),
        dec!(100.00)
    );
    assert_eq!(posting_count(&pool).await, 1);
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn repeated_notification_posts_once(pool: PgPool) {
    let s = setup(&pool).await;
    let token = register(&s, "ewoda-4711-2").await;
    let n = s.fake.pay(&token).unwrap();
    assert_eq!(s.fake.pay(&token).unwrap(), n);
    for _ in 0..3 {
        assert_eq!(s.fake.deliver(&n).await.unwrap(), 200);
    }
    assert_eq!(online_payments(&pool).await.len(), 1);
    assert_eq!(posting_count(&pool).await, 1);
    let registered = RegisteredTransaction {
        session_id: "ewoda-4711-2".into(),
        customer_id: s.world.c4711,
        invoice_id: None,
        amount: dec!(267.41),
        currency: "PLN".into(),
    };
    let again = handle_notification(&pool, &s.shop.operator, &registered, &n)
        .await
        .unwrap();
    assert!(
        matches!(again, OnlineOutcome::AlreadyPosted { .. }),
        "{again:?}"
    );
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn bad_signature_is_rejected(pool: PgPool) {
    let s = setup(&pool).await;
    let token = register(&s, "ewoda-4711-3").await;
    let mut n = s.fake.pay(&token).unwrap();
    // Signed with another CRC key: not this merchant's notification.
    n.sign = notification_sign(&n, "not-the-crc");
    assert_eq!(s.fake.deliver(&n).await.unwrap(), 400);
    // A changed field under the original signature fails the same way.
    let mut m = s.fake.pay(&token).unwrap();
    m.statement = "changed".into();
    assert_eq!(s.fake.deliver(&m).await.unwrap(), 400);
    assert!(online_payments(&pool).await.is_empty());
    assert_eq!(posting_count(&pool).await, 0);
    assert!(!s.fake.transaction(&token).unwrap().verified);
}

#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn wrong_amount_or_currency_is_rejected(pool: PgPool) {
    let s = setup(&pool).await;
    let token = register(&s, "ewoda-4711-4").await;
    let good = s.fake.pay(&token).unwrap();
    let resign = |mut n: Notification| {
        n.sign = notification_sign(&n, CRC);
        n
    };
    let less = resign(Notification {
        amount: 100,
        origin_amount: 100,
        ..good.clone()
    });
    assert_eq!(s.fake.deliver(&less).await.unwrap(), 400);
    let part = resign(Notification {
        amount: 26740,
        ..good.clone()
    });
    assert_eq!(s.fake.deliver(&part).await.unwrap(), 400);
    let eur = resign(Notification {
        currency: "EUR".into(),
        ..good.clone()
    });
    assert_eq!(s.fake.deliver(&eur).await.unwrap(), 400);
    let registered = online_store::registered(&pool, "ewoda-4711-4")
        .await
        .unwrap();
    let err = handle_notification(&pool, &s.shop.operator, &registered, &less)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PaymentError::Rejected(m) if m.contains("registered 26741")),
        "{err}"
    );
    assert!(online_payments(&pool).await.is_empty());
    assert_eq!(posting_count(&pool).await, 0);
    assert!(!s.fake.transaction(&token).unwrap().verified);
    // The genuine notification still goes through afterwards.
    assert_eq!(s.fake.deliver(&good).await.unwrap(), 200);
    assert_eq!(online_payments(&pool).await.len(), 1);
}

/// A payment notified at 00:30 in Warsaw on the day summer time ends (22:30 UTC the day
/// before) is booked on the Warsaw day, whatever the database server's date; so are its
/// ledger posting and its audit record.
#[sqlx::test(migrator = "ewoda_common::db::MIGRATOR")]
async fn payment_notified_after_midnight_in_warsaw_is_booked_that_day(pool: PgPool) {
    use ewoda_common::time::{Clock, FixedClock};
    let s = setup(&pool).await;
    let token = register(&s, "ewoda-4711-5").await;
    let n = s.fake.pay(&token).unwrap();
    let registered = online_store::registered(&pool, "ewoda-4711-5")
        .await
        .unwrap();
    let clock = FixedClock("2026-10-24T22:30:00Z".parse().unwrap());
    handle_notification_on(&pool, &s.shop.operator, &registered, &n, clock.today())
        .await
        .unwrap();
    let (booked, value, audited): (chrono::NaiveDate, chrono::NaiveDate, String) = sqlx::query_as(
        "select p.booked_on, l.value_date, a.after->>'booked_on' as audited
             from payment p join ledger_posting l using (payment_id)
             join audit_log a on a.entity = 'payment' and a.entity_id = p.payment_id::text
             where p.source = 'online'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let warsaw = db_payments_fixtures::d("2026-10-25");
    assert_eq!((booked, value), (warsaw, warsaw));
    assert_eq!(audited, "2026-10-25");
}
