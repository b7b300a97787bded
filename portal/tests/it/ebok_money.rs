//! eBOK money pages over the real router and PostgreSQL: dashboard (balance, next due, account
//! with QR, switcher), invoices (list with filters and export, detail with VAT per rate, PDF),
//! payments (history, online payment through the fake operator), documents and notices, and
//! the same data under /api/v1.

use crate::money_world::{ensure, today};
use crate::support::TestApp;
use axum::http::StatusCode;
use ewoda_billing::payments::fake_operator::FakeOperator;

fn nbsp(s: &str) -> String {
    s.replace('\u{a0}', " ")
}

#[tokio::test]
async fn dashboard_shows_what_is_owed_when_and_where_to_pay() {
    let app = TestApp::new().await;
    let w = ensure(&app.pool).await;
    let mut c = app.login("klient").await;
    let r = c.get("/ebok/?lang=en").await;
    r.assert_status(StatusCode::OK);
    assert_eq!(nbsp(&r.texts("#balance")[0]), "To pay: PLN 377.50");
    assert_eq!(
        nbsp(&r.texts("#overdue")[0]),
        "Of which overdue: PLN 100.00"
    );
    let due = (today() - chrono::Days::new(26))
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(
        nbsp(&r.texts("#next-due")[0]),
        format!("Next payment: {due}, PLN 100.00 (overdue)")
    );
    // The individual account, selectable as text, with a copy button that JS reveals.
    let account = nbsp(&r.texts("#account")[0]);
    assert!(
        account.starts_with("PL") && account.contains("1090 1014 1234"),
        "{account}"
    );
    assert_eq!(
        r.texts("button[data-copy=account][hidden]"),
        ["Copy account number"]
    );
    // The QR with the transfer data as text beside it.
    assert_eq!(
        r.html()
            .select(&scraper::Selector::parse("svg.qr path").unwrap())
            .count(),
        1
    );
    let transfer = nbsp(&r.texts("#transfer")[0]);
    assert!(
        transfer.contains("ZWiK Łężyce") && transfer.contains("PLN 377.50"),
        "{transfer}"
    );
    assert_eq!(r.texts("#alarms-title + p"), ["No open alarms."]);
    // Two contracts: the switcher, and choosing the second shows its address.
    assert_eq!(
        r.html()
            .select(&scraper::Selector::parse("#contract option").unwrap())
            .count(),
        2
    );
    let r = c
        .get(&format!(
            "/ebok/?contract={}&lang=pl",
            w.second_contract_1001
        ))
        .await;
    assert!(
        r.texts("#premises")[0].contains("ul. Ogrodowa"),
        "{:?}",
        r.texts("#premises")
    );
    assert_eq!(nbsp(&r.texts("#balance")[0]), "Do zapłaty: 377,50 zł");
    // Another customer's contract is not theirs to choose.
    let mut other = app.login("klient2").await;
    other
        .get(&format!("/ebok/?contract={}", w.second_contract_1001))
        .await
        .assert_status(StatusCode::NOT_FOUND);
    let r = other.get("/ebok/").await;
    assert_eq!(
        r.html()
            .select(&scraper::Selector::parse("#contract").unwrap())
            .count(),
        0
    );
    app.drop_db().await;
}

