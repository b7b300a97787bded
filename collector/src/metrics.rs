//! Collector metrics (counters and gauges) rendered in the Prometheus text format for
//! `/metrics`. Passed around in an `Arc`, never global.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

/// A per-device series: name, type, help and how to read it from the counts.
type Series = (
    &'static str,
    &'static str,
    &'static str,
    fn(&crate::modbus::PollCounts) -> i64,
);

/// All counters and gauges of one collector process.
#[derive(Debug, Default)]
pub struct Metrics {
    pub readings_received: AtomicU64,
    pub readings_stored: AtomicU64,
    pub readings_duplicate: AtomicU64,
    pub readings_zero_use: AtomicU64,
    pub alarms_opened: AtomicU64,
    pub alarms_cleared: AtomicU64,
    pub batches: AtomicU64,
    pub batch_seconds_sum_us: AtomicU64,
    pub batch_retries: AtomicU64,
    pub spill_depth: AtomicI64,
    pub mqtt_inflight: AtomicI64,
    pub mqtt_received: AtomicU64,
    pub mqtt_acked: AtomicU64,
    /// Subscriptions the broker confirmed (one per connect).
    pub mqtt_subscribed: AtomicU64,
    /// Payloads over a source's `max_payload_bytes`, dead-lettered unparsed.
    pub mqtt_oversized: AtomicU64,
    /// Shared subscriptions found silent while their topics carried traffic.
    pub mqtt_silent_subscriptions: AtomicU64,
    /// Per-source state (`ewoda_source_up`, …) and `/healthz`.
    pub sources: crate::supervisor::Health,
    dead_letters: Mutex<BTreeMap<String, u64>>,
    /// Counters of each Modbus device, by endpoint.
    modbus_devices: Mutex<BTreeMap<String, std::sync::Arc<crate::modbus::PollStats>>>,
}

impl Metrics {
    /// Counts `n` dead letters of reason class `class`.
    pub fn dead_letter(&self, class: &str, n: u64) {
        if let Ok(mut m) = self.dead_letters.lock() {
            *m.entry(class.to_string()).or_default() += n;
        }
    }

    /// Exports a Modbus device's counters (a restarted source replaces its entry).
    pub fn register_modbus_device(
        &self,
        endpoint: &str,
        stats: std::sync::Arc<crate::modbus::PollStats>,
    ) {
        if let Ok(mut m) = self.modbus_devices.lock() {
            m.insert(endpoint.to_string(), stats);
        }
    }

    /// Polls, failures and last success per Modbus device.
    fn render_modbus(&self, out: &mut String) {
        let Ok(devices) = self.modbus_devices.lock() else {
            return;
        };
        let series: [Series; 3] = [
            (
                "ewoda_modbus_polls_total",
                "counter",
                "Unit polls started.",
                |c| c.polls as i64,
            ),
            (
                "ewoda_modbus_poll_failures_total",
                "counter",
                "Unit polls that failed after all retries.",
                |c| c.failures as i64,
            ),
            (
                "ewoda_modbus_last_success_timestamp",
                "gauge",
                "Unix time of the device's last sample (0: none yet).",
                |c| c.last_success,
            ),
        ];
        for (name, kind, help, value) in series {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (endpoint, stats) in devices.iter() {
                let _ = writeln!(
                    out,
                    "{name}{{device=\"{endpoint}\"}} {}",
                    value(&stats.snapshot())
                );
            }
        }
    }

    /// Dead letters counted so far for `class`.
    pub fn dead_letters(&self, class: &str) -> u64 {
        self.dead_letters
            .lock()
            .map(|m| m.get(class).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let c = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        let g = |out: &mut String, name: &str, help: &str, v: i64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        let ld = |a: &AtomicU64| a.load(Ordering::Relaxed);
        c(
            &mut out,
            "ewoda_collector_readings_received_total",
            "Readings handed to the pipeline.",
            ld(&self.readings_received),
        );
        c(
            &mut out,
            "ewoda_collector_readings_stored_total",
            "Readings newly stored.",
            ld(&self.readings_stored),
        );
        c(
            &mut out,
            "ewoda_collector_readings_duplicate_total",
            "Readings already stored (repeats, several receivers, redeliveries).",
            ld(&self.readings_duplicate),
        );
        c(
            &mut out,
            "ewoda_collector_readings_zero_use_total",
            "Stored readings whose register did not move since the previous reading.",
            ld(&self.readings_zero_use),
        );
        c(
            &mut out,
            "ewoda_collector_alarms_opened_total",
            "Alarms opened.",
            ld(&self.alarms_opened),
        );
        c(
            &mut out,
            "ewoda_collector_alarms_cleared_total",
            "Alarms cleared.",
            ld(&self.alarms_cleared),
        );
        c(
            &mut out,
            "ewoda_collector_batch_retries_total",
            "Batch commits retried after a database error.",
            ld(&self.batch_retries),
        );
        c(
            &mut out,
            "ewoda_collector_mqtt_received_total",
            "MQTT messages received.",
            ld(&self.mqtt_received),
        );
        c(
            &mut out,
            "ewoda_collector_mqtt_acked_total",
            "MQTT messages acknowledged after commit.",
            ld(&self.mqtt_acked),
        );
        c(
            &mut out,
            "ewoda_collector_mqtt_subscriptions_total",
            "MQTT subscriptions confirmed by the broker (one per connect).",
            ld(&self.mqtt_subscribed),
        );
        c(
            &mut out,
            "ewoda_collector_mqtt_oversized_total",
            "MQTT payloads over max_payload_bytes, dead-lettered as too_large.",
            ld(&self.mqtt_oversized),
        );
        c(
            &mut out,
            "ewoda_collector_mqtt_silent_subscriptions_total",
            "Shared subscriptions that received nothing while their topics carried messages.",
            ld(&self.mqtt_silent_subscriptions),
        );
        let _ = writeln!(
            out,
            "# HELP ewoda_collector_batch_seconds Time to validate and commit a batch.\n# TYPE ewoda_collector_batch_seconds summary\newoda_collector_batch_seconds_sum {:.6}\newoda_collector_batch_seconds_count {}",
            ld(&self.batch_seconds_sum_us) as f64 / 1e6,
            ld(&self.batches)
        );
        g(
            &mut out,
            "ewoda_collector_spill_depth",
            "Items waiting in the spill queue (memory and disk).",
            self.spill_depth.load(Ordering::Relaxed),
        );
        g(
            &mut out,
            "ewoda_collector_mqtt_inflight",
            "MQTT messages received but not yet acknowledged.",
            self.mqtt_inflight.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP ewoda_collector_dead_letters_total Input stored as dead letters, by reason.\n# TYPE ewoda_collector_dead_letters_total counter"
        );
        if let Ok(m) = self.dead_letters.lock() {
            for (reason, n) in m.iter() {
                let _ = writeln!(
                    out,
                    "ewoda_collector_dead_letters_total{{reason=\"{reason}\"}} {n}"
                );
            }
        }
        self.sources.render(&mut out);
        self.render_modbus(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.readings_stored.fetch_add(3, Ordering::Relaxed);
        m.dead_letter("malformed", 2);
        m.spill_depth.store(7, Ordering::Relaxed);
        let text = m.render();
        assert!(text.contains("# TYPE ewoda_collector_readings_stored_total counter\newoda_collector_readings_stored_total 3\n"));
        assert!(text.contains("ewoda_collector_dead_letters_total{reason=\"malformed\"} 2\n"));
        assert!(text.contains("ewoda_collector_spill_depth 7\n"));
        assert_eq!(m.dead_letters("malformed"), 2);
    }
}
