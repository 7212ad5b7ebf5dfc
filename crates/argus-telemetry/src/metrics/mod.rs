//! Metrics, in the Prometheus text format: the `metrics` facade records,
//! `metrics-exporter-prometheus` keeps and renders (without its own HTTP
//! listener: each service serves `GET /metrics` with actix on its admin
//! address, `argus_http::admin`). One recorder per process, installed by
//! [`install`]; what is recorded before it is installed is lost, so every
//! service installs it first thing.
//!
//! [`catalog`] lists every metric; the HTTP metrics are recorded here, by
//! the request middleware, and dropped spans (and dropped held requests)
//! by the span pipeline.

pub mod catalog;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use ::metrics::{Counter, Histogram};
use actix_web::http::{Method, StatusCode};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

use catalog::{BUILD_INFO, CATALOG, HTTP_REQUEST_DURATION, HTTP_REQUESTS, Kind, SPANS_DROPPED, TRACE_BUFFERS_DROPPED};

/// How often histograms' recent samples are folded into their buckets
/// between scrapes, so an unscraped process does not pile them up.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's metrics, to render for a scrape.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Every metric recorded so far, in the Prometheus text format (0.0.4).
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

/// Installs the process's recorder on first call (later calls, say several
/// services started in one test process, share it) and sets
/// `argus_build_info`.
pub fn install() -> Metrics {
    let handle = RECORDER.get_or_init(|| {
        let builder = builder().unwrap_or_else(|e| {
            tracing::error!(error = %e, "metrics: histogram buckets refused; histograms become summaries");
            PrometheusBuilder::new()
        });
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if let Err(e) = ::metrics::set_global_recorder(recorder) {
            tracing::error!(error = %e, "metrics: another recorder is installed; /metrics stays empty");
        }
        describe();
        build_info();
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            }
        });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "metrics: no upkeep thread; histograms are folded at scrapes only");
        }
        handle
    });
    Metrics { handle: handle.clone() }
}

/// Histograms with the catalog's buckets (a summary's quantiles cannot be
/// aggregated over replicas; buckets can).
fn builder() -> Result<PrometheusBuilder, BuildError> {
    let mut builder = PrometheusBuilder::new().set_buckets(HTTP_REQUEST_DURATION.buckets)?;
    for metric in CATALOG.iter().filter(|m| m.kind == Kind::Histogram) {
        builder = builder.set_buckets_for_metric(Matcher::Full(metric.name.to_owned()), metric.buckets)?;
    }
    Ok(builder)
}

fn describe() {
    for metric in CATALOG {
        match metric.kind {
            Kind::Counter => ::metrics::describe_counter!(metric.name, metric.help),
            Kind::Gauge => ::metrics::describe_gauge!(metric.name, metric.help),
            Kind::Histogram => ::metrics::describe_histogram!(metric.name, metric.help),
        }
    }
}

/// `argus_build_info{version, git_sha} 1`: the workspace version (what
/// `--version` and `/healthz` show) and, when the build set `ARGUS_GIT_SHA`
/// (the Dockerfile passes its `REVISION`), the commit; otherwise the
/// version only.
fn build_info() {
    let version = env!("CARGO_PKG_VERSION");
    match option_env!("ARGUS_GIT_SHA").filter(|sha| !sha.is_empty()) {
        Some(sha) => ::metrics::gauge!(BUILD_INFO.name, "version" => version, "git_sha" => sha).set(1.0),
        None => ::metrics::gauge!(BUILD_INFO.name, "version" => version).set(1.0),
    }
}

/// Records one answered request. `route` is actix's match pattern (a
/// template such as `/v1/jobs/{id}`, never the path, so ids do not become
/// labels); a request no route matched is `unmatched`. Methods outside the
/// standard ones are `other`, as anyone can send any token there.
pub(crate) fn http_request(route: Option<&str>, method: &Method, status: StatusCode, elapsed: Duration) {
    let route = route.unwrap_or("unmatched");
    let method = standard_method(method);
    let class = match status.as_u16() / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    };
    // The handles of each (route, method, class) are kept per thread: the
    // `counter!`/`histogram!` macros build the labelled key and look it up
    // in the registry on every call, a measurable share of a fast request.
    // Bounded: routes are the services' templates, methods and classes few.
    REQUEST_HANDLES.with(|handles| {
        let mut handles = handles.borrow_mut();
        let of_route = match handles.get_mut(route) {
            Some(found) => found,
            None => handles.entry(Box::from(route)).or_default(),
        };
        let (requests, duration) = of_route.entry((method, class)).or_insert_with(|| {
            (
                ::metrics::counter!(HTTP_REQUESTS.name, "route" => route.to_owned(), "method" => method, "status_class" => class),
                ::metrics::histogram!(HTTP_REQUEST_DURATION.name, "route" => route.to_owned(), "method" => method),
            )
        });
        requests.increment(1);
        duration.record(elapsed.as_secs_f64());
    });
}

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// One route's request counter and duration histogram, by (method, status
/// class).
type RouteHandles = FastMap<(&'static str, &'static str), (Counter, Histogram)>;

thread_local! {
    static REQUEST_HANDLES: RefCell<FastMap<Box<str>, RouteHandles>> = RefCell::new(FastMap::default());
}

fn standard_method(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts finished spans that will never reach `destination` (`otlp` or
/// `span_store`).
pub(crate) fn spans_dropped(destination: &'static str, spans: usize) {
    ::metrics::counter!(SPANS_DROPPED.name, "destination" => destination).increment(spans as u64);
}

/// Counts an unsampled request whose held spans outgrew their budget.
pub(crate) fn trace_buffer_dropped() {
    ::metrics::counter!(TRACE_BUFFERS_DROPPED.name).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_histogram_gets_its_buckets() {
        assert!(builder().is_ok());
    }

    #[test]
    fn unknown_methods_are_folded() {
        assert_eq!(standard_method(&Method::GET), "GET");
        let custom = Method::from_bytes(b"FROBNICATE").unwrap_or(Method::TRACE);
        assert_eq!(standard_method(&custom), "other");
        assert_eq!(standard_method(&Method::TRACE), "other");
    }
}
