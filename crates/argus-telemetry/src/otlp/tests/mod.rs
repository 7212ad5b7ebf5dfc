//! The exporter against local collectors: retries, gzip, TLS.

mod collector;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::Resource;
use tokio::sync::oneshot;

use super::encoding::export_message;
use super::*;
use crate::encode::SpanEncoder;
use crate::testing::{TlsFront, pki};
use collector::{GrpcAnswer, Received, grpc_collector, http_collector};

fn config(vars: &[(&str, &str)]) -> OtlpConfig {
    let vars = vars.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned()));
    crate::TelemetryConfig::from_vars("test", "0", vars).unwrap().otlp.unwrap()
}

/// Spans `first..first + count` of one trace, encoded as the pipeline does.
fn chunk(first: u64, count: u64) -> ScopeChunk {
    let mut encoder = SpanEncoder::default();
    let mut bytes = Vec::new();
    for id in first..first + count {
        encoder.encode(&crate::test_span(0xabc, id, 0), |_| true, &mut bytes);
    }
    ScopeChunk { scope: InstrumentationScope::builder("test").build(), bytes, spans: usize::try_from(count).unwrap() }
}

fn message(count: u64) -> Vec<u8> {
    export_message(&[], &[chunk(1, count)])
}

fn span_ids(received: &Received) -> Vec<u64> {
    let spans = received.request.resource_spans.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans);
    spans.map(|span| u64::from_be_bytes(span.span_id.as_slice().try_into().unwrap())).collect()
}

/// Runs an exporter with `config` until it has sent `chunks` (retries and
/// all); the spans it dropped, and how long it took.
async fn export_all(config: OtlpConfig, chunks: Vec<ScopeChunk>) -> (u64, Duration) {
    let started = Instant::now();
    let inbox = start(config, &Resource::builder_empty().build(), Arc::new(Vec::new));
    for chunk in chunks {
        let spans = chunk.spans;
        inbox.chunks.push(chunk, spans);
    }
    let (done, heard) = oneshot::channel();
    inbox.flush.send(done).await.unwrap();
    heard.await.unwrap();
    (inbox.chunks.dropped.load(Ordering::Relaxed), started.elapsed())
}

fn temp_file(name: &str, contents: &str) -> String {
    let path = std::env::temp_dir().join(format!("argus-otlp-{}-{name}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_503_is_retried_after_its_retry_after_and_the_spans_arrive_once() {
    let collector = http_collector(vec![(503, vec![("retry-after", "1".into())]), (200, vec![])]);
    let endpoint = collector.endpoint.clone();
    let config = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint), ("OTEL_EXPORTER_OTLP_TIMEOUT", "5000")]);
    let (dropped, _) = export_all(config, vec![chunk(1, 3)]).await;
    assert_eq!(dropped, 0);
    let received = collector.received();
    assert_eq!(received.len(), 2, "refused once, then taken; nothing sent again after that");
    let waited = received[1].at - received[0].at;
    assert!(waited >= Duration::from_secs(1), "Retry-After: 1 honoured, waited {waited:?}");
    assert!(waited < Duration::from_secs(3), "waited {waited:?}");
    assert!(received[0].request == received[1].request, "the same batch again");
    assert_eq!(span_ids(&received[1]), [1, 2, 3]);
}

#[tokio::test]
async fn a_429_with_an_http_date_is_retried_after_that_date() {
    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2));
    let collector = http_collector(vec![(429, vec![("retry-after", date)]), (200, vec![])]);
    let transport = Transport::new(&config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint)]));
    assert_eq!(transport.export(message(2)).await, Ok(None));
    let received = collector.received();
    assert_eq!(received.len(), 2);
    // The date has whole seconds: two from now is more than one.
    let waited = received[1].at - received[0].at;
    assert!(waited >= Duration::from_secs(1) && waited < Duration::from_secs(3), "waited {waited:?}");
}

#[tokio::test]
async fn a_400_is_not_retried_and_its_spans_are_counted_as_dropped() {
    let collector = http_collector(vec![(400, vec![])]);
    let (dropped, took) =
        export_all(config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint)]), vec![chunk(1, 3)]).await;
    assert_eq!(collector.received().len(), 1, "not retried");
    assert_eq!(dropped, 3);
    assert!(took < Duration::from_secs(1), "took {took:?}");
    // The error names the status and the collector's message.
    let transport = Transport::new(&config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint)]));
    assert_eq!(transport.export(message(1)).await, Err("the collector answered 400 Bad Request: scripted 400".into()));
}

