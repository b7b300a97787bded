//! The UI kit: languages, error pages, assets, the list component and charts.

use crate::support::TestApp;
use axum::http::StatusCode;
use ewoda_portal::ui::i18n::{EN_FTL, PL_FTL};

fn ids(ftl: &str) -> Vec<&str> {
    let mut ids: Vec<&str> = ftl
        .lines()
        .filter(|l| !l.starts_with([' ', '#', '*', '[', '}']) && l.contains(" = "))
        .filter_map(|l| l.split(" = ").next())
        .collect();
    ids.sort();
    ids
}

#[test]
fn both_languages_define_the_same_messages() {
    let (pl, en) = (ids(PL_FTL), ids(EN_FTL));
    assert!(pl.len() > 50);
    assert_eq!(pl, en);
}

#[tokio::test]
async fn lang_switches_is_remembered_and_html_lang_is_always_set() {
    let app = TestApp::new().await;
    let mut c = app.anonymous();
    let r = c.get("/login").await;
    assert!(r.body.contains("<html lang=\"pl\">"));
    assert_eq!(r.texts("h1"), ["Logowanie"]);
    let r = c.get("/login?lang=en").await;
    assert!(r.body.contains("<html lang=\"en\">"));
    // Remembered without the parameter, in the session and in a cookie.
    let r = c.get("/login").await;
    assert_eq!(r.texts("h1"), ["Log in"]);
    let mut fresh = app.anonymous();
    fresh.cookies.insert("ewoda_lang".into(), "en".into());
    assert_eq!(fresh.get("/login").await.texts("h1"), ["Log in"]);
    // Error pages too.
    let r = c.get("/no/such/page").await;
    r.assert_status(StatusCode::NOT_FOUND);
    assert!(r.body.contains("<html lang=\"en\">") && r.body.contains("Page not found"));
    let r = c.get("/no/such/page?lang=pl").await;
    assert!(r.body.contains("Nie znaleziono strony"));
    app.drop_db().await;
}

#[tokio::test]
async fn pages_carry_the_security_headers_and_the_session_cookie_flags() {
    let app = TestApp::new().await;
    let mut c = app.anonymous();
    let r = c.get("/login").await;
    let csp = r.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"));
    assert!(!csp.contains("unsafe-inline"));
    assert!(
        r.headers.get("strict-transport-security").is_none(),
        "no HSTS without TLS"
    );
    let cookie = r.headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"));
    app.drop_db().await;

    let app = TestApp::builder().config(|c| c.tls = true).build().await;
    let r = app.anonymous().get("/login").await;
    assert!(r.headers.get("strict-transport-security").is_some());
    assert!(r.headers["set-cookie"].to_str().unwrap().contains("Secure"));
    app.drop_db().await;
}

