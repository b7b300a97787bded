//! Registration, confirmation and password reset through a real SMTP server on loopback
//! (Debian python3-aiosmtpd, Maildir handler), and the maildir fallback read at /office/mail.

use crate::support::{TestApp, PASSWORD};
use axum::http::StatusCode;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// aiosmtpd on a free loopback port, storing every mail into a Maildir.
struct SmtpServer {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl SmtpServer {
    fn start(tag: &str) -> SmtpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir =
            std::env::temp_dir().join(format!("ewoda-smtp-{tag}-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("/usr/bin/python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.join("mbox"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3-aiosmtpd must be installed (apt-get install python3-aiosmtpd)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "aiosmtpd did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpServer { child, port, dir }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The mails received so far (raw RFC 5322 text).
    fn received(&self) -> Vec<String> {
        read_maildir(&self.dir.join("mbox"))
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

fn read_maildir(dir: &Path) -> Vec<String> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir.join("new"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    names.sort();
    // Headers and body decoded as the portal's own maildir reader does.
    names
        .iter()
        .map(|p| {
            let m = ewoda_portal::mail::maildir::parse("m", &std::fs::read_to_string(p).unwrap());
            format!("To: {}\nSubject: {}\n\n{}", m.to, m.subject, m.body)
        })
        .collect()
}

/// The first link to the portal in a mail's text.
fn link_in(mail: &str, prefix: &str) -> String {
    let start = mail
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in {mail}"));
    let end = mail[start..]
        .find(char::is_whitespace)
        .map(|e| start + e)
        .unwrap_or(mail.len());
    mail[start..end].to_string()
}

#[tokio::test]
async fn register_with_the_invoice_code_confirm_by_mail_and_log_in() {
    let smtp = SmtpServer::start("register");
    let app = TestApp::builder()
        .config(|c| {
            c.smtp_url = Some(smtp.url());
            c.public_url = "http://portal.test".into();
        })
        .build()
        .await;
    sqlx::query(
        "insert into customer (number, kind, last_name, first_name, activation_code)
         values ('2001', 'household', 'Wiśniewska', 'Zofia', 'KOD2001X')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let mut c = app.anonymous();
    c.get("/register?lang=en")
        .await
        .assert_status(StatusCode::OK);
    let form = |code: &'static str, login: &'static str| {
        [
            ("number", "2001"),
            ("code", code),
            ("email", "zofia@example.pl"),
            ("username", login),
            ("password", "długie-hasło-1"),
            ("password2", "długie-hasło-1"),
        ]
    };
    // Wrong code: refused beside the code field, typed values kept, nothing written.
    let r = c.post("/register", &form("WRONG123", "zofia")).await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.texts("#e-code"),
        ["The customer number and activation code do not match. Check them on the invoice."]
    );
    assert!(r.body.contains("value=\"zofia@example.pl\""));
    // A taken login.
    let r = c.post("/register", &form("kod2001x", "klient")).await;
    assert_eq!(
        r.texts("#e-username"),
        ["This login is taken. Choose another."]
    );
    assert!(smtp.received().is_empty());

    let r = c.post("/register", &form("kod 2001x", "zofia")).await;
    r.assert_status(StatusCode::OK);
    assert!(r.body.contains("zofia@example.pl"));
    // Not confirmed yet: no login.
    let r = c
        .post(
            "/login",
            &[("username", "zofia"), ("password", "długie-hasło-1")],
        )
        .await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let mails = smtp.received();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("To: zofia@example.pl"), "{}", mails[0]);
    let link = link_in(&mails[0], "http://portal.test/register/confirm?token=");
    let path = link.trim_start_matches("http://portal.test");
    let r = c.get(path).await;
    r.assert_status(StatusCode::OK);
    assert_eq!(r.texts("h1"), ["Address confirmed"]);
    // The link works once.
    c.get(path).await.assert_status(StatusCode::BAD_REQUEST);
    let r = c
        .post(
            "/login",
            &[("username", "zofia"), ("password", "długie-hasło-1")],
        )
        .await;
    assert_eq!(r.location(), Some("/ebok/"));
    let r = c.get("/ebok/").await;
    assert!(r.body.contains("Zofia Wiśniewska") && r.body.contains("2001"));
    // The same customer cannot register twice.
    let mut other = app.anonymous();
    other.get("/register?lang=en").await;
    let r = other.post("/register", &form("KOD2001X", "zofia2")).await;
    assert!(r.texts("#e-number")[0].contains("already has"));
    app.drop_db().await;
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_once_and_expires() {
    let smtp = SmtpServer::start("reset");
    let app = TestApp::builder()
        .config(|c| {
            c.smtp_url = Some(smtp.url());
            c.public_url = "http://portal.test".into();
        })
        .build()
        .await;
    let mut c = app.anonymous();
    c.get("/reset?lang=en").await;
    // An unknown address gets the same answer and no mail.
    let r = c.post("/reset", &[("email", "nobody@example.pl")]).await;
    r.assert_status(StatusCode::OK);
    let r2 = c.post("/reset", &[("email", "klient@example.pl")]).await;
    assert_eq!(r.texts("h1"), r2.texts("h1"));
    let mails = smtp.received();
    assert_eq!(mails.len(), 1);
    let link = link_in(&mails[0], "http://portal.test/reset/new?token=");
    let path = link.trim_start_matches("http://portal.test").to_string();
    let token = path.split("token=").nth(1).unwrap().to_string();
    c.get(&path).await.assert_status(StatusCode::OK);
    let r = c
        .post(
            "/reset/new",
            &[
                ("token", &token),
                ("password", "short"),
                ("password2", "short"),
            ],
        )
        .await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.texts("#e-password"),
        ["The password must have at least 10 characters."]
    );
    let new = "nowe-hasło-123";
    let r = c
        .post(
            "/reset/new",
            &[("token", &token), ("password", new), ("password2", new)],
        )
        .await;
    r.assert_status(StatusCode::OK);
    // Single use.
    let r = c
        .post(
            "/reset/new",
            &[
                ("token", &token),
                ("password", "inne-hasło-456"),
                ("password2", "inne-hasło-456"),
            ],
        )
        .await;
    r.assert_status(StatusCode::BAD_REQUEST);
    let r = c
        .post("/login", &[("username", "klient"), ("password", new)])
        .await;
    assert_eq!(r.location(), Some("/ebok/"));
    let mut old = app.anonymous();
    old.get("/login").await;
    let r = old
        .post("/login", &[("username", "klient"), ("password", PASSWORD)])
        .await;
    r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    // An expired link does not work.
    c.get("/reset").await;
    c.post("/reset", &[("email", "klient2@example.pl")]).await;
    let mails = smtp.received();
    let link = link_in(&mails[1], "http://portal.test/reset/new?token=");
    sqlx::query(
        "update auth_token set expires_at = now() - interval '1 second' where used_at is null",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let r = c.get(link.trim_start_matches("http://portal.test")).await;
    r.assert_status(StatusCode::BAD_REQUEST);
    app.drop_db().await;
}

#[tokio::test]
async fn without_smtp_mail_lands_in_the_maildir_and_staff_read_it_at_office_mail() {
    let app = TestApp::new().await;
    let mut c = app.anonymous();
    c.get("/reset?lang=pl").await;
    c.post("/reset", &[("email", "klient@example.pl")])
        .await
        .assert_status(StatusCode::OK);
    let stored = read_maildir(&app.state.config.maildir());
    assert_eq!(stored.len(), 1);
    let mut staff = app.login("urzednik").await;
    let r = staff.get("/office/mail").await;
    assert_eq!(r.texts("tbody tr td:first-child"), ["Reset hasła w eBOK"]);
    let sel = scraper::Selector::parse("tbody a").unwrap();
    let href = r
        .html()
        .select(&sel)
        .next()
        .unwrap()
        .value()
        .attr("href")
        .unwrap()
        .to_string();
    let r = staff.get(&href).await;
    r.assert_status(StatusCode::OK);
    assert!(r.texts("pre.mail-body")[0].contains("/reset/new?token="));
    // Not a path out of the maildir.
    let r = staff.get("/office/mail/..%2F..%2Fetc%2Fpasswd").await;
    r.assert_status(StatusCode::NOT_FOUND);
    // Customers may not read it.
    let mut customer = app.login("klient").await;
    customer
        .get("/office/mail")
        .await
        .assert_status(StatusCode::FORBIDDEN);
    app.drop_db().await;
}

#[tokio::test]
async fn user_add_creates_a_staff_login_and_refuses_bad_input() {
    use ewoda_portal::auth::users::{add, NewStaff};
    let app = TestApp::new().await;
    let staff = |login: &str, role: &str, password: &str| NewStaff {
        login: login.into(),
        role: role.into(),
        password: password.into(),
        name: None,
        email: None,
    };
    add(&app.pool, &staff("Kierownik", "admin", "bardzo-tajne-1"))
        .await
        .unwrap();
    let mut c = app.anonymous();
    c.get("/login").await;
    let r = c
        .post(
            "/login",
            &[("username", "kierownik"), ("password", "bardzo-tajne-1")],
        )
        .await;
    assert_eq!(r.location(), Some("/office/"));
    for (u, field) in [
        (staff("kierownik", "admin", "bardzo-tajne-1"), "LOGIN"),
        (staff("x", "admin", "bardzo-tajne-1"), "LOGIN"),
        (staff("nowy", "customer", "bardzo-tajne-1"), "--role"),
        (staff("nowy", "boss", "bardzo-tajne-1"), "--role"),
        (staff("nowy", "clerk", "krótkie"), "password"),
    ] {
        let e = add(&app.pool, &u).await.unwrap_err().to_string();
        assert!(e.starts_with(field), "{e}");
    }
    let n: i64 = sqlx::query_scalar("select count(*) from app_user where login = 'nowy'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
    app.drop_db().await;
}
