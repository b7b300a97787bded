//! Shared application state and its typed configuration.

use crate::error::AppError;
use crate::mail::{MaildirMailer, Mailer, SmtpMailer};
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
    /// SMTP when configured, else the maildir in the data directory.
    pub mailer: Box<dyn Mailer>,
    /// See [`crate::auth::password::dummy_hash`].
    pub dummy_hash: String,
    /// False until migrations and seeding are done; `/healthz` answers 503 meanwhile.
    pub ready: AtomicBool,
    /// ebok: money — the invoice PDF renderer (fonts parsed once); None if the fonts fail.
    pub pdf: Option<ewoda_billing::invoice::pdf::InvoicePdfRenderer>,
    /// ebok: money — the online payment operator, when configured.
    pub operator: Option<ewoda_billing::payments::online::Przelewy24>,
    /// Web Push: the VAPID keys of the data dir and the sender; None if the key file cannot
    /// be read or written (logged at start).
    pub push: Option<crate::push::PushSender>,
    /// ebok: money — the payment QR codes, each drawn once.
    pub qr: crate::ebok::money::QrImages,
    /// Sessions and users' standing, kept coherent by PostgreSQL's notifications.
    pub caches: Arc<crate::app::coherent::Caches>,
    /// Password hashing, a core at a time.
    pub password_slots: crate::auth::password::Slots,
}

/// Portal settings; [`AppConfig::default`] is what the demo and tests start from. `Debug`
/// blanks the SMTP password (the operator's keys are hidden by `P24Config`'s own `Debug`).
#[derive(Clone)]
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
    /// How often an active session's expiry is pushed forward (one store write each).
    pub session_touch: Duration,
    /// Where the maildir of unsent mail lives (`<data_dir>/maildir`).
    pub data_dir: PathBuf,
    /// SMTP server for outgoing mail; without it mail goes to the maildir.
    pub smtp_url: Option<String>,
    /// The portal's address as users reach it, for links in mails (never taken from the
    /// request's Host header, which a client can forge).
    pub public_url: String,
    /// ebok: money — the Przelewy24-style operator's credentials; None: no online payments.
    pub payments: Option<ewoda_billing::payments::online::P24Config>,
    /// How long a confirmation link and a password-reset link stay valid.
    pub confirm_valid: Duration,
    pub reset_valid: Duration,
    /// Web Push: the `sub` claim of VAPID, how a push service reaches the operator
    /// (`mailto:` or `https:`).
    pub push_contact: String,
    /// Reverse proxies whose `X-Forwarded-For` is believed: only for a request from one of
    /// them is the right-most address not in this list the client (the rate-limit key).
    /// Empty: the peer address is the client, and the header is ignored.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Where "now" comes from for dates the pages compute (an invoice overdue today).
    pub clock: AppClock,
}

/// The app's clock ([`ewoda_common::time::Clock`]): the system's, or a fixed one in tests.
#[derive(Clone)]
pub struct AppClock(pub Arc<dyn ewoda_common::time::Clock>);

impl AppClock {
    /// A clock stopped at `at`.
    pub fn fixed(at: chrono::DateTime<chrono::Utc>) -> AppClock {
        AppClock(Arc::new(ewoda_common::time::FixedClock(at)))
    }

    /// Today in Warsaw.
    pub fn today(&self) -> chrono::NaiveDate {
        self.0.today()
    }
}

impl Default for AppClock {
    fn default() -> Self {
        AppClock(Arc::new(ewoda_common::time::SystemClock))
    }
}

impl std::fmt::Debug for AppClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AppClock({})", self.0.now())
    }
}

impl std::fmt::Debug for AppConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let smtp = self
            .smtp_url
            .as_deref()
            .map(ewoda_common::secret::redact_url);
        f.debug_struct("AppConfig")
            .field("tls", &self.tls)
            .field("rate_limit", &self.rate_limit)
            .field("lockout_failures", &self.lockout_failures)
            .field("lockout_for", &self.lockout_for)
            .field("session_idle", &self.session_idle)
            .field("session_touch", &self.session_touch)
            .field("data_dir", &self.data_dir)
            .field("smtp_url", &smtp)
            .field("public_url", &self.public_url)
            .field("payments", &self.payments)
            .field("confirm_valid", &self.confirm_valid)
            .field("reset_valid", &self.reset_valid)
            .finish()
    }
}

impl AppConfig {
    /// The maildir used without SMTP.
    pub fn maildir(&self) -> PathBuf {
        self.data_dir.join("maildir")
    }
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
            session_touch: Duration::from_secs(5 * 60),
            data_dir: PathBuf::from(".ewoda"),
            smtp_url: None,
            public_url: "http://127.0.0.1:8080".into(),
            confirm_valid: Duration::from_secs(48 * 3600),
            reset_valid: Duration::from_secs(3600),
            payments: None,
            push_contact: "mailto:ebok@localhost".into(),
            trusted_proxies: Vec::new(),
            clock: AppClock::default(),
        }
    }
}

impl AppState {
    /// State with the default configuration (mail into `.ewoda/maildir`), without Web Push
    /// (no key file is created).
    pub fn new(pool: PgPool) -> Self {
        let config = AppConfig::default();
        let mailer = Box::new(MaildirMailer::new(config.maildir()));
        Self::assemble(pool, config, mailer, None)
    }

    /// State with a configuration; fails on an unusable `SMTP_URL`.
    pub fn with_config(pool: PgPool, config: AppConfig) -> Result<Self, AppError> {
        let mailer: Box<dyn Mailer> = match config.smtp_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => Box::new(SmtpMailer::new(url)?),
            None => Box::new(MaildirMailer::new(config.maildir())),
        };
        // Web Push is optional: a data dir without a usable key file disables it, loudly.
        let push = crate::push::VapidKeys::load_or_create(&config.data_dir)
            .and_then(|keys| crate::push::PushSender::new(keys, config.push_contact.clone()))
            .map_err(|e| tracing::error!(error = %e, "Web Push disabled"))
            .ok();
        Ok(Self::assemble(pool, config, mailer, push))
    }

    fn assemble(
        pool: PgPool,
        config: AppConfig,
        mailer: Box<dyn Mailer>,
        push: Option<crate::push::PushSender>,
    ) -> Self {
        let pdf = ewoda_billing::invoice::pdf::InvoicePdfRenderer::new()
            .map_err(|e| tracing::error!(error = %e, "invoice PDF fonts"))
            .ok();
        let operator = config
            .payments
            .clone()
            .map(ewoda_billing::payments::online::Przelewy24::new);
        let caches = Arc::new(crate::app::coherent::Caches::new());
        crate::app::coherent::spawn_listener(&pool, &caches);
        AppState(Arc::new(App {
            caches,
            password_slots: crate::auth::password::Slots::per_core(),
            pool,
            config,
            i18n: I18n::load(),
            mailer,
            dummy_hash: crate::auth::password::dummy_hash(),
            ready: AtomicBool::new(false),
            pdf,
            operator,
            push,
            qr: crate::ebok::money::QrImages::new(),
        }))
    }

    pub fn set_ready(&self) {
        self.0.ready.store(true, Ordering::SeqCst);
    }

    pub fn is_ready(&self) -> bool {
        self.0.ready.load(Ordering::SeqCst)
    }
}
