//! End to end: a GraphQL mutation becomes a signed webhook delivery at a
//! local receiver, through the outbox, RabbitMQ and the delivery worker.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use argus_bus::testing::TestVhost;
use delivery_worker::{Worker, WorkerConfig, parse_schedule};
use serde_json::{Value, json};

use crate::helpers::{PEPPER, Stack, op, post};

type Received = (reqwest::header::HeaderMap, Vec<u8>);

/// A receiver that answers 200 and records every request.
async fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let record = got.clone();
    let server = HttpServer::new(move || {
        let record = record.clone();
        App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
            let record = record.clone();
            async move {
                let mut headers = reqwest::header::HeaderMap::new();
                for (k, v) in req.headers() {
                    headers.append(
                        reqwest::header::HeaderName::from_bytes(k.as_str().as_bytes()).unwrap(),
                        reqwest::header::HeaderValue::from_bytes(v.as_bytes()).unwrap(),
                    );
                }
                record.lock().unwrap().push((headers, body.to_vec()));
                HttpResponse::Ok().finish()
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}/hooks"), got)
}

#[tokio::test]
async fn a_mutation_reaches_a_webhook_receiver_signed() {
    let stack = Stack::start().await;
    let vhost = TestVhost::create().await;
    let worker = Worker::build(WorkerConfig {
        admin_addr: "127.0.0.1:0".into(),
        store: argus_store::StoreConfig { database_url: stack.db.url().to_owned(), max_connections: 4 },
        amqp_url: vhost.url().to_owned(),
        bus_prefix: "argus".into(),
        secret_pepper: PEPPER.into(),
        retry_schedule: parse_schedule("0.2").unwrap(),
        allow_private: true,
        request_timeout: Duration::from_secs(5),
        concurrency: 4,
        jobs: Default::default(),
        log_format: argus_telemetry::LogFormat::Pretty,
        log_filter: "warn".into(),
    })
    .unwrap();
    let shutdown = worker.shutdown_token();
    tokio::spawn(worker.run_until_stopped());

    let ops = stack.load_shipped_bundle("incident-webhook-configuration").await;
    let client = stack.client(None, &["incidents:read", "incidents:write"]).await;
    stack.grant(&client, "incident-webhook-configuration").await;
    let (url, received) = receiver().await;
    let admin = stack.admin_token(&client.tenant).await;
    let r = stack
        .http
        .post(format!("{}/v1/webhooks", stack.auth))
        .bearer_auth(&admin)
        .json(&json!({ "url": url, "events": ["incident.created"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let secret = r.json::<Value>().await.unwrap()["secret"].as_str().unwrap().to_owned();

    let token = stack.cc_token(&client, None).await;
    let create = json!({
        "id": format!("sha256:{}", op(&ops, "CreateIncident").sha256),
        "variables": { "input": { "title": "Gas leak", "severity": "CRITICAL", "location": "Plant 2" } }
    });
    let body: Value =
        post(&stack.http, &stack.api, Some(&token), Some(client.tenant.as_str()), create).await.json().await.unwrap();
    let incident = body["data"]["createIncident"]["id"].as_str().unwrap().to_owned();

    let until = Instant::now() + Duration::from_secs(20);
    let (headers, payload) = loop {
        if let Some(first) = received.lock().unwrap().first().cloned() {
            break first;
        }
        assert!(Instant::now() < until, "no delivery in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    standardwebhooks::Webhook::new(&secret).unwrap().verify(&payload, &headers).expect("signature verifies");
    let envelope: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(envelope["type"], "incident.created");
    assert_eq!(envelope["tenant_id"], client.tenant.as_str());
    assert_eq!(envelope["data"]["id"], incident.as_str());
    assert_eq!(envelope["data"]["title"], "Gas leak");
    assert_eq!(envelope["data"]["severity"], "critical");
    // The event's outbox row, keyed by the event id, was relayed.
    let event_id = headers["webhook-id"].to_str().unwrap();
    assert_eq!(event_id, envelope["id"].as_str().unwrap());
    assert!(matches!(stack.store.outbox_sent_at(event_id).await.unwrap(), Some(Some(_))));
    shutdown.cancel();
}
