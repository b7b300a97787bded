//! `ewoda serve`: the portal on an existing database (no demo seed).

use ewoda_portal::serve::{self, ServeOptions};
use ewoda_portal::AppConfig;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// PostgreSQL URL of the utility's database (required: serve never starts its own).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// Address to listen on.
    #[arg(long, env = "EWODA_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// HTTP port.
    #[arg(long, env = "EWODA_PORT", default_value_t = 8080)]
    pub port: u16,
    /// The portal is reached over TLS (directly or through a proxy): Secure cookies, HSTS.
    #[arg(long, env = "EWODA_TLS")]
    pub tls: bool,
    /// The address users reach the portal at, for links in mails.
    #[arg(long, env = "EWODA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// SMTP server for mail; without it mail is written to <data dir>/maildir.
    #[arg(long, env = "SMTP_URL")]
    pub smtp_url: Option<String>,
    /// Data directory (the maildir lives here).
    #[arg(long, env = "EWODA_DATA_DIR", default_value = ".ewoda")]
    pub data_dir: std::path::PathBuf,
    /// Online payments through the built-in fake Przelewy24-style operator on loopback, as in
    /// the demo (browser tests, trying the portal out); no real money ever moves.
    #[arg(long, env = "EWODA_FAKE_PAYMENTS")]
    pub fake_payments: bool,
    /// Reverse proxies (IP addresses, comma-separated) whose X-Forwarded-For names the client
    /// for rate limits; without them the header is ignored.
    #[arg(long, env = "EWODA_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Connections to PostgreSQL, at least 2: one listens for changed sessions and roles, the
    /// rest serve pages (default: two per core of this machine, and one more; count
    /// PostgreSQL's own cores the same way when it runs elsewhere).
    #[arg(long, env = "EWODA_DB_CONNECTIONS", default_value_t = ewoda_common::db::web_connections_default(), value_parser = clap::value_parser!(u32).range(2..))]
    pub db_connections: u32,
    /// Contact of the operator for Web Push services (the VAPID `sub`: mailto: or https:).
    #[arg(long, env = "EWODA_PUSH_CONTACT")]
    pub push_contact: Option<String>,
}

pub fn run(args: Args) -> ExitCode {
    let listen = match format!("{}:{}", args.host, args.port).parse() {
        Ok(a) => a,
        Err(_) => {
            eprintln!("ewoda: --host {:?}: expected an IP address", args.host);
            return ExitCode::FAILURE;
        }
    };
    let config = AppConfig {
        tls: args.tls,
        public_url: args
            .public_url
            .unwrap_or_else(|| format!("http://{}:{}", args.host, args.port)),
        smtp_url: args.smtp_url.filter(|s| !s.is_empty()),
        data_dir: args.data_dir,
        trusted_proxies: args.trusted_proxies,
        push_contact: args
            .push_contact
            .unwrap_or_else(|| AppConfig::default().push_contact),
        ..AppConfig::default()
    };
    let opts = ServeOptions {
        database_url: args.database_url,
        listen,
        db_connections: args.db_connections,
        config,
    };
    let fake = args.fake_payments;
    super::finish(super::runtime().and_then(|rt| rt.block_on(serve_with(opts, fake))))
}

/// Serves; with `fake_payments` the fake operator runs beside the portal and stops with it.
async fn serve_with(mut opts: ServeOptions, fake_payments: bool) -> anyhow::Result<()> {
    use ewoda_billing::payments::fake_operator::FakeOperator;
    let operator = match fake_payments {
        true => Some(FakeOperator::start(100_001, 100_001, "fake-api-key", "fake-crc").await?),
        false => None,
    };
    if let Some(op) = &operator {
        println!(
            "  payments: fake operator at {} (no real money)",
            op.base_url()
        );
        opts.config.payments = Some(op.config());
    }
    serve::run(opts).await?;
    drop(operator);
    Ok(())
}
