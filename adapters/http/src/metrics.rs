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

/// Series of one family, by rendered labels.
type Series<V> = BTreeMap<String, V>;

#[derive(Default)]
struct Inner {
    counters: BTreeMap<String, Series<u64>>,
    gauges: BTreeMap<String, Series<f64>>,
    histograms: BTreeMap<String, Series<Histogram>>,
    help: BTreeMap<String, (&'static str, &'static str)>,
    /// Labels rendered for a lookup; a series that exists is found without allocating.
    scratch: String,
}

/// The registry.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// Label pairs, rendered `{k="v",...}`.
pub fn labels(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    write_labels(&mut out, pairs);
    out
}

fn write_labels(out: &mut String, pairs: &[(&str, &str)]) {
    out.clear();
    if pairs.is_empty() {
        return;
    }
    out.push('{');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
}

impl Inner {
    /// The series `name{pairs}` of `family`, created on first use (the only time this
    /// allocates).
    fn series<'a, V: Default>(
        family: &'a mut BTreeMap<String, Series<V>>,
        help: &mut BTreeMap<String, (&'static str, &'static str)>,
        scratch: &mut String,
        name: &str,
        text: (&'static str, &'static str),
        pairs: &[(&str, &str)],
    ) -> &'a mut V {
        if !help.contains_key(name) {
            help.insert(name.to_owned(), text);
        }
        if !family.contains_key(name) {
            family.insert(name.to_owned(), Series::new());
        }
        let series = family.get_mut(name).expect("inserted above");
        write_labels(scratch, pairs);
        if !series.contains_key(scratch.as_str()) {
            series.insert(scratch.clone(), V::default());
        }
        series.get_mut(scratch.as_str()).expect("inserted above")
    }
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds to a counter.
    pub fn count(&self, name: &str, help: &'static str, pairs: &[(&str, &str)], by: u64) {
        let inner = &mut *self.lock();
        let c = Inner::series(
            &mut inner.counters,
            &mut inner.help,
            &mut inner.scratch,
            name,
            (help, "counter"),
            pairs,
        );
        *c += by;
    }

    /// Sets a counter to a running total kept elsewhere (an atomic that only grows).
    pub fn count_total(&self, name: &str, help: &'static str, pairs: &[(&str, &str)], total: u64) {
        let inner = &mut *self.lock();
        let c = Inner::series(
            &mut inner.counters,
            &mut inner.help,
            &mut inner.scratch,
            name,
            (help, "counter"),
            pairs,
        );
        *c = total;
    }

    /// Sets a gauge.
    pub fn gauge(&self, name: &str, help: &'static str, pairs: &[(&str, &str)], value: f64) {
        let inner = &mut *self.lock();
        let g = Inner::series(
            &mut inner.gauges,
            &mut inner.help,
            &mut inner.scratch,
            name,
            (help, "gauge"),
            pairs,
        );
        *g = value;
    }

    /// Records a duration in a histogram (seconds).
    pub fn observe(&self, name: &str, help: &'static str, pairs: &[(&str, &str)], d: Duration) {
        let secs = d.as_secs_f64();
        let inner = &mut *self.lock();
        let h = Inner::series(
            &mut inner.histograms,
            &mut inner.help,
            &mut inner.scratch,
            name,
            (help, "histogram"),
            pairs,
        );
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
        for (name, series) in &inner.counters {
            header(&mut out, name);
            for (l, v) in series {
                let _ = writeln!(out, "{name}{l} {v}");
            }
        }
        for (name, series) in &inner.gauges {
            header(&mut out, name);
            for (l, v) in series {
                let _ = writeln!(out, "{name}{l} {v}");
            }
        }
        for (name, series) in &inner.histograms {
            header(&mut out, name);
            for (l, h) in series {
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
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_kept_per_labels_and_rendered_once_per_family() {
        let m = Metrics::default();
        m.count("hits", "Hits", &[("route", "/a"), ("status", "200")], 1);
        m.count("hits", "Hits", &[("route", "/a"), ("status", "200")], 2);
        m.count(
            "hits",
            "Hits",
            &[("route", "/b\"\\\n"), ("status", "404")],
            1,
        );
        m.gauge("lag", "Lag", &[], 7.0);
        m.gauge("lag", "Lag", &[], 5.0);
        m.observe("t", "Time", &[("route", "/a")], Duration::from_millis(2));
        let text = m.render();
        assert_eq!(text.matches("# HELP hits Hits").count(), 1, "{text}");
        assert!(
            text.contains("hits{route=\"/a\",status=\"200\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("hits{route=\"/b\\\"\\\\\\n\",status=\"404\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE lag gauge\nlag 5\n"), "{text}");
        assert!(
            text.contains("t_bucket{route=\"/a\",le=\"0.0025\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("t_bucket{route=\"/a\",le=\"0.001\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("t_count{route=\"/a\"} 1\n"), "{text}");
    }
}
