use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::tcp::OwnedTLSConfig;
use lapin::types::{FieldTable, LongString};
use lapin::{Channel, Confirmation, Connection, ConnectionProperties, DefaultConnectionBuilder};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::topology::{Exchange, Topology, short};
use crate::{BusError, Message};

/// Where the broker is (`ARGUS_AMQP_URL`) and, for `amqps://`, which
/// certificate authorities to trust besides the built-in web roots
/// (`ARGUS_AMQP_CA_FILE`).
#[derive(Debug, Clone)]
pub struct Broker {
    url: String,
    tls: OwnedTLSConfig,
}

impl Broker {
    /// A broker whose TLS certificate (if `amqps://`) chains to a public root.
    pub fn new(amqp_url: impl Into<String>) -> Self {
        Self { url: amqp_url.into(), tls: OwnedTLSConfig::default() }
    }

    /// Also trusts the PEM certificates in `ca_file`, read now so a missing
    /// or empty file fails at start-up. Only for `amqps://`: a CA for a
    /// plain connection is a mistake worth refusing.
    pub fn with_ca_file(amqp_url: impl Into<String>, ca_file: Option<&Path>) -> Result<Self, BusError> {
        let mut broker = Self::new(amqp_url);
        let Some(path) = ca_file else { return Ok(broker) };
        if !broker.url.starts_with("amqps://") {
            return Err(BusError::Config(format!(
                "ARGUS_AMQP_CA_FILE is set but ARGUS_AMQP_URL is not amqps:// ({} would be ignored)",
                path.display()
            )));
        }
        let pem = std::fs::read_to_string(path)
            .map_err(|e| BusError::Config(format!("ARGUS_AMQP_CA_FILE {}: {e}", path.display())))?;
        if !pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err(BusError::Config(format!("ARGUS_AMQP_CA_FILE {}: no PEM certificate", path.display())));
        }
        broker.tls.cert_chain = Some(pem);
        Ok(broker)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether certificates beyond the built-in roots are trusted.
    pub fn has_extra_ca(&self) -> bool {
        self.tls.cert_chain.is_some()
    }
}

impl From<&str> for Broker {
    fn from(url: &str) -> Self {
        Self::new(url)
    }
}

impl From<String> for Broker {
    fn from(url: String) -> Self {
        Self::new(url)
    }
}

/// Opens a connection named `name` (the name shows in
/// `rabbitmqctl list_connections client_properties`), bounded by `timeout`
/// so an unreachable broker fails instead of hanging.
pub async fn connect(broker: &Broker, name: &str, timeout: Duration) -> Result<Connection, BusError> {
    let properties = ConnectionProperties::default().with_connection_name(LongString::from(name));
    let connecting = DefaultConnectionBuilder::new()?
        .with_uri_str(broker.url.clone())
        .with_properties(properties)
        .with_tls_config(broker.tls.clone());
    match tokio::time::timeout(timeout, connecting.connect()).await {
        Ok(connection) => Ok(connection?),
        Err(_elapsed) => Err(BusError::Timeout(timeout)),
    }
}

