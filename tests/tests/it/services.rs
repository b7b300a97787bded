//! The components ewoda starts itself: a private PostgreSQL cluster and a private Mosquitto,
//! their clean stop, and the one-line errors for what can go wrong at start-up.

use ewoda_common::services::{PrivateMosquitto, PrivatePostgres, ServiceOptions, Services};
use ewoda_common::Error;
use ewoda_tests::Scratch;
use std::net::TcpStream;

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn port_open(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

#[tokio::test]
async fn private_postgres_and_mosquitto_start_answer_and_stop() {
    let dir = Scratch::new("services");
    let opts = ServiceOptions {
        database_url: None,
        mqtt_url: None,
        data_dir: dir.0.clone(),
        install_missing: false,
    };
    let services = tokio::task::spawn_blocking(move || Services::start(&opts))
        .await
        .unwrap()
        .unwrap();
    let pg_port = services.private_postgres().unwrap().port();
    let mqtt_port = services.private_mosquitto().unwrap().port();
    // Neither trusts whoever connects: generated passwords, kept owner-only.
    let pg_password = services.private_postgres().unwrap().password_file();
    let mqtt_password = services.private_mosquitto().unwrap().password_file();
    for file in [&pg_password, &mqtt_password] {
        assert_eq!(mode(file), 0o600, "{}", file.display());
        assert!(std::fs::read_to_string(file).unwrap().trim().len() >= 32);
    }
    let anonymous = format!("postgres://postgres@127.0.0.1:{pg_port}/ewoda");
    let refused = ewoda_common::db::connect(&anonymous, 1)
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("password"), "trust is off: {refused}");
    let url = services.mqtt_url.clone();
    let anonymous = ewoda_sim::mqtt::Publisher::connect(&url, "anonymous-probe").await;
    assert!(anonymous.is_err(), "the broker refuses an anonymous client");
    let m = services.private_mosquitto().unwrap();
    let wrong =
        ewoda_sim::mqtt::Publisher::connect_as(&url, "wrong-probe", Some((m.username(), "guess")))
            .await;
    assert!(wrong.is_err(), "the broker refuses a wrong password");
    let right = ewoda_sim::mqtt::Publisher::connect_as(
        &url,
        "right-probe",
        Some((m.username(), m.password().expose())),
    )
    .await
    .expect("the generated password is accepted");
    right.close().await;
    let pool = ewoda_common::db::connect(&services.database_url, 2)
        .await
        .unwrap();
    ewoda_common::db::migrate(&pool).await.unwrap();
    let one: i32 = sqlx::query_scalar("select 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(one, 1);
    pool.close().await;
    assert!(port_open(mqtt_port));
    tokio::task::spawn_blocking(move || services.stop())
        .await
        .unwrap();
    assert!(!port_open(pg_port), "PostgreSQL must be stopped");
    assert!(!port_open(mqtt_port), "Mosquitto must be stopped");

    // A second start reuses the initialised cluster (and its data).
    let opts = ServiceOptions {
        database_url: None,
        mqtt_url: Some("mqtt://unused".into()),
        data_dir: dir.0.clone(),
        install_missing: false,
    };
    let services = tokio::task::spawn_blocking(move || Services::start(&opts))
        .await
        .unwrap()
        .unwrap();
    let pool = ewoda_common::db::connect(&services.database_url, 2)
        .await
        .unwrap();
    let has_meter: bool = sqlx::query_scalar("select to_regclass('meter') is not null")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(has_meter, "the schema survives a restart");
    pool.close().await;
    drop(services); // dropping stops it as well
}

#[test]
fn a_non_empty_directory_without_a_cluster_is_refused_and_left_alone() {
    let dir = Scratch::new("notacluster");
    let pg = dir.0.join("pg");
    std::fs::create_dir_all(&pg).unwrap();
    std::fs::write(pg.join("notes.txt"), "mine").unwrap();
    let err = PrivatePostgres::start(&pg, false).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::DataDir { .. }), "{msg}");
    assert!(
        msg.contains("not empty") && msg.contains("EWODA_DATA_DIR"),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "one line: {msg}");
    assert_eq!(
        std::fs::read_to_string(pg.join("notes.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn a_corrupt_cluster_is_reported() {
    let dir = Scratch::new("corrupt");
    let pg = dir.0.join("pg");
    std::fs::create_dir_all(&pg).unwrap();
    std::fs::write(pg.join("PG_VERSION"), "15\n").unwrap();
    let msg = PrivatePostgres::start(&pg, false).unwrap_err().to_string();
    assert!(
        msg.contains("corrupt") && msg.contains("pg_control"),
        "{msg}"
    );
}

#[tokio::test]
async fn an_unreachable_database_url_is_one_clear_line() {
    let port = ewoda_common::services::free_port().unwrap();
    let url = format!("postgres://postgres@127.0.0.1:{port}/ewoda");
    let started = std::time::Instant::now();
    let msg = ewoda_common::db::connect(&url, 1)
        .await
        .unwrap_err()
        .to_string();
    assert!(started.elapsed().as_secs() < 15, "fails fast");
    assert!(msg.contains(&format!("127.0.0.1:{port}/ewoda")), "{msg}");
    assert!(msg.contains("DATABASE_URL"), "says what to do: {msg}");
    assert!(!msg.contains('\n'));
    let bad = ewoda_common::db::connect("mysql://x", 1)
        .await
        .unwrap_err()
        .to_string();
    assert!(bad.starts_with("DATABASE_URL:"), "{bad}");
}

#[tokio::test]
async fn the_demo_refuses_a_taken_port_before_starting_anything() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = Scratch::new("demoport");
    let opts = ewoda_demo::DemoOptions {
        common: ewoda_common::config::CommonConfig {
            database_url: None,
            mqtt_url: None,
            data_dir: dir.0.clone(),
            master_key: Some("11".repeat(32)),
        },
        host: "127.0.0.1".into(),
        port,
    };
    let msg = ewoda_demo::run(opts).await.unwrap_err().to_string();
    assert!(
        msg.contains(&format!("port {port}"))
            && msg.contains("already in use")
            && msg.contains("--port"),
        "{msg}"
    );
    assert!(!dir.0.join("pg").exists(), "nothing was started");
}

#[test]
fn mosquitto_restart_keeps_the_port() {
    let dir = Scratch::new("mqtt");
    let mut m = PrivateMosquitto::start(&dir.0, false).unwrap();
    let port = m.port();
    assert!(port_open(port));
    m.restart().unwrap();
    assert!(port_open(port));
    m.stop();
    assert!(!port_open(port));
}
