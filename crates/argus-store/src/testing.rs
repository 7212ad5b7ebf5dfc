//! Per-test databases. The first test of a run migrates a template database
//! (under an advisory lock, named after the migrations and scope catalog so
//! a change builds a new one); every test then gets its own database cloned
//! from it, dropped again when the test ends, pass or fail.
//!
//! `ARGUS_TEST_DATABASE_URL` points at the server's maintenance database
//! (default `postgres://postgres@127.0.0.1:5432/postgres`).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::hash::{DefaultHasher, Hash, Hasher};

use diesel::QueryableByName;
use diesel::migration::MigrationSource;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::{MIGRATIONS, Store, StoreConfig, run_migrations};

const TEMPLATE_LOCK_KEY: i64 = 0x4172_6775_7354_706c; // "ArgusTpl"

pub fn maintenance_url() -> String {
    argus_types::env::var_or("ARGUS_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
}

fn database_url(name: &str) -> String {
    let base = maintenance_url();
    let mut url = url::Url::parse(&base).expect("ARGUS_TEST_DATABASE_URL is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

fn template_name() -> String {
    let mut h = DefaultHasher::new();
    let migrations = MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS).expect("embedded migrations");
    for m in &migrations {
        m.name().to_string().hash(&mut h);
    }
    env!("ARGUS_MIGRATIONS_DIGEST").hash(&mut h);
    for s in argus_types::SCOPE_CATALOG {
        (s.name, s.description).hash(&mut h);
    }
    format!("argus_tpl_{:016x}", h.finish())
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn database_exists(conn: &mut AsyncPgConnection, name: &str) -> bool {
    let rows: Vec<Count> = diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
        .bind::<diesel::sql_types::Text, _>(name)
        .load(conn)
        .await
        .expect("query pg_database");
    rows.iter().any(|c| c.n > 0)
}

async fn ensure_template(conn: &mut AsyncPgConnection, template: &str) {
    diesel::sql_query(format!("SELECT pg_advisory_lock({TEMPLATE_LOCK_KEY})")).execute(conn).await.unwrap();
    if !database_exists(conn, template).await {
        // Built under another name and renamed when complete, so a crashed
        // build never leaves a half-migrated template behind.
        let building = format!("{template}_building");
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)")).execute(conn).await.unwrap();
        diesel::sql_query(format!("CREATE DATABASE {building}")).execute(conn).await.unwrap();
        let url = database_url(&building);
        run_migrations(&url).await.expect("migrate template");
        {
            // Keys are slow to generate: every test database inherits these.
            let store = Store::connect(&StoreConfig { database_url: url, max_connections: 1 }).unwrap();
            // Sealed with the development sealing keys, which every test
            // process uses (they leave ARGUS_KEY_SEALING_KEYS unset).
            store.ensure_signing_keys(&argus_crypto::KeySealer::development()).await.expect("template keys");
            // Test databases are live ones unless a test makes a sandbox
            // database ([`TestDatabase::sandbox`]).
            store.claim_environment(argus_types::Environment::Live).await.expect("template environment");
        }
        diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {template}"))
            .execute(conn)
            .await
            .expect("publish template");
        // Templates of earlier migration sets are of no further use.
        #[derive(QueryableByName)]
        struct Name {
            #[diesel(sql_type = diesel::sql_types::Text)]
            datname: String,
        }
        let stale: Vec<Name> =
            diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE 'argus\\_tpl\\_%' AND datname <> $1")
                .bind::<diesel::sql_types::Text, _>(template)
                .load(conn)
                .await
                .unwrap_or_default();
        for old in stale {
            // Best effort: one still in use by another checkout's run stays.
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {}", old.datname)).execute(conn).await;
        }
    }
    diesel::sql_query(format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK_KEY})")).execute(conn).await.unwrap();
}

/// The store's current live signing key, unsealed with the development
/// sealing keys every test process uses.
pub async fn current_signing_key(store: &Store) -> argus_crypto::SigningKey {
    current_signing_key_of(store, argus_types::Environment::Live).await
}

/// The store's current signing key of the key set `set`.
pub async fn current_signing_key_of(store: &Store, set: argus_types::Environment) -> argus_crypto::SigningKey {
    store
        .current_signing_key(&argus_crypto::KeySealer::development(), set)
        .await
        .unwrap()
        .expect("a current signing key")
}

/// A database of its own for one test; dropped when this value is.
pub struct TestDatabase {
    name: String,
    url: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let mut conn = AsyncPgConnection::establish(&maintenance_url()).await.expect("connect to PostgreSQL for tests");
        let template = template_name();
        ensure_template(&mut conn, &template).await;
        let name = format!("argus_test_{}", ulid::Ulid::generate().to_string().to_ascii_lowercase());
        diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY"))
            .execute(&mut conn)
            .await
            .expect("clone template");
        let url = database_url(&name);
        Self { name, url }
    }

    /// A migrated database claimed for the sandbox, as
    /// `ARGUS_ENV=sandbox argusctl migrate` leaves one.
    pub async fn sandbox() -> Self {
        let db = Self::create().await;
        TestDatabase::execute(&db, "UPDATE deployment_environment SET environment = 'sandbox'").await;
        db
    }

    /// A database with nothing in it (not even migrations), for testing
    /// the migration command itself.
    pub async fn empty() -> Self {
        let mut conn = AsyncPgConnection::establish(&maintenance_url()).await.expect("connect to PostgreSQL for tests");
        let name = format!("argus_test_{}", ulid::Ulid::generate().to_string().to_ascii_lowercase());
        diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create database");
        let url = database_url(&name);
        Self { name, url }
    }

    /// Runs raw SQL on this database, for arranging what no API can (a key
    /// whose publication has lapsed, say).
    pub async fn execute(&self, sql: &str) {
        let mut conn = AsyncPgConnection::establish(&self.url).await.expect("connect to test database");
        diesel::sql_query(sql).execute(&mut conn).await.expect("test SQL");
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn store(&self) -> Store {
        Store::connect(&StoreConfig { database_url: self.url.clone(), max_connections: 4 }).unwrap()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside any async context we could borrow: use a
        // private runtime on a plain thread.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let mut conn = AsyncPgConnection::establish(&maintenance_url()).await?;
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}
