//! `ewoda demo`: start the components, migrate, seed once, serve, and stop cleanly.

use crate::seed::{self, SeedOptions, DEMO_PASSWORD};
use ewoda_common::config::CommonConfig;
use ewoda_common::services::Services;
use ewoda_common::{db, time};
use ewoda_portal::{self as web, AppState};
use std::net::SocketAddr;

/// Everything that can stop the demo from starting, each with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Common(#[from] ewoda_common::Error),
    #[error("demo seed: {0}")]
    Seed(#[from] seed::SeedError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("demo billing run: {0}")]
    Billing(#[from] ewoda_billing::store_error::StoreError),
    #[error("portal: {0}")]
    Portal(#[from] ewoda_portal::error::AppError),
    #[error("web server: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Instance(#[from] crate::instance::InstanceError),
}

/// Options of `ewoda demo`.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub common: CommonConfig,
    pub host: String,
    pub port: u16,
}

/// Runs the demo until Ctrl-C / SIGTERM. Nothing stays running when it returns.
pub async fn run(opts: DemoOptions) -> Result<(), DemoError> {
    // The port first: failing here starts nothing.
    let listener = bind(&opts.host, opts.port).await?;
    let master_key = opts.common.master_key()?;
    let service_opts = opts.common.service_options();
    let services = tokio::task::spawn_blocking(move || Services::start(&service_opts))
        .await
        .map_err(|e| ewoda_common::Error::ServiceStart {
            service: "services",
            reason: e.to_string(),
        })??;
    let result = serve(&opts, listener, &services, &master_key).await;
    tokio::task::spawn_blocking(move || services.stop())
        .await
        .ok();
    result
}

async fn serve(
    opts: &DemoOptions,
    listener: tokio::net::TcpListener,
    services: &Services,
    master_key: &ewoda_common::crypto::MasterKey,
) -> Result<(), DemoError> {
    // Before anything is written: only a database ewoda created takes the demo logins.
    crate::instance::prepare_database(
        &services.database_url,
        services.private_postgres().is_some(),
    )
    .await?;
    let pool = db::connect(&services.database_url, 16).await?;
    db::migrate(&pool).await?;
    // Online payments go through the fake operator (loopback), so a demo customer can pay;
    // it stops with the demo (dropped at the end of this function).
    let operator = ewoda_billing::payments::fake_operator::FakeOperator::start(
        100_001,
        100_001,
        "demo-api-key",
        "demo-crc",
    )
    .await
    .map_err(DemoError::Serve)?;
    // Mail goes to the data dir's maildir (read at /office/mail); links point at this demo.
    let config = ewoda_portal::AppConfig {
        data_dir: opts.common.data_dir.clone(),
        public_url: format!("http://{}:{}", display_host(&opts.host), opts.port),
        payments: Some(operator.config()),
        ..ewoda_portal::AppConfig::default()
    };
    // The portal's own connections, with its settings; the seed and billing use `pool`.
    let web_pool = db::connect_web(&services.database_url, db::web_connections_default()).await?;
    let state = AppState::with_config(web_pool.clone(), config)?;
    let app = web::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
    });

    let seeded: bool = sqlx::query_scalar("select exists (select 1 from utility)")
        .fetch_one(&pool)
        .await?;
    if seeded {
        eprintln!("Using the demo data already in the database.");
    } else {
        eprintln!("Seeding the demo utility (3,832 meters, 12 months of readings)…");
        let started = std::time::Instant::now();
        let today = time::local_day(chrono::Utc::now());
        let summary = seed::seed(&pool, master_key, &SeedOptions::demo(today)).await?;
        eprintln!(
            "Seeded {} customers, {} meters, {} readings in {:.1} s.",
            summary.customers,
            summary.meters,
            summary.readings,
            started.elapsed().as_secs_f64()
        );
        // Real NBP history (EUR mid and reference rates) for interest notes and compensation.
        ewoda_billing::rates::load_shipped(&pool).await?;
        bill_recent_months(&pool, today).await?;
    }
    state.set_ready();

    let url = format!("http://{}:{}/", display_host(&opts.host), opts.port);
    println!("ewoda demo is running: {url}");
    println!("  database: {}", db::describe(&services.database_url));
    if let Some(pg) = services.private_postgres() {
        println!(
            "    (user postgres, password in {})",
            pg.password_file().display()
        );
    }
    println!("  MQTT broker: {}", services.mqtt_url);
    if let Some(m) = services.private_mosquitto() {
        println!(
            "    (user {}, password in {})",
            m.username(),
            m.password_file().display()
        );
    }
    println!("  logins (password for all: {DEMO_PASSWORD}):");
    for line in seed::login_lines(&pool).await? {
        println!("    {line}");
    }
    let today = time::local_day(chrono::Utc::now());
    let login = services
        .private_mosquitto()
        .map(|m| crate::live::BrokerLogin {
            username: m.username().to_string(),
            password_file: m.password_file(),
        });
    let live = match crate::live::start(
        &pool,
        &SeedOptions::demo(today),
        &services.database_url,
        &services.mqtt_url,
        login.as_ref(),
        &opts.common.data_dir,
    )
    .await
    {
        Ok(live) => {
            println!("  live meter feed (simulated fleet → collector → database):");
            for line in live.devices.lines() {
                println!("    {line}");
            }
            Some(live)
        }
        Err(e) => {
            eprintln!("The live meter feed did not start: {e}");
            None
        }
    };
    println!("Press Ctrl-C to stop.");

    let served = server
        .await
        .map_err(|e| DemoError::Serve(std::io::Error::other(e.to_string())))?;
    if let Some(live) = live {
        live.stop().await;
    }
    web_pool.close().await;
    pool.close().await;
    served.map_err(DemoError::Serve)
}

