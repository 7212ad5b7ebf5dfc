//! The Argus store: PostgreSQL through diesel-async and a deadpool pool,
//! migrations embedded in the binary, and one module per aggregate. Every
//! query on tenant-owned rows takes the `TenantId` first.

pub mod apps;
pub mod backlog;
pub mod bulk;
pub mod bundles;
pub mod connect;
pub mod devices;
pub mod domain;
pub mod environment;
pub mod epcr;
pub mod idempotency;
pub mod job_inputs;
pub mod jobs;
pub mod keys;
pub mod listen;
mod migrate;
pub mod notified;
pub mod oauth;
pub mod outbox;
mod prepared;
mod query_spans;
pub mod revoked;
pub mod sandbox_outbox;
pub mod scenarios;
mod schema;
pub mod scopes;
mod stored_text;
mod tenant_rows;
pub mod tenants;
#[cfg(feature = "testing")]
pub mod testing;
pub mod traces;
pub mod users;
pub mod webhooks;
pub mod write_stamp;

use std::future::Future;

use diesel_async::AsyncConnection;
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};

use crate::connect::DatabaseTarget;

pub use argus_types::pagination::{Page, PageRequest};
pub use migrate::{MIGRATIONS, MigrationStatus, migration_status, run_migrations};
pub use write_stamp::WriteStamp;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database pool: {0}")]
    Pool(String),
    #[error("database query: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("migrations: {0}")]
    Migration(String),
    #[error("already exists: {0}")]
    Conflict(String),
    #[error("stored row is inconsistent: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Governance(#[from] argus_types::app::GovernanceError),
    #[error(transparent)]
    Crypto(#[from] argus_crypto::CryptoError),
    #[error("not found: {0}")]
    NotFound(String),
    /// Fields that name what the tenant does not have (an incident, a
    /// device), found while storing: a 400 naming each.
    #[error("{0}")]
    Invalid(argus_domain::FieldErrors),
    /// The connection settings are unusable (bad `sslmode`, unreadable
    /// `sslrootcert`): found at start-up, before any connection.
    #[error("database settings: {0}")]
    Config(String),
}

/// How the store connects. Read from the environment by each binary's config.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub database_url: String,
    pub max_connections: usize,
}

impl StoreConfig {
    /// [`database_url_from_environment`] and `ARGUS_DB_MAX_CONNECTIONS`
    /// (default 16): the same for every service.
    pub fn from_environment() -> Result<Self, argus_types::env::ConfigError> {
        Ok(Self {
            database_url: database_url_from_environment(),
            max_connections: argus_types::env::parse_var("ARGUS_DB_MAX_CONNECTIONS", 16)?,
        })
    }
}

/// `ARGUS_DATABASE_URL` (default: the local development database).
pub fn database_url_from_environment() -> String {
    argus_types::env::var_or("ARGUS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/argus")
}

/// The connection pool's state ([`Store::pool_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections open, in use or idle.
    pub open: usize,
    /// Open connections no task holds.
    pub idle: usize,
    /// The most connections the pool opens (`ARGUS_DB_MAX_CONNECTIONS`).
    pub max: usize,
    /// Tasks waiting for a connection.
    pub waiting: usize,
}

/// One of the server's processes ([`Store::server_processes`]).
#[derive(Debug, Clone, PartialEq, Eq, diesel::QueryableByName)]
pub struct ServerProcess {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub pid: i32,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub serves: String,
}

/// A handle on the database: cheap to clone, shared by every handler.
#[derive(Clone)]
pub struct Store {
    pool: Pool<AsyncPgConnection>,
    ssl_mode: connect::SslMode,
}

