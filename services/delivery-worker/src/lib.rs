//! delivery-worker: relays the outbox to RabbitMQ, fans events out to the
//! tenants' webhooks, and delivers each one signed (Standard Webhooks),
//! retrying on the configured schedule through the broker's delay queues;
//! runs async jobs from the jobs queue, and sends their signed callbacks
//! like deliveries.

mod callback;
pub mod config;
mod deliver;
mod in_flight;
mod jobs;
mod limit;
mod metrics;
mod mock;
mod record;
mod sender;
mod task;
mod webhook_cache;

use std::sync::Arc;

use argus_bus::{
    Broker, BusError, CancellationToken, ConsumerConfig, Incoming, OutboxRelay, Outcome, Publisher, PublisherConfig,
    RelayConfig, Topology, WorkQueue, run_consumer_forever,
};
use argus_crypto::webhook::SecretBox;
use argus_http::admin::{self, Scrape};
use argus_http::environment::Check;
use argus_http::health::{self, Readiness};
use argus_http::serve::BindError;
use argus_store::{Store, StoreError};
use argus_types::Environment;

use crate::mock::{MockConnectors, Outbound};

pub use config::{JobsConfig, WorkerConfig, parse_schedule};
pub use deliver::DISABLE_AFTER_DAYS;

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error(transparent)]
    Bus(#[from] BusError),
    /// The other environment's database or vhost.
    #[error("{0}")]
    Environment(String),
}

/// Refuses to start on the other environment's database or vhost: the
/// database's claim (`argusctl migrate`) and the vhost's marker exchange
/// must both say `config.environment`; an unmarked vhost is claimed (see
/// `argus_bus::environment`). Either one down is checked again once it
/// answers (`argus_http::environment`).
pub async fn check_environment(config: &WorkerConfig) -> Result<(), WorkerError> {
    let environment = config.environment;
    let store = Store::connect(&config.store)?;
    argus_http::environment::check_database(&store, environment, false).await.map_err(WorkerError::Environment)?;
    let broker = Broker::with_ca_file(config.amqp_url.clone(), config.amqp_ca_file.as_deref())?;
    let topology = Topology::new(config.bus_prefix.clone(), deliver::delay_queues_ms(&config.retry_schedule));
    argus_http::environment::check_at_start("vhost", move || {
        let (broker, topology) = (broker.clone(), topology.clone());
        async move {
            match argus_bus::environment::claim_vhost(&broker, &topology, environment).await {
                Ok(()) => Check::Passed,
                Err(e @ BusError::Config(_)) => Check::Refused(e.to_string()),
                Err(e) => Check::Unreachable(e.to_string()),
            }
        }
    })
    .await
    .map_err(WorkerError::Environment)
}

pub struct Worker {
    admin_port: u16,
    admin: actix_web::dev::Server,
    readiness: Readiness,
    shutdown: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// A consumer's error that reconnecting cannot fix: it stops the worker,
    /// which then exits with it.
    refused: Refused,
}

type Refused = Arc<std::sync::Mutex<Option<BusError>>>;

