//! OAuth 2.0 state: browser sessions, single-use authorization codes,
//! rotating refresh tokens grouped in grant families, the access-token deny
//! list, sign-in lock-out counters, and client secrets for authentication.
//! Secret values arrive here already hashed (keyed hash); none is stored raw.

use argus_types::{ClientId, Environment, GrantId, TenantId, UserId};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::revoked::RevokedToken;
use crate::schema::{
    authorization_codes, grant_families, issued_access_tokens, refresh_tokens, revoked_access_tokens, sessions,
    sign_in_failures,
};
use crate::stored_text::Stored;
use crate::{Store, StoreError};

mod clients;

pub use clients::{CLIENT_CHANGED_CHANNEL, ClientCredentials, ClientSecretHash};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg))]
pub struct SessionRecord {
    #[diesel(deserialize_as = Stored<TenantId>)]
    pub tenant_id: TenantId,
    #[diesel(deserialize_as = Stored<UserId>)]
    pub user_id: UserId,
    pub expires_at: DateTime<Utc>,
}

/// What an authorization code is bound to.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = authorization_codes, check_for_backend(diesel::pg::Pg))]
pub struct CodeGrant {
    #[diesel(deserialize_as = Stored<TenantId>)]
    pub tenant_id: TenantId,
    #[diesel(deserialize_as = Stored<ClientId>)]
    pub client_id: ClientId,
    #[diesel(deserialize_as = Stored<UserId>)]
    pub user_id: UserId,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
}

/// A stored code, as redeeming it reads it.
#[derive(Queryable, Selectable)]
#[diesel(table_name = authorization_codes, check_for_backend(diesel::pg::Pg))]
struct CodeRow {
    #[diesel(embed)]
    grant: CodeGrant,
    #[diesel(deserialize_as = Stored<GrantId>)]
    family_id: GrantId,
    expires_at: DateTime<Utc>,
    consumed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct RedeemedCode {
    pub grant: CodeGrant,
    pub family: GrantId,
}

/// The result of presenting an authorization code.
#[derive(Debug)]
pub enum CodeRedemption {
    Redeemed(RedeemedCode),
    /// Presented before: what the first use issued is now revoked.
    Replayed {
        revoked: Vec<RevokedToken>,
    },
    Expired,
    Unknown,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refresh_tokens, check_for_backend(diesel::pg::Pg))]
pub struct RefreshGrant {
    #[diesel(column_name = family_id, deserialize_as = Stored<GrantId>)]
    pub family: GrantId,
    #[diesel(deserialize_as = Stored<TenantId>)]
    pub tenant_id: TenantId,
    #[diesel(deserialize_as = Stored<ClientId>)]
    pub client_id: ClientId,
    #[diesel(deserialize_as = Stored<Option<UserId>>)]
    pub user_id: Option<UserId>,
    pub scopes: Vec<String>,
}

/// A stored refresh token, as spending it reads it.
#[derive(Queryable, Selectable)]
#[diesel(table_name = refresh_tokens, check_for_backend(diesel::pg::Pg))]
struct RefreshRow {
    #[diesel(embed)]
    grant: RefreshGrant,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

/// The result of presenting a refresh token for rotation.
#[derive(Debug)]
pub enum RefreshRotation {
    Rotated(RefreshGrant),
    /// A spent token came back: the whole family is now revoked.
    Replayed {
        revoked: Vec<RevokedToken>,
    },
    /// The request asked for scopes the grant does not hold; the token was
    /// not spent.
    ScopeExceeded,
    Invalid,
}

/// Revokes a grant family: its refresh tokens, and the access tokens it
/// issued that are still live, which it returns (so the revoking process
/// can refuse them at once, before the notice comes back).
pub(crate) async fn revoke_family(conn: &mut AsyncPgConnection, family: &str) -> Result<Vec<RevokedToken>, StoreError> {
    let now = Utc::now();
    diesel::update(grant_families::table.find(family))
        .filter(grant_families::revoked_at.is_null())
        .set(grant_families::revoked_at.eq(now))
        .execute(conn)
        .await?;
    diesel::update(refresh_tokens::table.filter(refresh_tokens::family_id.eq(family)))
        .filter(refresh_tokens::revoked_at.is_null())
        .set(refresh_tokens::revoked_at.eq(now))
        .execute(conn)
        .await?;
    let issued: Vec<(String, DateTime<Utc>)> = issued_access_tokens::table
        .filter(issued_access_tokens::family_id.eq(family))
        .filter(issued_access_tokens::expires_at.gt(now))
        .select((issued_access_tokens::jti, issued_access_tokens::expires_at))
        .load(conn)
        .await?;
    let mut revoked = Vec::with_capacity(issued.len());
    for (jti, expires_at) in issued {
        diesel::insert_into(revoked_access_tokens::table)
            .values((revoked_access_tokens::jti.eq(&jti), revoked_access_tokens::expires_at.eq(expires_at)))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        revoked.push(RevokedToken { jti, expires_at });
    }
    Ok(revoked)
}

/// How failed sign-ins lock an account for a while.
#[derive(Debug, Clone)]
pub struct SignInLockout {
    pub free_attempts: i32,
    pub base_delay: std::time::Duration,
    pub max_delay: std::time::Duration,
}

/// Whether a sign-in attempt may check its password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInAttempt {
    Allowed,
    Locked { until: DateTime<Utc> },
}

