//! A bounded queue for sources that cannot be asked again (a serial radio dongle): readings
//! wait in memory up to a limit, then in an append-only file (JSON lines, fsynced), and come
//! out in arrival order. File entries count as done only when the batch holding them
//! committed, so after a crash the file replays from the last committed entry.

use crate::error::Error;
use crate::metrics::Metrics;
use crate::pipeline::{Ack, Input, Item, MeterReading};
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{mpsc, watch, Notify};

/// Readings read from the file per refill.
const READ_AHEAD: usize = 256;

#[derive(Debug)]
struct State {
    memory: VecDeque<MeterReading>,
    memory_cap: usize,
    file: File,
    path: PathBuf,
    offset_path: PathBuf,
    /// Bytes in the file (the append position).
    file_len: u64,
    /// Next byte to read.
    read_pos: u64,
    /// Everything before this offset is committed.
    committed: u64,
    committed_written: u64,
    /// Read from the file, not yet handed out: (reading, end offset).
    staged: VecDeque<(MeterReading, u64)>,
    /// Entries in the file not yet handed out.
    file_items: usize,
    max_file_bytes: u64,
}

/// The spill queue; clones share it.
#[derive(Debug, Clone)]
pub struct SpillQueue {
    state: Arc<Mutex<State>>,
    ready: Arc<Notify>,
    metrics: Arc<Metrics>,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

impl SpillQueue {
    /// Opens (or creates) the spill file at `path`, keeping up to `memory_items` readings in
    /// memory and at most `max_file_bytes` on disk. Entries left by a previous run that were
    /// not committed are replayed first.
    pub fn open(
        path: &Path,
        memory_items: usize,
        max_file_bytes: u64,
        metrics: Arc<Metrics>,
    ) -> Result<Self, Error> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .append(true)
            .open(path)
            .map_err(io(path))?;
        let offset_path = path.with_extension("offset");
        let committed = std::fs::read_to_string(&offset_path)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0);
        // Drop a torn last line (a crash in the middle of an append).
        let mut content = Vec::new();
        file.seek(SeekFrom::Start(0)).map_err(io(path))?;
        file.read_to_end(&mut content).map_err(io(path))?;
        let whole = content
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        if whole < content.len() {
            file.set_len(whole as u64).map_err(io(path))?;
        }
        let committed = committed.min(whole as u64);
        let file_items = content
            .get(usize::try_from(committed).unwrap_or(0)..whole)
            .map_or(0, |s| s.iter().filter(|b| **b == b'\n').count());
        let q = SpillQueue {
            state: Arc::new(Mutex::new(State {
                memory: VecDeque::new(),
                memory_cap: memory_items.max(1),
                file,
                path: path.to_path_buf(),
                offset_path,
                file_len: whole as u64,
                read_pos: committed,
                committed,
                committed_written: committed,
                staged: VecDeque::new(),
                file_items,
                max_file_bytes,
            })),
            ready: Arc::new(Notify::new()),
            metrics,
        };
        q.update_depth(&q.lock());
        Ok(q)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update_depth(&self, s: &State) {
        let depth = s.memory.len() + s.staged.len() + s.file_items;
        self.metrics
            .spill_depth
            .store(i64::try_from(depth).unwrap_or(i64::MAX), Ordering::Relaxed);
    }

    /// Queues a reading without waiting for the pipeline. Fails only when the disk part is
    /// full or cannot be written.
    pub fn push(&self, r: MeterReading) -> Result<(), Error> {
        let mut s = self.lock();
        let file_in_use = s.file_len > 0;
        if !file_in_use && s.memory.len() < s.memory_cap {
            s.memory.push_back(r);
        } else {
            let mut line = serde_json::to_vec(&r).map_err(|e| Error::Io {
                path: s.path.display().to_string(),
                source: std::io::Error::other(e),
            })?;
            line.push(b'\n');
            if s.file_len + line.len() as u64 > s.max_file_bytes {
                return Err(Error::Io {
                    path: s.path.display().to_string(),
                    source: std::io::Error::other("spill file is full"),
                });
            }
            let path = s.path.clone();
            s.file.write_all(&line).map_err(io(&path))?;
            s.file.sync_data().map_err(io(&path))?;
            s.file_len += line.len() as u64;
            s.file_items += 1;
        }
        self.update_depth(&s);
        drop(s);
        self.ready.notify_one();
        Ok(())
    }

    /// Readings waiting (memory and disk).
    pub fn depth(&self) -> usize {
        let s = self.lock();
        s.memory.len() + s.staged.len() + s.file_items
    }

    /// Bytes in the spill file.
    pub fn file_len(&self) -> u64 {
        self.lock().file_len
    }

    /// Takes the oldest reading, if any; with the ack that marks it committed.
    pub fn try_pop(&self) -> Result<Option<(MeterReading, Option<Ack>)>, Error> {
        let mut s = self.lock();
        self.persist_committed(&mut s)?;
        if let Some(r) = s.memory.pop_front() {
            self.update_depth(&s);
            return Ok(Some((r, None)));
        }
        if s.staged.is_empty() && s.read_pos < s.file_len {
            refill(&mut s)?;
        }
        if let Some((r, end)) = s.staged.pop_front() {
            self.update_depth(&s);
            let state = self.state.clone();
            let ack = Ack::new(move || {
                let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
                s.committed = s.committed.max(end);
            });
            return Ok(Some((r, Some(ack))));
        }
        Ok(None)
    }

    /// Waits for the oldest reading.
    pub async fn pop(&self) -> Result<(MeterReading, Option<Ack>), Error> {
        loop {
            let notified = self.ready.notified();
            if let Some(x) = self.try_pop()? {
                return Ok(x);
            }
            // Wake up now and then to persist commits and truncate a drained file.
            let _ = tokio::time::timeout(std::time::Duration::from_millis(200), notified).await;
        }
    }