#[tokio::test]
async fn overpayment_is_shown_as_such_not_as_a_debt() {
    let app = TestApp::new().await;
    ensure(&app.pool).await;
    // A credit posting larger than the debt (as a bank payment without allocation would be).
    sqlx::query(
        "insert into ledger_posting (customer_id, kind, amount, value_date, description)
         select customer_id, 'write_off', -500.00, current_date, 'test credit' from customer where number = '1002'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let mut c = app.login("klient2").await;
    let r = c.get("/ebok/?lang=en").await;
    assert_eq!(nbsp(&r.texts("#balance")[0]), "Overpayment: PLN 450.00");
    // The credit covers the open invoice: nothing to pay online, said plainly, and a payment
    // posted anyway is refused without reaching the operator.
    assert!(!r.body.contains("/ebok/payments#pay"), "no pay-online link");
    let r = c.get("/ebok/payments?lang=en").await;
    assert!(
        nbsp(&r.texts("#nothing-open")[0])
            .starts_with("Your overpayment covers what is open (PLN 50.00)"),
        "{:?}",
        r.texts("#nothing-open")
    );
    assert!(r.texts("form[action='/ebok/payments/online']").is_empty());
    let w = ensure(&app.pool).await;
    let item = w.open_1002.to_string();
    let r = c.post("/ebok/payments/online", &[("item", &item)]).await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(nbsp(&r.texts("#nothing-open")[0]).starts_with("Your overpayment covers"));
    let started: i64 = sqlx::query_scalar("select count(*) from online_transaction")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(started, 0);
    app.drop_db().await;
}

#[tokio::test]
async fn invoice_list_filters_exports_and_links_to_the_detail() {
    let app = TestApp::new().await;
    let w = ensure(&app.pool).await;
    let mut c = app.login("klient").await;
    let r = c.get("/ebok/invoices?lang=en").await;
    r.assert_status(StatusCode::OK);
    let links = r.texts("tbody a");
    assert_eq!(links.len(), 2, "{links:?}");
    let r = c.get("/ebok/invoices?f_status=overdue&lang=pl").await;
    let rows = r.texts("tbody tr");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains("po terminie"), "{rows:?}");
    assert_eq!(
        r.html()
            .select(
                &scraper::Selector::parse(&format!(
                    "tbody a[href='/ebok/invoices/{}']",
                    w.overdue_1001
                ))
                .unwrap()
            )
            .count(),
        1
    );
    let csv = c.get("/ebok/invoices?export=csv&f_status=open").await;
    csv.assert_status(StatusCode::OK);
    assert_eq!(csv.body.lines().count(), 2, "{}", csv.body);
    assert!(csv.body.contains("277.50"), "{}", csv.body);
    let xlsx = c.get("/ebok/invoices?export=xlsx").await;
    assert!(xlsx.bytes.starts_with(b"PK"));
    // klient2 sees only their own.
    let mut other = app.login("klient2").await;
    let r = other.get("/ebok/invoices").await;
    assert_eq!(r.texts("tbody tr").len(), 1);
    assert!(r.body.contains(&format!("/ebok/invoices/{}", w.open_1002)));
    app.drop_db().await;
}

#[tokio::test]
async fn invoice_detail_has_lines_vat_per_rate_and_its_pdf() {
    let app = TestApp::new().await;
    let w = ensure(&app.pool).await;
    let mut c = app.login("klient").await;
    let r = c
        .get(&format!("/ebok/invoices/{}?lang=en", w.open_1001))
        .await;
    r.assert_status(StatusCode::OK);
    assert!(
        r.texts("h1")[0].starts_with("Invoice FW/"),
        "{:?}",
        r.texts("h1")
    );
    assert_eq!(r.texts("#lines tbody tr").len(), 2);
    let vat: Vec<String> = r
        .texts("#vat tbody th, #vat tbody td")
        .iter()
        .map(|s| nbsp(s))
        .collect();
    assert_eq!(
        vat,
        [
            "8 %",
            "PLN 200.00",
            "PLN 16.00",
            "PLN 216.00",
            "23 %",
            "PLN 50.00",
            "PLN 11.50",
            "PLN 61.50"
        ]
    );
    assert_eq!(r.texts("#ksef"), ["not assigned yet"]);
    assert_eq!(r.texts("#status"), ["open"]);
    // A metered line as the tariff prices it (net 200.00 = 25.217 m³ × 7.9310): the quantity
    // and the price with their own digits, in Polish with a decimal comma.
    sqlx::query(
        "update invoice_line set quantity = 25.217, unit = 'm3', unit_price = 7.9310
         where invoice_id = $1 and net = 200.00",
    )
    .bind(w.open_1001)
    .execute(&app.pool)
    .await
    .unwrap();
    let pl = c
        .get(&format!("/ebok/invoices/{}?lang=pl", w.open_1001))
        .await;
    let cells: Vec<String> = pl
        .texts("#lines tbody td")
        .iter()
        .map(|s| nbsp(s))
        .collect();
    assert!(cells.contains(&"25,217 m³".to_string()), "{cells:?}");
    assert!(cells.contains(&"7,9310 zł".to_string()), "{cells:?}");
    assert!(
        cells.contains(&"8 %".to_string()),
        "the VAT rate: {cells:?}"
    );
    let pdf = c.get(&format!("/ebok/invoices/{}/pdf", w.open_1001)).await;
    pdf.assert_status(StatusCode::OK);
    assert!(pdf.bytes.starts_with(b"%PDF"));
    assert_eq!(pdf.headers["content-type"], "application/pdf");
    // Another customer's invoice, its PDF and a non-number: 404.
    for path in [
        format!("/ebok/invoices/{}", w.open_1002),
        format!("/ebok/invoices/{}/pdf", w.open_1002),
        "/ebok/invoices/abc".into(),
    ] {
        c.get(&path).await.assert_status(StatusCode::NOT_FOUND);
    }
    app.drop_db().await;
}

