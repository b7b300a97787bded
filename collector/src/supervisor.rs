//! Every configured source runs under one supervisor: when it ends — a dongle unplugged (EOF
//! or EIO on the line), a port that cannot be opened, a broker gone — it is started again
//! after a pause that doubles from 1 s up to a minute (back to 1 s once a run lasted a
//! minute). Each state change is logged; per source `ewoda_source_up` and
//! `ewoda_source_last_reading_timestamp` go to `/metrics`, and `/healthz` answers 503 while a
//! source has been down longer than its grace period. Configuration errors are not retried:
//! they end the source (and are reported at shutdown) since a restart cannot fix them.

use crate::error::Error;
use crate::pipeline::{Input, Item};
use chrono::Utc;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// The live state of one source.
#[derive(Debug)]
pub struct SourceHealth {
    /// `radio_serial-0`, `mqtt-2`, …: the kind and the index in the config.
    pub name: String,
    /// Down this long makes `/healthz` unhealthy.
    pub grace: Duration,
    up: AtomicBool,
    changed_at: Mutex<Instant>,
    /// Unix seconds of the last reading the source handed on; 0 before the first.
    last_reading: AtomicI64,
    /// The source reports up/down itself (a connection it keeps re-establishing).
    self_reporting: AtomicBool,
}

impl SourceHealth {
    /// A source that has not started yet (down since now).
    pub fn new(name: impl Into<String>, grace: Duration) -> Arc<Self> {
        Arc::new(SourceHealth {
            name: name.into(),
            grace,
            up: AtomicBool::new(false),
            changed_at: Mutex::new(Instant::now()),
            last_reading: AtomicI64::new(0),
            self_reporting: AtomicBool::new(false),
        })
    }

    /// Records (and logs) a state change; a repeat of the same state changes nothing.
    pub fn set_up(&self, up: bool, why: &str) {
        if self.up.swap(up, Ordering::SeqCst) == up {
            return;
        }
        if let Ok(mut t) = self.changed_at.lock() {
            *t = Instant::now();
        }
        if up {
            tracing::info!(source = %self.name, "source up: {why}");
        } else {
            tracing::warn!(source = %self.name, "source down: {why}");
        }
    }

    /// From now on the source says when it is up (e.g. connected); the supervisor only marks
    /// it down when it ends.
    pub fn reports_itself(&self) {
        self.self_reporting.store(true, Ordering::SeqCst);
    }

    /// Whether the source runs.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::SeqCst)
    }

    /// How long the source has been down (`None` while up).
    pub fn down_for(&self) -> Option<Duration> {
        if self.is_up() {
            return None;
        }
        self.changed_at.lock().ok().map(|t| t.elapsed())
    }

    /// Unix seconds of the last reading, 0 before the first.
    pub fn last_reading(&self) -> i64 {
        self.last_reading.load(Ordering::Relaxed)
    }
}

/// The sources of one collector, for `/metrics` and `/healthz`.
#[derive(Debug, Default)]
pub struct Health {
    sources: Mutex<Vec<Arc<SourceHealth>>>,
}

impl Health {
    /// Adds a source.
    pub fn register(&self, s: Arc<SourceHealth>) {
        if let Ok(mut v) = self.sources.lock() {
            v.push(s);
        }
    }

    fn all(&self) -> Vec<Arc<SourceHealth>> {
        self.sources.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// The sources down longer than their grace period, as `name (down N s)`.
    pub fn unhealthy(&self) -> Vec<String> {
        self.all()
            .iter()
            .filter_map(|s| {
                let d = s.down_for()?;
                (d > s.grace).then(|| format!("{} (down {} s)", s.name, d.as_secs()))
            })
            .collect()
    }

    /// `ewoda_source_up` and `ewoda_source_last_reading_timestamp` per source.
    pub fn render(&self, out: &mut String) {
        let all = self.all();
        let _ = writeln!(out, "# HELP ewoda_source_up Whether the source runs (1) or is down and being restarted (0).\n# TYPE ewoda_source_up gauge");
        for s in &all {
            let _ = writeln!(
                out,
                "ewoda_source_up{{source=\"{}\"}} {}",
                s.name,
                u8::from(s.is_up())
            );
        }
        let _ = writeln!(out, "# HELP ewoda_source_last_reading_timestamp Unix time of the last reading the source handed on (0: none yet).\n# TYPE ewoda_source_last_reading_timestamp gauge");
        for s in &all {
            let _ = writeln!(
                out,
                "ewoda_source_last_reading_timestamp{{source=\"{}\"}} {}",
                s.name,
                s.last_reading()
            );
        }
    }
}

/// A sender for the source that passes everything on to `sink` and notes each reading's
/// arrival in `health`.
pub fn tap(health: Arc<SourceHealth>, sink: mpsc::Sender<Input>) -> mpsc::Sender<Input> {
    let (tx, mut rx) = mpsc::channel::<Input>(256);
    tokio::spawn(async move {
        while let Some(input) = rx.recv().await {
            if matches!(input.item, Item::Reading(_)) {
                health
                    .last_reading
                    .store(Utc::now().timestamp(), Ordering::Relaxed);
            }
            if sink.send(input).await.is_err() {
                break;
            }
        }
    });
    tx
}

/// Pauses of the restarts.
const FIRST_PAUSE: Duration = Duration::from_secs(1);
const LONGEST_PAUSE: Duration = Duration::from_secs(60);
/// A run this long counts as up.
const UP_AFTER: Duration = Duration::from_millis(500);

/// Runs `start()` until `shutdown`, starting it again whenever it ends.
pub async fn supervise<F, Fut>(
    health: Arc<SourceHealth>,
    mut shutdown: watch::Receiver<bool>,
    mut start: F,
) -> Result<(), Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let mut pause = FIRST_PAUSE;
    loop {
        let started = Instant::now();
        // Up once it has run a moment: a port that cannot be opened fails at once, and a
        // source failing every second must stay down for the grace period to count.
        let run = start();
        tokio::pin!(run);
        let result = tokio::select! {
            r = &mut run => r,
            _ = tokio::time::sleep(UP_AFTER) => {
                if !health.self_reporting.load(Ordering::SeqCst) {
                    health.set_up(true, "running");
                }
                run.await
            }
        };
        if *shutdown.borrow() {
            health.set_up(false, "stopped");
            return result;
        }
        match &result {
            Ok(()) => health.set_up(false, "it ended (end of file: device unplugged?)"),
            Err(e @ Error::Config { .. }) => {
                health.set_up(false, &format!("{e}; not restarted"));
                return result;
            }
            Err(e) => health.set_up(false, &e.to_string()),
        }
        if started.elapsed() >= LONGEST_PAUSE {
            pause = FIRST_PAUSE;
        }
        tracing::info!(source = %health.name, pause_ms = pause.as_millis() as u64, "restarting the source");
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.changed() => return Ok(()),
        }
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}
