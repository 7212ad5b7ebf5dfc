//! RS256 signing keys and their rotation. At any time there is one `current`
//! key (it signs) and one `next` key (published, not yet signing); rotation
//! retires current, promotes next and creates a new next, so verifiers that
//! cached the JWKS already hold the key that starts signing. A retired key
//! stays published until every token it signed has expired.

use argus_types::KeyId;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::schema::signing_keys;
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

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "next" => Ok(Self::Next),
            "current" => Ok(Self::Current),
            "retired" => Ok(Self::Retired),
            other => Err(StoreError::Corrupt(format!("signing key state `{other}`"))),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub state: KeyState,
    pub private_key_pem: String,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
    pub retired_at: Option<DateTime<Utc>>,
    pub publish_until: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = signing_keys, check_for_backend(diesel::pg::Pg))]
struct KeyRow {
    kid: String,
    state: String,
    private_key_pem: String,
    created_at: DateTime<Utc>,
    activated_at: Option<DateTime<Utc>>,
    retired_at: Option<DateTime<Utc>>,
    publish_until: Option<DateTime<Utc>>,
}

impl TryFrom<KeyRow> for SigningKeyRecord {
    type Error = StoreError;

    fn try_from(r: KeyRow) -> Result<Self, StoreError> {
        Ok(Self {
            state: KeyState::parse(&r.state)?,
            kid: r.kid,
            private_key_pem: r.private_key_pem,
            created_at: r.created_at,
            activated_at: r.activated_at,
            retired_at: r.retired_at,
            publish_until: r.publish_until,
        })
    }
}

/// What a rotation did.
#[derive(Debug, Clone)]
pub struct Rotation {
    pub retired: Option<String>,
    pub current: String,
    pub next: String,
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
    state: KeyState,
    pem: &str,
    activated: bool,
) -> Result<String, StoreError> {
    let kid = KeyId::generate().to_string();
    diesel::insert_into(signing_keys::table)
        .values((
            signing_keys::kid.eq(&kid),
            signing_keys::state.eq(state.as_str()),
            signing_keys::private_key_pem.eq(pem),
            signing_keys::activated_at.eq(activated.then(Utc::now)),
        ))
        .execute(conn)
        .await?;
    Ok(kid)
}

async fn key_in_state(conn: &mut AsyncPgConnection, state: KeyState) -> Result<Option<String>, StoreError> {
    Ok(signing_keys::table
        .filter(signing_keys::state.eq(state.as_str()))
        .select(signing_keys::kid)
        .first(conn)
        .await
        .optional()?)
}

async fn lock_keys(conn: &mut AsyncPgConnection) -> Result<(), StoreError> {
    diesel::sql_query(format!("SELECT pg_advisory_xact_lock({KEYS_LOCK_KEY})")).execute(conn).await?;
    Ok(())
}

impl Store {
    /// Creates the first current and next keys if there is no current key.
    /// Safe to call from every replica at start.
    pub async fn ensure_signing_keys(&self) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        if key_in_state(&mut conn, KeyState::Current).await?.is_some() {
            return Ok(());
        }
        let (current_pem, next_pem) = generate_pems().await?;
        conn.transaction::<(), StoreError, _>(async |conn| {
            lock_keys(conn).await?;
            if key_in_state(conn, KeyState::Current).await?.is_none() {
                insert_key(conn, KeyState::Current, &current_pem, true).await?;
            }
            if key_in_state(conn, KeyState::Next).await?.is_none() {
                insert_key(conn, KeyState::Next, &next_pem, false).await?;
            }
            Ok(())
        })
        .await
    }

    /// Retires the current key (published for `publish_retired_for` more),
    /// promotes next to current and creates a new next.
    pub async fn rotate_signing_keys(&self, publish_retired_for: Duration) -> Result<Rotation, StoreError> {
        let (spare_pem, next_pem) = generate_pems().await?;
        let mut conn = self.conn().await?;
        conn.transaction::<Rotation, StoreError, _>(async |conn| {
            lock_keys(conn).await?;
            let now = Utc::now();
            let retired = key_in_state(conn, KeyState::Current).await?;
            if let Some(kid) = &retired {
                diesel::update(signing_keys::table.find(kid))
                    .set((
                        signing_keys::state.eq(KeyState::Retired.as_str()),
                        signing_keys::retired_at.eq(now),
                        signing_keys::publish_until.eq(now + publish_retired_for),
                    ))
                    .execute(conn)
                    .await?;
            }
            let current = match key_in_state(conn, KeyState::Next).await? {
                Some(kid) => {
                    diesel::update(signing_keys::table.find(&kid))
                        .set((signing_keys::state.eq(KeyState::Current.as_str()), signing_keys::activated_at.eq(now)))
                        .execute(conn)
                        .await?;
                    kid
                }
                None => insert_key(conn, KeyState::Current, &spare_pem, true).await?,
            };
            let next = insert_key(conn, KeyState::Next, &next_pem, false).await?;
            Ok(Rotation { retired, current, next })
        })
        .await
    }

    /// The key that signs new tokens, parsed; `None` before the first
    /// `ensure_signing_keys`.
    pub async fn current_signing_key(&self) -> Result<Option<argus_crypto::SigningKey>, StoreError> {
        let current = self.live_signing_keys().await?.into_iter().find(|k| k.state == KeyState::Current);
        current
            .map(|k| argus_crypto::SigningKey::from_pkcs8_pem(&k.kid, &k.private_key_pem).map_err(StoreError::from))
            .transpose()
    }

    /// Every key, newest first, for operators.
    pub async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let rows: Vec<KeyRow> = signing_keys::table
            .order(signing_keys::created_at.desc())
            .select(KeyRow::as_select())
            .load(&mut conn)
            .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// The keys to publish and accept: next, current, and retired keys
    /// whose tokens can still be live.
    pub async fn live_signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let rows: Vec<KeyRow> = signing_keys::table
            .filter(
                signing_keys::state.ne(KeyState::Retired.as_str()).or(signing_keys::publish_until.gt(diesel::dsl::now)),
            )
            .order(signing_keys::created_at.desc())
            .select(KeyRow::as_select())
            .load(&mut conn)
            .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }
}
