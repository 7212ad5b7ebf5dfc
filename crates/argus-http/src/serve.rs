//! Serving until the process is told to stop, the same way in every
//! service.

use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};
use argus_store::{Store, StoreConfig, StoreError};
use argus_telemetry::metrics::Metrics;
use argus_types::env::{ConfigError, parse_var};

use crate::admin::{Scrape, admin_server};
use crate::discovery::CatalogOf;
use crate::health::{Readiness, database_check};

/// How long an idle keep-alive connection is held open. Longer than the
/// idle timeouts of the proxies and client pools in front of us (ingress-nginx
/// keeps upstream connections 60 s), so the client side always closes first:
/// a server that closes first races the client's next request on that
/// connection, which then fails with a truncated response (actix's default
/// is 5 s, short enough for a client pausing between calls to hit it).
const KEEP_ALIVE: Duration = Duration::from_secs(75);

/// The routes every public service serves alike beside its own
/// (documented by [`crate::openapi::CommonPaths`]): `/healthz` and
/// `/readyz`, its OpenAPI document `doc`, the API catalog as `catalog`'s
/// host serves it, and the public status.
pub fn common_routes(doc: utoipa::openapi::OpenApi, catalog: CatalogOf) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.configure(crate::health::configure)
            .configure(crate::openapi::configure(doc))
            .configure(crate::discovery::configure(catalog));
    }
}

/// An address a service cannot listen on.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct BindError {
    pub addr: String,
    pub source: std::io::Error,
}

/// Binds `addr`, and says which port it got (`:0` picks one, for tests).
pub(crate) fn listen(addr: &str) -> Result<(std::net::TcpListener, u16), BindError> {
    let bind = || -> std::io::Result<(std::net::TcpListener, u16)> {
        let listener = std::net::TcpListener::bind(addr)?;
        let port = listener.local_addr()?.port();
        Ok((listener, port))
    };
    bind().map_err(|source| BindError { addr: addr.to_owned(), source })
}

/// How an HTTP service stops after SIGTERM (see [`serve_until_signal`]).
#[derive(Debug, Clone, Copy)]
pub struct Shutdown {
    /// `ARGUS_SHUTDOWN_DRAIN_SECONDS`: how long `/readyz` fails first.
    pub drain_delay: Duration,
    /// `ARGUS_SHUTDOWN_TIMEOUT_SECONDS`: how long in-flight requests may
    /// take then.
    pub timeout_seconds: u64,
}

impl Shutdown {
    pub fn from_seconds(drain_delay_seconds: u64, timeout_seconds: u64) -> Self {
        Self { drain_delay: Duration::from_secs(drain_delay_seconds), timeout_seconds }
    }

    /// From `ARGUS_SHUTDOWN_DRAIN_SECONDS` and `ARGUS_SHUTDOWN_TIMEOUT_SECONDS`
    /// (listed in [`crate::cli::SERVER_ENVIRONMENT`]), defaults as [`Self::default`].
    pub fn from_environment() -> Result<Self, ConfigError> {
        let d = Self::default();
        Ok(Self {
            drain_delay: Duration::from_secs(parse_var("ARGUS_SHUTDOWN_DRAIN_SECONDS", d.drain_delay.as_secs())?),
            timeout_seconds: parse_var("ARGUS_SHUTDOWN_TIMEOUT_SECONDS", d.timeout_seconds)?,
        })
    }
}

/// No drain; 30 s for in-flight requests.
impl Default for Shutdown {
    fn default() -> Self {
        Self::from_seconds(0, 30)
    }
}

/// How an HTTP service starts on the database: installs the metrics
/// recorder, runs the migrations when `migrate` (`ARGUS_MIGRATE`) asks,
/// then opens the pool.
pub async fn open_store(config: &StoreConfig, migrate: bool) -> Result<(Store, Metrics), StoreError> {
    let metrics = argus_telemetry::metrics::install();
    if migrate {
        let applied = argus_store::run_migrations(&config.database_url).await?;
        tracing::info!(?applied, "migrations applied");
    }
    Ok((Store::connect(config)?, metrics))
}