#[tokio::test]
async fn documents_and_notices_are_listed_and_downloaded_within_scope() {
    let app = TestApp::new().await;
    let w = ensure(&app.pool).await;
    let mut c = app.login("klient").await;
    let r = c.get("/ebok/documents?lang=en").await;
    r.assert_status(StatusCode::OK);
    assert_eq!(r.texts("#issued tbody tr").len(), 2);
    assert_eq!(r.texts("#contracts-title + p"), ["No documents."]);
    let d = c
        .get(&format!("/ebok/documents/invoice-{}", w.overdue_1001))
        .await;
    d.assert_status(StatusCode::OK);
    assert!(d.bytes.starts_with(b"%PDF"));
    for id in [
        format!("invoice-{}", w.open_1002),
        "bogus".into(),
        "file-999".into(),
    ] {
        c.get(&format!("/ebok/documents/{id}"))
            .await
            .assert_status(StatusCode::NOT_FOUND);
    }
    let r = c.get("/ebok/notices?lang=pl").await;
    r.assert_status(StatusCode::OK);
    assert_eq!(
        r.texts("main p:last-child"),
        ["Brak wezwań i not odsetkowych."]
    );
    app.drop_db().await;
}

#[tokio::test]
async fn paying_without_choosing_says_so_in_both_languages() {
    let app = TestApp::new().await;
    ensure(&app.pool).await;
    let mut c = app.login("klient").await;
    c.get("/ebok/payments").await.assert_status(StatusCode::OK);
    let r = c.post("/ebok/payments/online", &[]).await;
    // No operator configured in this app: the page says online payment is unavailable.
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.texts("#e-items"),
        ["Płatności online są chwilowo niedostępne."]
    );
    let op = FakeOperator::start(1001, 1001, "key", "crc").await.unwrap();
    let app2 = TestApp::builder()
        .config(|c| c.payments = Some(op.config()))
        .build()
        .await;
    ensure(&app2.pool).await;
    let mut c = app2.login("klient").await;
    c.get("/ebok/payments").await;
    let r = c.post("/ebok/payments/online", &[]).await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.texts("#e-items"),
        ["Zaznacz co najmniej jedną fakturę do zapłaty."]
    );
    c.get("/ebok/payments?lang=en").await;
    let r = c.post("/ebok/payments/online", &[("item", "x")]).await;
    assert_eq!(r.texts("#e-items"), ["Tick at least one invoice to pay."]);
    app.drop_db().await;
    app2.drop_db().await;
}

/// The whole flow over HTTP: the portal listens on loopback so the fake operator can deliver
/// its signed notification to the status URL, as the real one would.
#[tokio::test]
async fn online_payment_of_two_items_reaches_the_balance_after_the_notification() {
    let op = FakeOperator::start(2002, 2002, "api-key", "crc-key")
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = TestApp::builder()
        .config(|c| {
            c.payments = Some(op.config());
            c.public_url = url.clone();
        })
        .build()
        .await;
    let w = ensure(&app.pool).await;
    let serve = axum::serve(listener, app.router.clone());
    let server = tokio::spawn(async move { serve.await });
    let mut c = app.login("klient").await;
    let r = c.get("/ebok/payments?lang=en").await;
    assert_eq!(r.texts("input[name=item]").len(), 2);
    // Browsers apply form-action to the redirect after the POST: the operator's origin is allowed.
    let csp = r.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains(&format!("form-action 'self' {}", op.base_url())),
        "{csp}"
    );
    let (a, b) = (w.open_1001.to_string(), w.overdue_1001.to_string());
    // Another customer's invoice is refused and nothing is started.
    let r = c
        .post(
            "/ebok/payments/online",
            &[("item", &w.open_1002.to_string())],
        )
        .await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    c.get("/ebok/payments").await;
    let r = c
        .post("/ebok/payments/online", &[("item", &a), ("item", &b)])
        .await;
    r.assert_status(StatusCode::SEE_OTHER);
    let to = r.location().unwrap().to_string();
    assert!(to.starts_with(op.base_url()), "{to}");
    let page = reqwest::get(&to).await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let token = to.rsplit('/').next().unwrap();
    // Back before the operator confirmed: waiting, nothing booked yet.
    let r = c.get("/ebok/payments/return?lang=en").await;
    assert_eq!(
        nbsp(&r.texts("#result")[0]),
        "Waiting for the payment operator's confirmation: PLN 377.50"
    );
    // The payer presses the operator's button: it notifies the shop and sends them back.
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let paid = no_redirect.post(format!("{to}/pay")).send().await.unwrap();
    assert_eq!(paid.status().as_u16(), 303);
    assert_eq!(
        paid.headers()["location"],
        format!("{url}/ebok/payments/return")
    );
    let n = op.pay(token).unwrap();
    let r = c.get("/ebok/payments/return?lang=en").await;
    assert_eq!(nbsp(&r.texts("#result")[0]), "Payment received: PLN 377.50");
    assert_eq!(r.texts("#balance"), ["Nothing owed"]);
    let r = c.get("/ebok/payments?lang=en").await;
    let row = nbsp(&r.texts("#payments tbody tr")[0]);
    assert!(
        row.contains("online payment") && row.contains("PLN 377.50"),
        "{row}"
    );
    assert_eq!(r.texts("#payments tbody tr a").len(), 2);
    // A forged notification (bad signature) is refused.
    let mut forged = n.clone();
    forged.sign = "0".repeat(96);
    let status = reqwest::Client::new()
        .post(format!("{url}/ebok/payments/notify"))
        .json(&forged)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 400);
    server.abort();
    app.drop_db().await;
}

