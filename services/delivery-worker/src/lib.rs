//! delivery-worker: takes webhook and job work off RabbitMQ and delivers it.
//! For now it runs its admin endpoint (health, readiness); consuming comes
//! with the webhooks issue.

pub mod config;

use argus_store::{Store, StoreError};
use argus_telemetry::health::{self, Readiness};

pub use config::WorkerConfig;

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Worker {
    admin_port: u16,
    admin: actix_web::dev::Server,
}

impl Worker {
    pub fn build(config: WorkerConfig) -> Result<Self, WorkerError> {
        let store = Store::connect(&config.store)?;
        let readiness = Readiness::new().with("database", health::database_check(store));
        let (admin_port, admin) = health::admin_server(&config.admin_addr, readiness)
            .map_err(|source| WorkerError::Bind { addr: config.admin_addr.clone(), source })?;
        tracing::info!(admin_port, "delivery-worker admin endpoint listening");
        Ok(Self { admin_port, admin })
    }

    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.admin.await
    }
}
