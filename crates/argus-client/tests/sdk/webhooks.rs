//! Webhooks and their deliveries through the SDK, against the stack with a
//! delivery worker, and the webhook verifier against its real deliveries.

use std::time::Duration;

use argus_bus::testing::TestVhost;
use argus_client::{DeliveryFilter, DeliveryStatus, Error, Event, NewWebhook, WebhookUpdate, WebhookVerifier};
use argus_http::testing::{Received, Receiver};
use futures_util::TryStreamExt;

use crate::stack::{Stack, spawn_worker};

/// `received`'s Standard Webhooks headers and body through `verifier`.
fn verify(verifier: &WebhookVerifier, received: &Received) -> argus_client::Result<argus_client::Delivery> {
    verifier.verify(|name| received.headers.get(name).and_then(|v| v.to_str().ok()), &received.body)
}

#[tokio::test]
async fn webhooks_are_managed_paged_tested_resent_and_their_deliveries_verify() {
    let stack = Stack::start().await;
    let vhost = TestVhost::create().await;
    let shutdown = spawn_worker(stack.db.url(), vhost.url());
    let tenant = stack.store.create_tenant("t").await.unwrap().id;
    let admin = crate::admin_client(&stack, &tenant).await;
    let receiver = Receiver::start(Vec::new(), Duration::ZERO).await;

    let types = admin.webhook_event_types().await.unwrap();
    assert!(types.iter().any(|t| t.name == "incident.created"), "{types:?}");

    let mut created = Vec::new();
    for n in 0..5 {
        let hook = NewWebhook {
            url: format!("{}/{n}", receiver.url),
            events: vec!["incident.created".into()],
            description: Some(format!("hook {n}")),
            ..NewWebhook::default()
        };
        created.push(admin.create_webhook(&hook).await.unwrap());
    }
    assert!(created.iter().all(|h| h.secret.as_deref().is_some_and(|s| s.starts_with("whsec_"))));
    // Pages of two: three requests, five webhooks, each once.
    let listed: Vec<_> = admin.list_webhooks_paged(Some(2)).try_collect().await.unwrap();
    let mut ids: Vec<_> = listed.iter().map(|h| h.id.clone()).collect();
    ids.sort();
    let mut expected: Vec<_> = created.iter().map(|h| h.id.clone()).collect();
    expected.sort();
    assert_eq!(ids, expected);
    assert!(listed.iter().all(|h| h.secret.is_none()), "secrets are shown once");

    let hook = &created[0];
    let secret = hook.secret.clone().unwrap();
    let update = WebhookUpdate {
        events: Some(vec!["incident.created".into(), "incident.updated".into()]),
        ..Default::default()
    };
    let updated = admin.update_webhook(&hook.id, &update).await.unwrap();
    assert_eq!(updated.events, ["incident.created", "incident.updated"]);
    assert_eq!(admin.webhook(&hook.id).await.unwrap().events, updated.events);

    // A test delivery arrives signed; the verifier accepts it.
    let queued = admin.test_webhook(&hook.id).await.unwrap();
    assert_eq!(queued.status, DeliveryStatus::Queued);
    let got = receiver.wait_for(1, Duration::from_secs(20)).await;
    let delivery = verify(&WebhookVerifier::new(&secret).unwrap(), &got[0]).unwrap();
    let event: Event = delivery.json().unwrap();
    assert_eq!((event.event_type.as_str(), event.tenant_id.as_str()), ("webhook.test", tenant.as_str()));
    assert_eq!(event.id, delivery.id);
    // Tampered with, or checked with another webhook's secret: refused.
    let mut tampered = got[0].clone();
    tampered.body.push(b' ');
    assert!(matches!(verify(&WebhookVerifier::new(&secret).unwrap(), &tampered), Err(Error::Webhook(_))));
    let other = WebhookVerifier::new(created[1].secret.as_deref().unwrap()).unwrap();
    assert!(verify(&other, &got[0]).is_err());

    // The secret rotated: deliveries carry both signatures for a while, so
    // a receiver holding either secret verifies them.
    let new_secret = "whsec_c2VjcmV0LW9mLWEtcm90YXRlZC1lbmRwb2ludDAx";
    admin
        .update_webhook(&hook.id, &WebhookUpdate { secret: Some(new_secret.into()), ..Default::default() })
        .await
        .unwrap();
    admin.test_webhook(&hook.id).await.unwrap();
    let got = receiver.wait_for(2, Duration::from_secs(20)).await;
    let rotated = &got[1];
    assert_eq!(rotated.header("webhook-signature").split(' ').count(), 2, "{}", rotated.header("webhook-signature"));
    assert!(verify(&WebhookVerifier::new(&secret).unwrap(), rotated).is_ok());
    assert!(verify(&WebhookVerifier::new(new_secret).unwrap(), rotated).is_ok());

    // Deliveries, filtered and paged; then one resent with its event id.
    // Succeeded is recorded once the receiver's answer is in: wait for both.
    let succeeded =
        DeliveryFilter { status: Some(DeliveryStatus::Succeeded), page_size: Some(1), ..Default::default() };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let deliveries = loop {
        let listed: Vec<_> = admin.list_deliveries(&hook.id, &succeeded).try_collect().await.unwrap();
        if listed.len() >= 2 || std::time::Instant::now() > deadline {
            break listed;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(deliveries.len(), 2, "{deliveries:?}");
    assert!(deliveries.iter().all(|d| d.status == DeliveryStatus::Succeeded && d.response_status == Some(200)));
    let none = DeliveryFilter { event_type: Some("incident.created".into()), ..Default::default() };
    assert!(admin.list_deliveries(&hook.id, &none).try_collect::<Vec<_>>().await.unwrap().is_empty());

    let first = deliveries.iter().find(|d| d.event_id == delivery.id).unwrap();
    admin.resend_delivery(&hook.id, &first.id).await.unwrap();
    let got = receiver.wait_for(3, Duration::from_secs(20)).await;
    assert_eq!(got[2].header("webhook-id"), delivery.id, "a resend carries the same webhook-id");

    // Bad input is a problem+json error; a deleted webhook is gone.
    let bad = NewWebhook { url: receiver.url.clone(), events: vec!["no.such.event".into()], ..Default::default() };
    let error = admin.create_webhook(&bad).await.unwrap_err();
    assert_eq!(error.status(), Some(400), "{error}");
    assert!(error.problem().and_then(|p| p.detail.as_deref()).is_some_and(|d| d.contains("no.such.event")), "{error}");
    admin.delete_webhook(&hook.id).await.unwrap();
    let error = admin.webhook(&hook.id).await.unwrap_err();
    assert_eq!(error.status(), Some(404));
    assert!(error.problem().and_then(|p| p.type_uri.as_deref()).is_some_and(|t| t.ends_with("/not-found")), "{error}");
    shutdown.cancel();
}
