//! PostgreSQL over TLS as `sslmode` asks: `require` against the local server
//! (Debian's self-signed certificate), `verify-ca` and `verify-full` against a
//! cluster each test starts with a certificate authority it makes, and
//! `require` refused by a cluster without TLS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use argus_store::connect::DatabaseTarget;
use argus_store::listen::Listener;
use argus_store::{Store, StoreConfig};
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel_async::RunQueryDsl;

const LOCAL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(diesel::QueryableByName)]
struct Encrypted {
    #[diesel(sql_type = BigInt)]
    sessions: i64,
    #[diesel(sql_type = Nullable<Bool>)]
    all_ssl: Option<bool>,
}

/// How many sessions named `application_name` the server at `plain_url` has,
/// and whether all of them are encrypted (as the server sees it).
async fn sessions_named(plain_url: &str, application_name: &str) -> (i64, Option<bool>) {
    let mut conn = DatabaseTarget::parse(plain_url).unwrap().connect().await.unwrap();
    let row: Encrypted = diesel::sql_query(
        "SELECT count(*) AS sessions, bool_and(s.ssl) AS all_ssl \
         FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid WHERE a.application_name = $1",
    )
    .bind::<Text, _>(application_name)
    .get_result(&mut conn)
    .await
    .unwrap();
    (row.sessions, row.all_ssl)
}

#[tokio::test]
async fn require_encrypts_pool_and_listen_connections_to_the_local_server() {
    let name = format!("argus-tls-{}", ulid::Ulid::generate().to_string().to_lowercase());
    let store = Store::connect(&StoreConfig {
        database_url: format!("{LOCAL}?sslmode=require&application_name={name}"),
        max_connections: 2,
    })
    .unwrap();
    store.ping().await.unwrap();
    assert_eq!(sessions_named(LOCAL, &name).await, (1, Some(true)), "the pooled connection is encrypted");

    let listen_name = format!("{name}-listen");
    let _listener =
        Listener::connect(&format!("{LOCAL}?sslmode=require"), "argus_tls_test", &listen_name).await.unwrap();
    assert_eq!(sessions_named(LOCAL, &listen_name).await, (1, Some(true)), "the LISTEN connection is encrypted");

    // Without sslmode nothing changes: a plain session.
    let plain = format!("{name}-plain");
    let store =
        Store::connect(&StoreConfig { database_url: format!("{LOCAL}?application_name={plain}"), max_connections: 1 })
            .unwrap();
    store.ping().await.unwrap();
    assert_eq!(sessions_named(LOCAL, &plain).await, (1, Some(false)));
}

#[tokio::test]
async fn pool_connections_are_named_after_the_program_unless_the_url_names_them() {
    let program = std::env::current_exe().unwrap().file_name().unwrap().to_string_lossy().into_owned();
    let store = Store::connect(&StoreConfig { database_url: LOCAL.to_owned(), max_connections: 1 }).unwrap();
    store.ping().await.unwrap();
    let (sessions, _) = sessions_named(LOCAL, &program).await;
    assert!(sessions >= 1, "no session is named {program}");
}

/// A certificate authority and a server certificate for `localhost` only.
struct Pki {
    ca_pem: String,
    server_cert_pem: String,
    server_key_pem: String,
}

fn pki(ca_name: &str) -> Pki {
    let (ca_pem, server_cert_pem, server_key_pem, _) = argus_telemetry::testing::pki(ca_name, "localhost");
    Pki { ca_pem, server_cert_pem, server_key_pem }
}

/// A PostgreSQL cluster of its own on a free port, run as the `postgres`
/// user (initdb refuses root); stopped and deleted on drop.
struct Cluster {
    dir: PathBuf,
    port: u16,
}

fn postgres_bin(tool: &str) -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries under /usr/lib/postgresql")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("bin").join(tool).exists())
        .collect();
    versions.sort_by_key(|p| p.file_name().and_then(|n| n.to_str()).and_then(|n| n.parse::<u32>().ok()));
    versions.pop().expect("an initdb under /usr/lib/postgresql/*/bin").join("bin").join(tool)
}

