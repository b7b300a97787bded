//! eBOK profile: a contact-data change request (validated in both languages, pending until a
//! clerk decides, the status and the answer shown, billing unchanged until approval);
//! consents with history; notification preferences as one topic × channel form.

use crate::support::TestApp;
use axum::http::StatusCode;
use ewoda_common::scope::CustomerId;
use ewoda_portal::store::contact_change;

async fn customer_id(app: &TestApp, number: &str) -> CustomerId {
    crate::support::customer_id(&app.pool, number).await
}

#[tokio::test]
async fn a_contact_change_is_validated_then_pending_then_answered() {
    let app = TestApp::new().await;
    let mut c = app.login("klient").await;
    let r = c.get("/ebok/profile").await;
    r.assert_status(StatusCode::OK);
    assert_eq!(r.texts("h1"), ["Moje dane i zgody"]);
    assert_eq!(r.texts("#current-email"), ["anna@example.pl"]);
    let r = c
        .post(
            "/ebok/profile/contact?lang=pl",
            &[("email", "anna at example"), ("phone", "12")],
        )
        .await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.texts("#e-email"),
        ["Wpisz adres e-mail, np. imie@example.pl."]
    );
    assert_eq!(
        r.texts("#e-phone"),
        ["Wpisz numer telefonu: 9–15 cyfr, opcjonalnie z + na początku."]
    );
    let input = r.html();
    let sel = scraper::Selector::parse("#f-email").unwrap();
    let el = input.select(&sel).next().unwrap();
    assert_eq!(el.attr("value"), Some("anna at example"));
    assert_eq!(el.attr("aria-describedby"), Some("e-email"));
    let r = c
        .post(
            "/ebok/profile/contact?lang=en",
            &[("email", ""), ("phone", "")],
        )
        .await;
    assert_eq!(
        r.texts("#e-changes"),
        ["Fill in the e-mail address or the phone number you want."]
    );

    let r = c
        .post(
            "/ebok/profile/contact",
            &[("email", "anna.nowa@example.pl"), ("phone", "")],
        )
        .await;
    r.assert_status(StatusCode::SEE_OTHER);
    let r = c.get("/ebok/profile?saved=contact&lang=en").await;
    assert_eq!(
        r.texts("table.requests td.status"),
        ["waiting for the office"]
    );
    assert_eq!(
        r.texts("#current-email"),
        ["anna@example.pl"],
        "billing changes only on approval"
    );
    let r = c
        .post("/ebok/profile/contact", &[("email", "x@example.pl")])
        .await;
    assert_eq!(
        r.texts("#e-changes"),
        ["An earlier change request is still waiting for the office."]
    );

    let who = customer_id(&app, "1001").await;
    let mut conn = app.pool.acquire().await.unwrap();
    let id =
        contact_change::of_customer(&mut conn, who).await.unwrap()[0].contact_change_request_id;
    drop(conn);
    let clerk: i64 = sqlx::query_scalar("select user_id from app_user where login = 'urzednik'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    contact_change::approve(
        &app.pool,
        id,
        clerk,
        "urzednik",
        Some("Zmieniono, dziękujemy."),
    )
    .await
    .unwrap();
    let r = c.get("/ebok/profile?lang=pl").await;
    assert_eq!(r.texts("table.requests td.status"), ["zatwierdzony"]);
    assert_eq!(
        r.texts("table.requests td.answer"),
        ["Zmieniono, dziękujemy."]
    );
    assert_eq!(r.texts("#current-email"), ["anna.nowa@example.pl"]);
    app.drop_db().await;
}

#[tokio::test]
async fn consents_keep_their_history_and_einvoice_reaches_billing() {
    let app = TestApp::new().await;
    let mut c = app.login("klient").await;
    c.get("/ebok/profile").await;
    c.post(
        "/ebok/profile/consents",
        &[("marketing", "on"), ("einvoice", "on")],
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);
    c.post("/ebok/profile/consents", &[("einvoice", "on")])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let r = c.get("/ebok/profile?lang=en").await;
    let checked = |id: &str| {
        let sel = scraper::Selector::parse(id).unwrap();
        r.html()
            .select(&sel)
            .next()
            .unwrap()
            .attr("checked")
            .is_some()
    };
    assert!(!checked("#c-marketing") && checked("#c-einvoice") && !checked("#c-commercial"));
    // Newest first: marketing withdrawn, then the first save's grants and the never-asked
    // commercial recorded as not given (never as "withdrawn": it was never granted).
    let states = r.texts("table.consent-history tbody td:nth-of-type(2)");
    let what = r.texts("table.consent-history tbody td:nth-of-type(1)");
    assert_eq!(what[0], "marketing information from the utility");
    assert_eq!(states[0], "withdrawn");
    assert!(what.iter().any(|w| w.starts_with("invoices by e-mail")));
    let commercial: Vec<&String> = what
        .iter()
        .zip(&states)
        .filter(|(w, _)| !w.starts_with("marketing") && !w.starts_with("invoices by e-mail"))
        .map(|(_, s)| s)
        .collect();
    assert_eq!(commercial, ["not given"], "{what:?} {states:?}");
    let einvoice: bool = sqlx::query_scalar("select einvoice from customer where number = '1001'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(einvoice, "the e-invoice consent switches billing");
    // The other customer's consents are untouched.
    let mut other = app.login("klient2").await;
    let r = other.get("/ebok/profile").await;
    assert!(r.texts("table.consent-history tbody tr").is_empty());
    app.drop_db().await;
}

#[tokio::test]
async fn notification_preferences_are_one_form_of_topics_and_channels() {
    let app = TestApp::new().await;
    let mut c = app.login("klient").await;
    let r = c.get("/ebok/profile?lang=en").await;
    assert_eq!(r.texts("table.prefs tbody th").len(), 7);
    assert_eq!(
        r.texts("table.prefs thead th"),
        ["Topic", "E-mail", "SMS", "Browser notification"]
    );
    c.post(
        "/ebok/profile/preferences",
        &[("leak_alarm.sms", "on"), ("new_invoice.email", "on")],
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);
    let r = c.get("/ebok/profile").await;
    let html = r.html();
    let on: Vec<String> = html
        .select(&scraper::Selector::parse("table.prefs input[checked]").unwrap())
        .map(|e| e.attr("name").unwrap().to_string())
        .collect();
    assert_eq!(on, ["new_invoice.email", "leak_alarm.sms"]);
    let who = customer_id(&app, "1001").await;
    let mut conn = app.pool.acquire().await.unwrap();
    let m = ewoda_portal::store::preference::matrix(&mut conn, who)
        .await
        .unwrap();
    assert_eq!(m.iter().filter(|p| p.enabled).count(), 2);
    assert_eq!(
        m.iter().filter(|p| p.chosen).count(),
        21,
        "the whole form is saved"
    );
    app.drop_db().await;
}
