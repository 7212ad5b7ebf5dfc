//! Which environment a vhost belongs to, the broker's half of the marker
//! behind the start-up refusals of issue 23 (the database's half is
//! `argus_store::environment`). A process cannot tell the live vhost from
//! the sandbox one by its name, which is the operator's choice; so the
//! vhost says what it is: an exchange `{prefix}.environment.{live|sandbox}`
//! (durable, never published to), declared by the first worker of an
//! environment to start on it. A worker refuses a vhost that holds the
//! other environment's marker; the sandbox also refuses an unmarked vhost
//! that is already in use (it has `{prefix}.events`), which can only be a
//! live one from before the markers.

use std::time::Duration;

use argus_types::Environment;
use lapin::options::ExchangeDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Connection, ErrorKind, ExchangeKind};

use crate::topology::short;
use crate::{Broker, BusError, Exchange, Topology};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// AMQP's reply code for a passive declare of what does not exist.
const NOT_FOUND: u16 = 404;

/// The marker exchange of `environment` under `prefix`.
pub fn marker(prefix: &str, environment: Environment) -> String {
    format!("{prefix}.environment.{environment}")
}

/// Claims the broker's vhost for `environment` (declares its marker)
/// unless it belongs to the other one, which is an error naming it.
pub async fn claim_vhost(broker: &Broker, topology: &Topology, environment: Environment) -> Result<(), BusError> {
    let connection = crate::connect(broker, "argus-environment-check", CONNECT_TIMEOUT).await?;
    let claimed = check_and_mark(&connection, topology, environment).await;
    let _closed = connection.close(200, "bye".into()).await;
    claimed
}

async fn check_and_mark(
    connection: &Connection,
    topology: &Topology,
    environment: Environment,
) -> Result<(), BusError> {
    let other = marker(topology.prefix(), environment.other());
    if exchange_exists(connection, &other).await? {
        return Err(BusError::Config(format!(
            "ARGUS_AMQP_URL names the {} vhost (it holds the marker exchange {other}), and this process is \
             {environment} (ARGUS_ENV={environment}): refusing to start; point it at the {environment} vhost",
            environment.other()
        )));
    }
    let own = marker(topology.prefix(), environment);
    if environment == Environment::Sandbox
        && !exchange_exists(connection, &own).await?
        && exchange_exists(connection, &topology.exchange(Exchange::Events)).await?
    {
        return Err(BusError::Config(format!(
            "the vhost at ARGUS_AMQP_URL is in use and says no environment (no {own}): it is taken for a live \
             vhost from before the markers, which the sandbox never claims; give the sandbox a vhost of its own"
        )));
    }
    let channel = connection.create_channel().await?;
    let durable = ExchangeDeclareOptions { durable: true, ..ExchangeDeclareOptions::default() };
    channel.exchange_declare(short(&own)?, ExchangeKind::Fanout, durable, FieldTable::default()).await?;
    let _closed = channel.close(200, "bye".into()).await;
    Ok(())
}

/// Whether the exchange `name` exists: a passive declare on a channel of
/// its own (a missing exchange closes the channel it was asked on).
async fn exchange_exists(connection: &Connection, name: &str) -> Result<bool, BusError> {
    let channel = connection.create_channel().await?;
    let passive = ExchangeDeclareOptions { passive: true, ..ExchangeDeclareOptions::default() };
    match channel.exchange_declare(short(name)?, ExchangeKind::Fanout, passive, FieldTable::default()).await {
        Ok(()) => {
            let _closed = channel.close(200, "bye".into()).await;
            Ok(true)
        }
        Err(e) if matches!(e.kind(), ErrorKind::ProtocolError(amqp) if amqp.get_id() == NOT_FOUND) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
