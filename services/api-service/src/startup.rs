//! Builds the HTTP server from a config.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use argus_store::{Store, StoreError};
use argus_telemetry::health::{self, Readiness};
use argus_telemetry::http;

use crate::config::ApiConfig;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    pub async fn build(config: ApiConfig) -> Result<Self, StartupError> {
        if config.migrate {
            let applied = argus_store::run_migrations(&config.store.database_url).await?;
            tracing::info!(?applied, "migrations applied");
        }
        let store = Store::connect(&config.store)?;
        let readiness = web::Data::new(Readiness::new().with("database", health::database_check(store)));
        let bind_error = |source| StartupError::Bind { addr: config.listen_addr.clone(), source };
        let listener = TcpListener::bind(&config.listen_addr).map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(argus_telemetry::request_spans())
                .app_data(readiness.clone())
                .configure(health::configure)
                .default_service(web::to(http::not_found))
        })
        .listen(listener)
        .map_err(bind_error)?
        .run();
        tracing::info!(port, environment = ?config.environment, "api-service listening");
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