/// How a [`Publisher`] connects and how patient it is.
#[derive(Debug, Clone)]
pub struct PublisherConfig {
    /// `ARGUS_AMQP_URL` (e.g. `amqp://guest:guest@127.0.0.1:5672/%2f`) and
    /// `ARGUS_AMQP_CA_FILE`.
    pub broker: Broker,
    pub topology: Topology,
    /// Shown by the broker, to tell connections apart.
    pub connection_name: String,
    pub connect_timeout: Duration,
    /// How long to wait for the broker's confirms before treating a publish
    /// as failed (and the connection as broken).
    pub confirm_timeout: Duration,
    /// Back-off between reconnect attempts, doubling from `min` to `max`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl PublisherConfig {
    pub fn new(broker: impl Into<Broker>, topology: Topology) -> Self {
        Self {
            broker: broker.into(),
            topology,
            connection_name: "argus-publisher".to_owned(),
            connect_timeout: Duration::from_secs(5),
            confirm_timeout: Duration::from_secs(10),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// Publishes with publisher confirms over one connection and channel,
/// reconnecting (and redeclaring the topology) after the connection drops.
/// Cheap to clone; clones share the connection. Publishes from many tasks
/// at once are pipelined on the channel.
///
/// While the broker is unreachable, a publish fails fast with
/// [`BusError::Unavailable`] until the back-off has elapsed, then tries to
/// reconnect: callers (the outbox relay, the consumer) keep the message and
/// retry, so an outage delays messages and the process carries on.
#[derive(Clone)]
pub struct Publisher {
    inner: Arc<Inner>,
}

struct Inner {
    config: PublisherConfig,
    state: Mutex<State>,
}

struct State {
    link: Option<Link>,
    /// Counts connections, so a failure on an old channel does not close a
    /// newer one.
    generation: u64,
    backoff: Duration,
    retry_at: Option<Instant>,
    last_error: String,
}

struct Link {
    // Held so the connection stays open as long as the channel is in use;
    // [`Publisher::queue_depth`] opens short-lived channels on it.
    connection: Connection,
    channel: Channel,
    generation: u64,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher").field("connection_name", &self.inner.config.connection_name).finish()
    }
}

impl Publisher {
    /// A publisher that connects on first use: building it never fails,
    /// so a service starts even while the broker is down.
    pub fn new(config: PublisherConfig) -> Self {
        let backoff = config.min_backoff;
        Self {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(State {
                    link: None,
                    generation: 0,
                    backoff,
                    retry_at: None,
                    last_error: String::new(),
                }),
            }),
        }
    }

    pub fn topology(&self) -> &Topology {
        &self.inner.config.topology
    }

    /// Connects now if not connected (for readiness checks and start-up).
    pub async fn ensure_connected(&self) -> Result<(), BusError> {
        self.channel().await.map(|_| ())
    }

    /// Whether the publisher holds an open channel right now.
    pub async fn is_connected(&self) -> bool {
        let state = self.inner.state.lock().await;
        state.link.as_ref().is_some_and(|link| link.channel.status().connected())
    }

    /// Publishes one message and waits for the broker's confirm. `Ok` means
    /// the broker has the message in every queue it routed to.
    pub async fn publish(&self, exchange: Exchange, routing_key: &str, message: &Message) -> Result<(), BusError> {
        let mut results = self.publish_many([(exchange, routing_key, message)]).await;
        results.pop().unwrap_or(Err(BusError::Unavailable("nothing published".to_owned())))
    }

