//! Process-wide counters and per-stage latency histograms, rendered in the
//! Prometheus text format by the worker's metrics endpoint. The pipeline
//! records every stage once, in `pipeline::stage`; nothing else times stages.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::LazyLock;

use crate::error::Stage;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
];

struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    /// Sum in microseconds.
    sum_us: AtomicU64,
}

impl Histogram {
    fn new() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
        }
    }

    fn observe(&self, secs: f64) {
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add((secs * 1e6) as u64, Ordering::Relaxed);
    }
}

/// Counters callqa exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    JobsProcessed,
    JobsFlagged,
    JobsFailed,
    JobsDeadLettered,
    JobsRetried,
    JobsDuplicate,
    ResultsPublished,
    BrokerReconnects,
}

impl Counter {
    const ALL: [Counter; 8] = [
        Counter::JobsProcessed,
        Counter::JobsFlagged,
        Counter::JobsFailed,
        Counter::JobsDeadLettered,
        Counter::JobsRetried,
        Counter::JobsDuplicate,
        Counter::ResultsPublished,
        Counter::BrokerReconnects,
    ];
    fn name(self) -> (&'static str, &'static str) {
        match self {
            Counter::JobsProcessed => ("callqa_jobs_processed_total", "Jobs scored and stored."),
            Counter::JobsFlagged => (
                "callqa_jobs_flagged_total",
                "Stored jobs with at least one flag.",
            ),
            Counter::JobsFailed => (
                "callqa_jobs_failed_total",
                "Jobs recorded as failed (bad input).",
            ),
            Counter::JobsDeadLettered => (
                "callqa_jobs_dead_lettered_total",
                "Messages sent to the dead-letter queue.",
            ),
            Counter::JobsRetried => (
                "callqa_jobs_retried_total",
                "Transient failures scheduled for retry.",
            ),
            Counter::JobsDuplicate => (
                "callqa_jobs_duplicate_total",
                "Redelivered jobs whose result was already stored.",
            ),
            Counter::ResultsPublished => (
                "callqa_results_published_total",
                "Results published to the results exchange (confirmed).",
            ),
            Counter::BrokerReconnects => (
                "callqa_broker_reconnects_total",
                "Connections to the broker after the first.",
            ),
        }
    }
}

/// Values that go up and down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gauge {
    /// Deliveries received and not yet acknowledged or rejected.
    JobsInFlight,
    /// 1 while the worker holds a connection to the broker.
    BrokerConnected,
}

impl Gauge {
    const ALL: [Gauge; 2] = [Gauge::JobsInFlight, Gauge::BrokerConnected];
    fn name(self) -> (&'static str, &'static str) {
        match self {
            Gauge::JobsInFlight => (
                "callqa_jobs_in_flight",
                "Deliveries being processed (bounded by the prefetch).",
            ),
            Gauge::BrokerConnected => (
                "callqa_broker_connected",
                "1 while connected to the broker.",
            ),
        }
    }
}

struct Registry {
    counters: [AtomicU64; Counter::ALL.len()],
    gauges: [AtomicI64; Gauge::ALL.len()],
    stages: [Histogram; Stage::ALL.len()],
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| Registry {
    counters: std::array::from_fn(|_| AtomicU64::new(0)),
    gauges: std::array::from_fn(|_| AtomicI64::new(0)),
    stages: std::array::from_fn(|_| Histogram::new()),
});

fn gauge_slot(g: Gauge) -> &'static AtomicI64 {
    let i = Gauge::ALL.iter().position(|x| *x == g).unwrap_or(0);
    &REGISTRY.gauges[i]
}

pub fn gauge_add(g: Gauge, delta: i64) {
    gauge_slot(g).fetch_add(delta, Ordering::Relaxed);
}

pub fn gauge_set(g: Gauge, v: i64) {
    gauge_slot(g).store(v, Ordering::Relaxed);
}

pub fn gauge(g: Gauge) -> i64 {
    gauge_slot(g).load(Ordering::Relaxed)
}

/// Resident memory of this process in bytes (Linux; None elsewhere).
pub fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // The kernel's page size; 4 KiB on every platform callqa ships for.
    Some(pages * 4096)
}

pub fn count(c: Counter) {
    let i = Counter::ALL.iter().position(|x| *x == c).unwrap_or(0);
    REGISTRY.counters[i].fetch_add(1, Ordering::Relaxed);
}

pub fn get(c: Counter) -> u64 {
    let i = Counter::ALL.iter().position(|x| *x == c).unwrap_or(0);
    REGISTRY.counters[i].load(Ordering::Relaxed)
}

pub fn observe_stage(stage: Stage, secs: f64) {
    let i = Stage::ALL.iter().position(|x| *x == stage).unwrap_or(0);
    REGISTRY.stages[i].observe(secs);
}

/// Seconds spent in a stage so far, in this process (all jobs).
pub fn stage_seconds(stage: Stage) -> f64 {
    let i = Stage::ALL.iter().position(|x| *x == stage).unwrap_or(0);
    REGISTRY.stages[i].sum_us.load(Ordering::Relaxed) as f64 / 1e6
}

/// All metrics in the Prometheus text exposition format.
pub fn render_prometheus() -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for (i, c) in Counter::ALL.iter().enumerate() {
        let (name, help) = c.name();
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter");
        let _ = writeln!(s, "{name} {}", REGISTRY.counters[i].load(Ordering::Relaxed));
    }
    for (i, g) in Gauge::ALL.iter().enumerate() {
        let (name, help) = g.name();
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} gauge");
        let _ = writeln!(s, "{name} {}", REGISTRY.gauges[i].load(Ordering::Relaxed));
    }
    if let Some(rss) = resident_memory_bytes() {
        let name = "process_resident_memory_bytes";
        let _ = writeln!(
            s,
            "# HELP {name} Resident memory size in bytes.\n# TYPE {name} gauge\n{name} {rss}"
        );
    }
    let name = "callqa_stage_seconds";
    let _ = writeln!(
        s,
        "# HELP {name} Time spent per pipeline stage.\n# TYPE {name} histogram"
    );
    for (i, st) in Stage::ALL.iter().enumerate() {
        let h = &REGISTRY.stages[i];
        for (b, le) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                s,
                "{name}_bucket{{stage=\"{st}\",le=\"{le}\"}} {}",
                h.buckets[b].load(Ordering::Relaxed)
            );
        }
        let n = h.count.load(Ordering::Relaxed);
        let _ = writeln!(s, "{name}_bucket{{stage=\"{st}\",le=\"+Inf\"}} {n}");
        let _ = writeln!(
            s,
            "{name}_sum{{stage=\"{st}\"}} {}",
            h.sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(s, "{name}_count{{stage=\"{st}\"}} {n}");
    }
    s
}
