//! The `Idempotency-Key` protocol (draft-ietf-httpapi-idempotency-key-header)
//! around one write, for any route that takes the header.
//!
//! A route reads the key ([`key_of`]), begins ([`begin`]) once it knows the
//! request's fingerprint, and then either answers what `begin` says (a
//! replay, a 409 while the first request is in flight, a 422 for another
//! request under the same key) or makes its write. A successful write keeps
//! its response in the write's own transaction ([`Claim::keep`]); a refusal
//! is kept when it is the request's fault and released when it is ours or a
//! limit of the moment ([`Claim::refused`]), so a retry runs again.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use argus_crypto::webhook::SecretBox;
use argus_store::Store;
use argus_store::idempotency::{Begin, IdempotencyKey, StoredResponse};
use argus_types::TenantId;

use crate::error::ApiError;

/// The response header that marks a replayed response.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// The `Idempotency-Key` header: a structured-field string (`"…"`) as the
/// draft has it, or the bare token many clients send; 1 to 255 printable
/// ASCII characters, sent once.
pub fn key_of(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let mut values = req.headers().get_all("idempotency-key");
    let Some(value) = values.next() else { return Ok(None) };
    let malformed = || {
        ApiError::Validation(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_LEN} printable ASCII characters, sent once"
        ))
    };
    if values.next().is_some() {
        return Err(malformed());
    }
    let raw = value.to_str().map_err(|_| malformed())?.trim();
    let key = match raw.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"').ok_or_else(malformed)?,
        None => raw,
    };
    let printable = key.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
    if key.is_empty() || key.len() > MAX_KEY_LEN || !printable {
        return Err(malformed());
    }
    Ok(Some(key.to_owned()))
}

/// What [`begin`] found.
pub enum Begun<'a> {
    /// The first request under this key: make the write.
    Proceed(Claim<'a>),
    /// Not to be written again: answer this.
    Answer(Result<HttpResponse, ApiError>),
}

/// A key this request holds until it keeps or releases it.
pub struct Claim<'a> {
    store: &'a Store,
    sealer: &'a SecretBox,
    tenant: &'a TenantId,
    key: IdempotencyKey,
}

/// Claims `key` for this request, or says what to answer instead.
pub async fn begin<'a>(
    store: &'a Store,
    sealer: &'a SecretBox,
    tenant: &'a TenantId,
    key: IdempotencyKey,
) -> Result<Begun<'a>, ApiError> {
    Ok(match store.idempotency_begin(tenant, &key).await? {
        Begin::Proceed => Begun::Proceed(Claim { store, sealer, tenant, key }),
        Begin::Mismatch => {
            Begun::Answer(Err(ApiError::Unprocessable("this Idempotency-Key was used with a different request".into())))
        }
        Begin::InFlight => Begun::Answer(Err(ApiError::Conflict(
            "a request with this Idempotency-Key is still being processed; retry later".into(),
        ))),
        Begin::Replay { status, location, body } => Begun::Answer(replay(sealer, status, location, &body)),
    })
}

impl Claim<'_> {
    /// The successful response to keep, sealed, for the write to commit in
    /// its own transaction.
    pub fn keep(&self, status: u16, location: Option<String>, body: &[u8]) -> StoredResponse {
        StoredResponse { key: self.key.clone(), status: i32::from(status), location, body: self.sealer.seal(body) }
    }

    /// Answers a refused write. The request's own fault (a 4xx other than
    /// 429) is kept and replayed to a retry; ours, or a limit of the moment,
    /// releases the key so that a retry runs again.
    pub async fn refused(self, error: ApiError) -> Result<HttpResponse, ApiError> {
        let status = error.status_code();
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            self.store.idempotency_release(self.tenant, &self.key).await?;
            return Err(error);
        }
        let body = error.problem_json();
        let stored = StoredResponse {
            key: self.key,
            status: i32::from(status.as_u16()),
            location: None,
            body: self.sealer.seal(&body),
        };
        self.store.idempotency_complete(self.tenant, &stored).await?;
        Ok(HttpResponse::build(status)
            .content_type("application/problem+json")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body))
    }
}

/// The kept first response, marked as replayed.
fn replay(sealer: &SecretBox, status: i32, location: Option<String>, sealed: &[u8]) -> Result<HttpResponse, ApiError> {
    let body = sealer.open(sealed).map_err(|e| ApiError::Store(e.into()))?;
    let status = u16::try_from(status).ok().and_then(|s| StatusCode::from_u16(s).ok()).unwrap_or(StatusCode::OK);
    let content_type = if status.is_success() { "application/json" } else { "application/problem+json" };
    let mut response = HttpResponse::build(status);
    response
        .insert_header((REPLAYED_HEADER, "true"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type(content_type);
    if let Some(l) = location {
        response.insert_header((header::LOCATION, l));
    }
    Ok(response.body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(value: &str) -> Result<Option<String>, ApiError> {
        let req = actix_web::test::TestRequest::default().insert_header(("Idempotency-Key", value)).to_http_request();
        key_of(&req)
    }

    #[test]
    fn idempotency_keys_are_strings_or_tokens() {
        assert_eq!(key("abc-123").unwrap().as_deref(), Some("abc-123"));
        assert_eq!(key("\"8e03978e-40d5\"").unwrap().as_deref(), Some("8e03978e-40d5"));
        assert!(key("").is_err());
        assert!(key("\"unterminated").is_err());
        assert!(key(&"k".repeat(256)).is_err());
        let none = actix_web::test::TestRequest::default().to_http_request();
        assert!(key_of(&none).unwrap().is_none());
    }
}