    /// Publishes several messages back to back, then waits for all the
    /// confirms: one result per message, in order. Faster than publishing
    /// one at a time, since the broker confirms them together.
    pub async fn publish_many<'a>(
        &self,
        messages: impl IntoIterator<Item = (Exchange, &'a str, &'a Message)>,
    ) -> Vec<Result<(), BusError>> {
        let messages: Vec<_> = messages.into_iter().collect();
        if messages.is_empty() {
            return Vec::new();
        }
        let (channel, generation) = match self.channel().await {
            Ok(link) => link,
            Err(e) => {
                let reason = e.to_string();
                return messages.iter().map(|_| Err(BusError::Unavailable(reason.clone()))).collect();
            }
        };
        let topology = &self.inner.config.topology;
        let mut broken = false;
        let mut pending = Vec::with_capacity(messages.len());
        let mut spans = Vec::with_capacity(messages.len());
        for (exchange, routing_key, message) in &messages {
            let span = publish_span(&topology.exchange(*exchange), routing_key, message);
            let trace = argus_telemetry::propagation::headers_of(&span);
            spans.push(span);
            let sent = async {
                let properties = crate::message::properties(message, &trace)?;
                let exchange_name = short(&topology.exchange(*exchange))?;
                let key = short(routing_key)?;
                // mandatory: an unroutable message comes back as an error
                // instead of vanishing.
                let options = BasicPublishOptions { mandatory: true, ..BasicPublishOptions::default() };
                Ok::<_, BusError>(
                    channel.basic_publish(exchange_name, key, options, &message.payload, properties).await?,
                )
            }
            .await;
            if matches!(sent, Err(BusError::Amqp(_))) {
                broken = true;
            }
            pending.push(sent);
        }

        let deadline = Instant::now() + self.inner.config.confirm_timeout;
        let mut results = Vec::with_capacity(messages.len());
        for (((exchange, routing_key, message), sent), span) in messages.iter().zip(pending).zip(spans) {
            let confirm = match sent {
                Ok(confirm) => confirm,
                Err(e) => {
                    span.record("otel.status_code", "error");
                    span.record("error.type", e.to_string().as_str());
                    results.push(Err(e));
                    continue;
                }
            };
            let result = match tokio::time::timeout_at(deadline, confirm).await {
                Ok(Ok(Confirmation::Ack(None) | Confirmation::NotRequested)) => Ok(()),
                Ok(Ok(Confirmation::Ack(Some(_returned)))) => Err(BusError::Unroutable {
                    message_id: message.message_id.clone(),
                    exchange: topology.exchange(*exchange),
                    routing_key: (*routing_key).to_owned(),
                }),
                Ok(Ok(Confirmation::Nack(_))) => Err(BusError::Nacked { message_id: message.message_id.clone() }),
                Ok(Err(e)) => {
                    broken = true;
                    Err(BusError::Amqp(e))
                }
                Err(_elapsed) => {
                    broken = true;
                    Err(BusError::Timeout(self.inner.config.confirm_timeout))
                }
            };
            if let Err(e) = &result {
                span.record("otel.status_code", "error");
                span.record("error.type", e.to_string().as_str());
            }
            results.push(result);
        }
        if broken {
            self.invalidate(generation, &results).await;
        }
        results
    }

    /// How many ready messages `queue` holds (for the metrics: the
    /// dead-letter queue's depth). A passive declare on a channel of its
    /// own, closed after: an error there (a missing queue closes its
    /// channel) never touches the channel that publishes.
    pub async fn queue_depth(&self, queue: &str) -> Result<u32, BusError> {
        self.ensure_connected().await?;
        let channel = {
            let state = self.inner.state.lock().await;
            let link = state.link.as_ref().ok_or_else(|| BusError::Unavailable("not connected".to_owned()))?;
            link.connection.create_channel().await?
        };
        let passive = QueueDeclareOptions { passive: true, ..QueueDeclareOptions::default() };
        let declared = channel.queue_declare(short(queue)?, passive, FieldTable::default()).await;
        if channel.status().connected() {
            let _closed = channel.close(200, "bye".into()).await;
        }
        Ok(declared?.message_count())
    }

    /// Closes the connection; a later publish reconnects.
    pub async fn close(&self) {
        let link = self.inner.state.lock().await.link.take();
        if let Some(link) = link {
            let _ = link.channel.close(200, "bye".into()).await;
        }
    }

    /// The open channel, reconnecting first if needed (and allowed by the
    /// back-off).
    async fn channel(&self) -> Result<(Channel, u64), BusError> {
        let config = &self.inner.config;
        let mut state = self.inner.state.lock().await;
        if let Some(link) = &state.link {
            if link.channel.status().connected() {
                return Ok((link.channel.clone(), link.generation));
            }
            tracing::warn!(connection = %config.connection_name, "broker channel closed; reconnecting");
            state.link = None;
        }
        if let Some(at) = state.retry_at
            && Instant::now() < at
        {
            return Err(BusError::Unavailable(format!("reconnecting after: {}", state.last_error)));
        }
        match self.open().await {
            Ok((connection, channel)) => {
                state.generation += 1;
                state.backoff = config.min_backoff;
                state.retry_at = None;
                let generation = state.generation;
                state.link = Some(Link { connection, channel: channel.clone(), generation });
                tracing::info!(connection = %config.connection_name, "connected to the broker");
                Ok((channel, generation))
            }
            Err(e) => {
                state.retry_at = Some(Instant::now() + state.backoff);
                tracing::warn!(
                    connection = %config.connection_name,
                    error = %e,
                    retry_in_ms = state.backoff.as_millis() as u64,
                    "cannot connect to the broker"
                );
                state.backoff = (state.backoff * 2).min(config.max_backoff);
                state.last_error = e.to_string();
                Err(e)
            }
        }
    }

    async fn open(&self) -> Result<(Connection, Channel), BusError> {
        let config = &self.inner.config;
        let connection = connect(&config.broker, &config.connection_name, config.connect_timeout).await?;
        let channel = connection.create_channel().await?;
        // Declared on every connect, so a broker that lost its definitions
        // (a reset node, a new vhost) routes again before the first publish.
        config.topology.declare(&channel).await?;
        channel.confirm_select(ConfirmSelectOptions::default()).await?;
        Ok((connection, channel))
    }

    async fn invalidate(&self, generation: u64, results: &[Result<(), BusError>]) {
        let mut state = self.inner.state.lock().await;
        if state.link.as_ref().is_some_and(|link| link.generation == generation) {
            let reason = results.iter().find_map(|r| r.as_ref().err()).map(ToString::to_string).unwrap_or_default();
            tracing::warn!(connection = %self.inner.config.connection_name, %reason, "dropping broker connection");
            state.link = None;
        }
    }
}

