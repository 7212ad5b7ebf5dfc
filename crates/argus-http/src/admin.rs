//! The admin address of every service (`ARGUS_AUTH_ADMIN_ADDR`,
//! `ARGUS_API_ADMIN_ADDR`, `ARGUS_WORKER_ADMIN_ADDR`): `GET /metrics` in the
//! Prometheus text format, and `/healthz` and `/readyz`. The public ingress
//! never routes it, and the public address never serves `/metrics`: route
//! templates, pool sizes and backlogs are for operators only.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use argus_store::Store;
use argus_telemetry::metrics::Metrics;
use argus_telemetry::metrics::catalog::{DB_POOL_CONNECTIONS, DB_POOL_MAX, DB_POOL_WAITING};

use crate::endpoint::Endpoint;
use crate::health::{self, Readiness};
use crate::serve::BindError;

/// The Prometheus text exposition format's media type.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

type Sampler = Arc<dyn Fn() + Send + Sync>;

/// What `GET /metrics` serves: the process's metrics, after the samplers
/// that set gauges read at the scrape (cheap ones only; what needs a query
/// is sampled on a timer by its owner).
#[derive(Clone)]
pub struct Scrape {
    metrics: Metrics,
    samplers: Vec<Sampler>,
}

impl Scrape {
    pub fn new(metrics: Metrics) -> Self {
        Self { metrics, samplers: Vec::new() }
    }

    /// Runs `sampler` before every scrape.
    pub fn sampling(mut self, sampler: impl Fn() + Send + Sync + 'static) -> Self {
        self.samplers.push(Arc::new(sampler));
        self
    }

    /// The database pool's gauges: connections in use and idle, its size
    /// limit, and tasks waiting for a connection.
    pub fn with_pool(self, store: &Store) -> Self {
        let store = store.clone();
        self.sampling(move || {
            let pool = store.pool_status();
            let in_use = pool.open.saturating_sub(pool.idle);
            metrics::gauge!(DB_POOL_CONNECTIONS.name, "state" => "in_use").set(in_use as f64);
            metrics::gauge!(DB_POOL_CONNECTIONS.name, "state" => "idle").set(pool.idle as f64);
            metrics::gauge!(DB_POOL_MAX.name).set(pool.max as f64);
            metrics::gauge!(DB_POOL_WAITING.name).set(pool.waiting as f64);
        })
    }

    fn render(&self) -> String {
        for sampler in &self.samplers {
            sampler();
        }
        self.metrics.render()
    }
}

/// `GET /metrics`: not in the services' OpenAPI, as it is not part of
/// their public interface.
pub async fn metrics(scrape: web::Data<Scrape>) -> HttpResponse {
    HttpResponse::Ok().content_type(TEXT_FORMAT).body(scrape.render())
}

/// Serves `/healthz`, `/readyz` and `/metrics` on `addr` (one worker
/// thread; the server must be started and stopped by its owner). Returns
/// the bound port.
pub fn admin_server(
    addr: &str,
    readiness: Readiness,
    scrape: Scrape,
) -> Result<(u16, actix_web::dev::Server), BindError> {
    let (listener, port) = crate::serve::listen(addr)?;
    let readiness = web::Data::new(readiness);
    let scrape = web::Data::new(scrape);
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(readiness.clone())
            .app_data(scrape.clone())
            .configure(health::configure)
            .service(Endpoint::new("/metrics").get(metrics))
            .default_service(web::to(crate::problem::not_found))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .map_err(|source| BindError { addr: addr.to_owned(), source })?
    .run();
    Ok((port, server))
}
