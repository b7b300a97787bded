//! Login, logout, session fixation, lockout, CSRF, rate limit.

use crate::support::{TestApp, PASSWORD};
use axum::http::StatusCode;

#[tokio::test]
async fn login_form_has_the_contract_fields_and_each_role_lands_at_home() {
    let app = TestApp::new().await;
    let mut c = app.anonymous();
    let r = c.get("/login").await;
    r.assert_status(StatusCode::OK);
    assert_eq!(r.texts(r#"input[name="username"]"#).len(), 1);
    assert_eq!(r.texts(r#"input[name="password"]"#).len(), 1);
    for (login, home) in [
        ("klient", "/ebok/"),
        ("klient2", "/ebok/"),
        ("urzednik", "/office/"),
        ("inkasent", "/office/"),
        ("admin", "/office/"),
        ("dyspozytor", "/console/"),
    ] {
        let mut c = app.anonymous();
        c.get("/login").await;
        // Outside checks post only the two fields (no hidden token): that must log in.
        let r = c
            .post_raw(
                "/login",
                &[("username", login), ("password", PASSWORD)],
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{login}: {}", r.body);
        assert_eq!(r.location(), Some(home), "{login}");
        c.get(home).await.assert_status(StatusCode::OK);
    }
    app.drop_db().await;
}

#[tokio::test]
async fn a_wrong_password_re_renders_the_form_with_the_message_and_the_login_kept() {
    let app = TestApp::new().await;
    let mut c = app.anonymous();
    c.get("/login?lang=en").await;
    let r = c
        .post("/login", &[("username", "klient"), ("password", "nope")])
        .await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.texts("#e-password"), ["Wrong login or password."]);
    let html = r.html();
    let sel = scraper::Selector::parse("#f-password").unwrap();
    let input = html.select(&sel).next().unwrap();
    assert_eq!(input.value().attr("aria-describedby"), Some("e-password"));
    let sel = scraper::Selector::parse("#f-username").unwrap();
    assert_eq!(
        html.select(&sel).next().unwrap().value().attr("value"),
        Some("klient")
    );
    // In Polish too.
    c.get("/login?lang=pl").await;
    let r = c
        .post("/login", &[("username", ""), ("password", "")])
        .await;
    assert_eq!(r.texts("#e-username"), ["Podaj login."]);
    assert_eq!(r.texts("#e-password"), ["Podaj hasło."]);
    app.drop_db().await;
}

#[tokio::test]
async fn the_session_id_changes_at_login_and_logout_ends_the_session() {
    let app = TestApp::new().await;
    let mut c = app.anonymous();
    c.get("/login").await;
    let before = c
        .session_id()
        .expect("the login form starts a session (CSRF token)");
    let r = c
        .post("/login", &[("username", "klient"), ("password", PASSWORD)])
        .await;
    r.assert_status(StatusCode::SEE_OTHER);
    let after = c.session_id().unwrap();
    assert_ne!(
        before, after,
        "session fixation: the id must change at login"
    );
    // The old id is no longer logged in.
    let mut planted = app.anonymous();
    planted.cookies.insert("ewoda_session".into(), before);
    let r = planted.get("/ebok/").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), Some("/login?next=%2Febok%2F"));

    c.get("/ebok/").await.assert_status(StatusCode::OK);
    let r = c.post("/logout", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let mut replay = app.anonymous();
    replay.cookies.insert("ewoda_session".into(), after);
    assert_eq!(replay.get("/ebok/").await.status, StatusCode::SEE_OTHER);
    app.drop_db().await;
}

/// Seconds until the stored session of `c` expires.
async fn stored_expiry_in(app: &TestApp, c: &crate::support::TestClient) -> i64 {
    sqlx::query_scalar(
        "select extract(epoch from expiry_date - now())::bigint from tower_sessions.session
         where id = $1",
    )
    .bind(c.session_id().unwrap())
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// A session a customer keeps using does not expire two hours after login: a request pushes
/// the stored expiry forward again (at most once per `session_touch`, not on every request).
#[tokio::test]
async fn an_active_session_stays_alive_past_the_idle_time_since_login() {
    let app = TestApp::builder()
        .config(|c| c.session_touch = std::time::Duration::ZERO)
        .build()
        .await;
    let mut c = app.login("klient").await;
    // As if the session were last written 1 h 59 min 30 s ago.
    let age = "update tower_sessions.session set expiry_date = now() + interval '30 seconds'";
    sqlx::query(age).execute(&app.pool).await.unwrap();
    c.get("/ebok/").await.assert_status(StatusCode::OK);
    assert!(
        stored_expiry_in(&app, &c).await > 7000,
        "pushed to ~2 h again"
    );
    app.drop_db().await;

    // With the default interval a request right after login writes nothing.
    let app = TestApp::new().await;
    let mut c = app.login("klient").await;
    sqlx::query(age).execute(&app.pool).await.unwrap();
    c.get("/ebok/").await.assert_status(StatusCode::OK);
    assert!(
        stored_expiry_in(&app, &c).await <= 30,
        "one write per interval"
    );
    app.drop_db().await;
}

#[tokio::test]
async fn repeated_failures_lock_the_account_even_for_the_right_password() {
    let app = TestApp::builder()
        .config(|c| c.lockout_failures = 3)
        .build()
        .await;
    let mut c = app.anonymous();
    c.get("/login?lang=en").await;
    for _ in 0..3 {
        let r = c
            .post("/login", &[("username", "klient"), ("password", "wrong")])
            .await;
        r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    }
    let r = c
        .post("/login", &[("username", "klient"), ("password", PASSWORD)])
        .await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.texts("#e-password")[0].contains("locked"), "{}", r.body);
    let locked: bool =
        sqlx::query_scalar("select locked_until > now() from app_user where login = 'klient'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(locked);
    // Another account is not affected.
    app.login("klient2").await;
    app.drop_db().await;
}

#[tokio::test]
async fn cross_site_and_tokenless_posts_are_refused_with_an_explanation() {
    let app = TestApp::new().await;
    let mut c = app.login("klient").await;
    c.get("/ebok/?lang=en").await;
    let token = c.csrf.clone().unwrap();
    // Cross-site, even with the right token.
    let r = c
        .post_raw(
            "/logout",
            &[("csrf", &token)],
            &[("origin", "https://evil.example")],
        )
        .await;
    r.assert_status(StatusCode::FORBIDDEN);
    assert!(r.body.contains("The form was not accepted"), "{}", r.body);
    let r = c
        .post_raw(
            "/login",
            &[("username", "klient"), ("password", PASSWORD)],
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    r.assert_status(StatusCode::FORBIDDEN);
    // Same site without the token: refused (any route but login/logout needs it).
    let r = c.post_raw("/ebok/", &[], &[]).await;
    r.assert_status(StatusCode::FORBIDDEN);
    assert!(r.body.contains("The form was not accepted"), "{}", r.body);
    // A wrong token, and the right one in the header.
    let r = c.post_raw("/ebok/", &[("csrf", "00")], &[]).await;
    r.assert_status(StatusCode::FORBIDDEN);
    let r = c.post_raw("/ebok/", &[], &[("x-csrf-token", &token)]).await;
    assert_eq!(
        r.status,
        StatusCode::METHOD_NOT_ALLOWED,
        "the token passed; no POST route there"
    );
    // Still logged in: the refused logout did nothing.
    c.get("/ebok/").await.assert_status(StatusCode::OK);
    app.drop_db().await;
}

#[tokio::test]
async fn an_expired_session_explains_itself() {
    let app = TestApp::new().await;
    let mut c = app.anonymous();
    let r = c.post_raw("/ebok/?lang=en", &[("csrf", "x")], &[]).await;
    r.assert_status(StatusCode::FORBIDDEN);
    assert!(r.body.contains("Session expired"), "{}", r.body);
    assert!(r.body.contains("<html lang=\"en\">"));
    app.drop_db().await;
}

#[tokio::test]
async fn login_posts_are_rate_limited_and_the_form_still_shows() {
    let app = TestApp::builder()
        .config(|c| {
            c.rate_limit.burst = 3;
            c.rate_limit.every = std::time::Duration::from_secs(3600);
        })
        .build()
        .await;
    let mut c = app.anonymous();
    c.get("/login").await;
    for _ in 0..3 {
        let r = c
            .post("/login", &[("username", "nobody"), ("password", "x")])
            .await;
        r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    }
    let r = c
        .post("/login", &[("username", "klient"), ("password", PASSWORD)])
        .await;
    r.assert_status(StatusCode::TOO_MANY_REQUESTS);
    assert!(r.body.contains("Zbyt wiele prób"), "{}", r.body);
    c.get("/login").await.assert_status(StatusCode::OK);
    app.drop_db().await;
}

#[tokio::test]
async fn next_returns_to_the_page_asked_for_but_never_to_another_site() {
    let app = TestApp::new().await;
    let mut c = app.anonymous();
    let r = c.get("/office/users").await;
    assert_eq!(r.location(), Some("/login?next=%2Foffice%2Fusers"));
    c.get("/login?next=%2Foffice%2Fusers").await;
    let r = c
        .post(
            "/login",
            &[
                ("username", "admin"),
                ("password", PASSWORD),
                ("next", "/office/users"),
            ],
        )
        .await;
    assert_eq!(r.location(), Some("/office/users"));
    let mut c = app.anonymous();
    c.get("/login").await;
    let r = c
        .post(
            "/login",
            &[
                ("username", "admin"),
                ("password", PASSWORD),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(r.location(), Some("/office/"));
    app.drop_db().await;
}

#[tokio::test]
async fn roles_and_deactivation_take_effect_on_the_next_request() {
    let app = TestApp::new().await;
    let mut clerk = app.login("urzednik").await;
    clerk.get("/office/").await.assert_status(StatusCode::OK);
    sqlx::query(
        "delete from user_role where role = 'clerk'
           and user_id = (select user_id from app_user where login = 'urzednik')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    app.settle().await;
    clerk
        .get("/office/")
        .await
        .assert_status(StatusCode::FORBIDDEN);

    let mut customer = app.login("klient").await;
    customer.get("/ebok/").await.assert_status(StatusCode::OK);
    sqlx::query("update app_user set active = false where login = 'klient'")
        .execute(&app.pool)
        .await
        .unwrap();
    app.settle().await;
    sent_to_login(&mut customer).await;
    // Logged out for good: reactivating does not bring the old session back.
    sqlx::query("update app_user set active = true where login = 'klient'")
        .execute(&app.pool)
        .await
        .unwrap();
    app.settle().await;
    customer
        .get("/ebok/")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    app.drop_db().await;
}

/// POST /login (wrong password) from TCP peer `peer` with an `X-Forwarded-For`.
async fn login_from(app: &TestApp, peer: &str, xff: &str) -> StatusCode {
    use axum::extract::ConnectInfo;
    use tower::ServiceExt;
    let peer: std::net::SocketAddr = format!("{peer}:40000").parse().unwrap();
    let req = axum::http::Request::post("/login")
        .header("host", "portal.test")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-for", xff)
        .extension(ConnectInfo(peer))
        .body(axum::body::Body::from("username=nobody&password=x"))
        .unwrap();
    app.router.clone().oneshot(req).await.unwrap().status()
}

fn limited(trusted: &[&str]) -> impl FnOnce(&mut ewoda_portal::AppConfig) {
    let trusted: Vec<std::net::IpAddr> = trusted.iter().map(|s| s.parse().unwrap()).collect();
    move |c| {
        c.rate_limit.burst = 1;
        c.rate_limit.every = std::time::Duration::from_secs(3600);
        c.trusted_proxies = trusted;
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket() {
    let app = TestApp::builder()
        .config(limited(&["127.0.0.1"]))
        .build()
        .await;
    let too_many = StatusCode::TOO_MANY_REQUESTS;
    assert_ne!(
        login_from(&app, "127.0.0.1", "198.51.100.1").await,
        too_many
    );
    assert_ne!(
        login_from(&app, "127.0.0.1", "198.51.100.2").await,
        too_many
    );
    assert_eq!(
        login_from(&app, "127.0.0.1", "198.51.100.1").await,
        too_many
    );
    // A client writing its own X-Forwarded-For only adds entries left of the real one.
    assert_eq!(
        login_from(&app, "127.0.0.1", "203.0.113.9, 198.51.100.2").await,
        too_many
    );
    app.drop_db().await;
}

#[tokio::test]
async fn without_trusted_proxies_x_forwarded_for_is_ignored() {
    let app = TestApp::builder().config(limited(&[])).build().await;
    let too_many = StatusCode::TOO_MANY_REQUESTS;
    assert_ne!(
        login_from(&app, "127.0.0.1", "198.51.100.1").await,
        too_many
    );
    // Another forwarded address from the same peer is still the same client.
    assert_eq!(
        login_from(&app, "127.0.0.1", "198.51.100.2").await,
        too_many
    );
    // Another peer is another client.
    assert_ne!(
        login_from(&app, "127.0.0.2", "198.51.100.2").await,
        too_many
    );
    app.drop_db().await;
}

/// The customer's next dashboard sends them to log in again (and back there after).
async fn sent_to_login(c: &mut crate::support::TestClient) {
    let r = c.get("/ebok/").await;
    r.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(r.location(), Some("/login?next=%2Febok%2F"));
}

/// A fresh app with its caches live and `klient` logged in, the dashboard seen once.
async fn cached_customer() -> (TestApp, crate::support::TestClient) {
    let app = TestApp::new().await;
    app.caches_live().await;
    let mut customer = app.login("klient").await;
    customer.get("/ebok/").await.assert_status(StatusCode::OK);
    (app, customer)
}

/// Sessions and standings are served from memory, and the database's notifications keep
/// them true: a change made by any process (here plain SQL) counts on the next request, and
/// while the listener is away nothing is served from memory.
#[tokio::test]
async fn cached_sessions_and_roles_follow_every_change_in_the_database() {
    let (app, mut customer) = cached_customer().await;
    assert!(!app.state.caches.sessions.is_empty(), "the session is kept");
    assert!(
        !app.state.caches.standings.is_empty(),
        "the standing is kept"
    );

    // A change that bypasses the triggers is not seen: the page comes from memory.
    let mut conn = app.pool.acquire().await.unwrap();
    sqlx::raw_sql(
        "set session_replication_role = replica;
         update app_user set active = false where login = 'klient'",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    customer.get("/ebok/").await.assert_status(StatusCode::OK);
    sqlx::raw_sql(
        "update app_user set active = true where login = 'klient';
         reset session_replication_role",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    drop(conn);

    // A role given by SQL counts on the next request.
    sqlx::query(
        "insert into user_role (user_id, role)
         select user_id, 'clerk' from app_user where login = 'klient'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    app.settle().await;
    customer.get("/office/").await.assert_status(StatusCode::OK);

    // A session deleted by SQL (say, "log out everywhere") ends at once.
    sqlx::query("delete from tower_sessions.session where id = $1")
        .bind(customer.session_id().unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    app.settle().await;
    sent_to_login(&mut customer).await;
    app.drop_db().await;
}

/// The listener's connection lost: the caches are emptied and not used until it is back, so
/// a change made meanwhile (whose notification went nowhere) is seen at once, and after.
#[tokio::test]
async fn a_lost_listener_turns_the_caches_off_until_it_is_back() {
    let (app, mut customer) = cached_customer().await;
    sqlx::query(
        "select pg_terminate_backend(pid) from pg_stat_activity
         where datname = current_database() and query ilike 'listen%'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    for _ in 0..200 {
        if !app.state.caches.is_live() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(!app.state.caches.is_live(), "the loss is noticed");
    sqlx::query("update app_user set active = false where login = 'klient'")
        .execute(&app.pool)
        .await
        .unwrap();
    let r = customer.get("/ebok/").await;
    r.assert_status(StatusCode::SEE_OTHER);
    app.caches_live().await;
    assert!(app.state.caches.standings.is_empty(), "back, and empty");
    app.drop_db().await;
}