impl Store {
    /// Builds the pool; connections are opened lazily, so this does not fail
    /// when the database is down (readiness reports that instead), only when
    /// the URL's TLS settings are unusable.
    pub fn connect(config: &StoreConfig) -> Result<Self, StoreError> {
        let target = std::sync::Arc::new(DatabaseTarget::parse(&config.database_url)?.named_after_this_program());
        let ssl_mode = target.ssl_mode();
        // A connection's driver task runs on the runtime that opened it.
        // actix gives each worker thread its own runtime and stops them one
        // by one at shutdown, which would kill the drivers of pooled
        // connections other workers still use; so every connection is opened
        // on the runtime that built the pool (the process's main one).
        let mut manager_config = ManagerConfig::<AsyncPgConnection>::default();
        // No `SELECT 1` on every checkout: a connection that broke is marked
        // broken by the query that found out and dropped at its next
        // checkout; the ping would double the round trips of a short read.
        manager_config.recycling_method = diesel_async::pooled_connection::RecyclingMethod::Fast;
        let runtime = tokio::runtime::Handle::try_current().ok();
        // The URL was parsed above (and its root certificates read) once.
        manager_config.custom_setup = Box::new(move |_url| {
            let target = target.clone();
            let runtime = runtime.clone();
            Box::pin(async move {
                let mut conn = match runtime {
                    Some(runtime) => runtime
                        .spawn(async move { target.connect().await })
                        .await
                        .map_err(|e| diesel::ConnectionError::BadConnection(format!("connect task: {e}")))??,
                    None => target.connect().await?,
                };
                conn.set_instrumentation(query_spans::QuerySpans::default());
                Ok(conn)
            })
        });
        let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
            config.database_url.clone(),
            manager_config,
        );
        let pool = Pool::builder(manager)
            .max_size(config.max_connections)
            .wait_timeout(Some(std::time::Duration::from_secs(5)))
            .create_timeout(Some(std::time::Duration::from_secs(5)))
            .runtime(deadpool_runtime())
            .build()
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        Ok(Self { pool, ssl_mode })
    }

    pub(crate) async fn conn(&self) -> Result<Object<AsyncPgConnection>, StoreError> {
        self.pool.get().await.map_err(|e| StoreError::Pool(e.to_string()))
    }

    /// Runs `body` in a transaction on a pooled connection: committed when
    /// it returns `Ok`, rolled back when it returns an error.
    pub(crate) async fn transaction<R, F>(&self, body: F) -> Result<R, StoreError>
    where
        F: for<'c> AsyncFnOnce(&'c mut AsyncPgConnection) -> Result<R, StoreError> + for<'c> TransactionBody<'c, R>,
        R: Send,
    {
        let mut pooled = self.conn().await?;
        let conn: &mut AsyncPgConnection = &mut pooled;
        conn.transaction(body).await
    }

    /// With `sslmode=require` or stricter, a first connection now, so a
    /// server that cannot be reached that way stops the service at start-up
    /// with the reason (a service otherwise starts while the database is
    /// down and reports it through readiness).
    pub async fn check_tls_at_start(&self) -> Result<(), StoreError> {
        match self.ssl_mode {
            connect::SslMode::Disable | connect::SslMode::Prefer => Ok(()),
            connect::SslMode::Require | connect::SslMode::VerifyCa | connect::SslMode::VerifyFull => self.ping().await,
        }
    }

    /// The connection pool at this moment, for the metrics.
    pub fn pool_status(&self) -> PoolStatus {
        let status = self.pool.status();
        PoolStatus { open: status.size, idle: status.available, max: status.max_size, waiting: status.waiting }
    }

    /// The server's processes that serve this database, or the whole
    /// server (its background processes), each with its pid and what it
    /// serves: the session's `application_name`, else the backend type
    /// (`walwriter`, `autovacuum worker`, …). For profiles that split the
    /// server's CPU time by who asked for it (`argus-bench`).
    pub async fn server_processes(&self) -> Result<Vec<ServerProcess>, StoreError> {
        use diesel_async::RunQueryDsl;
        let mut conn = self.conn().await?;
        Ok(diesel::sql_query(
            "SELECT pid, coalesce(nullif(application_name, ''), backend_type, 'unknown') AS serves \
             FROM pg_stat_activity WHERE datname = current_database() OR datname IS NULL",
        )
        .load(&mut conn)
        .await?)
    }

    /// `SELECT 1` on a pooled connection: what readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        use diesel_async::RunQueryDsl;
        let mut conn = self.conn().await?;
        diesel::sql_query("SELECT 1").execute(&mut conn).await?;
        Ok(())
    }
}

/// A transaction's body: the bounds diesel-async's `transaction` puts on
/// its closure, under a name (diesel-async's own trait for them is
/// private), so [`Store::transaction`] can pass a closure on.
pub(crate) trait TransactionBody<'c, R>:
    AsyncFnOnce(&'c mut AsyncPgConnection) -> Result<R, StoreError>
    + FnOnce(&'c mut AsyncPgConnection) -> Self::Future
    + Send
{
    type Future: Future<Output = Result<R, StoreError>> + Send;
}

impl<'c, R, F, Fut> TransactionBody<'c, R> for F
where
    F: AsyncFnOnce(&'c mut AsyncPgConnection) -> Result<R, StoreError>
        + FnOnce(&'c mut AsyncPgConnection) -> Fut
        + Send,
    Fut: Future<Output = Result<R, StoreError>> + Send,
{
    type Future = Fut;
}

fn deadpool_runtime() -> deadpool::Runtime {
    deadpool::Runtime::Tokio1
}

pub(crate) fn unique_violation_to_conflict(e: diesel::result::Error, what: &str) -> StoreError {
    match e {
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => {
            StoreError::Conflict(what.to_owned())
        }
        other => StoreError::Query(other),
    }
}
