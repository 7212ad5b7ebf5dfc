//! Sends one signed webhook request, guarded against SSRF: every address
//! the host resolves to is vetted, the connection goes only to a vetted
//! address (the resolver hands reqwest nothing else), redirects are not
//! followed, the request times out, and at most 4 KiB of the response is
//! read.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_telemetry::outbound;
use argus_types::ssrf::is_forbidden;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT};
use tracing::Instrument;

/// What every request says it is from.
pub const USER_AGENT_VALUE: &str = "Argus-Webhooks/1";

/// How much of a receiver's response is kept.
pub const RESPONSE_EXCERPT: usize = 4096;
/// The longest wait for a connection, whatever the request timeout.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A third of the request timeout, at most 5 s: an address that does not
/// answer a SYN (a dead host, a firewall dropping packets) releases its
/// slot well before one that accepted and is slow to answer.
fn connect_timeout(request_timeout: Duration) -> Duration {
    (request_timeout / 3).min(MAX_CONNECT_TIMEOUT)
}

struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            // Refuse the host if any answer is forbidden: a mixed answer is
            // how DNS rebinding slips a private address in.
            if !allow_private && resolved.iter().any(|a| is_forbidden(a.ip())) {
                return Err(Box::new(Refused(format!("{host} resolves to a forbidden address")))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            if resolved.is_empty() {
                return Err(
                    Box::new(Refused(format!("{host} does not resolve"))) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(resolved.into_iter()) as Addrs)
        })
    }
}

#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// What one attempt produced.
#[derive(Debug, Clone)]
pub struct SendOutcome {
    pub status: Option<u16>,
    pub duration: Duration,
    pub error: Option<String>,
    pub body_excerpt: Option<String>,
    /// The receiver's `Retry-After`, for 429 and 503.
    pub retry_after: Option<Duration>,
}

#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    allow_private: bool,
    connect_timeout: Duration,
}

impl Sender {
    pub fn new(timeout: Duration, allow_private: bool) -> Result<Self, reqwest::Error> {
        let connect_timeout = connect_timeout(timeout);
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver { allow_private }))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self { client, allow_private, connect_timeout })
    }

    /// POSTs `body` to `url` with `headers`. Never fails: every problem is
    /// an outcome to record.
    pub async fn send(&self, url: &str, headers: HeaderMap, body: Vec<u8>) -> SendOutcome {
        let started = Instant::now();
        let refused = |why: String| SendOutcome {
            status: None,
            duration: started.elapsed(),
            error: Some(why),
            body_excerpt: None,
            retry_after: None,
        };
        let Ok(parsed) = url::Url::parse(url) else { return refused("the URL is not valid".into()) };
        // An IP literal never reaches the resolver: vet it here.
        let literal = parsed.host_str().and_then(|h| h.trim_matches(['[', ']']).parse::<IpAddr>().ok());
        if !self.allow_private && literal.is_some_and(is_forbidden) {
            return refused("refused: the URL points at a forbidden address".into());
        }
        let span = outbound::http_client_span("POST", &parsed);
        let mut request = self.client.post(parsed).headers(headers).body(body);
        request = request
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        // The receiver continues this trace: `traceparent` names the span.
        for (name, value) in argus_telemetry::propagation::headers_of(&span) {
            request = request.header(name, value);
        }
        let answer = async {
            let response = request.send().await?;
            let status = response.status().as_u16();
            outbound::record_status(&tracing::Span::current(), status);
            Ok::<_, reqwest::Error>(response)
        };
        match answer.instrument(span.clone()).await {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
                let mut excerpt = Vec::new();
                while excerpt.len() < RESPONSE_EXCERPT {
                    match response.chunk().await {
                        Ok(Some(chunk)) => {
                            excerpt.extend_from_slice(&chunk[..chunk.len().min(RESPONSE_EXCERPT - excerpt.len())])
                        }
                        _ => break,
                    }
                }
                SendOutcome {
                    status: Some(status),
                    duration: started.elapsed(),
                    error: (!(200..300).contains(&status)).then(|| format!("the receiver answered {status}")),
                    body_excerpt: Some(String::from_utf8_lossy(&excerpt).into_owned()),
                    retry_after,
                }
            }
            Err(e) => {
                outbound::record_failure(&span, if e.is_timeout() { "timeout" } else { "connect" });
                let why = if e.is_connect() && e.is_timeout() {
                    format!("could not connect within {} ms", self.connect_timeout.as_millis())
                } else if e.is_timeout() {
                    "timed out".to_owned()
                } else if e.is_connect() {
                    format!("could not connect: {}", root_cause(&e))
                } else {
                    format!("request failed: {}", root_cause(&e))
                };
                refused(why)
            }
        }
    }
}

/// A `Retry-After` value (RFC 9110 §10.2.3): delay-seconds, or an HTTP date
/// (IMF-fixdate), as the wait from `now`; `None` when it is neither. Not
/// bounded here: `deliver::next_step` clamps it to the schedule.
pub(crate) fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than a u64 holds is still "a very long time".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some((at.with_timezone(&chrono::Utc) - now).to_std().unwrap_or_default())
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn retry_after_is_read_as_seconds_or_a_date() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-05T12:00:00Z").unwrap().with_timezone(&chrono::Utc);
        assert_eq!(parse_retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("99999999999999999999999", now), Some(Duration::from_secs(u64::MAX)));
        assert_eq!(parse_retry_after("Sat, 05 Dec 2026 12:01:30 GMT", now), Some(Duration::from_secs(90)));
        assert_eq!(parse_retry_after("Sat, 05 Dec 2026 11:00:00 GMT", now), Some(Duration::ZERO));
        for bad in ["", "-1", "1.5", "+3", "soon", "١٢"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn retry_after_seconds_round_trip(seconds in proptest::prelude::any::<u64>()) {
            let now = chrono::Utc::now();
            proptest::prop_assert_eq!(parse_retry_after(&seconds.to_string(), now), Some(Duration::from_secs(seconds)));
        }

        #[test]
        fn retry_after_dates_round_trip(seconds in 0i64..10_000_000) {
            let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
            let at = now + chrono::TimeDelta::seconds(seconds);
            let header = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
            let wait = Duration::from_secs(seconds.unsigned_abs());
            proptest::prop_assert_eq!(parse_retry_after(&header, now), Some(wait));
        }
    }
}