/// Issues the invoices of the last three closed months, each on the first day of the month
/// after it, so customers have several invoices and the older ones are past due (overdue).
pub async fn bill_recent_months(
    pool: &sqlx::PgPool,
    today: chrono::NaiveDate,
) -> Result<(), DemoError> {
    use chrono::{Datelike, Months};
    let this_month = today.with_day(1).unwrap_or(today);
    for back in (1..=3).rev() {
        let Some(first) = this_month.checked_sub_months(Months::new(back)) else {
            continue;
        };
        let month = format!("{:04}-{:02}", first.year(), first.month());
        let opts = ewoda_billing::run::RunOptions {
            issued_on: first + Months::new(1),
            ..ewoda_billing::run::RunOptions::for_month(&month, today)?
        };
        let summary = ewoda_billing::run::bill_period(pool, &opts, &mut |_, _| {})
            .await?
            .summary;
        eprintln!(
            "Billed {month}: {} invoices, gross {} PLN ({} held for a clerk).",
            summary.issued,
            summary.gross,
            summary.plan.exceptions.len()
        );
    }
    Ok(())
}

async fn bind(host: &str, port: u16) -> Result<tokio::net::TcpListener, DemoError> {
    let addr: SocketAddr =
        format!("{host}:{port}")
            .parse()
            .map_err(|_| ewoda_common::Error::Invalid {
                what: "listen address",
                value: format!("{host}:{port}"),
                reason: "expected an IP address and a port".into(),
            })?;
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            DemoError::Common(ewoda_common::Error::PortInUse {
                host: host.to_string(),
                port,
                suggestion: port.wrapping_add(1).max(1024),
            })
        } else {
            DemoError::Common(ewoda_common::Error::io(format!("listening on {addr}"))(e))
        }
    })
}

fn display_host(host: &str) -> &str {
    if host == "0.0.0.0" {
        "localhost"
    } else {
        host
    }
}

async fn shutdown_signal() {
    ewoda_common::shutdown::signal().await;
    eprintln!("Stopping…");
}
