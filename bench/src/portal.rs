//! `ewoda bench portal`: eBOK latency under load. A demo-sized utility is seeded and billed
//! (as `ewoda demo` does), N customers get a login each, the portal is served on loopback, and
//! N simulated customers log in through the real login form (CSRF token, session cookie) and
//! then run closed-loop — each sends its next request as soon as the last one answered, as
//! `wrk -c N` does — over their dashboard, invoice list, an invoice, its PDF and a meter page.
//!
//! Client, server and PostgreSQL share the machine. Before the measured window every user
//! requests each of its pages once (so an invoice PDF is rendered and stored on its first
//! download, as in production, and served from the store afterwards). The last line printed is
//! `portal: p50 <X> ms, p99 <Y> ms at <N> concurrent users`.

use chrono::NaiveDate;
use ewoda_common::crypto::MasterKey;
use ewoda_portal::app::RateLimit;
use ewoda_portal::{AppConfig, AppState};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What the benchmark runs.
#[derive(Debug, Clone)]
pub struct PortalOptions {
    /// Simulated customers, each with its own session (and connection).
    pub users: usize,
    /// Length of the measured window.
    pub window: Duration,
    /// Meters of the seeded utility (the demo's 3,832 by default) and months of readings.
    pub meters: usize,
    pub months: u32,
    /// The day the utility is seeded up to (readings end the day before).
    pub today: NaiveDate,
    /// Server connections to PostgreSQL (as `ewoda serve` uses, with its settings:
    /// [`ewoda_common::db::connect_web`]).
    pub server_connections: u32,
}

impl PortalOptions {
    pub fn new(today: NaiveDate) -> Self {
        PortalOptions {
            users: 200,
            window: Duration::from_secs(20),
            meters: 3_832,
            months: 12,
            today,
            server_connections: ewoda_common::db::web_connections_default(),
        }
    }
}

/// Why the benchmark stopped.
#[derive(Debug, thiserror::Error)]
pub enum PortalBenchError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("demo seed: {0}")]
    Seed(#[from] ewoda_demo::SeedError),
    #[error("demo billing: {0}")]
    Demo(#[from] ewoda_demo::DemoError),
    #[error("portal: {0}")]
    Portal(#[from] ewoda_portal::error::AppError),
    #[error("only {found} customers have an invoice and a meter; the benchmark needs {wanted}")]
    TooFewCustomers { found: usize, wanted: usize },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{url}: {reason}")]
    Http { url: String, reason: String },
    /// The bench's own setup (keys, password hash, its tasks).
    #[error("bench setup: {0}")]
    Setup(String),
}

/// The pages a simulated customer cycles through, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    Dashboard,
    InvoiceList,
    InvoiceDetail,
    InvoicePdf,
    Meter,
}

impl PageKind {
    pub const ALL: [PageKind; 5] = [
        PageKind::Dashboard,
        PageKind::InvoiceList,
        PageKind::InvoiceDetail,
        PageKind::InvoicePdf,
        PageKind::Meter,
    ];

    pub fn label(self) -> &'static str {
        match self {
            PageKind::Dashboard => "dashboard",
            PageKind::InvoiceList => "invoice list",
            PageKind::InvoiceDetail => "invoice detail",
            PageKind::InvoicePdf => "invoice PDF",
            PageKind::Meter => "meter page",
        }
    }
}

/// One page's latencies over the window.
#[derive(Debug, Clone)]
pub struct PageFigures {
    pub kind: PageKind,
    pub requests: usize,
    pub p50: Duration,
    pub p99: Duration,
}

/// What was measured.
#[derive(Debug, Clone)]
pub struct PortalReport {
    pub users: usize,
    pub window: Duration,
    pub requests: usize,
    pub pages: Vec<PageFigures>,
    pub p50: Duration,
    pub p99: Duration,
    /// Stored invoice PDFs after the run (each rendered once).
    pub stored_pdfs: i64,
}

impl PortalReport {
    pub fn pages_per_second(&self) -> f64 {
        self.requests as f64 / self.window.as_secs_f64()
    }
}

/// A bench customer: its login and the ids its pages use.
#[derive(Debug, Clone)]
pub struct BenchUser {
    pub login: String,
    pub invoices: Vec<i64>,
    pub meter: i64,
}

/// The password of every bench login.
pub const BENCH_PASSWORD: &str = "ewoda-bench";

/// Seeds and bills a demo-sized utility on `pool` (an empty, migrated database), serves the
/// portal and measures it, printing as it goes.
pub async fn run(
    out: &mut impl Write,
    pool: &PgPool,
    opts: &PortalOptions,
) -> Result<PortalReport, PortalBenchError> {
    let started = Instant::now();
    seed_utility(pool, opts).await?;
    writeln!(
        out,
        "seeded and billed a utility of {} meters, {} months of readings, in {:.1} s",
        opts.meters,
        opts.months,
        started.elapsed().as_secs_f64()
    )?;
    let users = create_users(pool, opts.users, 0).await?;
    measure(out, pool, &users, opts).await
}

