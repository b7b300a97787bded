//! `ewoda bench decode`: decodes the shared vectors mix (with their keys) in a loop on one
//! thread for about three seconds and prints telegrams per second per core.
//!
//! "Per core" divides by the CPU time the benchmark thread actually got (from
//! /proc/thread-self/stat on Linux), so a machine shared with other jobs does not understate
//! it; the wall-clock rate is printed too, and used where thread CPU time is unavailable.

use super::keys::parse_key;
use super::{decode, hex_to_bytes};
use std::io::Write;
use std::time::{Duration, Instant};

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/testdata/wmbus/vectors.jsonl"
));
const ANNEX_N: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/testdata/wmbus/oms_annexN_vectors.jsonl"
));

/// One telegram of the mix with its key.
pub struct BenchVector {
    /// Frame bytes.
    pub frame: Vec<u8>,
    /// AES key, if the vector has one.
    pub key: Option<[u8; 16]>,
}

/// The embedded vectors mix (both shared files).
pub fn vectors() -> Vec<BenchVector> {
    let mut v = Vec::new();
    for line in VECTORS.lines().chain(ANNEX_N.lines()) {
        let Ok(j) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let Some(h) = j.get("telegram_hex").and_then(|h| h.as_str()) else {
            continue;
        };
        let mut buf = [0u8; 1024];
        let Ok(frame) = hex_to_bytes(h, &mut buf) else {
            continue;
        };
        let key = j
            .get("key_hex")
            .and_then(|k| k.as_str())
            .and_then(parse_key);
        v.push(BenchVector {
            frame: frame.to_vec(),
            key,
        });
    }
    v
}

/// Runs the benchmark; the last line printed is `decode: <N> telegrams/s/core`.
pub fn run(out: &mut dyn Write) -> std::io::Result<()> {
    let mix = vectors();
    let ok = mix
        .iter()
        .filter(|v| decode(&v.frame, &v.key).is_ok())
        .count();
    writeln!(
        out,
        "vectors: {} telegrams ({} decode, {} typed errors)",
        mix.len(),
        ok,
        mix.len() - ok
    )?;
    // Warm-up.
    for v in &mix {
        std::hint::black_box(decode(std::hint::black_box(&v.frame), &v.key).is_ok());
    }
    let target = Duration::from_secs(3);
    let cpu_start = thread_cpu_seconds();
    let start = Instant::now();
    let mut count: u64 = 0;
    let mut decoded: u64 = 0;
    while start.elapsed() < target {
        for v in &mix {
            let r = decode(std::hint::black_box(&v.frame), &v.key);
            decoded += u64::from(std::hint::black_box(r).is_ok());
        }
        count += mix.len() as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = match (cpu_start, thread_cpu_seconds()) {
        (Some(a), Some(b)) if b - a > 0.5 => Some(b - a),
        _ => None,
    };
    let wall_rate = (count as f64 / secs) as u64;
    writeln!(
        out,
        "loop: {count} telegrams ({decoded} decoded) in {secs:.2} s wall on one thread"
    )?;
    writeln!(out, "wall-clock rate: {wall_rate} telegrams/s")?;
    let rate = match cpu {
        Some(cpu) => {
            writeln!(out, "thread CPU time: {cpu:.2} s")?;
            (count as f64 / cpu) as u64
        }
        None => wall_rate,
    };
    writeln!(out, "decode: {rate} telegrams/s/core")?;
    Ok(())
}

/// User + system CPU seconds of the calling thread (Linux `/proc`, in USER_HZ = 100 ticks).
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}
