//! When a call is sent again, and the trace context it carries.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// When failed calls are sent again: on 429 and 503 (the server did not
/// act on the request) for every call, waiting as `Retry-After` says or
/// else with exponential backoff and full jitter; after a connection
/// failure or a timeout only for idempotent calls (reads, `PUT`, `DELETE`,
/// and a job's creation, which carries an `Idempotency-Key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1: never retry).
    pub max_attempts: u32,
    /// The backoff's first step; each retry doubles it.
    pub base_delay: Duration,
    /// The longest wait between two attempts; a `Retry-After` asking for
    /// more ends the retries with the 429 or 503 itself.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 4, base_delay: Duration::from_millis(200), max_delay: Duration::from_secs(30) }
    }
}

impl RetryPolicy {
    /// No retries.
    pub fn never() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }

    /// The wait before another attempt after a response with `status`, or
    /// `None` to give the response to the caller.
    pub(crate) fn after_status(&self, status: u16, headers: &HeaderMap, attempt: u32) -> Option<Duration> {
        if !matches!(status, 429 | 503) || attempt >= self.max_attempts {
            return None;
        }
        match headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(retry_after) {
            Some(wait) if wait > self.max_delay => None,
            Some(wait) => Some(wait),
            None => Some(self.backoff(attempt)),
        }
    }

    /// The wait before another attempt after a connection failure.
    pub(crate) fn after_connection_error(&self, attempt: u32) -> Option<Duration> {
        (attempt < self.max_attempts).then(|| self.backoff(attempt))
    }

    /// Full jitter: a uniform wait up to `base * 2^(attempt-1)`, capped.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.base_delay.saturating_mul(1u32 << attempt.saturating_sub(1).min(16)).min(self.max_delay);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::random_range(0..=millis))
    }
}

/// `Retry-After` as seconds or an HTTP-date (RFC 9110 §10.2.3).
fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

/// Adds `traceparent` (and `tracestate`) of the caller's current `tracing`
/// span, so the servers' spans join the caller's trace.
#[cfg(feature = "opentelemetry")]
pub(crate) fn inject_trace_context(headers: &mut HeaderMap) {
    use opentelemetry::propagation::{Injector, TextMapPropagator};
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    struct Headers<'a>(&'a mut HeaderMap);
    impl Injector for Headers<'_> {
        fn set(&mut self, key: &str, value: String) {
            if let (Ok(name), Ok(value)) = (
                reqwest::header::HeaderName::from_bytes(key.as_bytes()),
                reqwest::header::HeaderValue::from_str(&value),
            ) {
                self.0.insert(name, value);
            }
        }
    }
    let context = tracing::Span::current().context();
    opentelemetry_sdk::propagation::TraceContextPropagator::new().inject_context(&context, &mut Headers(headers));
}

/// Without the `opentelemetry` feature, calls carry no trace context.
#[cfg(not(feature = "opentelemetry"))]
pub(crate) fn inject_trace_context(_headers: &mut HeaderMap) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(retry_after("Thu, 01 Jan 1970 00:00:00 GMT"), Some(Duration::ZERO));
        let soon = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        assert!(retry_after(&soon).is_some_and(|d| d > Duration::from_secs(100)));
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn only_429_and_503_are_retried_and_only_so_often() {
        let policy =
            RetryPolicy { max_attempts: 3, base_delay: Duration::from_millis(100), max_delay: Duration::from_secs(5) };
        let mut headers = HeaderMap::new();
        assert!(policy.after_status(500, &headers, 1).is_none());
        assert!(policy.after_status(429, &headers, 1).is_some_and(|d| d <= Duration::from_millis(100)));
        assert!(policy.after_status(503, &headers, 2).is_some_and(|d| d <= Duration::from_millis(200)));
        assert!(policy.after_status(429, &headers, 3).is_none());
        headers.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(policy.after_status(429, &headers, 1), Some(Duration::from_secs(2)));
        // Asked to wait longer than the policy allows: give up at once.
        headers.insert(RETRY_AFTER, "60".parse().unwrap());
        assert_eq!(policy.after_status(429, &headers, 1), None);
        assert!(RetryPolicy::never().after_connection_error(1).is_none());
    }
}