/// Measures the portal on an already seeded database for `users` (see [`create_users`],
/// [`reuse_users`]).
pub async fn measure(
    out: &mut impl Write,
    pool: &PgPool,
    users: &[BenchUser],
    opts: &PortalOptions,
) -> Result<PortalReport, PortalBenchError> {
    let data_dir = std::env::temp_dir().join(format!("ewoda-bench-portal-{}", std::process::id()));
    let server_pool = ewoda_common::db::web_pool(opts.server_connections)
        .connect_with(ewoda_common::db::for_web((*pool.connect_options()).clone()))
        .await?;
    let (addr, server) = serve(server_pool.clone(), data_dir.clone(), users.len()).await?;
    let result = drive(out, addr, users, opts.window).await;
    server.abort();
    server_pool.close().await;
    std::fs::remove_dir_all(&data_dir).ok();
    let mut report = result?;
    report.stored_pdfs = sqlx::query_scalar("select count(*) from invoice_pdf")
        .fetch_one(pool)
        .await?;
    Ok(report)
}

/// The demo seed (3,832 meters by default) and the demo's billing of the last three months,
/// then fresh planner statistics.
async fn seed_utility(pool: &PgPool, opts: &PortalOptions) -> Result<(), PortalBenchError> {
    let key = MasterKey::from_hex(&"b5".repeat(32))
        .map_err(|e| PortalBenchError::Setup(e.to_string()))?;
    let seed = ewoda_demo::SeedOptions {
        meters: opts.meters,
        months: opts.months,
        ..ewoda_demo::SeedOptions::demo(opts.today)
    };
    ewoda_demo::seed(pool, &key, &seed).await?;
    ewoda_demo::bill_recent_months(pool, opts.today).await?;
    // Statistics as a database in use has them (autovacuum would gather them in a while).
    sqlx::query("analyze").execute(pool).await?;
    Ok(())
}

/// The columns `invoices` (the customer's invoice ids) and `meter` (its first installed
/// meter) of the customer whose id is the SQL expression `customer`.
fn pages_columns(customer: &str) -> String {
    format!(
        "array(select i.invoice_id from invoice i where i.customer_id = {customer}
               order by i.invoice_id) as invoices,
         (select mi.meter_id from contract k join meter_installation mi using (premises_id)
           where k.customer_id = {customer} and mi.removed_at is null
           order by mi.role, mi.meter_id limit 1) as meter"
    )
}

/// A bench user from a row with `invoices` and `meter` ([`pages_columns`]).
fn bench_user(login: String, r: &PgRow) -> Result<BenchUser, sqlx::Error> {
    Ok(BenchUser {
        login,
        invoices: r.try_get("invoices")?,
        meter: r.try_get("meter")?,
    })
}

/// The bench logins an earlier run left in a database (`--seeded`), creating more when fewer
/// than `n` are there.
pub async fn reuse_users(pool: &PgPool, n: usize) -> Result<Vec<BenchUser>, PortalBenchError> {
    let rows = sqlx::query(&format!(
        "select u.login, {} from app_user u where u.login like 'bench-%'
         order by u.login limit $1",
        pages_columns("u.customer_id")
    ))
    .bind(n as i64)
    .fetch_all(pool)
    .await?;
    let mut users = rows
        .iter()
        .map(|r| bench_user(r.try_get("login")?, r))
        .collect::<Result<Vec<_>, _>>()?;
    if users.len() < n {
        let more = create_users(pool, n - users.len(), users.len()).await?;
        users.extend(more);
    }
    Ok(users)
}

