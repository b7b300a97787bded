//! `TestApp`: a fresh, migrated database with fixtures (two customers, a user per role), the
//! real router, and clients that keep cookies and the page's CSRF token like a browser.

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use ewoda_portal::{AppConfig, AppState};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use tower::ServiceExt;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Password of every fixture user.
pub const PASSWORD: &str = "test-password";

/// Fixture logins and roles; `klient` and `klient2` are customers 1001 and 1002.
pub const USERS: &[(&str, &str)] = &[
    ("admin", "admin"),
    ("urzednik", "clerk"),
    ("dyspozytor", "operator"),
    ("inkasent", "reader"),
    ("klient", "customer"),
    ("klient2", "customer"),
];

pub struct TestApp {
    pub pool: PgPool,
    pub state: AppState,
    pub router: Router,
    name: String,
    admin_url: String,
}

/// Builds a [`TestApp`]; `config` starts from the defaults with a generous rate limit.
pub struct TestAppBuilder {
    config: AppConfig,
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        let mut config = AppConfig::default();
        config.rate_limit.burst = 10_000;
        config.data_dir = std::env::temp_dir().join(format!(
            "ewoda-portal-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        TestAppBuilder { config }
    }

    pub async fn new() -> TestApp {
        Self::builder().build().await
    }

    /// A client without a session.
    pub fn anonymous(&self) -> TestClient {
        TestClient {
            router: self.router.clone(),
            cookies: BTreeMap::new(),
            csrf: None,
        }
    }

    /// A client logged in as one of [`USERS`].
    pub async fn login(&self, login: &str) -> TestClient {
        let mut c = self.anonymous();
        c.get("/login").await.assert_status(StatusCode::OK);
        let r = c
            .post("/login", &[("username", login), ("password", PASSWORD)])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "login {login}: {}", r.body);
        c
    }

    /// Waits until the portal's caches have seen every change committed so far (after a
    /// test changed a session, a role or a user with SQL).
    pub async fn settle(&self) {
        self.state.caches.settle(&self.pool).await.unwrap();
    }

    /// Waits until the cache listener is connected, so that what follows is served from the
    /// caches where they hold it.
    pub async fn caches_live(&self) {
        for _ in 0..200 {
            if self.state.caches.is_live() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("the cache listener did not connect within 5 s");
    }

    pub async fn drop_db(self) {
        // close() waits for every checked-out connection; a test still holding one (a
        // connection it acquired) would hang here, and `drop … with (force)` ends them anyway.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), self.pool.close()).await;
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&self.admin_url)
            .await
            .unwrap();
        sqlx::query(&format!(
            "drop database if exists {} with (force)",
            self.name
        ))
        .execute(&admin)
        .await
        .unwrap();
        admin.close().await;
        std::fs::remove_dir_all(&self.state.config.data_dir).ok();
    }
}

impl TestAppBuilder {
    pub fn config(mut self, f: impl FnOnce(&mut AppConfig)) -> Self {
        f(&mut self.config);
        self
    }

    pub async fn build(self) -> TestApp {
        let admin_url = std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!(
            "ewoda_portal_t_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&admin_url)
            .await
            .expect("connect to the test server");
        sqlx::query(&format!("create database {name}"))
            .execute(&admin)
            .await
            .expect("create test db");
        admin.close().await;
        let url = match admin_url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("DATABASE_URL without a database: {admin_url}"),
        };
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect(&url)
            .await
            .expect("connect to the test db");
        ewoda_common::db::migrate(&pool)
            .await
            .expect("migrations apply");
        fixtures(&pool).await;
        let state =
            AppState::with_config(pool.clone(), self.config).expect("a valid test configuration");
        state.set_ready();
        let router = ewoda_portal::router(state.clone());
        TestApp {
            pool,
            state,
            router,
            name,
            admin_url,
        }
    }
}

