//! Jobs in Prometheus text: by state, queue depth, duration and queue-wait histograms, egress
//! refusals.

use std::fmt::Write;

use crate::store::job_metrics::{Histogram, JobMetrics, BUCKETS};

pub fn render(m: &JobMetrics) -> String {
    let mut out = String::from("# HELP agen_jobs Jobs by state.\n# TYPE agen_jobs gauge\n");
    for (state, n) in &m.by_state {
        let _ = writeln!(out, "agen_jobs{{state=\"{state}\"}} {n}");
    }
    let queued = m
        .by_state
        .iter()
        .find(|(s, _)| s == "queued")
        .map_or(0, |(_, n)| *n);
    let _ = write!(
        out,
        "# HELP agen_queue_depth Jobs waiting for a worker.\n# TYPE agen_queue_depth gauge\n\
         agen_queue_depth {queued}\n"
    );
    histogram(
        &mut out,
        "agen_job_duration_seconds",
        "How long jobs ran, start to end.",
        &m.duration,
    );
    histogram(
        &mut out,
        "agen_job_queue_wait_seconds",
        "How long jobs waited in the queue before a worker started them.",
        &m.queue_wait,
    );
    let _ = write!(
        out,
        "# HELP agen_egress_refusals_total Hosts the egress proxy refused to sessions.\n\
         # TYPE agen_egress_refusals_total counter\nagen_egress_refusals_total {}\n",
        m.egress_refusals
    );
    out
}

fn histogram(out: &mut String, name: &str, help: &str, h: &Histogram) {
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} histogram\n");
    for (bound, n) in BUCKETS.iter().zip(&h.at_or_below) {
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {n}");
    }
    let _ = write!(
        out,
        "{name}_bucket{{le=\"+Inf\"}} {}\n{name}_sum {}\n{name}_count {}\n",
        h.count, h.sum_seconds, h.count
    );
}

#[cfg(test)]
mod tests;
