use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::StoreError;
use crate::connect::DatabaseTarget;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Arbitrary, fixed key for the advisory lock that serialises migrations, so
/// replicas starting together cannot race.
const MIGRATION_LOCK_KEY: i64 = 0x4172_6775_734d_6967; // "ArgusMig"

/// Runs pending migrations under `pg_advisory_lock`, then syncs the scope
/// catalog. Returns the versions applied.
pub async fn run_migrations(database_url: &str) -> Result<Vec<String>, StoreError> {
    with_migration_connection(database_url, |conn| {
        use diesel::RunQueryDsl;
        diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")).execute(conn)?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect::<Vec<_>>())
            .map_err(|e| StoreError::Migration(e.to_string()));
        let synced = applied.and_then(|applied| crate::scopes::sync_catalog(conn).map(|()| applied));
        diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")).execute(conn)?;
        synced
    })
    .await
}

/// Which migrations the database has and which it lacks, by version.
#[derive(Debug, Clone)]
pub struct MigrationStatus {
    pub applied: Vec<String>,
    pub pending: Vec<String>,
}

/// Reads the migration state without changing anything.
pub async fn migration_status(database_url: &str) -> Result<MigrationStatus, StoreError> {
    with_migration_connection(database_url, |conn| {
        let failed = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Migration(e.to_string());
        let mut applied: Vec<String> =
            conn.applied_migrations().map_err(failed)?.iter().map(ToString::to_string).collect();
        applied.sort();
        let pending = conn.pending_migrations(MIGRATIONS).map_err(failed)?;
        Ok(MigrationStatus { applied, pending: pending.iter().map(|m| m.name().version().to_string()).collect() })
    })
    .await
}

type MigrationConnection = AsyncConnectionWrapper<AsyncPgConnection>;

/// Runs `work` on a connection of its own on a blocking thread:
/// diesel_migrations is synchronous, and the wrapper blocks on the async
/// connection (opened here, so its driver runs on this runtime).
async fn with_migration_connection<T: Send + 'static>(
    database_url: &str,
    work: impl FnOnce(&mut MigrationConnection) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let conn = DatabaseTarget::parse(database_url)?
        .connect()
        .await
        .map_err(|e| StoreError::Migration(format!("cannot connect: {e}")))?;
    tokio::task::spawn_blocking(move || work(&mut MigrationConnection::from(conn)))
        .await
        .map_err(|e| StoreError::Migration(format!("migration task failed: {e}")))?
}
