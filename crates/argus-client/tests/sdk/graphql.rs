//! GraphQL persisted operations through the SDK, typed both ways, and the
//! event a mutation announces arriving at a receiver, verified.

use std::time::Duration;

use argus_bus::testing::TestVhost;
use argus_client::{Error, Event, Operation, WebhookVerifier};
use serde::{Deserialize, Serialize};

use crate::stack::{Stack, op, spawn_worker};

#[derive(Serialize)]
struct CreateVariables<'a> {
    input: NewIncident<'a>,
}

#[derive(Serialize)]
struct NewIncident<'a> {
    title: &'a str,
    severity: &'a str,
    location: &'a str,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Created {
    create_incident: Incident,
}

#[derive(Debug, Deserialize)]
struct Read {
    incident: Incident,
}

#[derive(Debug, Deserialize, PartialEq)]
struct Incident {
    id: String,
    title: String,
    severity: String,
}

#[tokio::test]
async fn persisted_operations_run_by_id_and_by_text_and_their_events_verify() {
    let stack = Stack::start().await;
    let vhost = TestVhost::create().await;
    let shutdown = spawn_worker(stack.db.url(), vhost.url());
    let hook = stack.incident_hook().await;
    let sdk = crate::app_client(&stack, &hook.client);

    let variables =
        CreateVariables { input: NewIncident { title: "Gas leak", severity: "CRITICAL", location: "Plant 2" } };
    let id = format!("sha256:{}", op(&hook.ops, "CreateIncident").sha256);
    let created: Created = sdk.graphql(Operation::Id(&id), None, &variables).await.unwrap();
    assert_eq!(
        (created.create_incident.title.as_str(), created.create_incident.severity.as_str()),
        ("Gas leak", "CRITICAL")
    );

    let read: Read = sdk
        .graphql(
            Operation::Document(&op(&hook.ops, "IncidentById").document),
            Some("IncidentById"),
            &serde_json::json!({ "id": created.create_incident.id }),
        )
        .await
        .unwrap();
    assert_eq!(read.incident, created.create_incident);

    // The mutation's event, delivered and verified with the webhook's secret.
    let delivery = hook.first_delivery().await;
    let header = |name: &str| delivery.headers.get(name).and_then(|v| v.to_str().ok());
    let verified = WebhookVerifier::new(&hook.secret).unwrap().verify(header, &delivery.body).unwrap();
    let event: Event = verified.json().unwrap();
    assert_eq!(event.event_type, "incident.created");
    assert_eq!(event.data["id"], created.create_incident.id.as_str());

    // Errors carry their codes.
    let unknown = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    let error = sdk.graphql::<_, serde_json::Value>(Operation::Id(unknown), None, &variables).await.unwrap_err();
    let Error::GraphQl { errors, .. } = &error else { panic!("{error}") };
    assert_eq!(errors[0].code(), Some("PERSISTED_QUERY_NOT_APPROVED"), "{error}");
    let other_tenant = sdk.with_tenant(stack.store.create_tenant("other").await.unwrap().id.as_str());
    let error = other_tenant.graphql::<_, Created>(Operation::Id(&id), None, &variables).await.unwrap_err();
    assert!(matches!(&error, Error::GraphQl { errors, .. } if errors[0].code() == Some("FORBIDDEN")), "{error}");
    assert_eq!(hook.receiver.wait_for(2, Duration::from_millis(500)).await.len(), 1, "nothing else was created");
    shutdown.cancel();
}
