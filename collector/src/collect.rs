//! `ewoda collect`: runs the configured sources into one pipeline, the periodic partition
//! and rule tasks (series rules, night flow, alarm escalation) and the `/metrics` endpoint
//! until shutdown, then drains: sources stop taking input, the writer commits what it holds,
//! MQTT acks go out, and it returns.

use crate::alarms;
use crate::config::{CollectConfig, ReadingSetWatch, SourceConfig};
use crate::error::Error;
use crate::keystore::KeyStore;
use crate::metrics::Metrics;
use crate::pipeline::vee::VeeConfig;
use crate::pipeline::{self, writer, BatchReport};
use crate::reading_set::{self, ImportError};
use crate::supervisor::{self, supervise, SourceHealth};
use crate::wmbus::{KeyLookup, NoKeys};
use crate::{mbus_master, modbus_source, mqtt, radio};
use sqlx::PgPool;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Runs the collector until `shutdown` completes; returns the totals of what it stored.
pub async fn run(
    cfg: CollectConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<BatchReport, Error> {
    let pool = ewoda_common::db::connect(&cfg.database_url()?, 8).await?;
    let metrics = Arc::new(Metrics::default());
    let mqtt_url = if cfg
        .sources
        .iter()
        .any(|s| matches!(s, SourceConfig::Mqtt(_)))
    {
        Some(cfg.mqtt_url()?)
    } else {
        None
    };
    // Security settings, password files and certificates are checked before anything starts,
    // so a mistake stops `ewoda collect` at once, by name.
    for (i, source) in cfg.sources.iter().enumerate() {
        if let (SourceConfig::Mqtt(m), Some(url)) = (source, &mqtt_url) {
            mqtt::check(url, m).map_err(|e| match e {
                Error::Config { field, message } if field != "mqtt_url" => Error::Config {
                    field: format!("sources[{i}].security.{field}"),
                    message,
                },
                other => other,
            })?;
        }
    }
    let (stop, stop_rx) = watch::channel(false);
    let mut background = Vec::new();
    if cfg.metrics_port != 0 {
        let addr = format!("{}:{}", cfg.metrics_host, cfg.metrics_port);
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|source| Error::Io {
                path: format!("metrics listener {addr}"),
                source,
            })?;
        tracing::info!(%addr, "metrics on http://{addr}/metrics");
        background.push(tokio::spawn(serve_metrics(listener, metrics.clone())));
    }
    background.push(tokio::spawn(writer::partition_keeper(
        pool.clone(),
        Duration::from_secs(3600),
        6,
    )));
    if cfg.rules.interval_secs > 0 {
        let (pool, rules, every) = (pool.clone(), cfg.rules.clone(), cfg.rules.interval_secs);
        background.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(every));
            loop {
                tick.tick().await;
                let now = chrono::Utc::now();
                match alarms::evaluate_series_rules(&pool, &rules.rules, now).await {
                    Ok(r) => tracing::debug!(?r, "series rules evaluated"),
                    Err(e) => tracing::warn!(error = %e, "series rules failed"),
                }
                match alarms::evaluate_night_flow(&pool, &rules.night_flow, now).await {
                    Ok(r) => tracing::debug!(?r, "night-flow rule evaluated"),
                    Err(e) => tracing::warn!(error = %e, "night-flow rule failed"),
                }
                match alarms::escalate(&pool, &rules.escalation, now).await {
                    Ok(r) => tracing::debug!(?r, "alarm escalation pass"),
                    Err(e) => tracing::warn!(error = %e, "alarm escalation failed"),
                }
            }
        }));
    }

    let pipe = pipeline::spawn(pool.clone(), cfg.writer.clone(), metrics.clone());
    let drain = Duration::from_secs(cfg.drain_secs);
    let needs_keys = cfg
        .sources
        .iter()
        .any(|s| matches!(s, SourceConfig::RadioSerial(_)));
    let keys = if needs_keys {
        let store = KeyStore::load(pool.clone(), cfg.master_key()?).await?;
        tracing::info!(meters = store.len(), "meter keys loaded");
        background.push(tokio::spawn(
            store
                .clone()
                .refresh_every(Duration::from_secs(cfg.key_refresh_secs)),
        ));
        Some(store)
    } else {
        None
    };
    let ctx = SourceContext {
        pool: pool.clone(),
        sink: pipe.sender(),
        metrics: metrics.clone(),
        stop: stop_rx.clone(),
        drain,
        keys,
        mqtt_url,
    };
    let mut sources = Vec::new();
    for (i, source) in cfg.sources.iter().enumerate() {
        if let Some(task) = start_source(&cfg, i, source, &ctx)? {
            sources.push(task);
        }
    }
    drop(ctx);

    shutdown.await;
    tracing::info!("shutting down: draining sources and the writer");
    let _ = stop.send(true);
    let mut first_error = None;
    for s in sources {
        match s.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "source failed");
                first_error.get_or_insert(e);
            }
            Err(e) => tracing::error!(error = %e, "source task panicked"),
        }
    }
    let totals = pipe.finish().await;
    for b in background {
        b.abort();
    }
    pool.close().await;
    match first_error {
        Some(e) => Err(e),
        None => Ok(totals),
    }
}

