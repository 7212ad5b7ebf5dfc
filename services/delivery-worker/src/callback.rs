//! A finished job's callback: the envelope of its terminal event POSTed to
//! the job's `callback_url`, signed like a webhook delivery (Standard
//! Webhooks headers, `webhook-id` = the event id, the job's own secret).
//! It travels on the deliveries queue and goes out like a delivery: through
//! the same SSRF-guarded sender, under the same caps (per callback URL, per
//! tenant, per worker), retried on the webhook schedule through the
//! deliveries queue's delay queues; never inside a job-run slot.

use argus_bus::{Incoming, Outcome, proto};
use argus_domain::CallbackStatus;
use argus_types::{JobId, TenantId};
use chrono::Utc;

use crate::deliver::{DEFER_MS, Deliverer, STORE_RETRY_MS, Step, next_step, open_signing_key, signature_headers};
use crate::metrics::Delivered;

impl Deliverer {
    pub(crate) async fn callback(&self, message: Incoming) -> Outcome {
        let (_, tenant, job): (proto::JobCallbackTask, TenantId, JobId) = match crate::task::decode(&message) {
            Ok(decoded) => decoded,
            Err(o) => return o,
        };
        let ctx = match self.store.callback_context(&tenant, &job).await {
            Ok(Some(ctx)) => ctx,
            Ok(None) => return Outcome::Ack,
            Err(e) => {
                tracing::warn!(error = %e, job_id = %job, "loading a callback failed; retrying");
                return Outcome::Retry { delay_ms: STORE_RETRY_MS };
            }
        };
        if ctx.status != Some(CallbackStatus::Pending) {
            // A duplicate of a callback already settled.
            return Outcome::Ack;
        }
        let Some(mut slot) = self.caps.claim(tenant.as_str(), &ctx.url).await else {
            crate::metrics::deferred();
            return Outcome::Retry { delay_ms: DEFER_MS };
        };
        let key = match open_signing_key(&self.sealer, &ctx.secret_sealed) {
            Ok(k) => k,
            Err(e) => return Outcome::DeadLetter { reason: format!("callback secret: {e}") },
        };
        let body = match serde_json::to_vec(&ctx.envelope) {
            Ok(b) => b,
            Err(e) => return Outcome::DeadLetter { reason: format!("callback body: {e}") },
        };
        let attempted_at = Utc::now();
        let headers = signature_headers(ctx.event_id.as_str(), attempted_at.timestamp(), &body, &[key]);
        let sent = self.send(&mut slot, &tenant, Delivered::JobCallback, &ctx.url, headers, body).await;
        drop(slot);
        let attempt = ctx.attempts + 1;
        let Step { state, outcome, .. } = next_step(&self.schedule, attempt, &sent, attempted_at);
        crate::metrics::attempted(Delivered::JobCallback, state, false);
        let state = CallbackStatus::after_attempt(state);
        if let Err(e) = self.store.record_callback_attempt(&tenant, &job, attempt, state, sent.error).await {
            tracing::warn!(error = %e, job_id = %job, "recording a callback attempt failed; retrying");
            return Outcome::Retry { delay_ms: STORE_RETRY_MS };
        }
        tracing::info!(job_id = %job, attempt, status = ?sent.status, result = %state, "job callback attempted");
        outcome
    }
}
