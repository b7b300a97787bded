//! `ewoda serve`: the portal on an existing database — migrations applied, no demo seed —
//! until Ctrl-C / SIGTERM. Expired sessions are swept hourly.

use crate::app::{AppConfig, AppState};
use crate::error::AppError;
use std::net::SocketAddr;

/// Options of `ewoda serve`.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub database_url: String,
    pub listen: SocketAddr,
    /// Connections to PostgreSQL ([`ewoda_common::db::web_connections_default`]).
    pub db_connections: u32,
    pub config: AppConfig,
}

pub async fn run(opts: ServeOptions) -> Result<(), AppError> {
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|e| AppError::Invalid {
            field: "--port",
            reason: format!("listening on {}: {e}", opts.listen),
        })?;
    let pool = ewoda_common::db::connect_web(&opts.database_url, opts.db_connections).await?;
    ewoda_common::db::migrate(&pool).await?;
    let state = AppState::with_config(pool.clone(), opts.config)?;
    state.set_ready();
    let sweeper = tokio::spawn(sweep_sessions(pool.clone()));
    println!(
        "ewoda serve: http://{}/ ({})",
        opts.listen,
        ewoda_common::db::describe(&opts.database_url)
    );
    match &state.config.smtp_url {
        Some(url) => println!("  mail: SMTP {}", redact(url)),
        None => println!(
            "  mail: no SMTP_URL, written to {} (read at /office/mail)",
            state.config.maildir().display()
        ),
    }
    let app = crate::app::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(ewoda_common::shutdown::signal())
        .await;
    sweeper.abort();
    pool.close().await;
    served.map_err(|e| AppError::Internal(format!("web server: {e}")))
}

/// Deletes expired sessions every hour.
async fn sweep_sessions(pool: sqlx::PgPool) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        if let Err(e) = sqlx::query("delete from tower_sessions.session where expiry_date < now()")
            .execute(&pool)
            .await
        {
            tracing::warn!(error = %e, "sweeping expired sessions");
        }
    }
}

/// The URL without its password, for printing.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}
