//! Past one machine (docs/scaling.md): two `ewoda collect` processes share one MQTT 5 shared
//! subscription and two `ewoda serve` processes share one database. Every published reading
//! is stored exactly once whichever collector took it, both collectors take a share, and a
//! login session made on one portal instance is valid on the other (sessions live in
//! PostgreSQL, so the instances can sit behind any proxy without sticky sessions).
//!
//! The processes are the real `ewoda` binary: `EWODA_BIN`, or the one cargo builds beside
//! this test binary (`cargo build -p ewoda`; a workspace `cargo test` builds it).

use chrono::{Duration, TimeZone, Utc};
use ewoda_common::crypto::MasterKey;
use ewoda_sim::mqtt::{reading_message, Publisher};
use ewoda_sim::Fleet;
use ewoda_tests::{insert_fleet, mqtt_url, Scratch, TestDb};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration as StdDuration;

fn ewoda_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("EWODA_BIN") {
        return PathBuf::from(bin);
    }
    // target/<profile>/deps/it-… → target/<profile>/ewoda
    let exe = std::env::current_exe().expect("test binary path");
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("ewoda"))
        .expect("target directory");
    assert!(
        bin.is_file(),
        "{} missing: run `cargo build -p ewoda` first or set EWODA_BIN",
        bin.display()
    );
    bin
}

/// A child process killed (by its own id) when the test ends, however it ends.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str], env: &[(&str, &str)]) -> Process {
    let mut cmd = Command::new(ewoda_bin());
    cmd.args(args)
        .env_remove("DATABASE_URL")
        .env_remove("MQTT_URL")
        .env("SMTP_URL", "")
        .env("EWODA_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    Process(cmd.spawn().expect("start ewoda"))
}

fn free_port() -> u16 {
    ewoda_common::services::free_port().unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(StdDuration::from_secs(10))
        .build()
        .unwrap()
}

/// Polls `url` until `ok` accepts its body (status 200), for up to 60 s.
async fn wait_until(url: &str, ok: impl Fn(&str) -> bool) {
    let client = http();
    for _ in 0..240 {
        if let Ok(r) = client.get(url).send().await {
            if r.status() == 200 && ok(&r.text().await.unwrap_or_default()) {
                return;
            }
        }
        tokio::time::sleep(StdDuration::from_millis(250)).await;
    }
    panic!("{url} did not become ready");
}

/// The value of an unlabelled counter in a Prometheus text page.
fn counter(page: &str, name: &str) -> u64 {
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0)
}

