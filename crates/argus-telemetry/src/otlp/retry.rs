//! Retrying an export as the OTLP exporter spec says: transient failures
//! are tried again after an exponential backoff with jitter, or after the
//! delay the collector asked for (`Retry-After`, gRPC `RetryInfo`), until
//! the export timeout; other failures drop the batch at once.

use std::future::Future;
use std::time::{Duration, SystemTime};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;
use tokio::time::Instant;

/// What one attempt at an export came to.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// The collector took the spans; it may have refused some.
    Accepted(Option<ExportTracePartialSuccess>),
    /// A transient failure: try again, after `after` if the collector said.
    Retry { error: String, after: Option<Duration> },
    /// A failure that retrying would not mend: the batch is dropped.
    Failed(String),
}

/// The HTTP statuses the OTLP spec says to retry (429, 502, 503, 504);
/// gRPC's HTTP mapping makes the same four UNAVAILABLE.
pub(crate) fn retryable_status(status: reqwest::StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

/// A `Retry-After` value as a delay from `now`: whole seconds, or an
/// HTTP-date (a past one is no delay). `None` when it is neither.
pub(crate) fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More seconds than a u64 holds is as good as never.
        return Some(value.parse().map_or(Duration::MAX, Duration::from_secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Exponential backoff with jitter, as opentelemetry-otlp's recommended
/// policy: 100 ms, doubling to at most 1.6 s, each with up to 100 ms more
/// at random so that many exporters do not retry in step.
struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MOST: Duration = Duration::from_millis(1_600);
    const JITTER_MS: u64 = 100;

    fn next(&mut self) -> Duration {
        let delay = self.next;
        self.next = (delay * 2).min(Self::MOST);
        delay + Duration::from_millis(rand::random_range(0..=Self::JITTER_MS))
    }
}

/// Runs `attempt` (given the time left) until it succeeds, fails for good,
/// or the next try would start after `deadline`. A delay the collector
/// asked for is waited in full, and never less than the backoff's.
pub(crate) async fn until<F, Fut>(
    deadline: Instant,
    mut attempt: F,
) -> Result<Option<ExportTracePartialSuccess>, String>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Attempt>,
{
    let mut backoff = Backoff { next: Backoff::FIRST };
    let mut tries = 1;
    loop {
        let (error, after) = match attempt(deadline.saturating_duration_since(Instant::now())).await {
            Attempt::Accepted(partial) => return Ok(partial),
            Attempt::Failed(error) => return Err(error),
            Attempt::Retry { error, after } => (error, after),
        };
        let wait = backoff.next().max(after.unwrap_or_default());
        if Instant::now().checked_add(wait).is_none_or(|at| at >= deadline) {
            return Err(format!("{error} (tried {tries} times; the next try would pass the export timeout)"));
        }
        tokio::time::sleep(wait).await;
        tries += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(retry_after("5", now), Some(Duration::from_secs(5)));
        assert_eq!(retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(retry_after("99999999999999999999999", now), Some(Duration::MAX));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(42));
        assert_eq!(retry_after(&later, now), Some(Duration::from_secs(42)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(42));
        assert_eq!(retry_after(&earlier, now), Some(Duration::ZERO));
        for not_one in ["", "-1", "1.5", "soon", "Sun, 99 Nov 9999 99:99:99 GMT"] {
            assert_eq!(retry_after(not_one, now), None, "{not_one}");
        }
    }

    #[test]
    fn the_backoff_doubles_to_its_cap_with_bounded_jitter() {
        let mut backoff = Backoff { next: Backoff::FIRST };
        for base in [100, 200, 400, 800, 1_600, 1_600] {
            let delay = backoff.next();
            let base = Duration::from_millis(base);
            assert!(delay >= base && delay <= base + Duration::from_millis(100), "{delay:?} for {base:?}");
        }
    }

    #[test]
    fn retryable_statuses_are_the_four_the_spec_names() {
        let retried: Vec<u16> =
            (100..600).filter(|code| retryable_status(reqwest::StatusCode::from_u16(*code).unwrap())).collect();
        assert_eq!(retried, [429, 502, 503, 504]);
    }

    #[tokio::test]
    async fn retries_stop_before_the_deadline() {
        let tries = AtomicU32::new(0);
        let started = Instant::now();
        let outcome = until(started + Duration::from_millis(700), |_| {
            tries.fetch_add(1, Ordering::SeqCst);
            async { Attempt::Retry { error: "503".into(), after: None } }
        })
        .await;
        let error = outcome.unwrap_err();
        // 100, 200 and 400 ms of backoff (and jitter) fit in 700 ms at most
        // three times; the fourth wait would pass the deadline.
        let tries = tries.load(Ordering::SeqCst);
        assert!((3..=4).contains(&tries), "{tries} tries");
        assert!(error.starts_with("503 (tried"), "{error}");
        assert!(started.elapsed() < Duration::from_millis(700), "no try and no wait after the deadline");
    }

    #[tokio::test]
    async fn a_delay_past_the_deadline_gives_up_at_once() {
        let started = Instant::now();
        let outcome = until(started + Duration::from_secs(2), |_| async {
            Attempt::Retry { error: "429".into(), after: Some(Duration::from_secs(3)) }
        })
        .await;
        assert!(outcome.is_err());
        assert!(started.elapsed() < Duration::from_millis(500));
    }

    proptest! {
        #[test]
        fn any_retry_after_is_read_without_panicking(value: String) {
            let _ = retry_after(&value, SystemTime::now());
        }

        #[test]
        fn whole_seconds_read_back(seconds: u64) {
            prop_assert_eq!(retry_after(&seconds.to_string(), SystemTime::now()), Some(Duration::from_secs(seconds)));
        }

        #[test]
        fn http_dates_read_back_to_the_second(offset in 0u64..10_000_000) {
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
            let date = httpdate::fmt_http_date(now + Duration::from_secs(offset));
            prop_assert_eq!(retry_after(&date, now), Some(Duration::from_secs(offset)));
        }
    }
}