    /// Writes the committed offset; truncates the file once everything in it committed.
    fn persist_committed(&self, s: &mut State) -> Result<(), Error> {
        if s.file_len > 0 && s.committed >= s.file_len && s.read_pos >= s.file_len {
            let path = s.path.clone();
            s.file.set_len(0).map_err(io(&path))?;
            s.file.sync_data().map_err(io(&path))?;
            s.file_len = 0;
            s.read_pos = 0;
            s.committed = 0;
            s.file_items = 0;
        }
        if s.committed != s.committed_written {
            let path = s.offset_path.clone();
            std::fs::write(&path, s.committed.to_string()).map_err(io(&path))?;
            s.committed_written = s.committed;
        }
        Ok(())
    }
}

fn refill(s: &mut State) -> Result<(), Error> {
    let path = s.path.clone();
    let mut reader = BufReader::new(&s.file);
    reader
        .seek(SeekFrom::Start(s.read_pos))
        .map_err(io(&path))?;
    let mut line = Vec::new();
    while s.staged.len() < READ_AHEAD && s.read_pos < s.file_len {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(io(&path))?;
        if n == 0 {
            break;
        }
        s.read_pos += n as u64;
        s.file_items = s.file_items.saturating_sub(1);
        match serde_json::from_slice::<MeterReading>(&line) {
            Ok(r) => s.staged.push_back((r, s.read_pos)),
            Err(e) => {
                tracing::error!(error = %e, offset = s.read_pos, "unreadable spill entry skipped");
                s.committed = s.committed.max(s.read_pos);
            }
        }
    }
    Ok(())
}

/// Moves readings from the queue into the pipeline, waiting whenever the pipeline is full
/// (the queue absorbs the backlog), until `shutdown` turns true.
pub async fn pump(
    queue: SpillQueue,
    sink: mpsc::Sender<Input>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), Error> {
    loop {
        let next = tokio::select! {
            r = queue.pop() => r?,
            _ = shutdown.changed() => return Ok(()),
        };
        let (reading, ack) = next;
        let input = Input {
            item: Item::Reading(reading),
            ack,
        };
        tokio::select! {
            r = sink.send(input) => if r.is_err() { return Ok(()) },
            // The item is in the file (if it came from there) and replays next time.
            _ = shutdown.changed() => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::MeterRef;
    use crate::store::Source;
    use chrono::{TimeZone, Utc};
    use ewoda_common::Volume;

    fn r(i: i64) -> MeterReading {
        MeterReading {
            meter: MeterRef::Radio {
                manufacturer: "APA".into(),
                id: format!("{i:08}"),
            },
            read_at: Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap()
                + chrono::Duration::seconds(i),
            volume: Volume::from_ml(i * 1000),
            status: vec![],
            source: Source::Wmbus,
        }
    }

    fn tmp(tag: &str) -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        std::env::temp_dir()
            .join(format!("ewoda-spill-{tag}-{}-{nanos}", std::process::id()))
            .join("radio.spill")
    }

    #[test]
    fn spills_to_disk_and_keeps_order() {
        let path = tmp("order");
        let m = Arc::new(Metrics::default());
        let q = SpillQueue::open(&path, 3, 1 << 20, m.clone()).unwrap();
        for i in 0..10 {
            q.push(r(i)).unwrap();
        }
        assert_eq!(q.depth(), 10);
        assert_eq!(m.spill_depth.load(Ordering::Relaxed), 10);
        assert!(q.file_len() > 0);
        let mut out = Vec::new();
        while let Some((x, ack)) = q.try_pop().unwrap() {
            out.push(x.volume.ml() / 1000);
            if let Some(a) = ack {
                a.fire();
            }
        }
        assert_eq!(out, (0..10).collect::<Vec<_>>());
        // Everything committed: the file is emptied and memory is used again.
        assert!(q.try_pop().unwrap().is_none());
        assert_eq!(q.file_len(), 0);
        q.push(r(10)).unwrap();
        assert_eq!(q.file_len(), 0);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn replays_uncommitted_entries_after_a_crash() {
        let path = tmp("crash");
        let m = Arc::new(Metrics::default());
        let q = SpillQueue::open(&path, 2, 1 << 20, m.clone()).unwrap();
        for i in 0..10 {
            q.push(r(i)).unwrap();
        }
        // 0 and 1 came from memory; 2 and 3 from the file and committed; 4 handed out only.
        for _ in 0..4 {
            let (_, ack) = q.try_pop().unwrap().unwrap();
            if let Some(a) = ack {
                a.fire();
            }
        }
        let _uncommitted = q.try_pop().unwrap().unwrap();
        assert!(q.try_pop().unwrap().is_some()); // persists the committed offset
        drop(q);
        // A torn append at the end is dropped.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"meter\":")
            .unwrap();
        let q = SpillQueue::open(&path, 2, 1 << 20, m).unwrap();
        assert_eq!(q.depth(), 6);
        let mut out = Vec::new();
        while let Some((x, _)) = q.try_pop().unwrap() {
            out.push(x.volume.ml() / 1000);
        }
        assert_eq!(out, vec![4, 5, 6, 7, 8, 9]);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn the_disk_part_is_bounded() {
        let path = tmp("full");
        let q = SpillQueue::open(&path, 1, 300, Arc::new(Metrics::default())).unwrap();
        q.push(r(0)).unwrap();
        q.push(r(1)).unwrap();
        let err = (2..10).find_map(|i| q.push(r(i)).err()).expect("fills up");
        assert!(err.to_string().contains("spill file is full"), "{err}");
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }
}