/// Gives `n` customers with an invoice and an installed meter a login `bench-NNNN` (password
/// [`BENCH_PASSWORD`], one argon2id hash shared by all: hashing is not what is measured).
pub async fn create_users(
    pool: &PgPool,
    n: usize,
    numbered_from: usize,
) -> Result<Vec<BenchUser>, PortalBenchError> {
    let rows = sqlx::query(&format!(
        "select c.customer_id, {} from customer c
         where exists (select 1 from invoice i where i.customer_id = c.customer_id)
           and exists (select 1 from contract k join meter_installation mi using (premises_id)
                        where k.customer_id = c.customer_id and mi.removed_at is null)
           and not exists (select 1 from app_user u where u.customer_id = c.customer_id)
         order by c.customer_id
         limit $1",
        pages_columns("c.customer_id")
    ))
    .bind(n as i64)
    .fetch_all(pool)
    .await?;
    if rows.len() < n {
        return Err(PortalBenchError::TooFewCustomers {
            found: rows.len(),
            wanted: n,
        });
    }
    let hash =
        ewoda_portal::auth::password::hash(BENCH_PASSWORD).map_err(PortalBenchError::Setup)?;
    let mut users = Vec::with_capacity(n);
    let mut tx = pool.begin().await?;
    for (i, r) in rows.iter().enumerate() {
        let login = format!("bench-{:04}", numbered_from + i + 1);
        let customer_id: i64 = r.try_get("customer_id")?;
        sqlx::query(
            "with u as (
               insert into app_user (login, email, display_name, password_hash, customer_id, email_confirmed_at)
               values ($1, $1 || '@bench.example', $1, $2, $3, now()) returning user_id)
             insert into user_role (user_id, role) select user_id, 'customer' from u",
        )
        .bind(&login)
        .bind(&hash)
        .bind(customer_id)
        .execute(&mut *tx)
        .await?;
        users.push(bench_user(login, r)?);
    }
    tx.commit().await?;
    Ok(users)
}

/// The portal as `ewoda serve` builds it, on a loopback port; the login rate limit is raised
/// so `users` logins from one address are not refused (all other settings are the defaults).
async fn serve(
    pool: PgPool,
    data_dir: PathBuf,
    users: usize,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), PortalBenchError> {
    let config = AppConfig {
        data_dir,
        rate_limit: RateLimit {
            burst: users as u32 + 10,
            every: Duration::from_millis(1),
        },
        ..AppConfig::default()
    };
    let state = AppState::with_config(pool, config)?;
    state.set_ready();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = ewoda_portal::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("bench portal: web server: {e}");
        }
    });
    Ok((addr, server))
}

/// Logs every user in, warms up, runs the closed loop for `window` and prints the figures.
async fn drive(
    out: &mut impl Write,
    addr: SocketAddr,
    users: &[BenchUser],
    window: Duration,
) -> Result<PortalReport, PortalBenchError> {
    let base = format!("http://{addr}");
    let started = Instant::now();
    let mut logins = tokio::task::JoinSet::new();
    for user in users {
        let (base, user) = (base.clone(), user.clone());
        logins.spawn(async move { Visitor::log_in(&base, user).await });
    }
    let mut visitors = Vec::with_capacity(users.len());
    while let Some(joined) = logins.join_next().await {
        visitors.push(joined.map_err(join_error)??);
    }
    writeln!(
        out,
        "{} customers logged in through /login (each its own session) in {:.1} s",
        visitors.len(),
        started.elapsed().as_secs_f64()
    )?;
    let mut runs = tokio::task::JoinSet::new();
    for visitor in visitors {
        runs.spawn(visitor.warm_up_then_loop(window));
    }
    let mut samples: Vec<(PageKind, Duration)> = Vec::new();
    while let Some(joined) = runs.join_next().await {
        samples.extend(joined.map_err(join_error)??);
    }
    let report = summarise(users.len(), window, samples);
    print_report(out, &report)?;
    Ok(report)
}

fn join_error(e: tokio::task::JoinError) -> PortalBenchError {
    PortalBenchError::Setup(format!("a simulated customer stopped: {e}"))
}

/// One simulated customer: its own HTTP client (cookie jar, keep-alive connection).
struct Visitor {
    http: reqwest::Client,
    base: String,
    user: BenchUser,
}