/// Two household customers and one user per role (customers confirmed).
async fn fixtures(pool: &PgPool) {
    sqlx::query(
        "insert into customer (number, kind, first_name, last_name, email, activation_code)
         values ('1001', 'household', 'Anna', 'Nowak', 'anna@example.pl', 'ACT1001X'),
                ('1002', 'household', 'Jan', 'Kowalski', 'jan@example.pl', 'ACT1002X')",
    )
    .execute(pool)
    .await
    .unwrap();
    let hash = ewoda_portal::auth::password::hash(PASSWORD).unwrap();
    for (login, role) in USERS {
        let customer = match *login {
            "klient" => Some("1001"),
            "klient2" => Some("1002"),
            _ => None,
        };
        let user_id: i64 = sqlx::query_scalar(
            "insert into app_user (login, email, display_name, password_hash, customer_id, email_confirmed_at)
             values ($1, $1 || '@example.pl', initcap($1), $2, (select customer_id from customer where number = $3), now())
             returning user_id",
        )
        .bind(login)
        .bind(&hash)
        .bind(customer)
        .fetch_one(pool)
        .await
        .unwrap();
        sqlx::query("insert into user_role (user_id, role) values ($1, $2)")
            .bind(user_id)
            .bind(role)
            .execute(pool)
            .await
            .unwrap();
    }
}

/// A client of the router that keeps cookies and the last CSRF token a page showed.
#[derive(Clone)]
pub struct TestClient {
    router: Router,
    pub cookies: BTreeMap<String, String>,
    pub csrf: Option<String>,
}

/// A response read whole.
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    pub bytes: Vec<u8>,
}

impl TestResponse {
    pub fn assert_status(&self, status: StatusCode) -> &Self {
        assert_eq!(self.status, status, "body: {}", self.body);
        self
    }

    pub fn location(&self) -> Option<&str> {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
    }

    pub fn html(&self) -> scraper::Html {
        scraper::Html::parse_document(&self.body)
    }

    /// Texts of the elements matching a CSS selector.
    pub fn texts(&self, selector: &str) -> Vec<String> {
        let sel = scraper::Selector::parse(selector).unwrap();
        self.html()
            .select(&sel)
            .map(|e| e.text().collect::<String>().trim().to_string())
            .collect()
    }
}

impl TestClient {
    pub async fn get(&mut self, path: &str) -> TestResponse {
        self.send(Method::GET, path, Vec::new(), None, &[]).await
    }

    /// Posts a urlencoded form, adding the CSRF token the last page showed.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> TestResponse {
        let mut pairs: Vec<(&str, &str)> = fields.to_vec();
        let token = self.csrf.clone();
        if let Some(t) = token.as_deref() {
            pairs.push(("csrf", t));
        }
        self.post_raw(path, &pairs, &[]).await
    }

    /// Posts exactly these fields with extra headers (no token added).
    pub async fn post_raw(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let body = serde_urlencoded::to_string(fields).unwrap().into_bytes();
        self.send(
            Method::POST,
            path,
            body,
            Some("application/x-www-form-urlencoded"),
            headers,
        )
        .await
    }

    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        content_type: Option<&str>,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "portal.test");
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        if !self.cookies.is_empty() {
            let cookie: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.header(header::COOKIE, cookie.join("; "));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = self
            .router
            .clone()
            .oneshot(req.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        for v in headers.get_all(header::SET_COOKIE) {
            let v = v.to_str().unwrap();
            let pair = v.split(';').next().unwrap();
            if let Some((k, val)) = pair.split_once('=') {
                if v.contains("Max-Age=0") || val.is_empty() {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), val.to_string());
                }
            }
        }
        let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20)
            .await
            .unwrap()
            .to_vec();
        let body = String::from_utf8_lossy(&bytes).into_owned();
        if let Some(t) = csrf_in(&body) {
            self.csrf = Some(t);
        }
        TestResponse {
            status,
            headers,
            body,
            bytes,
        }
    }

    pub fn session_id(&self) -> Option<String> {
        self.cookies.get("ewoda_session").cloned()
    }
}

fn csrf_in(body: &str) -> Option<String> {
    let doc = scraper::Html::parse_document(body);
    let sel = scraper::Selector::parse(r#"input[name="csrf"]"#).unwrap();
    doc.select(&sel)
        .next()
        .and_then(|e| e.value().attr("value"))
        .map(str::to_string)
}

/// The customer number of a fixture login (`klient` is 1001, `klient2` 1002).
pub fn number_of(login: &str) -> &'static str {
    if login == "klient" {
        "1001"
    } else {
        "1002"
    }
}

/// The id of the fixture customer with this number.
pub async fn customer_id(pool: &sqlx::PgPool, number: &str) -> ewoda_common::scope::CustomerId {
    ewoda_common::scope::CustomerId::new(
        sqlx::query_scalar("select customer_id from customer where number = $1")
            .bind(number)
            .fetch_one(pool)
            .await
            .unwrap(),
    )
}