/// Serves `GET /metrics` in the Prometheus text format.
pub async fn serve_metrics(listener: tokio::net::TcpListener, metrics: Arc<Metrics>) {
    use axum::http::StatusCode;
    use axum::routing::get;
    let health = metrics.clone();
    let app = axum::Router::new()
        .route(
            "/metrics",
            get(move || {
                let m = metrics.clone();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4",
                        )],
                        m.render(),
                    )
                }
            }),
        )
        .route(
            "/healthz",
            get(move || {
                let down = health.sources.unhealthy();
                async move {
                    if down.is_empty() {
                        (StatusCode::OK, "ok\n".to_string())
                    } else {
                        let list = down.join(", ");
                        (
                            StatusCode::SERVICE_UNAVAILABLE,
                            format!("sources down longer than their grace period: {list}\n"),
                        )
                    }
                }
            }),
        );
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "metrics server stopped");
    }
}

/// What every source task gets.
struct SourceContext {
    pool: PgPool,
    sink: tokio::sync::mpsc::Sender<pipeline::Input>,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
    drain: Duration,
    keys: Option<KeyStore>,
    mqtt_url: Option<String>,
}

type SourceTask = tokio::task::JoinHandle<Result<(), Error>>;

/// Starts source `i` under the supervisor (restarted whenever it ends); `None` for a radio
/// source without keys.
fn start_source(
    cfg: &CollectConfig,
    i: usize,
    source: &SourceConfig,
    ctx: &SourceContext,
) -> Result<Option<SourceTask>, Error> {
    let kind = match source {
        SourceConfig::Mqtt(_) => "mqtt",
        SourceConfig::ReadingSet(_) => "reading_set",
        SourceConfig::RadioSerial(_) => "radio_serial",
        SourceConfig::MbusSerial(_) => "mbus_serial",
        SourceConfig::Modbus(_) => "modbus",
    };
    let health = SourceHealth::new(
        format!("{kind}-{i}"),
        Duration::from_secs(cfg.source_grace_secs),
    );
    ctx.metrics.sources.register(health.clone());
    let sink = supervisor::tap(health.clone(), ctx.sink.clone());
    let stop = ctx.stop.clone();
    let task = match source {
        SourceConfig::RadioSerial(r) => {
            let Some(keys) = ctx.keys.clone() else {
                return Ok(None);
            };
            let spill_path = cfg.spill_dir.join(format!("radio-{i}.spill"));
            let radio_ctx = radio::RadioContext::new(
                r,
                keys,
                &spill_path,
                sink,
                ctx.metrics.clone(),
                ctx.drain,
            )?;
            let r = r.clone();
            tokio::spawn(supervise(health, stop.clone(), move || {
                radio::run(r.clone(), radio_ctx.clone(), stop.clone())
            }))
        }
        SourceConfig::MbusSerial(m) => {
            let lookup: Arc<dyn KeyLookup + Send + Sync> = match &ctx.keys {
                Some(k) => Arc::new(k.clone()),
                None => Arc::new(NoKeys),
            };
            let m = m.clone();
            tokio::spawn(supervise(health, stop.clone(), move || {
                mbus_master::run(m.clone(), lookup.clone(), sink.clone(), stop.clone())
            }))
        }
        SourceConfig::Modbus(m) => {
            let (m, metrics) = (m.clone(), ctx.metrics.clone());
            tokio::spawn(supervise(health, stop.clone(), move || {
                modbus_source::run(m.clone(), sink.clone(), stop.clone(), metrics.clone())
            }))
        }
        SourceConfig::Mqtt(m) => {
            let (url, m) = (ctx.mqtt_url.clone().unwrap_or_default(), m.clone());
            let (metrics, drain) = (ctx.metrics.clone(), ctx.drain);
            let reporting = health.clone();
            tokio::spawn(supervise(health, stop.clone(), move || {
                mqtt::run_reporting(
                    url.clone(),
                    m.clone(),
                    sink.clone(),
                    metrics.clone(),
                    stop.clone(),
                    drain,
                    Some(reporting.clone()),
                )
            }))
        }
        SourceConfig::ReadingSet(w) => {
            let (pool, w, vee) = (ctx.pool.clone(), w.clone(), cfg.writer.vee.clone());
            tokio::spawn(supervise(health, stop.clone(), move || {
                watch_reading_sets(pool.clone(), w.clone(), vee.clone(), stop.clone())
            }))
        }
    };
    Ok(Some(task))
}