fn as_postgres(dir: &Path, tool: &str, args: &[&str]) {
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(postgres_bin(tool))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn chown_postgres(path: &Path) {
    let status = Command::new("chown").args(["-R", "postgres:postgres"]).arg(path).status().unwrap();
    assert!(status.success());
}

impl Cluster {
    fn start(tls: Option<&Pki>) -> Self {
        let dir = std::env::temp_dir().join(format!("argus-tls-{}", ulid::Ulid::generate().to_string().to_lowercase()));
        std::fs::create_dir(&dir).unwrap();
        chown_postgres(&dir);
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let cluster = Self { dir, port };
        let data = cluster.data();
        as_postgres(
            &cluster.dir,
            "initdb",
            &["-D", data.to_str().unwrap(), "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        let mut conf = format!(
            "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nfsync = off\n",
            cluster.dir.display()
        );
        match tls {
            Some(pki) => {
                std::fs::write(data.join("server.crt"), &pki.server_cert_pem).unwrap();
                std::fs::write(data.join("server.key"), &pki.server_key_pem).unwrap();
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(data.join("server.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
                conf.push_str("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
            }
            None => conf.push_str("ssl = off\n"),
        }
        let mut file = std::fs::OpenOptions::new().append(true).open(data.join("postgresql.conf")).unwrap();
        std::io::Write::write_all(&mut file, conf.as_bytes()).unwrap();
        chown_postgres(&cluster.dir);
        let log = cluster.dir.join("log");
        as_postgres(
            &cluster.dir,
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-l", log.to_str().unwrap(), "-w", "-t", "60", "start"],
        );
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn url(&self, host: &str, options: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres?{options}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(postgres_bin("pg_ctl"))
            .args(["-D", self.data().to_str().unwrap_or_default(), "-m", "immediate", "-w", "stop"])
            .current_dir(&self.dir)
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write_pem(dir: &Path, name: &str, pem: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, pem).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Why connecting to `url` fails.
async fn refusal(url: &str) -> String {
    match DatabaseTarget::parse(url).unwrap().connect().await {
        Ok(_) => panic!("{url} connected"),
        Err(e) => e.to_string(),
    }
}

#[derive(diesel::QueryableByName)]
struct One {
    #[diesel(sql_type = Text)]
    answer: String,
}

#[tokio::test]
async fn verify_full_checks_the_chain_and_the_host_name() {
    let (ours, other) = (pki("Argus test CA"), pki("Some other CA"));
    let cluster = Cluster::start(Some(&ours));
    let ca = write_pem(&cluster.dir, "ca.pem", &ours.ca_pem);
    let stranger = write_pem(&cluster.dir, "other-ca.pem", &other.ca_pem);

    // The right CA and the certificate's host: connects, queries, encrypted;
    // migrations (the start-up path) run over it too.
    let url = cluster.url("localhost", &format!("sslmode=verify-full&sslrootcert={ca}&application_name=argus-full"));
    let mut conn = DatabaseTarget::parse(&url).unwrap().connect().await.unwrap();
    let one: One = diesel::sql_query("SELECT 'yes'::text AS answer").get_result(&mut conn).await.unwrap();
    assert_eq!(one.answer, "yes");
    let plain = cluster.url("127.0.0.1", "sslmode=disable");
    assert_eq!(sessions_named(&plain, "argus-full").await, (1, Some(true)));
    let applied = argus_store::run_migrations(&url).await.unwrap();
    assert!(!applied.is_empty());
    let store = Store::connect(&StoreConfig { database_url: url, max_connections: 1 }).unwrap();
    store.ensure_signing_keys(&argus_crypto::KeySealer::development()).await.unwrap();

    // Another CA: refused, saying why.
    let wrong = cluster.url("localhost", &format!("sslmode=verify-full&sslrootcert={stranger}"));
    let err = refusal(&wrong).await;
    assert!(err.contains("sslmode=verify-full") && err.contains("invalid peer certificate: UnknownIssuer"), "{err}");
    let err = argus_store::run_migrations(&wrong).await.unwrap_err().to_string();
    assert!(err.contains("invalid peer certificate: UnknownIssuer"), "{err}");
    let err = refusal(&cluster.url("localhost", &format!("sslmode=verify-ca&sslrootcert={stranger}"))).await;
    assert!(err.contains("UnknownIssuer"), "{err}");

    // The right CA but a host the certificate does not name: verify-full
    // refuses, verify-ca (chain only) accepts.
    let by_ip = cluster.url("127.0.0.1", &format!("sslmode=verify-full&sslrootcert={ca}"));
    let err = refusal(&by_ip).await;
    assert!(err.contains("certificate not valid for name \"127.0.0.1\""), "{err}");
    let chain_only = cluster.url("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}"));
    DatabaseTarget::parse(&chain_only).unwrap().connect().await.unwrap();

    // `require` does not check the certificate at all, as libpq; with a
    // root certificate it checks the chain, as libpq.
    DatabaseTarget::parse(&cluster.url("127.0.0.1", "sslmode=require")).unwrap().connect().await.unwrap();
    let err = refusal(&cluster.url("127.0.0.1", &format!("sslmode=require&sslrootcert={stranger}"))).await;
    assert!(err.contains("UnknownIssuer"), "{err}");
}

#[tokio::test]
async fn require_against_a_server_without_tls_fails_clearly() {
    let cluster = Cluster::start(None);
    // The server answers plain connections...
    DatabaseTarget::parse(&cluster.url("127.0.0.1", "sslmode=disable")).unwrap().connect().await.unwrap();

    // ...but `require` never falls back to them: not at start-up
    // (migrations), not in the pool.
    let url = cluster.url("127.0.0.1", "sslmode=require");
    let err = argus_store::run_migrations(&url).await.unwrap_err().to_string();
    assert!(err.contains("sslmode=require") && err.contains("server does not support TLS"), "{err}");
    let store = Store::connect(&StoreConfig { database_url: url, max_connections: 1 }).unwrap();
    let err = store.ping().await.unwrap_err().to_string();
    assert!(err.contains("sslmode=require") && err.contains("server does not support TLS"), "{err}");
    // The start-up check every service runs says so before serving.
    let err = store.check_tls_at_start().await.unwrap_err().to_string();
    assert!(err.contains("sslmode=require") && err.contains("server does not support TLS"), "{err}");
    // Without `require` the check does not connect: a service may start
    // while its database is down.
    let down = "postgres://postgres@127.0.0.1:1/none?sslmode=prefer";
    Store::connect(&StoreConfig { database_url: down.into(), max_connections: 1 })
        .unwrap()
        .check_tls_at_start()
        .await
        .unwrap();
}