async fn count(pool: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

fn collector_config(dir: &Scratch, db_url: &str, prefix: &str, n: usize, metrics: u16) -> PathBuf {
    let path = dir.0.join(format!("collect-{n}.toml"));
    let text = format!(
        r#"
database_url = "{db_url}"
mqtt_url = "{mqtt}"
metrics_port = {metrics}
spill_dir = "{spill}"
drain_secs = 5
[rules]
interval_secs = 0
[[sources]]
kind = "mqtt"
topic_filter = "{prefix}/meters/+/+"
client_id = "{prefix}-collector-{n}"
share_group = "{prefix}"
"#,
        mqtt = mqtt_url(),
        spill = dir.0.join(format!("spill-{n}")).display(),
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_collectors_and_two_portals_on_one_database_lose_nothing() {
    let db = TestDb::new("scaling").await;
    let dir = Scratch::new("scaling");
    let fleet = Fleet::generate(83, 200);
    let start = Utc.with_ymd_and_hms(2026, 4, 6, 0, 0, 0).unwrap();
    insert_fleet(
        &db.pool,
        &fleet,
        start,
        &MasterKey::from_hex(&"83".repeat(32)).unwrap(),
    )
    .await;
    let prefix = format!("scale{}", std::process::id());

    // Two collectors, one shared subscription.
    let ports = [free_port(), free_port()];
    let _collectors: Vec<Process> = (0..2)
        .map(|n| {
            let cfg = collector_config(&dir, &db.url(), &prefix, n, ports[n]);
            spawn(&["collect", "--config", &cfg.display().to_string()], &[])
        })
        .collect();
    for port in ports {
        wait_until(&format!("http://127.0.0.1:{port}/metrics"), |m| {
            m.lines()
                .any(|l| l.starts_with("ewoda_source_up{") && l.ends_with(" 1"))
        })
        .await;
    }
    // The SUBSCRIBE follows the CONNACK.
    tokio::time::sleep(StdDuration::from_secs(1)).await;

    // 200 meters × 10 quarter-hours.
    let msgs: Vec<_> = (0..10)
        .flat_map(|q| (0..fleet.len()).map(move |m| (m, start + Duration::minutes(15 * q))))
        .map(|(m, t)| reading_message(&fleet, &prefix, m, t).unwrap())
        .collect();
    let total = msgs.len() as i64;
    let mut publisher = Publisher::connect(&mqtt_url(), &format!("{prefix}-devices"))
        .await
        .unwrap();
    publisher.publish_all(&msgs).await.unwrap();
    publisher.close().await;
    for _ in 0..240 {
        if count(&db.pool, "select count(*) from reading").await >= total {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(250)).await;
    }
    // A moment for a late duplicate to show up, were one possible.
    tokio::time::sleep(StdDuration::from_secs(1)).await;
    assert_eq!(count(&db.pool, "select count(*) from reading").await, total);
    assert_eq!(
        count(
            &db.pool,
            "select count(*) from (select distinct meter_id, read_at from reading) x"
        )
        .await,
        total,
        "each reading stored once"
    );
    assert_eq!(count(&db.pool, "select count(*) from dead_letter").await, 0);
    let mut shares = Vec::new();
    for port in ports {
        let page = http()
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        shares.push(counter(&page, "ewoda_collector_mqtt_received_total"));
    }
    assert!(
        shares.iter().all(|&s| s > 0),
        "both collectors took a share: {shares:?}"
    );
    assert_eq!(shares.iter().sum::<u64>() as i64, total, "{shares:?}");
    let t = start + Duration::minutes(135);
    let serial = fleet.generation_at(57, t).unwrap().serial.clone();
    let stored: i64 = sqlx::query_scalar(
        "select volume_ml from reading join meter using (meter_id) where serial = $1 and read_at = $2",
    )
    .bind(&serial)
    .bind(t)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(stored, fleet.register_at(57, t).unwrap().ml());

    // Two portal instances; a session made on A is honoured by B.
    let password = dir.0.join("password");
    std::fs::write(&password, "Skalowanie-2026!\n").unwrap();
    let db_url = db.url();
    let added = Command::new(ewoda_bin())
        .args([
            "user",
            "add",
            "--role",
            "clerk",
            "urzednik",
            "--password-file",
        ])
        .arg(&password)
        .env("DATABASE_URL", &db_url)
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let web = [free_port(), free_port()];
    let _portals: Vec<Process> = web
        .iter()
        .map(|port| {
            let data = dir.0.join(format!("serve-{port}"));
            spawn(
                &[
                    "serve",
                    "--port",
                    &port.to_string(),
                    "--data-dir",
                    &data.display().to_string(),
                ],
                &[("DATABASE_URL", db_url.as_str())],
            )
        })
        .collect();
    for port in web {
        wait_until(&format!("http://127.0.0.1:{port}/login"), |_| true).await;
    }
    let cookie = login(web[0], "urzednik", "Skalowanie-2026!").await;
    let on_b = http()
        .get(format!("http://127.0.0.1:{}/office/", web[1]))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(on_b.status(), 200, "the session made on A is valid on B");
    let page = on_b.text().await.unwrap();
    assert!(page.contains("urzednik"), "B knows who is logged in");
    // Without the cookie B sends the visitor to the login page.
    let anonymous = http()
        .get(format!("http://127.0.0.1:{}/office/", web[1]))
        .send()
        .await
        .unwrap();
    assert_ne!(anonymous.status(), 200);
    db.drop_db().await;
}

/// The session cookie named in the last `Set-Cookie` of `r`.
fn session_cookie(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|v| v.starts_with("ewoda_session="))
        .fold(None, |_, v| Some(v))
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
}

/// Logs in on the instance at `port` as a browser would (CSRF token from the form) and
/// returns the session cookie.
async fn login(port: u16, user: &str, password: &str) -> String {
    let client = http();
    let form = client
        .get(format!("http://127.0.0.1:{port}/login"))
        .send()
        .await
        .unwrap();
    let mut cookie = session_cookie(&form).expect("a session cookie with the login form");
    let html = form.text().await.unwrap();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form's CSRF token")
        .to_string();
    let done = client
        .post(format!("http://127.0.0.1:{port}/login"))
        .header("cookie", &cookie)
        .form(&[("username", user), ("password", password), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert!(done.status().is_redirection(), "login: {}", done.status());
    if let Some(renewed) = session_cookie(&done) {
        cookie = renewed;
    }
    cookie
}
