use super::*;

#[test]
fn jobs_render_as_prometheus_text() {
    let m = JobMetrics {
        by_state: vec![("queued".into(), 2), ("succeeded".into(), 5)],
        duration: Histogram {
            at_or_below: vec![0, 1, 1, 3, 5, 5, 5, 5, 5],
            count: 5,
            sum_seconds: 400.5,
        },
        queue_wait: Histogram {
            at_or_below: vec![7; 9],
            count: 7,
            sum_seconds: 1.0,
        },
        egress_refusals: 3,
    };
    let text = render(&m);
    for line in [
        "agen_jobs{state=\"queued\"} 2\n",
        "agen_jobs{state=\"succeeded\"} 5\n",
        "agen_queue_depth 2\n",
        "agen_job_duration_seconds_bucket{le=\"60\"} 3\n",
        "agen_job_duration_seconds_bucket{le=\"+Inf\"} 5\n",
        "agen_job_duration_seconds_sum 400.5\n",
        "agen_job_queue_wait_seconds_count 7\n",
        "agen_egress_refusals_total 3\n",
        "# TYPE agen_job_duration_seconds histogram\n",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
}
