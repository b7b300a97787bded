//! Shared application state and its typed configuration.

use crate::ui::i18n::I18n;
use sqlx::PgPool;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Shared application state, passed to every handler (never global).
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

impl std::ops::Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

/// What every handler can reach: the pool, the configuration, the translations.
pub struct App {
    pub pool: PgPool,
    pub config: AppConfig,
    pub i18n: I18n,
    /// False until migrations and seeding are done; `/healthz` answers 503 meanwhile.
    pub ready: AtomicBool,
    /// ebok: money — the invoice PDF renderer (fonts parsed once); None if the fonts fail.
    pub pdf: Option<ewoda_billing::invoice::pdf::InvoicePdfRenderer>,
    /// ebok: money — the online payment operator, when configured.
    pub operator: Option<ewoda_billing::payments::online::Przelewy24>,
}

/// Portal settings; [`AppConfig::default`] is what the demo and tests start from.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Served over TLS (directly or behind a TLS proxy): cookies get `Secure`, responses HSTS.
    pub tls: bool,
    /// Rate limit of the public forms (login, registration, reset), per client IP.
    pub rate_limit: RateLimit,
    /// Failed logins in a row before the account is locked, and for how long.
    pub lockout_failures: i32,
    pub lockout_for: Duration,
    /// Idle time after which a session expires.
    pub session_idle: Duration,
    /// Where the maildir of unsent mail lives (`<data_dir>/maildir`).
    pub data_dir: PathBuf,
    /// ebok: money — the portal's address as the payer's browser and the payment operator
    /// reach it (return and notification URLs).
    pub public_url: String,
    /// ebok: money — the Przelewy24-style operator's credentials; None: no online payments.
    pub payments: Option<ewoda_billing::payments::online::P24Config>,
}

/// A token bucket: `burst` requests at once, then one more every `every`.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub burst: u32,
    pub every: Duration,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            tls: false,
            rate_limit: RateLimit {
                burst: 10,
                every: Duration::from_secs(6),
            },
            lockout_failures: 5,
            lockout_for: Duration::from_secs(15 * 60),
            session_idle: Duration::from_secs(2 * 3600),
            data_dir: PathBuf::from(".ewoda"),
            public_url: "http://127.0.0.1:8080".into(),
            payments: None,
        }
    }
}

impl AppState {
    /// State with the default configuration.
    pub fn new(pool: PgPool) -> Self {
        Self::with_config(pool, AppConfig::default())
    }

    pub fn with_config(pool: PgPool, config: AppConfig) -> Self {
        let pdf = ewoda_billing::invoice::pdf::InvoicePdfRenderer::new()
            .map_err(|e| tracing::error!(error = %e, "invoice PDF fonts"))
            .ok();
        let operator = config
            .payments
            .clone()
            .map(ewoda_billing::payments::online::Przelewy24::new);
        AppState(Arc::new(App {
            pool,
            config,
            i18n: I18n::load(),
            ready: AtomicBool::new(false),
            pdf,
            operator,
        }))
    }

    pub fn set_ready(&self) {
        self.0.ready.store(true, Ordering::SeqCst);
    }

    pub fn is_ready(&self) -> bool {
        self.0.ready.load(Ordering::SeqCst)
    }
}