#[tokio::test]
async fn api_serves_the_same_data_as_json_within_scope() {
    let app = TestApp::new().await;
    let w = ensure(&app.pool).await;
    let mut c = app.login("klient").await;
    let json = |r: &crate::support::TestResponse| {
        serde_json::from_str::<serde_json::Value>(&r.body).unwrap()
    };
    let b = json(&c.get("/api/v1/me/balance").await);
    assert_eq!(
        (b["to_pay"].as_str(), b["overdue"].as_str()),
        (Some("377.50"), Some("100.00"))
    );
    let l = json(&c.get("/api/v1/invoices?status=overdue").await);
    assert_eq!(l["total"], 1);
    assert_eq!(l["items"][0]["invoice_id"], w.overdue_1001);
    let r = c.get("/api/v1/invoices?status=lost").await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(&r)["fields"][0]["field"], "status");
    let d = json(&c.get(&format!("/api/v1/invoices/{}", w.open_1001)).await);
    assert_eq!(d["vat_rows"].as_array().unwrap().len(), 2);
    c.get(&format!("/api/v1/invoices/{}", w.open_1002))
        .await
        .assert_status(StatusCode::NOT_FOUND);
    let p = json(&c.get("/api/v1/payments").await);
    assert_eq!(p["total"], 0);
    // Every API route is in the OpenAPI document.
    let doc = json(&app.anonymous().get("/api/v1/openapi.json").await);
    for rule in ewoda_portal::api::ROUTES {
        assert!(
            doc["paths"][rule.path].is_object(),
            "{} missing from openapi.json",
            rule.path
        );
    }
    app.drop_db().await;
}

#[tokio::test]
async fn dashboard_shows_the_last_reading_of_the_chosen_premises() {
    let app = TestApp::new().await;
    ensure(&app.pool).await;
    sqlx::query("select reading_ensure_partitions(current_date - 40, current_date + 40)")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query(
        "with m as (insert into meter (serial, manufacturer, model, role)
                    values ('SN-77', 'ELS', 'x', 'main') returning meter_id),
              i as (insert into meter_installation (meter_id, premises_id, role, installed_at, installed_read_ml)
                    select meter_id, (select premises_id from contract where number = 'UM/1001'), 'main',
                           now() - interval '30 days', 0 from m returning meter_id)
         insert into reading (meter_id, read_at, volume_ml, source)
         select meter_id, now() - interval '1 day', 123456789, 'wmbus' from i",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let mut c = app.login("klient").await;
    let r = c.get("/ebok/?lang=en").await;
    let text = r.texts("#last-reading")[0].clone();
    assert!(
        text.starts_with("123.456789\u{a0}m³") && text.ends_with("(meter SN-77)"),
        "{text}"
    );
    let pl = c.get("/ebok/?lang=pl").await.texts("#last-reading")[0].clone();
    assert!(pl.starts_with("123,456789\u{a0}m³"), "{pl}");
    // klient2 has no meter: no reading, said plainly.
    let mut other = app.login("klient2").await;
    assert_eq!(
        other.get("/ebok/?lang=en").await.texts("#last-reading"),
        ["No readings yet."]
    );
    app.drop_db().await;
}