#[tokio::test]
async fn retries_stop_at_the_export_timeout() {
    let collector = http_collector(vec![(503, vec![])]);
    let endpoint = collector.endpoint.clone();
    let config = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint), ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000")]);
    let (dropped, took) = export_all(config, vec![chunk(1, 3)]).await;
    assert_eq!(dropped, 3, "the batch is dropped and counted");
    let received = collector.received();
    // Backoff of 100, 200, 400 ms (and jitter): three or four tries fit.
    assert!((3..=5).contains(&received.len()), "{} tries", received.len());
    let last = received[received.len() - 1].at - received[0].at;
    assert!(last < Duration::from_secs(1), "last try {last:?} after the first");
    assert!(took < Duration::from_millis(1_500), "took {took:?}");
}

#[tokio::test]
async fn a_collector_that_cannot_be_reached_is_retried_until_the_timeout() {
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", unused.local_addr().unwrap());
    drop(unused);
    let transport =
        Transport::new(&config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint), ("OTEL_EXPORTER_OTLP_TIMEOUT", "500")]));
    let started = Instant::now();
    let error = transport.export(message(1)).await.unwrap_err();
    assert!(error.contains("tried") && error.contains("onnect"), "{error}");
    assert!(started.elapsed() < Duration::from_millis(800));
}

#[tokio::test]
async fn gzip_bodies_decode_to_the_same_message() {
    let collector = http_collector(vec![(200, vec![])]);
    let message = message(100);
    for compression in ["none", "gzip"] {
        let transport = Transport::new(&config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint),
            ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", compression),
        ]));
        assert_eq!(transport.export(message.clone()).await, Ok(None));
    }
    let received = collector.received();
    assert_eq!(received[0].headers.get("content-encoding"), None);
    assert_eq!(received[1].headers["content-encoding"], "gzip");
    assert!(received[0].request == received[1].request, "the same message");
    assert_eq!(span_ids(&received[1]).len(), 100);
}

#[tokio::test]
async fn grpc_unavailable_is_retried_after_its_retry_info() {
    let unavailable = GrpcAnswer { status: 14, retry_delay: Some(Duration::from_secs(1)), ..Default::default() };
    let collector = grpc_collector(vec![unavailable, GrpcAnswer::default()]).await;
    let transport = Transport::new(&config(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ]));
    assert_eq!(transport.export(message(2)).await, Ok(None));
    let received = collector.received();
    assert_eq!(received.len(), 2);
    let waited = received[1].at - received[0].at;
    assert!(waited >= Duration::from_secs(1) && waited < Duration::from_secs(3), "waited {waited:?}");
    assert!(received[0].request == received[1].request, "the same message");
    let headers = &received[0].headers;
    assert_eq!(
        (&headers["content-type"], &headers["te"]),
        (&"application/grpc".parse().unwrap(), &"trailers".parse().unwrap())
    );
    let timeout = headers["grpc-timeout"].to_str().unwrap();
    assert!(timeout.ends_with('m') && timeout[..timeout.len() - 1].parse::<u64>().unwrap() <= 10_000, "{timeout}");
}

#[tokio::test]
async fn grpc_failures_that_retrying_would_not_mend_are_not_retried() {
    // RESOURCE_EXHAUSTED without RetryInfo, and INVALID_ARGUMENT.
    for status in [8, 3] {
        let collector = grpc_collector(vec![GrpcAnswer { status, ..Default::default() }]).await;
        let transport = Transport::new(&config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]));
        let error = transport.export(message(1)).await.unwrap_err();
        assert!(error.contains(&format!("gRPC status {status}")) && error.contains("scripted failure"), "{error}");
        assert_eq!(collector.received().len(), 1, "status {status} not retried");
    }
}

#[tokio::test]
async fn grpc_gzip_messages_are_flagged_and_decode_to_the_same_message() {
    let answer = GrpcAnswer { rejected: 2, gzip_answer: true, ..Default::default() };
    let collector = grpc_collector(vec![answer]).await;
    let message = message(50);
    for compression in ["none", "gzip"] {
        let transport = Transport::new(&config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", compression),
        ]));
        // The collector's gzipped answer is read: it refused two spans.
        let partial = transport.export(message.clone()).await.unwrap().unwrap();
        assert_eq!((partial.rejected_spans, partial.error_message.as_str()), (2, "too old"));
    }
    let received = collector.received();
    assert!(!received[0].compressed_frame && received[0].headers.get("grpc-encoding").is_none());
    assert!(received[1].compressed_frame);
    assert_eq!(received[1].headers["grpc-encoding"], "gzip");
    assert!(received[0].request == received[1].request, "the same message");
}