/// Polls a directory for reading-set files and imports each in its own transaction.
async fn watch_reading_sets(
    pool: PgPool,
    cfg: ReadingSetWatch,
    vee: VeeConfig,
    mut stop: watch::Receiver<bool>,
) -> Result<(), Error> {
    for sub in ["done", "failed"] {
        let d = cfg.watch_dir.join(sub);
        std::fs::create_dir_all(&d).map_err(|source| Error::Io {
            path: d.display().to_string(),
            source,
        })?;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(cfg.poll_secs.max(1)));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return Ok(()),
        }
        for file in ready_files(&cfg.watch_dir) {
            import_one(&pool, &cfg.watch_dir, &file, &vee).await;
        }
    }
}

/// `*.txt` / `*.csv` files untouched for 2 s (an upload still being written is left alone).
fn ready_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy().to_ascii_lowercase();
            let settled = e
                .metadata()
                .ok()
                .filter(|m| m.is_file())
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age >= Duration::from_secs(2));
            settled && (name.ends_with(".txt") || name.ends_with(".csv"))
        })
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

async fn import_one(pool: &PgPool, dir: &Path, file: &Path, vee: &VeeConfig) {
    let name = file
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    match reading_set::import_reading_set_with(pool, file, vee).await {
        Ok(report) => {
            tracing::info!(file = %file.display(), %report, "reading set imported");
            let _ = std::fs::rename(file, dir.join("done").join(&name));
        }
        Err(ImportError::Database(e)) => {
            // Left in place: retried on the next poll.
            tracing::warn!(file = %file.display(), error = %e, "reading set import postponed");
        }
        Err(e) => {
            let failed = dir.join("failed").join(&name);
            let mut text = e.to_string();
            if let ImportError::Lines(lines) = &e {
                text = lines.iter().map(|l| format!("{l}\n")).collect();
            }
            tracing::warn!(file = %file.display(), error = %e, "reading set rejected");
            let _ = std::fs::rename(file, &failed);
            let mut report = failed.into_os_string();
            report.push(".error.txt");
            let _ = std::fs::write(PathBuf::from(report), text);
        }
    }
}

/// `ewoda collect --import FILE`: one import, with the database URL from `cfg`.
pub async fn import_file(
    cfg: &CollectConfig,
    file: &Path,
) -> Result<reading_set::ImportReport, ImportOnceError> {
    let pool = ewoda_common::db::connect(&cfg.database_url()?, 2)
        .await
        .map_err(Error::from)?;
    let r = reading_set::import_reading_set_with(&pool, file, &cfg.writer.vee).await;
    pool.close().await;
    Ok(r?)
}

/// Why a one-shot import failed: setup, or the file itself.
#[derive(Debug, thiserror::Error)]
pub enum ImportOnceError {
    #[error(transparent)]
    Setup(#[from] Error),
    #[error(transparent)]
    Import(#[from] ImportError),
}
