//! The sandbox's mock connectors (issue 23): under `ARGUS_ENV=sandbox` no
//! request leaves the worker. Each one it would have sent (a webhook
//! delivery, a job callback), signed exactly as live signs it, is kept in
//! the sandbox's database (`GET /v1/sandbox/outbox` reads it back) and
//! answered by the connector as the tenant's scenario scripts it (200
//! without a script), so the retry schedule runs against those answers.

use std::time::Instant;

use argus_store::Store;
use argus_store::sandbox_outbox::{Connector, MockRequest};
use argus_types::TenantId;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT};

use crate::metrics::Delivered;
use crate::sender::{SendOutcome, Sender};

/// Where the worker's requests go: the network (live), or the mock
/// connectors (the sandbox).
pub enum Outbound {
    Network(Sender),
    Mock(MockConnectors),
}

impl Outbound {
    /// Sends (or, in the sandbox, hands the connector) one signed request.
    pub async fn send(
        &self,
        tenant: &TenantId,
        what: Delivered,
        url: &str,
        headers: HeaderMap,
        body: Vec<u8>,
    ) -> SendOutcome {
        match self {
            Self::Network(sender) => sender.send(url, headers, body).await,
            Self::Mock(connectors) => connectors.answer(tenant, what, url, headers, &body).await,
        }
    }
}

pub struct MockConnectors {
    pub store: Store,
}

impl MockConnectors {
    async fn answer(
        &self,
        tenant: &TenantId,
        what: Delivered,
        url: &str,
        mut headers: HeaderMap,
        body: &[u8],
    ) -> SendOutcome {
        let started = Instant::now();
        // The headers the network sender adds, so what is kept is what a
        // receiver would have got.
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(USER_AGENT, HeaderValue::from_static(crate::sender::USER_AGENT_VALUE));
        let kept: serde_json::Map<String, serde_json::Value> = headers
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into()))
            .collect();
        let message_id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let body = String::from_utf8_lossy(body);
        let request = MockRequest {
            connector: match what {
                Delivered::Webhook => Connector::Webhook,
                Delivered::JobCallback => Connector::JobCallback,
            },
            message_id: &message_id,
            url,
            headers: kept.into(),
            body: &body,
        };
        match self.store.answer_mock_request(tenant, request).await {
            Ok(status) => SendOutcome {
                status: Some(status),
                duration: started.elapsed(),
                error: (!(200..300).contains(&status))
                    .then(|| format!("the sandbox's mock receiver answered {status}")),
                body_excerpt: Some(String::new()),
                retry_after: None,
            },
            // Not sent anywhere: retried like a receiver that was down.
            Err(e) => SendOutcome {
                status: None,
                duration: started.elapsed(),
                error: Some(format!("the sandbox's mock connector could not keep the request: {e}")),
                body_excerpt: None,
                retry_after: None,
            },
        }
    }
}