impl Worker {
    /// Starts the relay, the consumers, the backlog sampler and the admin
    /// endpoint (`/metrics`, `/healthz`, `/readyz`).
    pub fn build(config: WorkerConfig) -> Result<Self, WorkerError> {
        let metrics = argus_telemetry::metrics::install();
        if config.secret_pepper == argus_crypto::DEV_PEPPER {
            tracing::warn!("ARGUS_SECRET_PEPPER is unset: using the development pepper");
        }
        let store = Store::connect(&config.store)?;
        let topology = Topology::new(config.bus_prefix.clone(), deliver::delay_queues_ms(&config.retry_schedule));
        let broker = Broker::with_ca_file(config.amqp_url.clone(), config.amqp_ca_file.as_deref())?;
        let mut publisher_config = PublisherConfig::new(broker.clone(), topology.clone());
        publisher_config.connection_name = "argus-delivery-worker-relay".into();
        let publisher = Publisher::new(publisher_config);
        let deliverer = Arc::new(deliver::Deliverer {
            store: store.clone(),
            publisher: publisher.clone(),
            // The sandbox sends nothing to the network.
            sender: match config.environment {
                Environment::Live => {
                    Outbound::Network(sender::Sender::new(config.request_timeout, config.allow_private)?)
                }
                Environment::Sandbox => Outbound::Mock(MockConnectors { store: store.clone() }),
            },
            sealer: SecretBox::new(config.secret_pepper.as_bytes()),
            schedule: config.retry_schedule.clone(),
            sending: tokio::sync::Semaphore::new(usize::from(config.concurrency.max(1))),
            caps: in_flight::InFlight::new(
                config.per_webhook_in_flight,
                config.per_tenant_in_flight,
                config.concurrency,
            ),
            recorder: record::Recorder::start(store.clone()),
            webhooks: webhook_cache::WebhookCache::listening_to(config.store.database_url.clone()),
        });
        let shutdown = CancellationToken::new();
        let refused = Refused::default();
        let consumers = Consumers { broker: &broker, topology: &topology, shutdown: &shutdown, refused: &refused };
        let mut tasks = Vec::new();

        let relay = OutboxRelay::new(
            store.clone(),
            config.store.database_url.clone(),
            publisher.clone(),
            RelayConfig::default(),
        );
        tasks.push(tokio::spawn(relay.run(shutdown.clone())));

        let fan_out = deliverer.clone();
        // Events in flight at once: each makes its deliveries' first attempts,
        // so as many as the requests allowed in flight.
        let fan_out_config = ConsumerConfig::new(WorkQueue::Fanout, config.concurrency);
        tasks.push(consumers.spawn(fan_out_config, move |m| {
            let d = fan_out.clone();
            async move { d.fan_out(m).await }
        }));

        let deliveries = deliverer.clone();
        let deliveries_config = ConsumerConfig::new(WorkQueue::Deliveries, config.concurrency);
        tasks.push(consumers.spawn(deliveries_config, move |m| {
            let d = deliveries.clone();
            async move { d.deliver(m).await }
        }));

        let runner = Arc::new(jobs::JobRunner {
            store: store.clone(),
            publisher: publisher.clone(),
            lease: config.jobs.lease,
            checkpoint_every: config.jobs.checkpoint_every,
            import_batch: config.jobs.import_batch,
            graphs: jobs::GraphCache::new(config.jobs.graph_cache),
            max_rows: config.jobs.max_rows,
            keep_result: chrono::Duration::from_std(config.jobs.result_retention).unwrap_or(chrono::Duration::MAX),
            shutdown: shutdown.clone(),
        });
        let jobs_config = ConsumerConfig::new(WorkQueue::Jobs, config.jobs.concurrency);
        tasks.push(consumers.spawn(jobs_config, move |m| runner.clone().handle(m)));
        tasks.push(tokio::spawn(jobs::housekeeping(store.clone(), shutdown.clone())));
        tasks.push(tokio::spawn(metrics::sample_backlogs(store.clone(), publisher.clone(), shutdown.clone())));
        let scrape = Scrape::new(metrics).with_pool(&store);

        let readiness = Readiness::new().with("database", health::database_check(store)).with("broker", move || {
            let publisher = publisher.clone();
            async move { publisher.ensure_connected().await.map_err(|e| e.to_string()) }
        });
        let readiness_handle = readiness.clone();
        let (admin_port, admin) = admin::admin_server(&config.admin_addr, readiness, scrape)?;
        tracing::info!(admin_port, "delivery-worker running");
        Ok(Self { admin_port, admin, readiness: readiness_handle, shutdown, tasks, refused })
    }

    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    /// A token that stops the worker when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Runs until SIGTERM/SIGINT or the shutdown token: then stops
    /// consuming, lets in-flight deliveries finish and settle, and returns;
    /// with the error when the broker refused the worker's configuration.
    pub async fn run_until_stopped(self) -> Result<(), WorkerError> {
        let admin_handle = self.admin.handle();
        let admin = tokio::spawn(self.admin);
        tokio::select! {
            _ = self.shutdown.cancelled() => {}
            _ = argus_http::serve::shutdown_signal() => {
                tracing::info!("shutting down: finishing in-flight deliveries");
                self.shutdown.cancel();
            }
        }
        self.readiness.start_draining();
        for task in self.tasks {
            let _ = task.await;
        }
        admin_handle.stop(true).await;
        let _ = admin.await;
        match self.refused.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            Some(refused) => Err(refused.into()),
            None => Ok(()),
        }
    }
}

/// What the worker's consumers share.
struct Consumers<'a> {
    broker: &'a Broker,
    topology: &'a Topology,
    shutdown: &'a CancellationToken,
    refused: &'a Refused,
}

impl Consumers<'_> {
    /// Consumes `config`'s queue with `handle` until `shutdown`, reconnecting
    /// after broker failures (see [`run_consumer_forever`]); a configuration
    /// the broker refuses stops the whole worker.
    fn spawn<H, Fut>(&self, config: ConsumerConfig, handle: H) -> tokio::task::JoinHandle<()>
    where
        H: Fn(Incoming) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        let (broker, topology, shutdown, refused) =
            (self.broker.clone(), self.topology.clone(), self.shutdown.clone(), self.refused.clone());
        tokio::spawn(async move {
            if let Err(e) = run_consumer_forever(&broker, &topology, &config, handle, shutdown.clone()).await {
                tracing::error!(queue = %topology.queue(config.queue), error = %e, "the broker refused the worker's configuration; stopping");
                refused.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get_or_insert(e);
                shutdown.cancel();
            }
        })
    }
}
