//! End to end: a GraphQL mutation becomes a signed webhook delivery at a
//! local receiver, through the outbox, RabbitMQ and the delivery worker.

use argus_bus::testing::TestVhost;
use argus_http::testing::Received;
use serde_json::{Value, json};

use crate::helpers::{Stack, op, spawn_worker};

#[tokio::test]
async fn a_mutation_reaches_a_webhook_receiver_signed() {
    let stack = Stack::start().await;
    let vhost = TestVhost::create().await;
    let shutdown = spawn_worker(stack.db.url(), vhost.url());

    let hook = stack.incident_hook().await;
    let (ops, client) = (&hook.ops, &hook.client);

    let token = stack.cc_token(client, None).await;
    let create = json!({
        "id": format!("sha256:{}", op(ops, "CreateIncident").sha256),
        "variables": { "input": { "title": "Gas leak", "severity": "CRITICAL", "location": "Plant 2" } }
    });
    let body: Value = stack.graphql(&token, client.tenant.as_str(), create).await;
    let incident = body["data"]["createIncident"]["id"].as_str().unwrap().to_owned();

    let Received { headers, body: payload } = hook.first_delivery().await;
    standardwebhooks::Webhook::new(&hook.secret).unwrap().verify(&payload, &headers).expect("signature verifies");
    let envelope: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(envelope["type"], "incident.created");
    assert_eq!(envelope["tenant_id"], client.tenant.as_str());
    assert_eq!(envelope["data"]["id"], incident.as_str());
    assert_eq!(envelope["data"]["title"], "Gas leak");
    assert_eq!(envelope["data"]["severity"], "critical");
    // The event's outbox row, keyed by the event id, was relayed.
    let event_id = headers["webhook-id"].to_str().unwrap();
    assert_eq!(event_id, envelope["id"].as_str().unwrap());
    // The relay deletes the row once the broker confirmed it (its commit
    // may come just after the worker received the message).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while stack.store.outbox_holds(event_id).await.unwrap() {
        assert!(std::time::Instant::now() < deadline, "the event's outbox row was never deleted");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    shutdown.cancel();
}
