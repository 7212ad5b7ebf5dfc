//! Retries against local servers: 429 with `Retry-After`, 503, and slow
//! answers (timeouts) for idempotent and other calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::{HttpResponse, web};
use argus_client::{ArgusClient, Credentials, Error, RetryPolicy};
use argus_http::testing::serve_route;

/// A server at `path` answering with `script` in turn (status, headers),
/// then 200 with `{"scopes": []}`; and the count of requests it got.
fn scripted(path: &'static str, script: Vec<(u16, Option<&'static str>)>) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let base = serve_route(path, move || {
        let (counter, script) = (counter.clone(), script.clone());
        web::route().to(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let answer = script.get(n).copied();
            async move {
                match answer {
                    Some((status, retry_after)) => {
                        let mut r = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
                        if let Some(after) = retry_after {
                            r.insert_header(("Retry-After", after));
                        }
                        r.content_type("application/problem+json").body(format!(
                            r#"{{"type":"https://knogin.com/api/problems/rate-limited","title":"Too many requests","status":{status}}}"#
                        ))
                    }
                    None => HttpResponse::Ok().json(serde_json::json!({ "scopes": [] })),
                }
            }
        })
    });
    (base, hits)
}

fn client(base: &str, retry: RetryPolicy) -> ArgusClient {
    ArgusClient::builder()
        .auth_url(base)
        .api_url(base)
        .credentials(Credentials::Bearer("t".into()))
        .retry(retry)
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_then_the_answer_returned() {
    let (base, hits) = scripted("/v1/platform/scopes", vec![(429, Some("1")), (503, None)]);
    let started = Instant::now();
    let scopes = client(&base, RetryPolicy::default()).scopes().await.unwrap();
    assert!(scopes.is_empty());
    assert_eq!(hits.load(Ordering::SeqCst), 3, "429, 503, then 200");
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After: 1 was honoured");
}

#[tokio::test]
async fn retries_stop_at_the_policy_and_the_problem_is_the_error() {
    let (base, hits) = scripted("/v1/platform/scopes", vec![(429, Some("0")); 5]);
    let policy = RetryPolicy { max_attempts: 2, ..RetryPolicy::default() };
    let error = client(&base, policy).scopes().await.unwrap_err();
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert_eq!(error.status(), Some(429));
    let problem = error.problem().expect("the problem+json body");
    assert_eq!(problem.type_uri.as_deref(), Some("https://knogin.com/api/problems/rate-limited"));

    // A Retry-After beyond the policy's longest wait is not waited out.
    let (base, hits) = scripted("/v1/platform/scopes", vec![(503, Some("3600"))]);
    let started = Instant::now();
    let error = client(&base, RetryPolicy::default()).scopes().await.unwrap_err();
    assert_eq!((hits.load(Ordering::SeqCst), error.status()), (1, Some(503)));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_post_is_retried_on_503_but_not_after_a_timeout_and_a_get_is() {
    // 503: the server did not act, so even a POST goes again.
    let (base, hits) = scripted("/v1/webhooks/{id}/test", vec![(503, Some("0"))]);
    let error = client(&base, RetryPolicy::default()).test_webhook("wh_1").await.unwrap_err();
    // The second answer is 200 `{"scopes": []}`, not a queued delivery.
    assert!(matches!(error, Error::Decode(_)), "{error}");
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    // A server slower than the client's timeout.
    let slow = Arc::new(AtomicUsize::new(0));
    let counter = slow.clone();
    let base = serve_route("/{tail:.*}", move || {
        let counter = counter.clone();
        web::route().to(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                HttpResponse::Ok().finish()
            }
        })
    });
    let policy = RetryPolicy { max_attempts: 3, base_delay: Duration::from_millis(10), ..RetryPolicy::default() };
    let sdk = client(&base, policy);
    let error = sdk.test_webhook("wh_1").await.unwrap_err();
    assert!(matches!(&error, Error::Transport(e) if e.is_timeout()), "{error}");
    assert_eq!(slow.load(Ordering::SeqCst), 1, "a POST is never sent twice after a timeout");
    let error = sdk.webhook("wh_1").await.unwrap_err();
    assert!(matches!(&error, Error::Transport(e) if e.is_timeout()), "{error}");
    assert_eq!(slow.load(Ordering::SeqCst), 4, "a GET is tried three times");
}