/// An HTTP service's public server and its admin server beside it, bound,
/// to run until a signal.
pub struct Servers {
    port: u16,
    server: Server,
    admin_port: u16,
    admin: Server,
    readiness: Readiness,
    drain_delay: Duration,
}

impl Servers {
    /// Binds the admin server ([`admin_server`]) on `admin_addr`, then the
    /// public one on `listen_addr`: `routes` behind request tracing, with
    /// the readiness and the JSON and query rules ([`crate::body`]) as app
    /// data, every other path a problem+json 404. `/readyz` checks the
    /// database; `/metrics` serves `metrics` with the pool's gauges.
    pub fn bind(
        listen_addr: &str,
        admin_addr: &str,
        shutdown: Shutdown,
        store: &Store,
        metrics: Metrics,
        routes: impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
    ) -> Result<Self, BindError> {
        let readiness = Readiness::new().with("database", database_check(store.clone()));
        let scrape = Scrape::new(metrics).with_pool(store);
        let (admin_port, admin) = admin_server(admin_addr, readiness.clone(), scrape)?;
        let (listener, port) = listen(listen_addr)?;
        let ready = web::Data::new(readiness.clone());
        let server = HttpServer::new(move || {
            App::new()
                .wrap(actix_web::middleware::from_fn(crate::deprecation::announce))
                .wrap(actix_web::middleware::from_fn(argus_telemetry::trace_requests))
                .app_data(ready.clone())
                .app_data(crate::body::json_config())
                .app_data(crate::body::query_config())
                .configure(routes.clone())
                .default_service(web::to(crate::problem::not_found))
        })
        .disable_signals()
        .keep_alive(KEEP_ALIVE)
        .shutdown_timeout(shutdown.timeout_seconds)
        .listen(listener)
        .map_err(|source| BindError { addr: listen_addr.to_owned(), source })?
        .run();
        Ok(Self { port, server, admin_port, admin, readiness, drain_delay: shutdown.drain_delay })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The admin address's port (`/metrics`).
    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    /// Stops the public server from outside (tests, embedding).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM/SIGINT (or [`Self::handle`] stops it), then
    /// drains (see [`serve_with_admin`]).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        serve_with_admin(self.server, self.admin, self.readiness, self.drain_delay).await
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// [`serve_until_signal`] with the service's admin server (`crate::admin`)
/// beside it: the admin server keeps answering (metrics, readiness failing)
/// while the public one drains, and stops once it has.
async fn serve_with_admin(
    server: Server,
    admin: Server,
    readiness: Readiness,
    drain_delay: Duration,
) -> std::io::Result<()> {
    let admin_handle = admin.handle();
    let admin = tokio::spawn(admin);
    let served = serve_until_signal(server, readiness, drain_delay).await;
    admin_handle.stop(true).await;
    let _stopped = admin.await;
    served
}

/// Serves until SIGTERM/SIGINT, then drains: `/readyz` fails at once, and
/// after `drain_delay` (time for load balancers to notice) the server stops
/// accepting and finishes in-flight requests within its shutdown timeout.
/// The server must be built with `disable_signals()`.
async fn serve_until_signal(server: Server, readiness: Readiness, drain_delay: Duration) -> std::io::Result<()> {
    let handle = server.handle();
    let mut running = tokio::spawn(server);
    tokio::select! {
        // Stopped through its handle (tests, embedding): nothing to drain.
        ended = &mut running => return ended.map_err(std::io::Error::other)?,
        () = shutdown_signal() => {}
    }
    tracing::info!("shutting down: failing readiness, finishing in-flight requests");
    readiness.start_draining();
    tokio::time::sleep(drain_delay).await;
    handle.stop(true).await;
    running.await.map_err(std::io::Error::other)?
}
