//! A job with a callback: an `export.bulk` job whose finished state is
//! POSTed to a local receiver, signed with the job's `callback_secret`; the
//! receiver verifies it, then the export's NDJSON result is streamed.
//!
//! ```sh
//! ARGUS_API_URL=http://127.0.0.1:8081 ARGUS_AUTH_URL=http://127.0.0.1:8080 \
//! ARGUS_CLIENT_ID=app_… ARGUS_CLIENT_SECRET=… ARGUS_TENANT_ID=ten_… \
//! cargo run -p argus-client --example job_callback
//! ```
//!
//! The app needs `jobs:read` and `jobs:write`; the API must allow a
//! callback to 127.0.0.1 (`just up` does).

#![allow(clippy::print_stdout)]

use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use argus_client::{ArgusClient, Credentials, Event, JobKind, NewJob, WebhookVerifier};
use futures_util::TryStreamExt;
use tokio::sync::mpsc;

fn var(name: &str) -> Result<String, Box<dyn std::error::Error>> {
    std::env::var(name).map_err(|_| format!("set {name}").into())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sdk = ArgusClient::builder()
        .auth_url(var("ARGUS_AUTH_URL")?)
        .api_url(var("ARGUS_API_URL")?)
        .credentials(Credentials::ClientCredentials {
            client_id: var("ARGUS_CLIENT_ID")?,
            client_secret: var("ARGUS_CLIENT_SECRET")?,
            scope: Some("jobs:read jobs:write".into()),
        })
        .tenant(var("ARGUS_TENANT_ID")?)
        .build()?;

    // The callback receiver: hands each request's headers and body over.
    let (tx, mut rx) = mpsc::unbounded_channel::<(Vec<(String, String)>, Vec<u8>)>();
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://127.0.0.1:{}/callbacks/argus", listener.local_addr()?.port());
    let server = HttpServer::new(move || {
        let tx = tx.clone();
        App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
            let headers =
                req.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned())).collect();
            // Only the first callback is read; a retry has no reader.
            let _ = tx.send((headers, body.to_vec()));
            async { HttpResponse::NoContent().finish() }
        }))
    })
    .workers(1)
    .listen(listener)?
    .run();
    tokio::spawn(server);

    // Created with an automatic Idempotency-Key: a retry cannot run it twice.
    let job = sdk
        .create_job(&NewJob { kind: JobKind::ExportBulk, input: serde_json::json!({}), callback_url: Some(url) })
        .await?;
    println!("job {} is {:?}", job.id, job.status);
    let secret = job.callback_secret.ok_or("no callback_secret")?;

    let (headers, body) =
        tokio::time::timeout(Duration::from_secs(60), rx.recv()).await?.ok_or("the receiver stopped")?;
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let callback: Event = WebhookVerifier::new(&secret)?.verify(header, &body)?.json()?;
    println!("callback {} verified: {}", callback.event_type, callback.data);

    let rows: Vec<serde_json::Value> = sdk.job_result_lines(&job.id).await?.try_collect().await?;
    println!("the export has {} lines", rows.len());
    Ok(())
}