impl Visitor {
    /// GET /login for the session cookie and the form's CSRF token, then POST the form; a
    /// 303 to /ebok/ is a login.
    async fn log_in(base: &str, user: BenchUser) -> Result<Visitor, PortalBenchError> {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| http_error("client", e))?;
        let url = format!("{base}/login");
        let form = http
            .get(&url)
            .send()
            .await
            .map_err(|e| http_error(&url, e))?
            .text()
            .await
            .map_err(|e| http_error(&url, e))?;
        let csrf = hidden_value(&form, "csrf").ok_or_else(|| PortalBenchError::Http {
            url: url.clone(),
            reason: "no csrf field in the login form".into(),
        })?;
        let answer = http
            .post(&url)
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", user.login.as_str()),
                ("password", BENCH_PASSWORD),
            ])
            .send()
            .await
            .map_err(|e| http_error(&url, e))?;
        let to = answer
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if answer.status() != reqwest::StatusCode::SEE_OTHER || to != "/ebok/" {
            return Err(PortalBenchError::Http {
                url,
                reason: format!(
                    "login of {} answered {} → {to:?}",
                    user.login,
                    answer.status()
                ),
            });
        }
        Ok(Visitor {
            http,
            base: base.to_string(),
            user,
        })
    }

    /// The path of the `step`-th request: the five pages in turn, the invoices in turn.
    fn path(&self, step: usize) -> (PageKind, String) {
        let kind = PageKind::ALL[step % PageKind::ALL.len()];
        let invoice = self.user.invoices[(step / PageKind::ALL.len()) % self.user.invoices.len()];
        let path = match kind {
            PageKind::Dashboard => "/ebok/".to_string(),
            PageKind::InvoiceList => "/ebok/invoices".to_string(),
            PageKind::InvoiceDetail => format!("/ebok/invoices/{invoice}"),
            PageKind::InvoicePdf => format!("/ebok/invoices/{invoice}/pdf"),
            PageKind::Meter => format!("/ebok/meters/{}", self.user.meter),
        };
        (kind, path)
    }

    /// One request, read to the end; anything but 200 stops the benchmark.
    async fn get(&self, path: &str) -> Result<(), PortalBenchError> {
        let url = format!("{}{path}", self.base);
        let answer = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| http_error(&url, e))?;
        let status = answer.status();
        let body = answer.bytes().await.map_err(|e| http_error(&url, e))?;
        if status != reqwest::StatusCode::OK || body.is_empty() {
            return Err(PortalBenchError::Http {
                url,
                reason: format!("answered {status} with {} bytes", body.len()),
            });
        }
        Ok(())
    }

    /// Every page once (each invoice's detail and PDF), then the closed loop: requests that
    /// start inside the window are the samples.
    async fn warm_up_then_loop(
        self,
        window: Duration,
    ) -> Result<Vec<(PageKind, Duration)>, PortalBenchError> {
        let warm_up = PageKind::ALL.len() * self.user.invoices.len();
        for step in 0..warm_up {
            self.get(&self.path(step).1).await?;
        }
        let end = Instant::now() + window;
        let mut samples = Vec::new();
        let mut step = 0;
        while Instant::now() < end {
            let (kind, path) = self.path(step);
            let sent = Instant::now();
            self.get(&path).await?;
            samples.push((kind, sent.elapsed()));
            step += 1;
        }
        Ok(samples)
    }
}

fn http_error(url: &str, e: reqwest::Error) -> PortalBenchError {
    PortalBenchError::Http {
        url: url.to_string(),
        reason: e.to_string(),
    }
}

/// The value of `<input type="hidden" name="NAME" value="…">` in a page.
fn hidden_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let rest = &html[at..];
    let value = rest.find("value=\"")? + "value=\"".len();
    let len = rest[value..].find('"')?;
    Some(rest[value..value + len].to_string())
}

/// The `q`-quantile (0..=1) of sorted latencies, nearest rank.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn summarise(users: usize, window: Duration, samples: Vec<(PageKind, Duration)>) -> PortalReport {
    let pages = PageKind::ALL
        .iter()
        .map(|&kind| {
            let mut d: Vec<Duration> = samples
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, d)| *d)
                .collect();
            d.sort_unstable();
            PageFigures {
                kind,
                requests: d.len(),
                p50: quantile(&d, 0.50),
                p99: quantile(&d, 0.99),
            }
        })
        .collect();
    let mut all: Vec<Duration> = samples.iter().map(|(_, d)| *d).collect();
    all.sort_unstable();
    PortalReport {
        users,
        window,
        requests: all.len(),
        pages,
        p50: quantile(&all, 0.50),
        p99: quantile(&all, 0.99),
        stored_pdfs: 0,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn print_report(out: &mut impl Write, r: &PortalReport) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<16} {:>9} {:>9} {:>9}",
        "page", "requests", "p50 ms", "p99 ms"
    )?;
    for p in &r.pages {
        writeln!(
            out,
            "{:<16} {:>9} {:>9.1} {:>9.1}",
            p.kind.label(),
            p.requests,
            ms(p.p50),
            ms(p.p99)
        )?;
    }
    writeln!(
        out,
        "{} pages in {:.0} s: {:.0} pages/s",
        r.requests,
        r.window.as_secs_f64(),
        r.pages_per_second()
    )?;
    writeln!(
        out,
        "portal: p50 {:.1} ms, p99 {:.1} ms at {} concurrent users",
        ms(r.p50),
        ms(r.p99),
        r.users
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&d, 0.5), Duration::from_millis(50));
        assert_eq!(quantile(&d, 0.99), Duration::from_millis(99));
        assert_eq!(quantile(&d[..1], 0.99), Duration::from_millis(1));
        assert_eq!(quantile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn the_csrf_token_is_read_from_the_hidden_field() {
        let html = r#"<form><input type="hidden" name="csrf" value="abc-123"><input name="username" value=""></form>"#;
        assert_eq!(hidden_value(html, "csrf").as_deref(), Some("abc-123"));
        assert_eq!(hidden_value(html, "next"), None);
    }
}
