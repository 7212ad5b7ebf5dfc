//! A webhook receiver: an actix-web route whose handler only runs for
//! deliveries whose Standard Webhooks signature verifies (the
//! `VerifiedWebhook` extractor, feature `actix-web`); anything else is
//! answered 401. Deduplicates on `webhook-id`, as deliveries may repeat.
//!
//! ```sh
//! ARGUS_WEBHOOK_SECRET=whsec_… cargo run -p argus-client --example webhook_receiver --features actix-web
//! ```
//!
//! Listens on `RECEIVER_ADDR` (default `127.0.0.1:9000`); during a secret
//! rotation set `ARGUS_WEBHOOK_SECRET_PREVIOUS` too.

#![allow(clippy::print_stdout)]

use std::collections::HashSet;
use std::sync::Mutex;

use actix_web::{App, HttpResponse, HttpServer, post, web};
use argus_client::{Event, VerifiedWebhook, WebhookVerifier};

/// The event ids already handled (a real receiver keeps them in its database).
struct Seen(Mutex<HashSet<String>>);

#[post("/webhooks/argus")]
async fn receive(VerifiedWebhook(delivery): VerifiedWebhook, seen: web::Data<Seen>) -> HttpResponse {
    let Ok(event) = delivery.json::<Event>() else { return HttpResponse::BadRequest().body("not an event") };
    let first_time = seen.0.lock().map(|mut ids| ids.insert(delivery.id.clone())).unwrap_or(true);
    if first_time {
        println!("{} {} for tenant {}: {}", event.id, event.event_type, event.tenant_id, event.data);
    }
    // 2xx either way: a repeat was handled before.
    HttpResponse::NoContent().finish()
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let secret =
        std::env::var("ARGUS_WEBHOOK_SECRET").map_err(|_| std::io::Error::other("set ARGUS_WEBHOOK_SECRET"))?;
    let previous = std::env::var("ARGUS_WEBHOOK_SECRET_PREVIOUS").ok();
    let secrets = std::iter::once(secret.as_str()).chain(previous.as_deref());
    let verifier = web::Data::new(WebhookVerifier::with_secrets(secrets).map_err(std::io::Error::other)?);
    let seen = web::Data::new(Seen(Mutex::new(HashSet::new())));
    let addr = std::env::var("RECEIVER_ADDR").unwrap_or_else(|_| "127.0.0.1:9000".into());
    println!("receiving on http://{addr}/webhooks/argus");
    HttpServer::new(move || App::new().app_data(verifier.clone()).app_data(seen.clone()).service(receive))
        .bind(addr)?
        .run()
        .await
}