#[tokio::test]
async fn a_custom_ca_is_trusted_and_no_other() {
    let collector = http_collector(vec![(200, vec![])]);
    let (ca, cert, key, _) = pki("OTLP test CA", "127.0.0.1");
    let endpoint = TlsFront::start(&cert, &key, None, &collector.endpoint).await.url();
    let (ca_file, other_ca_file) = (temp_file("ca.pem", &ca), temp_file("other-ca.pem", &pki("Other CA", "x").0));
    let with_ca = |file: &str| {
        Transport::new(&config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", file),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "700"),
        ]))
    };
    assert_eq!(with_ca(&ca_file).export(message(1)).await, Ok(None));
    assert_eq!(collector.received().len(), 1);
    let error = with_ca(&other_ca_file).export(message(1)).await.unwrap_err();
    assert!(error.to_lowercase().contains("certificate") || error.contains("UnknownIssuer"), "{error}");
    assert_eq!(collector.received().len(), 1, "nothing got through");
}

#[tokio::test]
async fn mutual_tls_presents_the_client_certificate() {
    let collector = http_collector(vec![(200, vec![])]);
    let (ca, cert, key, _) = pki("OTLP test CA", "127.0.0.1");
    let (client_ca, client_cert, client_key, client_der) = pki("OTLP clients CA", "api-service");
    let front = TlsFront::start(&cert, &key, Some(&client_ca), &collector.endpoint).await;
    let endpoint = front.url();
    let ca_file = temp_file("mtls-ca.pem", &ca);
    let (cert_file, key_file) = (temp_file("client.pem", &client_cert), temp_file("client-key.pem", &client_key));
    let mut vars = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", &ca_file),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "700"),
    ];
    // Without a client certificate the collector refuses the handshake.
    assert!(Transport::new(&config(&vars)).export(message(1)).await.is_err());
    assert!(collector.received().is_empty());
    vars.extend([
        ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", cert_file.as_str()),
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", &key_file),
    ]);
    assert_eq!(Transport::new(&config(&vars)).export(message(1)).await, Ok(None));
    assert_eq!(collector.received().len(), 1);
    assert_eq!(front.presented(), [client_der]);
}

#[tokio::test]
async fn grpc_goes_over_tls_with_a_custom_ca() {
    let collector = grpc_collector(vec![GrpcAnswer::default()]).await;
    let (ca, cert, key, _) = pki("OTLP test CA", "127.0.0.1");
    let endpoint = TlsFront::start(&cert, &key, None, &collector.endpoint).await.url();
    let ca_file = temp_file("grpc-ca.pem", &ca);
    let transport = Transport::new(&config(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", &ca_file),
    ]));
    assert_eq!(transport.export(message(4)).await, Ok(None));
    assert_eq!(span_ids(&collector.received()[0]), [1, 2, 3, 4]);
}

#[test]
fn a_full_queue_drops_the_oldest_spans_and_counts_them() {
    let config = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"), ("OTEL_BSP_MAX_QUEUE_SIZE", "600")]);
    let mut exporter = Exporter {
        transport: Arc::new(Transport::new(&config)),
        resource: Vec::new(),
        pending: VecDeque::new(),
        pending_spans: 0,
        in_flight: Arc::new(Semaphore::new(IN_FLIGHT)),
        report: Arc::default(),
        chunks: FullChunks::new(QUEUE_CHUNKS, "otlp"),
        dropped_logged: 0,
        config,
    };
    for marker in 1..=4 {
        exporter.queue(ScopeChunk {
            scope: InstrumentationScope::builder("s").build(),
            bytes: vec![marker],
            spans: 200,
        });
    }
    assert_eq!(exporter.pending_spans, 600);
    assert_eq!(exporter.chunks.dropped.load(Ordering::Relaxed), 200);
    let kept: Vec<u8> = exporter.pending.iter().map(|c| c.bytes[0]).collect();
    assert_eq!(kept, [2, 3, 4], "the oldest went first");
}
