//! Safe defaults of what ewoda starts and writes: the demo seeds its published logins only
//! into a database ewoda created, and configuration printed with `{:?}` shows no secret.

use ewoda_demo::instance::{prepare_database, DEMO_MARK};
use ewoda_tests::{database_url, with_database, Scratch};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

async fn admin() -> PgPool {
    PgPoolOptions::new()
        .max_connections(1)
        .connect(&database_url())
        .await
        .unwrap()
}

async fn drop_database(admin: &PgPool, name: &str) {
    sqlx::query(&format!("drop database if exists {name} with (force)"))
        .execute(admin)
        .await
        .unwrap();
}

fn unique(tag: &str) -> String {
    format!("ewoda_t_{tag}_{}", std::process::id())
}

#[tokio::test]
async fn the_demo_refuses_a_database_it_did_not_create_and_writes_nothing() {
    let admin = admin().await;
    let name = unique("byhand");
    drop_database(&admin, &name).await;
    sqlx::query(&format!("create database {name}"))
        .execute(&admin)
        .await
        .unwrap();
    let dir = Scratch::new("demo-refuse");
    let opts = ewoda_demo::DemoOptions {
        common: ewoda_common::config::CommonConfig {
            database_url: Some(with_database(&database_url(), &name)),
            mqtt_url: Some(ewoda_tests::mqtt_url()),
            data_dir: dir.0.clone(),
            master_key: Some("11".repeat(32)),
        },
        host: "127.0.0.1".into(),
        port: 0,
    };
    let msg = ewoda_demo::run(opts).await.unwrap_err().to_string();
    assert!(
        msg.contains(&format!("{name:?}")) && msg.contains("ewoda did not create it"),
        "{msg}"
    );
    assert!(msg.contains("DATABASE_URL"), "says what to do: {msg}");
    let db = PgPoolOptions::new()
        .max_connections(1)
        .connect(&with_database(&database_url(), &name))
        .await
        .unwrap();
    let tables: i64 =
        sqlx::query_scalar("select count(*) from pg_tables where schemaname = 'public'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(tables, 0, "nothing was written (not even the migrations)");
    db.close().await;
    drop_database(&admin, &name).await;
}

#[tokio::test]
async fn a_database_the_demo_creates_is_marked_and_accepted_again() {
    let admin = admin().await;
    let name = unique("democreated");
    drop_database(&admin, &name).await;
    let url = with_database(&database_url(), &name);
    prepare_database(&url, false).await.unwrap();
    let mark: Option<String> = sqlx::query_scalar(
        "select shobj_description(oid, 'pg_database') from pg_database where datname = $1",
    )
    .bind(&name)
    .fetch_one(&admin)
    .await
    .unwrap();
    assert_eq!(mark.as_deref(), Some(DEMO_MARK));
    // The next start finds its own mark.
    prepare_database(&url, false).await.unwrap();
    // A comment changed by hand is not the mark any more.
    sqlx::query(&format!("comment on database {name} is 'production'"))
        .execute(&admin)
        .await
        .unwrap();
    assert!(prepare_database(&url, false).await.is_err());
    drop_database(&admin, &name).await;
}

#[test]
fn the_portal_config_debug_shows_no_smtp_password_or_operator_key() {
    let config = ewoda_portal::AppConfig {
        smtp_url: Some("smtps://office%40wodociagi.pl:smtp-PASS-31@smtp.wodociagi.pl".into()),
        payments: Some(ewoda_billing::payments::online::P24Config {
            base_url: "https://secure.przelewy24.pl".into(),
            merchant_id: 1,
            pos_id: 1,
            api_key: "p24-API-KEY-99".into(),
            crc: "p24-CRC-KEY-98".into(),
        }),
        ..ewoda_portal::AppConfig::default()
    };
    let shown = format!("{config:?}");
    for secret in ["smtp-PASS-31", "p24-API-KEY-99", "p24-CRC-KEY-98"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(shown.contains("smtp.wodociagi.pl"), "{shown}");
}
