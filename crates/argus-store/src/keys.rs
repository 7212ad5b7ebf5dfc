//! RS256 signing keys and their rotation, in two key sets (one per
//! [`Environment`]: live tokens and sandbox tokens are signed by different
//! keys, each set rotated on its own). In each set there is at any time one `current`
//! key (it signs) and one `next` key (published, not yet signing); rotation
//! retires current, promotes next and creates a new next, so verifiers that
//! cached the JWKS already hold the key that starts signing. A retired key
//! stays published until every token it signed has expired.
//!
//! Private keys are stored sealed ([`KeySealer`]): `private_key_sealed`
//! with the `sealing_key_id` that sealed it. A key still in plaintext
//! (`private_key_pem`, from before migration 2026-12-05-001300) is read as
//! it is and sealed by the next [`Store::ensure_signing_keys`], which
//! `argusctl migrate` and every auth-service start run; so does a key sealed
//! under a sealing key that is no longer the first listed.

use argus_crypto::KeySealer;
use argus_types::{Environment, KeyId};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::schema::signing_keys;
use crate::stored_text::Stored;
use crate::{Store, StoreError};

const KEYS_LOCK_KEY: i64 = 0x4172_6775_734b_6579; // "ArgusKey"

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Next,
    Current,
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Current => "current",
            Self::Retired => "retired",
        }
    }
}

impl std::str::FromStr for KeyState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "next" => Ok(Self::Next),
            "current" => Ok(Self::Current),
            "retired" => Ok(Self::Retired),
            other => Err(format!("no signing key state `{other}`")),
        }
    }
}

/// A live key with its private half opened, for signing and publishing.
#[derive(Clone)]
pub struct SigningKeyRecord {
    pub kid: KeyId,
    pub state: KeyState,
    pub private_key_pem: String,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
    pub retired_at: Option<DateTime<Utc>>,
    pub publish_until: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord").field("kid", &self.kid).field("state", &self.state).finish_non_exhaustive()
    }
}

/// What operators see of a key: never its private half.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = signing_keys, check_for_backend(diesel::pg::Pg))]
pub struct SigningKeyInfo {
    #[diesel(deserialize_as = Stored<KeyId>)]
    pub kid: KeyId,
    /// The environment whose tokens it signs.
    #[diesel(deserialize_as = Stored<Environment>)]
    pub key_set: Environment,
    #[diesel(deserialize_as = Stored<KeyState>)]
    pub state: KeyState,
    /// The sealing key it is sealed with; `None` while still in plaintext.
    pub sealing_key_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
    pub retired_at: Option<DateTime<Utc>>,
    pub publish_until: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = signing_keys, check_for_backend(diesel::pg::Pg))]
struct KeyRow {
    #[diesel(deserialize_as = Stored<KeyId>)]
    kid: KeyId,
    #[diesel(deserialize_as = Stored<KeyState>)]
    state: KeyState,
    private_key_pem: Option<String>,
    private_key_sealed: Option<Vec<u8>>,
    sealing_key_id: Option<String>,
    created_at: DateTime<Utc>,
    activated_at: Option<DateTime<Utc>>,
    retired_at: Option<DateTime<Utc>>,
    publish_until: Option<DateTime<Utc>>,
}

impl KeyRow {
    /// The private key as PKCS#8 PEM: opened if sealed, as stored if not
    /// sealed yet.
    fn private_key_pem(&self, sealer: &KeySealer) -> Result<String, StoreError> {
        match (&self.private_key_sealed, &self.sealing_key_id, &self.private_key_pem) {
            (Some(sealed), Some(key_id), _) => String::from_utf8(sealer.open(key_id, self.kid.as_str(), sealed)?)
                .map_err(|_| StoreError::Corrupt(format!("signing key {} is not PEM text", self.kid))),
            (None, None, Some(pem)) => Ok(pem.clone()),
            _ => Err(StoreError::Corrupt(format!("signing key {} has no private key", self.kid))),
        }
    }

    fn open(self, sealer: &KeySealer) -> Result<SigningKeyRecord, StoreError> {
        Ok(SigningKeyRecord {
            private_key_pem: self.private_key_pem(sealer)?,
            state: self.state,
            kid: self.kid,
            created_at: self.created_at,
            activated_at: self.activated_at,
            retired_at: self.retired_at,
            publish_until: self.publish_until,
        })
    }
}