/// The PRODUCER span of one publish, after the OpenTelemetry messaging
/// conventions: a child of the trace the message carries (an outbox row
/// keeps its writer's), else of the current span. It lasts until the
/// broker's confirm, and the message carries it as its `traceparent`.
fn publish_span(exchange: &str, routing_key: &str, message: &Message) -> tracing::Span {
    let span = tracing::info_span!(
        "publish",
        otel.name = %format_args!("publish {exchange}"),
        otel.kind = "producer",
        otel.status_code = tracing::field::Empty,
        "error.type" = tracing::field::Empty,
        "messaging.system" = "rabbitmq",
        "messaging.operation.type" = "send",
        "messaging.operation.name" = "publish",
        "messaging.destination.name" = exchange,
        "messaging.rabbitmq.destination.routing_key" = routing_key,
        "messaging.message.id" = message.message_id.as_str(),
        "messaging.message.body.size" = message.payload.len() as i64,
        "argus.tenant_id" = message.tenant_id.as_str(),
    );
    argus_telemetry::propagation::set_parent_from_map(&span, &message.headers);
    span
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUAA==\n-----END CERTIFICATE-----\n";

    #[test]
    fn a_ca_file_is_read_at_start_and_only_for_amqps() {
        let dir = std::env::temp_dir().join(format!("argus-bus-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (ca, junk) = (dir.join("ca.pem"), dir.join("junk.pem"));
        std::fs::write(&ca, CA).unwrap();
        std::fs::write(&junk, "not a certificate").unwrap();

        let broker = Broker::with_ca_file("amqps://u:p@mq.internal:5671/%2f", Some(&ca)).unwrap();
        assert!(broker.has_extra_ca());
        assert_eq!(broker.url(), "amqps://u:p@mq.internal:5671/%2f");
        assert!(!Broker::with_ca_file("amqps://mq/%2f", None).unwrap().has_extra_ca());
        assert!(!Broker::from("amqp://mq/%2f").has_extra_ca());

        let refused = |url: &str, file: &Path, expected: &str| {
            let err = Broker::with_ca_file(url, Some(file)).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        };
        refused("amqp://mq:5672/%2f", &ca, "is not amqps://");
        refused("amqps://mq/%2f", &dir.join("missing.pem"), "missing.pem");
        refused("amqps://mq/%2f", &junk, "no PEM certificate");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
