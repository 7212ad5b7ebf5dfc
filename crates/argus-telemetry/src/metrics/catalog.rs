//! Every metric an Argus process exports, in one place: its name, type,
//! labels and meaning. Recorders name metrics through these constants, the
//! exposition takes descriptions and histogram buckets from them, and a
//! test holds docs/operations.md's table of metrics to exactly this list
//! (deploy/k8s/validate.py then holds the alerts and the dashboard to that
//! table).
//!
//! Every label has a bounded set of values: route templates (never raw
//! paths), methods folded to the standard ones, status classes, the kinds
//! and states of argus-domain's enums, RFC 6749 error codes. No tenant,
//! client, user or message id is ever a label.

/// How a metric is exposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// One exported metric.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
    /// The `# HELP` text.
    pub help: &'static str,
    /// Upper bounds of a histogram's buckets (empty for the others).
    pub buckets: &'static [f64],
}

/// Request latencies: 1 ms to 10 s.
const REQUEST_SECONDS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Webhook attempts: up to the 15 s request timeout and beyond.
const ATTEMPT_SECONDS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0];
/// Jobs: a tenth of a second to two hours.
const JOB_SECONDS: &[f64] = &[0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0];

const fn counter(name: &'static str, labels: &'static [&'static str], help: &'static str) -> Metric {
    Metric { name, kind: Kind::Counter, labels, help, buckets: &[] }
}

const fn gauge(name: &'static str, labels: &'static [&'static str], help: &'static str) -> Metric {
    Metric { name, kind: Kind::Gauge, labels, help, buckets: &[] }
}

const fn histogram(
    name: &'static str,
    labels: &'static [&'static str],
    help: &'static str,
    buckets: &'static [f64],
) -> Metric {
    Metric { name, kind: Kind::Histogram, labels, help, buckets }
}

// HTTP (auth-service, api-service).
pub const HTTP_REQUESTS: Metric = counter(
    "argus_http_requests_total",
    &["route", "method", "status_class"],
    "HTTP requests answered, by route template, method and status class",
);
pub const HTTP_REQUEST_DURATION: Metric = histogram(
    "argus_http_request_duration_seconds",
    &["route", "method"],
    "Time to answer an HTTP request, by route template and method",
    REQUEST_SECONDS,
);

// OAuth (auth-service).
pub const OAUTH_TOKEN_REQUESTS: Metric = counter(
    "argus_oauth_token_requests_total",
    &["grant_type", "outcome"],
    "POST /v1/oauth/token requests, by grant type and outcome (issued, or the RFC 6749 error code)",
);
pub const SIGN_INS: Metric =
    counter("argus_sign_ins_total", &["outcome"], "Sign-in attempts on the authorization page, by outcome");

// Outbox and relay (delivery-worker).
pub const OUTBOX_UNSENT: Metric = gauge(
    "argus_outbox_unsent_messages",
    &[],
    "Outbox rows not yet confirmed by the broker (sampled; counted up to 100000)",
);
pub const OUTBOX_OLDEST_UNSENT_AGE: Metric = gauge(
    "argus_outbox_oldest_unsent_age_seconds",
    &[],
    "Age of the oldest outbox row not yet confirmed by the broker, 0 when none (sampled)",
);
pub const OUTBOX_MESSAGES: Metric = counter(
    "argus_outbox_messages_total",
    &["outcome"],
    "Outbox rows the relay published (confirmed by the broker) or failed to",
);
pub const OUTBOX_PUBLISH_DURATION: Metric = histogram(
    "argus_outbox_publish_duration_seconds",
    &[],
    "Time the relay takes to publish a batch of outbox rows until the broker confirms it",
    REQUEST_SECONDS,
);

// Webhook deliveries and job callbacks (delivery-worker).
pub const DELIVERIES: Metric = counter(
    "argus_deliveries_total",
    &["kind", "outcome"],
    "Delivery attempts (webhook or job_callback), by outcome: succeeded, retrying, failed, disabled",
);
pub const DELIVERY_ATTEMPT_DURATION: Metric = histogram(
    "argus_delivery_attempt_duration_seconds",
    &["kind"],
    "Time a delivery attempt's request took, until the receiver answered or it failed",
    ATTEMPT_SECONDS,
);
pub const DELIVERIES_IN_FLIGHT: Metric =
    gauge("argus_deliveries_in_flight", &[], "Delivery requests (webhooks and job callbacks) in flight in this worker");
pub const DELIVERIES_WAITING: Metric = gauge(
    "argus_deliveries_waiting",
    &[],
    "Deliveries waiting in this worker for a slot of their webhook (or callback URL) and tenant",
);
pub const DELIVERIES_DEFERRED: Metric = counter(
    "argus_deliveries_deferred_total",
    &[],
    "Deliveries put back unattempted because their webhook or tenant had as many requests in flight as it may",
);
pub const DEAD_LETTERS: Metric =
    gauge("argus_dead_letter_messages", &[], "Messages in the dead-letter queue (sampled from the broker)");

// Jobs (delivery-worker).
pub const JOBS: Metric = gauge(
    "argus_jobs",
    &["kind", "status"],
    "Jobs queued or running, by kind (sampled from the database, every tenant together)",
);
pub const JOBS_OLDEST_QUEUED_AGE: Metric =
    gauge("argus_jobs_oldest_queued_age_seconds", &[], "Age of the oldest queued job, 0 when none (sampled)");
pub const JOBS_LEASE_EXPIRED: Metric = gauge(
    "argus_jobs_lease_expired",
    &[],
    "Running jobs whose lease ran out: their worker stopped checkpointing and none took them over yet (sampled)",
);
pub const JOBS_FINISHED: Metric = counter(
    "argus_jobs_finished_total",
    &["kind", "status"],
    "Jobs this worker finished, by kind and status: succeeded, failed, cancelled",
);
pub const JOB_DURATION: Metric = histogram(
    "argus_job_duration_seconds",
    &["kind", "status"],
    "Time a job's run took, from its claim to its end, by kind and status",
    JOB_SECONDS,
);

// The process (every service).
pub const BUILD_INFO: Metric = gauge(
    "argus_build_info",
    &["version", "git_sha"],
    "Always 1: the version, and the git commit when the build was given one (ARGUS_GIT_SHA)",
);
pub const DB_POOL_CONNECTIONS: Metric =
    gauge("argus_db_pool_connections", &["state"], "PostgreSQL pool connections, in_use or idle (at the scrape)");
pub const DB_POOL_MAX: Metric = gauge("argus_db_pool_max_connections", &[], "The PostgreSQL pool's size limit");
pub const DB_POOL_WAITING: Metric =
    gauge("argus_db_pool_waiting", &[], "Tasks waiting for a PostgreSQL pool connection (at the scrape)");
pub const SPANS_DROPPED: Metric = counter(
    "argus_spans_dropped_total",
    &["destination"],
    "Finished spans lost on the way to the OTLP collector (otlp) or the span store (span_store)",
);
pub const TRACE_BUFFERS_DROPPED: Metric = counter(
    "argus_trace_buffers_dropped_total",
    &[],
    "Unsampled requests whose held spans outgrew their memory budget and were dropped: such a request is not kept \
     even if it fails or is slow",
);

/// Every metric, in the order docs/operations.md lists them.
pub const CATALOG: &[Metric] = &[
    HTTP_REQUESTS,
    HTTP_REQUEST_DURATION,
    OAUTH_TOKEN_REQUESTS,
    SIGN_INS,
    OUTBOX_UNSENT,
    OUTBOX_OLDEST_UNSENT_AGE,
    OUTBOX_MESSAGES,
    OUTBOX_PUBLISH_DURATION,
    DELIVERIES,
    DELIVERY_ATTEMPT_DURATION,
    DELIVERIES_IN_FLIGHT,
    DELIVERIES_WAITING,
    DELIVERIES_DEFERRED,
    DEAD_LETTERS,
    JOBS,
    JOBS_OLDEST_QUEUED_AGE,
    JOBS_LEASE_EXPIRED,
    JOBS_FINISHED,
    JOB_DURATION,
    BUILD_INFO,
    DB_POOL_CONNECTIONS,
    DB_POOL_MAX,
    DB_POOL_WAITING,
    SPANS_DROPPED,
    TRACE_BUFFERS_DROPPED,
];

/// The catalog entry a series name belongs to: its own name, or a
/// histogram's `_bucket`, `_sum` or `_count`.
pub fn metric_of_series(series: &str) -> Option<&'static Metric> {
    CATALOG.iter().find(|m| {
        series == m.name
            || (m.kind == Kind::Histogram
                && ["_bucket", "_sum", "_count"].iter().any(|s| series.strip_suffix(s) == Some(m.name)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_prometheus_names_and_histograms_have_buckets() {
        for (i, m) in CATALOG.iter().enumerate() {
            assert!(m.name.starts_with("argus_"), "{}", m.name);
            assert!(m.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'), "{}", m.name);
            assert!(CATALOG[..i].iter().all(|other| other.name != m.name), "{} twice", m.name);
            assert_eq!(
                m.kind == Kind::Counter,
                m.name.ends_with("_total"),
                "{}: counters and only they end _total",
                m.name
            );
            assert_eq!(m.kind == Kind::Histogram, !m.buckets.is_empty(), "{}", m.name);
            assert!(m.buckets.windows(2).all(|w| w[0] < w[1]), "{}: buckets ascend", m.name);
        }
        assert_eq!(metric_of_series("argus_job_duration_seconds_bucket").map(|m| m.name), Some(JOB_DURATION.name));
        assert!(metric_of_series("argus_jobs_bucket").is_none());
    }

    /// docs/operations.md's table lists exactly these metrics, with their
    /// types and labels: `| `name` | type | `label`, … | meaning |`.
    #[test]
    fn the_operations_guide_lists_every_metric() {
        let guide = include_str!("../../../../docs/operations.md");
        let rows: Vec<(String, String, Vec<String>)> = guide
            .lines()
            .filter(|line| line.starts_with("| `argus_"))
            .map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let name = cells[1].trim_matches('`').to_owned();
                let labels = cells[3]
                    .split(',')
                    .map(|l| l.trim().trim_matches('`').to_owned())
                    .filter(|l| !l.is_empty() && l != "none")
                    .collect();
                (name, cells[2].to_owned(), labels)
            })
            .collect();
        for m in CATALOG {
            let row = rows.iter().find(|(name, _, _)| name == m.name);
            let Some((_, kind, labels)) = row else { panic!("docs/operations.md does not list {}", m.name) };
            assert_eq!(kind, m.kind.as_str(), "{}", m.name);
            assert_eq!(labels, &m.labels.iter().map(|l| (*l).to_owned()).collect::<Vec<_>>(), "{}", m.name);
        }
        for (name, _, _) in &rows {
            assert!(CATALOG.iter().any(|m| m.name == name), "docs/operations.md lists {name}, which no code exports");
        }
    }
}
