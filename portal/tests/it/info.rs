//! Public pages: the accessibility statement (status, dates, gaps, contact, enforcement
//! procedure per the act of 4 April 2019) and help, both linked from every page's footer.

use crate::support::TestApp;
use axum::http::StatusCode;

#[tokio::test]
async fn the_accessibility_statement_has_the_parts_the_law_asks_for() {
    let app = TestApp::new().await;
    let mut c = app.anonymous();
    let r = c.get("/accessibility?lang=pl").await;
    r.assert_status(StatusCode::OK);
    assert_eq!(r.texts("h1"), ["Deklaracja dostępności"]);
    assert!(r.texts("#a11y-intro")[0]
        .contains("ustawą z dnia 4 kwietnia 2019 r. o dostępności cyfrowej"));
    assert_eq!(r.texts("#a11y-published"), [ewoda_portal::info::PUBLISHED]);
    assert!(r.texts("#a11y-status")[0].contains("częściowo zgodna"));
    assert!(!r.texts("#a11y-gaps li").is_empty());
    let h2 = r.texts("h2");
    for id in ["#status", "#contact", "#procedure"] {
        assert_eq!(r.texts(id).len(), 1, "{id} in {h2:?}");
    }
    assert!(r.body.contains("7 dni") && r.body.contains("Rzecznika Praw Obywatelskich"));
    let r = c.get("/accessibility?lang=en").await;
    assert_eq!(r.texts("h1"), ["Accessibility statement"]);
    assert!(r.texts("#a11y-status")[0].contains("partially compliant"));
    app.drop_db().await;
}

#[tokio::test]
async fn help_and_the_statement_are_linked_from_the_footer() {
    let app = TestApp::new().await;
    let mut c = app.login("klient").await;
    let r = c.get("/ebok/?lang=en").await;
    assert_eq!(
        r.texts("footer .footer-links a"),
        ["Help", "Accessibility statement"]
    );
    let nav = r.texts("header nav a");
    for page in [
        "Meters and readings",
        "My data and consents",
        "Applications",
    ] {
        assert!(nav.iter().any(|n| n == page), "{page} in {nav:?}");
    }
    let r = c.get("/help?lang=pl").await;
    r.assert_status(StatusCode::OK);
    assert_eq!(r.texts("h1"), ["Pomoc"]);
    assert!(r.texts("h2").len() >= 6);
    app.drop_db().await;
}