/// What a rotation did.
#[derive(Debug, Clone)]
pub struct Rotation {
    pub retired: Option<KeyId>,
    pub current: KeyId,
    pub next: KeyId,
}

async fn generate_pems() -> Result<(String, String), StoreError> {
    // RSA key generation takes tens of milliseconds of CPU each: keep it off
    // the async workers.
    tokio::task::spawn_blocking(|| {
        Ok::<_, StoreError>((argus_crypto::generate_signing_key_pem()?, argus_crypto::generate_signing_key_pem()?))
    })
    .await
    .map_err(|e| StoreError::Corrupt(format!("key generation task: {e}")))?
}

async fn insert_key(
    conn: &mut AsyncPgConnection,
    sealer: &KeySealer,
    set: Environment,
    state: KeyState,
    pem: &str,
    activated: bool,
) -> Result<KeyId, StoreError> {
    let kid = KeyId::generate();
    diesel::insert_into(signing_keys::table)
        .values((
            signing_keys::kid.eq(kid.as_str()),
            signing_keys::key_set.eq(set.as_str()),
            signing_keys::state.eq(state.as_str()),
            signing_keys::private_key_sealed.eq(sealer.seal(kid.as_str(), pem.as_bytes())),
            signing_keys::sealing_key_id.eq(sealer.sealing_key_id()),
            signing_keys::activated_at.eq(activated.then(Utc::now)),
        ))
        .execute(conn)
        .await?;
    Ok(kid)
}

/// Seals every key not yet sealed under the first sealing key (plaintext
/// ones, and ones sealed under an older sealing key). Under the keys lock.
async fn seal_stale_keys(conn: &mut AsyncPgConnection, sealer: &KeySealer) -> Result<usize, StoreError> {
    let stale: Vec<KeyRow> = signing_keys::table
        .filter(signing_keys::sealing_key_id.is_distinct_from(sealer.sealing_key_id()))
        .select(KeyRow::as_select())
        .load(conn)
        .await?;
    for row in &stale {
        let pem = row.private_key_pem(sealer)?;
        diesel::update(signing_keys::table.find(row.kid.as_str()))
            .set((
                signing_keys::private_key_sealed.eq(sealer.seal(row.kid.as_str(), pem.as_bytes())),
                signing_keys::sealing_key_id.eq(sealer.sealing_key_id()),
                signing_keys::private_key_pem.eq(None::<String>),
            ))
            .execute(conn)
            .await?;
    }
    Ok(stale.len())
}

async fn key_in_state(
    conn: &mut AsyncPgConnection,
    set: Environment,
    state: KeyState,
) -> Result<Option<KeyId>, StoreError> {
    let kid: Option<Stored<KeyId>> = signing_keys::table
        .filter(signing_keys::key_set.eq(set.as_str()))
        .filter(signing_keys::state.eq(state.as_str()))
        .select(signing_keys::kid)
        .first(conn)
        .await
        .optional()?;
    Ok(kid.map(Stored::into_inner))
}

async fn lock_keys(conn: &mut AsyncPgConnection) -> Result<(), StoreError> {
    diesel::sql_query(format!("SELECT pg_advisory_xact_lock({KEYS_LOCK_KEY})")).execute(conn).await?;
    Ok(())
}

impl Store {
    /// Creates the first current and next keys of each key set that has no
    /// current key, and seals every key not sealed under `sealer`'s first
    /// key. Safe to call from every replica at start.
    pub async fn ensure_signing_keys(&self, sealer: &KeySealer) -> Result<(), StoreError> {
        for set in Environment::ALL {
            self.ensure_key_set(sealer, set).await?;
        }
        Ok(())
    }