#[tokio::test]
async fn assets_are_embedded_with_cache_headers() {
    let app = TestApp::new().await;
    let mut c = app.anonymous();
    let r = c
        .get(&format!("/assets/{}", ewoda_portal::ui::assets::HTMX))
        .await;
    r.assert_status(StatusCode::OK);
    assert!(r.body.contains("htmx"));
    assert!(r.headers["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    let etag = r.headers["etag"].to_str().unwrap().to_string();
    let r = c
        .send(
            axum::http::Method::GET,
            "/assets/ewoda.css",
            Vec::new(),
            None,
            &[("if-none-match", "\"x\"")],
        )
        .await;
    r.assert_status(StatusCode::OK);
    let r = c
        .send(
            axum::http::Method::GET,
            &format!("/assets/{}", ewoda_portal::ui::assets::HTMX),
            Vec::new(),
            None,
            &[("if-none-match", &etag)],
        )
        .await;
    r.assert_status(StatusCode::NOT_MODIFIED);
    app.drop_db().await;
}

#[tokio::test]
async fn the_list_filters_sorts_chooses_columns_pages_and_exports() {
    let app = TestApp::new().await;
    let mut c = app.login("admin").await;
    let r = c.get("/office/users?lang=en").await;
    r.assert_status(StatusCode::OK);
    assert_eq!(r.texts(".list-summary"), ["6 items"]);
    assert_eq!(
        r.texts(".list thead th"),
        ["Login", "Name", "Roles", "Customer number", "Created"]
    );
    // Filter by role and by substring, sorted descending.
    let r = c
        .get("/office/users?f_roles=customer&sort=login&desc=1")
        .await;
    let logins: Vec<String> = r.texts(".list tbody tr td:first-child");
    assert_eq!(logins, ["klient2", "klient"]);
    let r = c.get("/office/users?f_login=NIK").await;
    assert_eq!(r.texts(".list tbody tr td:first-child"), ["urzednik"]);
    // A filter value is data, never SQL.
    let r = c
        .get("/office/users?f_login=%27%3B%20drop%20table%20app_user%3B--")
        .await;
    r.assert_status(StatusCode::OK);
    assert_eq!(r.texts(".list-summary"), ["0 items"]);
    // Column choice and paging.
    let r = c.get("/office/users?col=login&col=email&per=25").await;
    assert_eq!(r.texts(".list thead th"), ["Login", "E-mail"]);
    for i in 0..30 {
        sqlx::query("insert into app_user (login, display_name, password_hash) values ($1, 'x', '$argon2id$x')")
            .bind(format!("user{i:02}"))
            .execute(&app.pool)
            .await
            .unwrap();
    }
    let r = c.get("/office/users").await;
    assert_eq!(r.texts(".list tbody tr").len(), 25);
    let next = r.html();
    let sel = scraper::Selector::parse("a[rel=next]").unwrap();
    let href = next
        .select(&sel)
        .next()
        .unwrap()
        .value()
        .attr("href")
        .unwrap()
        .to_string();
    let r = c.get(&href).await;
    assert_eq!(r.texts(".list tbody tr").len(), 11);
    // Polish plural of the summary.
    let r = c.get("/office/users?lang=pl&f_roles=customer").await;
    assert_eq!(r.texts(".list-summary"), ["2 pozycje"]);
    let r = c.get("/office/users?f_login=user").await;
    assert_eq!(r.texts(".list-summary"), ["30 pozycji"]);
    // Exports of the same query.
    let r = c
        .get("/office/users?lang=en&f_roles=customer&export=csv")
        .await;
    r.assert_status(StatusCode::OK);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let lines: Vec<&str> = r.body.lines().collect();
    assert_eq!(lines[0], "Login,Name,Roles,Customer number,Created");
    assert_eq!(lines.len(), 3);
    assert!(lines[1].starts_with("klient,") && lines[1].contains(",1001,"));
    let r = c.get("/office/users?f_roles=customer&export=xlsx").await;
    assert!(r.bytes.starts_with(b"PK"), "an XLSX is a zip");
    assert!(r.headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains("users.xlsx"));
    app.drop_db().await;
}

#[tokio::test]
async fn a_chart_comes_with_its_data_table() {
    let app = TestApp::new().await;
    let mut c = app.login("admin").await;
    let r = c.get("/office/users?lang=en").await;
    let svg = r.texts("figure.chart .chart-svg svg");
    assert_eq!(svg.len(), 1, "one SVG chart");
    let rows = r.texts("figure.chart table tbody tr td");
    assert_eq!(rows.len(), 12, "a row per month");
    assert_eq!(
        rows.last().unwrap(),
        "6",
        "this month's six fixture accounts"
    );
    app.drop_db().await;
}

#[tokio::test]
async fn a_server_error_is_logged_and_hidden_behind_a_page() {
    let app = TestApp::new().await;
    let mut c = app.login("admin").await;
    c.get("/office/users?lang=en")
        .await
        .assert_status(StatusCode::OK);
    sqlx::query("alter table app_user rename to app_user_gone")
        .execute(&app.pool)
        .await
        .unwrap();
    let r = c.get("/office/users").await;
    r.assert_status(StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.texts("h1"), ["Server error"]);
    assert!(
        !r.body.contains("app_user"),
        "no database detail in the page"
    );
    sqlx::query("alter table app_user_gone rename to app_user")
        .execute(&app.pool)
        .await
        .unwrap();
    app.drop_db().await;
}
