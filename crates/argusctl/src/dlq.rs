//! `argusctl dlq`: the dead-letter queue's messages, listed, replayed onto
//! the queues they died in, or purged (see `argus_bus::dead_letters`).

use argus_bus::dead_letters::{self, DeadLetter, Selection};
use argus_bus::{Broker, Topology};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::CtlError;

/// Where the broker is, from the variables the services read.
#[derive(Args)]
pub struct BusArgs {
    /// The broker (`amqp://` or `amqps://`).
    #[arg(long, env = "ARGUS_AMQP_URL", default_value = "amqp://guest:guest@127.0.0.1:5672/%2f", global = true)]
    amqp_url: String,
    /// PEM certificates to trust for an `amqps://` broker (a private CA).
    #[arg(long, env = "ARGUS_AMQP_CA_FILE", global = true)]
    amqp_ca_file: Option<std::path::PathBuf>,
    /// The prefix of the deployment's exchanges and queues.
    #[arg(long, env = "ARGUS_BUS_PREFIX", default_value = argus_bus::topology::DEFAULT_PREFIX, global = true)]
    bus_prefix: String,
}

#[derive(Subcommand)]
pub enum DlqCommand {
    /// List dead messages (kind, ids, tenant, queue, reason, when it died),
    /// leaving them in the queue.
    List {
        /// Only this tenant's messages.
        #[arg(long)]
        tenant: Option<String>,
        /// At most this many (1 to 10000).
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Put dead messages back on the queues they died in (at least once;
    /// two replays never take the same message at once). With neither
    /// --tenant nor --id, every dead message.
    Replay {
        /// Only this tenant's messages.
        #[arg(long)]
        tenant: Option<String>,
        /// Only these messages: a message id or an id it names (delivery,
        /// job or event id). Repeatable.
        #[arg(long = "id")]
        ids: Vec<String>,
    },
    /// Delete the messages that died before a time.
    Purge {
        /// RFC 3339, e.g. 2026-12-01T00:00:00Z.
        #[arg(long)]
        before: String,
        /// Only this tenant's messages.
        #[arg(long)]
        tenant: Option<String>,
    },
}

const MAX_LIST: usize = 10_000;

pub async fn run(bus: BusArgs, command: DlqCommand) -> Result<Value, CtlError> {
    let broker = Broker::with_ca_file(bus.amqp_url, bus.amqp_ca_file.as_deref())?;
    let topology = Topology::new(bus.bus_prefix, []);
    match command {
        DlqCommand::List { tenant, limit } => {
            if !(1..=MAX_LIST).contains(&limit) {
                return Err(CtlError::Input(format!("--limit must be 1 to {MAX_LIST}")));
            }
            let selection = Selection { tenant, limit: Some(limit), ..Selection::default() };
            let found = dead_letters::list(&broker, &topology, &selection).await?;
            Ok(json!({ "dead_letters": found }))
        }
        DlqCommand::Replay { tenant, ids } => {
            let selection = Selection { tenant, ids, ..Selection::default() };
            let replayed = dead_letters::replay(&broker, &topology, &selection).await?;
            Ok(json!({ "replayed": replayed.len(), "messages": summary(&replayed) }))
        }
        DlqCommand::Purge { before, tenant } => {
            let before = DateTime::parse_from_rfc3339(&before)
                .map_err(|e| CtlError::Input(format!("--before `{before}` is not an RFC 3339 time: {e}")))?
                .with_timezone(&Utc);
            let selection = Selection { tenant, before: Some(before), ..Selection::default() };
            let purged = dead_letters::purge(&broker, &topology, &selection).await?;
            Ok(json!({ "purged": purged.len(), "messages": summary(&purged) }))
        }
    }
}

fn summary(messages: &[DeadLetter]) -> Vec<Value> {
    messages.iter().map(|m| json!({ "message_id": m.message_id, "kind": m.kind, "queue": m.queue })).collect()
}