impl Store {
    // ---- sessions -----------------------------------------------------------------

    pub async fn create_session(
        &self,
        id_hash: Vec<u8>,
        tenant: &TenantId,
        user: &UserId,
        lifetime: Duration,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(sessions::table)
            .values((
                sessions::id_hash.eq(id_hash),
                sessions::tenant_id.eq(tenant.as_str()),
                sessions::user_id.eq(user.as_str()),
                sessions::expires_at.eq(Utc::now() + lifetime),
            ))
            .execute(&mut conn)
            .await?;
        Ok(())
    }

    pub async fn find_session(&self, id_hash: &[u8]) -> Result<Option<SessionRecord>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(sessions::table
            .find(id_hash)
            .filter(sessions::expires_at.gt(diesel::dsl::now))
            .select(SessionRecord::as_select())
            .first(&mut conn)
            .await
            .optional()?)
    }

    // ---- sign-in lock-out -------------------------------------------------------

    /// Counts a sign-in attempt before its password is checked, in one
    /// statement, so that however many arrive at once, only those the
    /// lock-out allows reach the check: the first `free_attempts`, then one
    /// per lock-out delay, which starts at `base_delay` when the free
    /// attempts are used up and doubles with each further attempt up to
    /// `max_delay`. A successful sign-in clears the count.
    pub async fn claim_sign_in_attempt(
        &self,
        tenant: &TenantId,
        email: &str,
        lockout: &SignInLockout,
    ) -> Result<SignInAttempt, StoreError> {
        use diesel::sql_types::{Bool, Double, Integer, Text};
        #[derive(QueryableByName)]
        struct Claimed {
            #[diesel(sql_type = Bool)]
            claimed: bool,
        }
        let mut conn = self.conn().await?;
        let claimed: Option<Claimed> = diesel::sql_query(
            "INSERT INTO sign_in_failures AS f (tenant_id, email, failures, locked_until, updated_at) \
             VALUES ($1, $2, 1, CASE WHEN 1 >= $3 THEN now() + $4 * interval '1 second' END, now()) \
             ON CONFLICT (tenant_id, email) DO UPDATE SET \
                 failures = f.failures + 1, \
                 updated_at = now(), \
                 locked_until = CASE WHEN f.failures + 1 >= $3 \
                     THEN now() + least($4 * power(2, least(f.failures + 1 - $3, 16)), $5) * interval '1 second' \
                 END \
             WHERE f.locked_until IS NULL OR f.locked_until <= now() \
             RETURNING true AS claimed",
        )
        .bind::<Text, _>(tenant.as_str())
        .bind::<Text, _>(email)
        .bind::<Integer, _>(lockout.free_attempts)
        .bind::<Double, _>(lockout.base_delay.as_secs_f64())
        .bind::<Double, _>(lockout.max_delay.as_secs_f64())
        .get_result(&mut conn)
        .await
        .optional()?;
        if claimed.is_some_and(|c| c.claimed) {
            return Ok(SignInAttempt::Allowed);
        }
        let until: Option<Option<DateTime<Utc>>> = sign_in_failures::table
            .find((tenant.as_str(), email))
            .select(sign_in_failures::locked_until)
            .first(&mut conn)
            .await
            .optional()?;
        // The lock ended between the two statements: try again later all
        // the same (a second at most).
        Ok(SignInAttempt::Locked { until: until.flatten().unwrap_or_else(Utc::now) })
    }

    pub async fn clear_sign_in_failures(&self, tenant: &TenantId, email: &str) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::delete(sign_in_failures::table.find((tenant.as_str(), email))).execute(&mut conn).await?;
        Ok(())
    }

    // ---- authorization codes ---------------------------------------------------

    /// Stores a code (by hash) and opens the grant family it starts.
    pub async fn create_authorization_code(
        &self,
        code_hash: Vec<u8>,
        grant: &CodeGrant,
        lifetime: Duration,
    ) -> Result<GrantId, StoreError> {
        let family = GrantId::generate();
        self.transaction(async |conn| {
            diesel::insert_into(grant_families::table)
                .values((
                    grant_families::id.eq(family.as_str()),
                    grant_families::tenant_id.eq(grant.tenant_id.as_str()),
                    grant_families::client_id.eq(grant.client_id.as_str()),
                    grant_families::user_id.eq(grant.user_id.as_str()),
                ))
                .execute(conn)
                .await?;
            diesel::insert_into(authorization_codes::table)
                .values((
                    authorization_codes::code_hash.eq(code_hash),
                    authorization_codes::tenant_id.eq(grant.tenant_id.as_str()),
                    authorization_codes::client_id.eq(grant.client_id.as_str()),
                    authorization_codes::user_id.eq(grant.user_id.as_str()),
                    authorization_codes::family_id.eq(family.as_str()),
                    authorization_codes::redirect_uri.eq(&grant.redirect_uri),
                    authorization_codes::scopes.eq(&grant.scopes),
                    authorization_codes::code_challenge.eq(&grant.code_challenge),
                    authorization_codes::code_challenge_method.eq(&grant.code_challenge_method),
                    authorization_codes::expires_at.eq(Utc::now() + lifetime),
                ))
                .execute(conn)
                .await?;
            Ok(())
        })
        .await?;
        Ok(family)
    }

    /// Marks the code used, once. A second presentation revokes the family
    /// the first one started (RFC 6749 §4.1.2, RFC 9700 §4.5.3).
    pub async fn redeem_authorization_code(&self, code_hash: &[u8]) -> Result<CodeRedemption, StoreError> {
        self.transaction(async |conn| {
            let row: Option<CodeRow> = authorization_codes::table
                .find(code_hash)
                .select(CodeRow::as_select())
                .for_update()
                .first(conn)
                .await
                .optional()?;
            let Some(row) = row else {
                return Ok(CodeRedemption::Unknown);
            };
            if row.consumed_at.is_some() {
                let revoked = revoke_family(conn, row.family_id.as_str()).await?;
                return Ok(CodeRedemption::Replayed { revoked });
            }
            if row.expires_at <= Utc::now() {
                return Ok(CodeRedemption::Expired);
            }
            diesel::update(authorization_codes::table.find(code_hash))
                .set(authorization_codes::consumed_at.eq(Utc::now()))
                .execute(conn)
                .await?;
            Ok(CodeRedemption::Redeemed(RedeemedCode { grant: row.grant, family: row.family_id }))
        })
        .await
    }

    /// Revokes a grant family (a code presented with the wrong verifier, say).
    pub async fn revoke_grant_family(&self, family: &GrantId) -> Result<Vec<RevokedToken>, StoreError> {
        self.transaction(async |conn| revoke_family(conn, family.as_str()).await).await
    }

    // ---- refresh tokens and issued access tokens -------------------------------

    pub async fn store_refresh_token(
        &self,
        token_hash: Vec<u8>,
        grant: &RefreshGrant,
        lifetime: Duration,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(refresh_tokens::table)
            .values((
                refresh_tokens::token_hash.eq(token_hash),
                refresh_tokens::family_id.eq(grant.family.as_str()),
                refresh_tokens::tenant_id.eq(grant.tenant_id.as_str()),
                refresh_tokens::client_id.eq(grant.client_id.as_str()),
                refresh_tokens::user_id.eq(grant.user_id.as_ref().map(UserId::as_str)),
                refresh_tokens::scopes.eq(&grant.scopes),
                refresh_tokens::expires_at.eq(Utc::now() + lifetime),
            ))
            .execute(&mut conn)
            .await?;
        Ok(())
    }

    /// Spends a refresh token presented by `client`. Reuse of a spent token
    /// revokes its family (RFC 9700 §4.14.2).
    /// `requested` narrows the scopes; asking for more than the grant holds
    /// leaves the token unspent.
    pub async fn spend_refresh_token(
        &self,
        token_hash: &[u8],
        client: &ClientId,
        requested: Option<&[String]>,
    ) -> Result<RefreshRotation, StoreError> {
        self.transaction(async |conn| {
            let row: Option<RefreshRow> = refresh_tokens::table
                .find(token_hash)
                .select(RefreshRow::as_select())
                .for_update()
                .first(conn)
                .await
                .optional()?;
            let Some(RefreshRow { grant, expires_at, used_at, revoked_at }) = row else {
                return Ok(RefreshRotation::Invalid);
            };
            if grant.client_id != *client {
                return Ok(RefreshRotation::Invalid);
            }
            if used_at.is_some() {
                let revoked = revoke_family(conn, grant.family.as_str()).await?;
                return Ok(RefreshRotation::Replayed { revoked });
            }
            let family_revoked: Option<DateTime<Utc>> = grant_families::table
                .find(grant.family.as_str())
                .select(grant_families::revoked_at)
                .first(conn)
                .await?;
            if revoked_at.is_some() || family_revoked.is_some() || expires_at <= Utc::now() {
                return Ok(RefreshRotation::Invalid);
            }
            let scopes = match requested {
                Some(requested) if requested.iter().any(|s| !grant.scopes.contains(s)) => {
                    return Ok(RefreshRotation::ScopeExceeded);
                }
                Some(requested) => requested.to_vec(),
                None => grant.scopes,
            };
            diesel::update(refresh_tokens::table.find(token_hash))
                .set(refresh_tokens::used_at.eq(Utc::now()))
                .execute(conn)
                .await?;
            Ok(RefreshRotation::Rotated(RefreshGrant { scopes, ..grant }))
        })
        .await
    }

    /// Revokes the refresh token's whole family if `client` owns it (RFC
    /// 7009 §2.1), returning the access tokens that revoked; an unknown
    /// token is not an error (nothing is revoked).
    pub async fn revoke_refresh_token(
        &self,
        token_hash: &[u8],
        client: &ClientId,
    ) -> Result<Vec<RevokedToken>, StoreError> {
        self.transaction(async |conn| {
            let family: Option<String> = refresh_tokens::table
                .find(token_hash)
                .filter(refresh_tokens::client_id.eq(client.as_str()))
                .select(refresh_tokens::family_id)
                .first(conn)
                .await
                .optional()?;
            match family {
                Some(family) => revoke_family(conn, &family).await,
                None => Ok(Vec::new()),
            }
        })
        .await
    }

    /// Whether a refresh token is live (for introspection), and its grant.
    pub async fn live_refresh_token(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<(RefreshGrant, DateTime<Utc>)>, StoreError> {
        let mut conn = self.conn().await?;
        Ok(refresh_tokens::table
            .inner_join(grant_families::table.on(grant_families::id.eq(refresh_tokens::family_id)))
            .filter(refresh_tokens::token_hash.eq(token_hash))
            .filter(refresh_tokens::used_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null())
            .filter(grant_families::revoked_at.is_null())
            .filter(refresh_tokens::expires_at.gt(diesel::dsl::now))
            .select((RefreshGrant::as_select(), refresh_tokens::expires_at))
            .first(&mut conn)
            .await
            .optional()?)
    }

    /// Remembers an access token minted under a family, so revoking the
    /// family can deny-list it.
    pub async fn record_issued_access_token(
        &self,
        jti: &str,
        family: &GrantId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(issued_access_tokens::table)
            .values((
                issued_access_tokens::jti.eq(jti),
                issued_access_tokens::family_id.eq(family.as_str()),
                issued_access_tokens::expires_at.eq(expires_at),
            ))
            .execute(&mut conn)
            .await?;
        Ok(())
    }

    /// Revokes the token `jti` of `environment` (whose audience it has)
    /// until `expires_at`; the sandbox's are published for the sandbox API.
    pub async fn revoke_access_token(
        &self,
        jti: &str,
        expires_at: DateTime<Utc>,
        environment: Environment,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(revoked_access_tokens::table)
            .values((
                revoked_access_tokens::jti.eq(jti),
                revoked_access_tokens::expires_at.eq(expires_at),
                revoked_access_tokens::environment.eq(environment.as_str()),
            ))
            .on_conflict_do_nothing()
            .execute(&mut conn)
            .await?;
        Ok(())
    }

    pub async fn access_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let found: Option<String> = revoked_access_tokens::table
            .find(jti)
            .select(revoked_access_tokens::jti)
            .first(&mut conn)
            .await
            .optional()?;
        Ok(found.is_some())
    }
}
