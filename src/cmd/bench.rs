//! `ewoda bench …`: benchmarks that print their figure as the last line.

use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Telegram decode rate over the shared vectors mix.
    Decode,
    /// A whole billing run with issue over N synthetic customers.
    Billing {
        #[arg(long, default_value_t = 100_000)]
        customers: usize,
    },
    /// Invoice PDF render time.
    Pdf,
    /// One MT940 statement of N credit entries imported in one transaction.
    Statement {
        #[arg(long, default_value_t = 50_000)]
        lines: usize,
    },
    /// eBOK latency: a demo-sized utility, N customers logged in through /login, closed loop
    /// over dashboard, invoice list, invoice, its PDF and a meter page.
    Portal {
        /// Simulated customers (concurrent sessions).
        #[arg(long, default_value_t = 200)]
        users: usize,
        /// Length of the measured window in seconds.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Meters of the seeded utility (the demo's size by default).
        #[arg(long, default_value_t = 3_832)]
        meters: usize,
        /// DATABASE_URL is a database an earlier run seeded (kept, e.g. after an interrupted
        /// run): measure it again without seeding, reusing its bench logins.
        #[arg(long)]
        seeded: bool,
        /// The portal's connections to PostgreSQL (as `ewoda serve --db-connections`).
        #[arg(long, default_value_t = ewoda_common::db::web_connections_default(), value_parser = clap::value_parser!(u32).range(2..))]
        db_connections: u32,
    },
    /// End-to-end ingest rate (serial radio dongle or MQTT → collector → PostgreSQL) against
    /// raw COPY of the same rows.
    Ingest {
        /// The source path: `serial` (simulated iM871A dongle on a pty) or `mqtt`.
        #[arg(long, default_value = "serial")]
        path: ewoda_bench::ingest::IngestPath,
        /// PostgreSQL URL; when unset, a private cluster is started.
        #[arg(long, env = "DATABASE_URL")]
        database_url: Option<String>,
        /// MQTT sources in one shared-subscription group.
        #[arg(long)]
        subscribers: Option<usize>,
        /// Each source's MQTT 5 Receive Maximum (unacknowledged messages it may hold).
        #[arg(long)]
        receive_maximum: Option<u16>,
        /// Writers of the pipeline.
        #[arg(long)]
        writers: Option<usize>,
        /// Largest writer batch (inputs per transaction).
        #[arg(long)]
        batch: Option<usize>,
        /// Serial: telegrams the simulated dongle may be ahead of the committed readings.
        #[arg(long)]
        serial_window: Option<usize>,
        /// MQTT: a broker to measure (repeat to measure several in one run, one row each);
        /// default `MQTT_URL` or a private mosquitto.
        #[arg(long = "mqtt-url")]
        mqtt_urls: Vec<String>,
        /// MQTT: one subscriber per topic partition instead of one shared subscription (for
        /// brokers without shared subscriptions, e.g. NATS).
        #[arg(long)]
        partitions: bool,
        /// Meters (default 2,000).
        #[arg(long)]
        meters: Option<usize>,
        /// Readings per meter, 15 minutes apart (default 100).
        #[arg(long)]
        readings_per_meter: Option<usize>,
    },
}

pub fn run(command: Command) -> ExitCode {
    match command {
        Command::Decode => {
            let mut out = std::io::stdout().lock();
            match ewoda_collector::wmbus::bench::run(&mut out) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("ewoda bench decode: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Billing { customers } => super::bill::bench_billing(customers),
        Command::Pdf => super::bill::bench_pdf(),
        Command::Statement { lines } => super::payments::bench_statement(lines),
        Command::Portal {
            users,
            seconds,
            meters,
            seeded,
            db_connections,
        } => bench_portal(users, seconds, meters, seeded, db_connections),
        Command::Ingest {
            path,
            database_url,
            subscribers,
            receive_maximum,
            writers,
            batch,
            serial_window,
            mqtt_urls,
            partitions,
            meters,
            readings_per_meter,
        } => {
            let mut opts = ewoda_bench::ingest::IngestOptions {
                path,
                mqtt_urls,
                partitions,
                ..Default::default()
            };
            if let Some(s) = subscribers {
                opts.subscribers = s;
            }
            if let Some(r) = receive_maximum {
                opts.receive_maximum = r;
            }
            if let Some(w) = writers {
                opts.writers = w;
            }
            if let Some(b) = batch {
                opts.writer.batch_size = b;
            }
            if let Some(w) = serial_window {
                opts.serial_window = w;
            }
            if let Some(m) = meters {
                opts.meters = m;
            }
            if let Some(r) = readings_per_meter {
                opts.readings_per_meter = r;
            }
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("ewoda bench ingest: {e}");
                    return ExitCode::from(1);
                }
            };
            let mut out = std::io::stdout();
            match rt.block_on(ewoda_bench::ingest::run_with(&mut out, database_url, &opts)) {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("ewoda bench ingest: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

/// `ewoda bench portal`, on a scratch database (DATABASE_URL's server, else a private one),
/// or with `--seeded` on the database DATABASE_URL names.
fn bench_portal(
    users: usize,
    seconds: u64,
    meters: usize,
    seeded: bool,
    db_connections: u32,
) -> ExitCode {
    let today = ewoda_common::time::local_day(chrono::Utc::now());
    let opts = ewoda_bench::portal::PortalOptions {
        users,
        window: std::time::Duration::from_secs(seconds),
        meters,
        server_connections: db_connections,
        ..ewoda_bench::portal::PortalOptions::new(today)
    };
    if seeded {
        return super::block_on(async move {
            let url = std::env::var("DATABASE_URL")
                .map_err(|_| anyhow::anyhow!("--seeded needs DATABASE_URL"))?;
            let pool = ewoda_common::db::connect(&url, 4).await?;
            ewoda_common::db::migrate(&pool).await?;
            let users = ewoda_bench::portal::reuse_users(&pool, opts.users).await?;
            let mut out = std::io::stdout();
            ewoda_bench::portal::measure(&mut out, &pool, &users, &opts).await?;
            Ok(())
        });
    }
    super::block_on(super::with_scratch_database(|pool| async move {
        let mut out = std::io::stdout();
        ewoda_bench::portal::run(&mut out, &pool, &opts).await?;
        Ok(())
    }))
}
