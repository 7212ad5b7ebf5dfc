//! Idempotency-Key (IETF httpapi draft, with Stripe's semantics): the
//! first response to a key of an app in a tenant is kept for a day and
//! replayed for the same request; the same key with another request is
//! refused, and so is a second request while the first is in flight.

use argus_types::TenantId;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::schema::idempotency_keys;
use crate::{Store, StoreError};

/// How long a first response is kept.
pub const KEY_TTL_HOURS: i64 = 24;
/// A request in flight this long is taken to have died with its process:
/// a retry takes its key over.
pub const ABANDONED_AFTER_SECONDS: i64 = 60;

/// A key, scoped to the app (`client_id`) that sent it.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    /// The token's `client_id`: an app's id, or `argusctl` for an admin
    /// token, so text rather than a [`argus_types::ClientId`].
    pub client_id: String,
    pub key: String,
    /// SHA-256 hex of what makes the request the same request.
    pub fingerprint: String,
}

/// A response kept for a key.
#[derive(Debug, Clone)]
pub struct StoredResponse {
    pub key: IdempotencyKey,
    pub status: i32,
    pub location: Option<String>,
    pub body: Vec<u8>,
}

/// What the first look at a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// New (or expired, or abandoned): this request owns the key now.
    Proceed,
    /// The first request with this key is still being handled.
    InFlight,
    /// The key was used with another request.
    Mismatch,
    /// The first response, to replay.
    Replay { status: i32, location: Option<String>, body: Vec<u8> },
}

/// The SHA-256 hex of `parts`, each length-prefixed so no two splits of
/// the same bytes collide.
pub fn fingerprint(parts: &[&[u8]]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in parts {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part);
    }
    ctx.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The fingerprint of a request whose body streams in (and is never held
/// whole): the body's own SHA-256 stands for it, after `request`.
pub struct BodyFingerprint(ring::digest::Context);

impl BodyFingerprint {
    pub fn new() -> Self {
        Self(ring::digest::Context::new(&ring::digest::SHA256))
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self, request: &[u8]) -> String {
        fingerprint(&[request, self.0.finish().as_ref()])
    }
}

impl Default for BodyFingerprint {
    fn default() -> Self {
        Self::new()
    }
}

/// Stores `response` as the key's first response (in the caller's
/// transaction, so it commits with the change it describes).
pub async fn store_response(
    conn: &mut AsyncPgConnection,
    tenant: &TenantId,
    response: &StoredResponse,
) -> Result<(), StoreError> {
    diesel::update(idempotency_keys::table)
        .filter(idempotency_keys::tenant_id.eq(tenant.as_str()))
        .filter(idempotency_keys::client_id.eq(&response.key.client_id))
        .filter(idempotency_keys::key.eq(&response.key.key))
        .set((
            idempotency_keys::status.eq(response.status),
            idempotency_keys::location.eq(response.location.as_deref()),
            idempotency_keys::body.eq(response.body.as_slice()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

type KeyRow = (String, Option<i32>, Option<String>, Option<Vec<u8>>, DateTime<Utc>, DateTime<Utc>);

impl Store {
    /// Looks a key up and, when it is free, takes it for this request.
    pub async fn idempotency_begin(&self, tenant: &TenantId, key: &IdempotencyKey) -> Result<Begin, StoreError> {
        self.transaction(async |conn| {
            let now = Utc::now();
            let existing: Option<KeyRow> = idempotency_keys::table
                .filter(idempotency_keys::tenant_id.eq(tenant.as_str()))
                .filter(idempotency_keys::client_id.eq(&key.client_id))
                .filter(idempotency_keys::key.eq(&key.key))
                .select((
                    idempotency_keys::fingerprint,
                    idempotency_keys::status,
                    idempotency_keys::location,
                    idempotency_keys::body,
                    idempotency_keys::created_at,
                    idempotency_keys::expires_at,
                ))
                .for_update()
                .first(conn)
                .await
                .optional()?;
            if let Some((fingerprint, status, location, body, created_at, expires_at)) = existing {
                let abandoned = status.is_none() && created_at < now - Duration::seconds(ABANDONED_AFTER_SECONDS);
                if expires_at > now && !abandoned {
                    if fingerprint != key.fingerprint {
                        return Ok(Begin::Mismatch);
                    }
                    return Ok(match status {
                        None => Begin::InFlight,
                        Some(status) => Begin::Replay { status, location, body: body.unwrap_or_default() },
                    });
                }
                if abandoned && fingerprint != key.fingerprint {
                    return Ok(Begin::Mismatch);
                }
                diesel::delete(idempotency_keys::table)
                    .filter(idempotency_keys::tenant_id.eq(tenant.as_str()))
                    .filter(idempotency_keys::client_id.eq(&key.client_id))
                    .filter(idempotency_keys::key.eq(&key.key))
                    .execute(conn)
                    .await?;
            }
            // Two first requests race here: the primary key lets one in.
            let inserted = diesel::insert_into(idempotency_keys::table)
                .values((
                    idempotency_keys::tenant_id.eq(tenant.as_str()),
                    idempotency_keys::client_id.eq(&key.client_id),
                    idempotency_keys::key.eq(&key.key),
                    idempotency_keys::fingerprint.eq(&key.fingerprint),
                    idempotency_keys::created_at.eq(now),
                    idempotency_keys::expires_at.eq(now + Duration::hours(KEY_TTL_HOURS)),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            Ok(if inserted == 1 { Begin::Proceed } else { Begin::InFlight })
        })
        .await
    }

    /// Keeps `response` as the first response to its key.
    pub async fn idempotency_complete(&self, tenant: &TenantId, response: &StoredResponse) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        store_response(&mut conn, tenant, response).await
    }

    /// Frees a key whose request failed on our side (a 5xx), so a retry
    /// runs again rather than replaying the failure.
    pub async fn idempotency_release(&self, tenant: &TenantId, key: &IdempotencyKey) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::delete(idempotency_keys::table)
            .filter(idempotency_keys::tenant_id.eq(tenant.as_str()))
            .filter(idempotency_keys::client_id.eq(&key.client_id))
            .filter(idempotency_keys::key.eq(&key.key))
            .filter(idempotency_keys::status.is_null())
            .execute(&mut conn)
            .await?;
        Ok(())
    }

    /// Deletes expired keys; returns how many.
    pub async fn purge_idempotency_keys(&self) -> Result<usize, StoreError> {
        let mut conn = self.conn().await?;
        Ok(diesel::delete(idempotency_keys::table.filter(idempotency_keys::expires_at.lt(Utc::now())))
            .execute(&mut conn)
            .await?)
    }
}
