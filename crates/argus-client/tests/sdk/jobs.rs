//! Async jobs through the SDK: created with an automatic `Idempotency-Key`,
//! waited for, their NDJSON results streamed, their callbacks verified.

use std::time::Duration;

use argus_bus::testing::TestVhost;
use argus_client::{Error, Event, JobFilter, JobKind, JobStatus, NewJob, WebhookVerifier};
use argus_http::testing::Receiver;
use futures_util::TryStreamExt;
use serde_json::{Value, json};

use crate::stack::{Stack, spawn_worker};

/// `n` people in a chain of `knows`, as `import.bulk` NDJSON.
fn people(n: usize) -> String {
    let entities = (0..n).map(
        |i| json!({"type": "entity", "external_id": format!("p{i}"), "kind": "person", "name": format!("Person {i}")}),
    );
    let links = (1..n).map(|i| json!({"type": "relationship", "external_id": format!("k{i}"), "source": format!("p{}", i - 1), "target": format!("p{i}"), "kind": "knows"}));
    entities.chain(links).map(|line| format!("{line}\n")).collect()
}

#[tokio::test]
async fn jobs_run_to_a_streamed_result_and_a_verified_callback() {
    let stack = Stack::start().await;
    let vhost = TestVhost::create().await;
    let shutdown = spawn_worker(stack.db.url(), vhost.url());
    let app = stack.client(None, &["jobs:read", "jobs:write"]).await;
    let sdk = crate::app_client(&stack, &app);
    let every = Duration::from_millis(100);

    let import = sdk
        .create_job(&NewJob { kind: JobKind::ImportBulk, input: json!({ "ndjson": people(4) }), callback_url: None })
        .await
        .unwrap();
    assert_eq!((import.kind, import.callback_secret.as_deref()), (JobKind::ImportBulk, None));
    let done = sdk.wait_for_job(&import.id, every, Duration::from_secs(30)).await.unwrap();
    assert_eq!(done.status, JobStatus::Succeeded);
    let report: Value = sdk.job_result(&import.id).await.unwrap();
    assert!(report.is_object(), "{report}");

    // An export with a callback: the same key returns the same job.
    let receiver = Receiver::start(Vec::new(), Duration::ZERO).await;
    let export = NewJob {
        kind: JobKind::ExportBulk,
        input: json!({ "types": ["entities", "relationships"] }),
        callback_url: Some(receiver.url.clone()),
    };
    let first = sdk.create_job_with_key(&export, "export-7").await.unwrap();
    let again = sdk.create_job_with_key(&export, "export-7").await.unwrap();
    assert_eq!(first.id, again.id);
    let secret = first.callback_secret.clone().expect("the callback's secret, once");
    // A key reused with another body is refused.
    let other = NewJob { input: json!({ "types": ["entities"] }), ..export.clone() };
    let error = sdk.create_job_with_key(&other, "export-7").await.unwrap_err();
    assert_eq!(error.status(), Some(422), "{error}");

    sdk.wait_for_job(&first.id, every, Duration::from_secs(30)).await.unwrap();
    let rows: Vec<Value> = sdk.job_result_lines(&first.id).await.unwrap().try_collect().await.unwrap();
    let types: Vec<&str> = rows.iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["entity", "entity", "entity", "entity", "relationship", "relationship", "relationship"]);

    let callback = receiver.wait_for(1, Duration::from_secs(20)).await.remove(0);
    let header = |name: &str| callback.headers.get(name).and_then(|v| v.to_str().ok());
    let verified = WebhookVerifier::new(&secret).unwrap().verify(header, &callback.body).unwrap();
    let event: Event = verified.json().unwrap();
    assert_eq!((event.event_type.as_str(), event.tenant_id.as_str()), ("job.succeeded", app.tenant.as_str()));
    assert_eq!(event.data["id"], first.id.as_str(), "{event:?}");

    // Listed with filters, every page; a finished job cannot be cancelled.
    let all: Vec<_> =
        sdk.list_jobs(JobFilter { page_size: Some(1), ..Default::default() }).try_collect().await.unwrap();
    assert_eq!(all.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(), [import.id.as_str(), first.id.as_str()]);
    let exports: Vec<_> =
        sdk.list_jobs(JobFilter { kind: Some(JobKind::ExportBulk), ..Default::default() }).try_collect().await.unwrap();
    assert_eq!(exports.len(), 1);
    let queued: Vec<_> =
        sdk.list_jobs(JobFilter { status: Some(JobStatus::Queued), ..Default::default() }).try_collect().await.unwrap();
    assert!(queued.is_empty());
    let error = sdk.cancel_job(&first.id).await.unwrap_err();
    assert_eq!(error.status(), Some(409), "{error}");
    assert!(matches!(
        sdk.job("job_nope").await,
        Err(Error::Api { status: 404, .. }) | Err(Error::Api { status: 400, .. })
    ));
    shutdown.cancel();
}