    async fn ensure_key_set(&self, sealer: &KeySealer, set: Environment) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let stale = signing_keys::table
            .filter(signing_keys::sealing_key_id.is_distinct_from(sealer.sealing_key_id()))
            .select(signing_keys::kid)
            .first::<String>(&mut conn)
            .await
            .optional()?;
        let has_current = key_in_state(&mut conn, set, KeyState::Current).await?.is_some();
        if stale.is_none() && has_current {
            return Ok(());
        }
        let fresh = if has_current { None } else { Some(generate_pems().await?) };
        conn.transaction::<(), StoreError, _>(async |conn| {
            lock_keys(conn).await?;
            let sealed = seal_stale_keys(conn, sealer).await?;
            if sealed > 0 {
                tracing::info!(sealed, sealing_key_id = sealer.sealing_key_id(), "signing keys sealed");
            }
            if let Some((current_pem, next_pem)) = &fresh {
                if key_in_state(conn, set, KeyState::Current).await?.is_none() {
                    insert_key(conn, sealer, set, KeyState::Current, current_pem, true).await?;
                }
                if key_in_state(conn, set, KeyState::Next).await?.is_none() {
                    insert_key(conn, sealer, set, KeyState::Next, next_pem, false).await?;
                }
            }
            Ok(())
        })
        .await
    }

    /// Retires the current key of `set` (published for
    /// `publish_retired_for` more), promotes its next to current and creates
    /// a new next; the other set is untouched.
    pub async fn rotate_signing_keys(
        &self,
        sealer: &KeySealer,
        set: Environment,
        publish_retired_for: Duration,
    ) -> Result<Rotation, StoreError> {
        let (spare_pem, next_pem) = generate_pems().await?;
        self.transaction(async |conn| {
            lock_keys(conn).await?;
            let now = Utc::now();
            let retired = key_in_state(conn, set, KeyState::Current).await?;
            if let Some(kid) = &retired {
                diesel::update(signing_keys::table.find(kid.as_str()))
                    .set((
                        signing_keys::state.eq(KeyState::Retired.as_str()),
                        signing_keys::retired_at.eq(now),
                        signing_keys::publish_until.eq(now + publish_retired_for),
                    ))
                    .execute(conn)
                    .await?;
            }
            let current = match key_in_state(conn, set, KeyState::Next).await? {
                Some(kid) => {
                    diesel::update(signing_keys::table.find(kid.as_str()))
                        .set((signing_keys::state.eq(KeyState::Current.as_str()), signing_keys::activated_at.eq(now)))
                        .execute(conn)
                        .await?;
                    kid
                }
                None => insert_key(conn, sealer, set, KeyState::Current, &spare_pem, true).await?,
            };
            let next = insert_key(conn, sealer, set, KeyState::Next, &next_pem, false).await?;
            Ok(Rotation { retired, current, next })
        })
        .await
    }

    /// The key of `set` that signs new tokens, parsed; `None` before the
    /// first `ensure_signing_keys`.
    pub async fn current_signing_key(
        &self,
        sealer: &KeySealer,
        set: Environment,
    ) -> Result<Option<argus_crypto::SigningKey>, StoreError> {
        let current = self.live_signing_keys(sealer, set).await?.into_iter().find(|k| k.state == KeyState::Current);
        current
            .map(|k| {
                argus_crypto::SigningKey::from_pkcs8_pem(k.kid.as_str(), &k.private_key_pem).map_err(StoreError::from)
            })
            .transpose()
    }

    /// Every key, newest first, for operators: the private halves are not
    /// even read.
    pub async fn list_signing_keys(&self) -> Result<Vec<SigningKeyInfo>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(signing_keys::table
            .order(signing_keys::created_at.desc())
            .select(SigningKeyInfo::as_select())
            .load(&mut conn)
            .await?)
    }

    /// The keys of `set` to publish and accept: next, current, and retired
    /// keys whose tokens can still be live.
    pub async fn live_signing_keys(
        &self,
        sealer: &KeySealer,
        set: Environment,
    ) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let rows: Vec<KeyRow> = signing_keys::table
            .filter(signing_keys::key_set.eq(set.as_str()))
            .filter(
                signing_keys::state.ne(KeyState::Retired.as_str()).or(signing_keys::publish_until.gt(diesel::dsl::now)),
            )
            .order(signing_keys::created_at.desc())
            .select(KeyRow::as_select())
            .load(&mut conn)
            .await?;
        rows.into_iter().map(|row| row.open(sealer)).collect()
    }
}
