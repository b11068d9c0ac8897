//! A small metrics registry (counters, gauges, histograms) rendered as Prometheus text.
//! Dependency-free and instance-scoped, so several applications can live in one process.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Inner {
    counters: BTreeMap<(String, String), u64>,
    gauges: BTreeMap<(String, String), f64>,
    histograms: BTreeMap<(String, String), Histogram>,
    help: BTreeMap<String, (&'static str, &'static str)>,
}

/// The registry.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// Label pairs, rendered `{k="v",...}`.
pub fn labels(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    format!("{{{}}}", body.join(","))
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds to a counter.
    pub fn count(&self, name: &str, help: &'static str, pairs: &[(&str, &str)], by: u64) {
        let mut inner = self.lock();
        inner
            .help
            .entry(name.to_owned())
            .or_insert((help, "counter"));
        *inner
            .counters
            .entry((name.to_owned(), labels(pairs)))
            .or_default() += by;
    }

    /// Sets a gauge.
    pub fn gauge(&self, name: &str, help: &'static str, pairs: &[(&str, &str)], value: f64) {
        let mut inner = self.lock();
        inner.help.entry(name.to_owned()).or_insert((help, "gauge"));
        inner.gauges.insert((name.to_owned(), labels(pairs)), value);
    }

    /// Records a duration in a histogram (seconds).
    pub fn observe(&self, name: &str, help: &'static str, pairs: &[(&str, &str)], d: Duration) {
        let secs = d.as_secs_f64();
        let mut inner = self.lock();
        inner
            .help
            .entry(name.to_owned())
            .or_insert((help, "histogram"));
        let h = inner
            .histograms
            .entry((name.to_owned(), labels(pairs)))
            .or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let inner = self.lock();
        let mut out = String::new();
        let header = |out: &mut String, name: &str| {
            if let Some((help, kind)) = inner.help.get(name) {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            }
        };
        let mut last = String::new();
        for ((name, l), v) in &inner.counters {
            if *name != last {
                header(&mut out, name);
                last.clone_from(name);
            }
            let _ = writeln!(out, "{name}{l} {v}");
        }
        for ((name, l), v) in &inner.gauges {
            if *name != last {
                header(&mut out, name);
                last.clone_from(name);
            }
            let _ = writeln!(out, "{name}{l} {v}");
        }
        for ((name, l), h) in &inner.histograms {
            if *name != last {
                header(&mut out, name);
                last.clone_from(name);
            }
            let inner_labels = l.trim_start_matches('{').trim_end_matches('}');
            let sep = if inner_labels.is_empty() { "" } else { "," };
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{name}_bucket{{{inner_labels}{sep}le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "{name}_bucket{{{inner_labels}{sep}le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "{name}_sum{l} {}", h.sum);
            let _ = writeln!(out, "{name}_count{l} {}", h.count);
        }
        out
    }
}
