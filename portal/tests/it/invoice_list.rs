//! The invoice list as the customer reads it: kinds and statuses translated, money and dates
//! in the page's language, and overdue decided by the app's clock, not the database's day.

use crate::money_world::ensure;
use crate::support::TestApp;
use axum::http::StatusCode;
use ewoda_portal::app::AppClock;

#[tokio::test]
async fn cells_are_translated_and_formatted_per_language() {
    let app = TestApp::new().await;
    let w = ensure(&app.pool).await;
    let mut c = app.login("klient").await;
    let r = c.get("/ebok/invoices?f_status=overdue&lang=pl").await;
    r.assert_status(StatusCode::OK);
    let cells = r.texts("tbody tr td");
    let (issued_on, due_on): (chrono::NaiveDate, chrono::NaiveDate) =
        sqlx::query_as("select issued_on, due_on from invoice where invoice_id = $1")
            .bind(w.overdue_1001)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    // number, kind, issued, due, gross, open, status
    assert_eq!(
        cells[1..],
        [
            "faktura VAT".to_string(),
            issued_on.format("%d.%m.%Y").to_string(),
            due_on.format("%d.%m.%Y").to_string(),
            "100,00\u{a0}zł".to_string(),
            "100,00\u{a0}zł".to_string(),
            "po terminie".to_string(),
        ]
    );
    let r = c.get("/ebok/invoices?f_status=overdue&lang=en").await;
    let cells = r.texts("tbody tr td");
    assert_eq!(
        cells[1..],
        [
            "VAT invoice".to_string(),
            issued_on.format("%Y-%m-%d").to_string(),
            due_on.format("%Y-%m-%d").to_string(),
            "PLN\u{a0}100.00".to_string(),
            "PLN\u{a0}100.00".to_string(),
            "overdue".to_string(),
        ]
    );
    // The export keeps the raw values for spreadsheets.
    let csv = c.get("/ebok/invoices?export=csv&f_status=overdue").await;
    assert!(
        csv.body.contains("100.00") && csv.body.contains("overdue"),
        "{}",
        csv.body
    );
    app.drop_db().await;
}

#[tokio::test]
async fn overdue_follows_the_apps_clock() {
    // 20 days ahead the invoice due in 9 days is overdue too; the database's current_date
    // would still say open.
    let later = chrono::Utc::now() + chrono::Duration::days(20);
    let app = TestApp::builder()
        .config(|c| c.clock = AppClock::fixed(later))
        .build()
        .await;
    let w = ensure(&app.pool).await;
    let mut c = app.login("klient").await;
    let r = c.get("/ebok/invoices?f_status=overdue&lang=en").await;
    assert_eq!(r.texts("tbody tr").len(), 2, "{:?}", r.texts("tbody tr"));
    let r = c.get("/ebok/invoices?f_status=open&lang=en").await;
    assert!(r.texts("tbody tr").is_empty());
    let link = format!("tbody a[href='/ebok/invoices/{}']", w.open_1001);
    let r = c.get("/ebok/invoices?f_status=overdue").await;
    assert_eq!(
        r.html()
            .select(&scraper::Selector::parse(&link).unwrap())
            .count(),
        1
    );
    app.drop_db().await;
}

#[tokio::test]
async fn a_lowering_correction_takes_its_amount_off_the_invoice_it_corrects() {
    let app = TestApp::new().await;
    let w = ensure(&app.pool).await;
    // A correction lowering the overdue invoice (100,00 zł) by 40,00 zł.
    sqlx::query(
        "insert into invoice (number, series, year, seq, kind, corrects_invoice_id,
             correction_reason, customer_id, period_from, period_to, issued_on, due_on,
             net, vat, gross)
         select 'KOR/T/1', 'KOR-T', 2026, 1, 'KOR', invoice_id, 'test', customer_id,
                period_from, period_to, issued_on, due_on, -40.00, 0, -40.00
         from invoice where invoice_id = $1",
    )
    .bind(w.overdue_1001)
    .execute(&app.pool)
    .await
    .unwrap();
    let mut c = app.login("klient").await;
    let r = c.get("/ebok/invoices?f_status=overdue&lang=en").await;
    let cells = r.texts("tbody tr td");
    // number, kind, issued, due, gross, open, status: only the invoice, with 60,00 open.
    assert_eq!(cells.len(), 7, "{cells:?}");
    assert_eq!(cells[4..], ["PLN\u{a0}100.00", "PLN\u{a0}60.00", "overdue"]);
    let r = c.get("/ebok/invoices?lang=en").await;
    let row = r
        .texts("tbody tr")
        .into_iter()
        .find(|t| t.contains("KOR/T/1"))
        .expect("the correction is listed");
    assert!(
        row.contains("PLN\u{a0}0.00") && row.contains("paid"),
        "{row}"
    );
    app.drop_db().await;
}

#[tokio::test]
async fn a_page_past_the_last_shows_the_last_page() {
    // The page and the count come in one statement; a stale link past the end (the list
    // shrank, or a typed URL) falls back to counting and shows the last page instead.
    let app = TestApp::new().await;
    ensure(&app.pool).await;
    let mut c = app.login("klient").await;
    let first = c.get("/ebok/invoices").await;
    first.assert_status(StatusCode::OK);
    let rows = first.texts("tbody tr td");
    assert!(!rows.is_empty(), "klient has invoices");
    for past in [
        "/ebok/invoices?page=7",
        "/ebok/invoices?page=9223372036854775807",
    ] {
        let r = c.get(past).await;
        r.assert_status(StatusCode::OK);
        assert_eq!(r.texts("tbody tr td"), rows, "{past}");
        assert_eq!(
            r.texts(".list-summary"),
            first.texts(".list-summary"),
            "{past}"
        );
        assert!(
            r.texts("a[rel=prev]").is_empty(),
            "{past}: one page, no previous"
        );
    }
    app.drop_db().await;
}
