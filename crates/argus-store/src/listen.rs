//! Dedicated `LISTEN` connections: PostgreSQL tells a process as soon as
//! another commits a change it cares about. Not pooled: a LISTEN belongs to
//! its session.

use std::future::Future;
use std::sync::Weak;
use std::time::Duration;

use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::{FutureExt, StreamExt};

use crate::StoreError;
use crate::connect::DatabaseTarget;

/// A listener that has heard nothing for this long checks its connection.
const PING_AFTER: Duration = Duration::from_secs(15);
const PING_TIMEOUT: Duration = Duration::from_secs(5);
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// What a process keeps in step with a channel: told when the listener is
/// connected (what it kept before may be stale), of every notice, of quiet
/// spells, and when the connection is lost (nothing kept can be trusted).
pub(crate) trait Follower: Send + Sync + 'static {
    /// The listener is connected and listening; notices from now on arrive.
    /// An error counts as a lost connection.
    fn connected(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn notified(&self, payloads: Vec<String>);
    /// Nothing was notified for a while (and the connection answered).
    fn quiet(&self) {}
    fn lost(&self);
}

/// Follows `channel` for `follower` until the follower is dropped:
/// reconnects with a backoff, pings a quiet connection.
pub(crate) async fn follow<F: Follower>(
    follower: Weak<F>,
    database_url: String,
    channel: &'static str,
    application_name: &'static str,
) {
    let mut backoff = Duration::from_millis(100);
    while follower.strong_count() > 0 {
        match Listener::connect(&database_url, channel, application_name).await {
            Ok(mut listener) => {
                backoff = Duration::from_millis(100);
                let connected = match follower.upgrade() {
                    Some(f) => f.connected().await,
                    None => return,
                };
                let lost = match connected {
                    Err(e) => e.to_string(),
                    Ok(()) => loop {
                        match listener.wait(PING_AFTER).await {
                            Ok(changed) if changed.is_empty() => {
                                match tokio::time::timeout(PING_TIMEOUT, listener.ping()).await {
                                    Ok(Ok(())) => {}
                                    Ok(Err(e)) => break e.to_string(),
                                    Err(_) => break "the connection did not answer".to_owned(),
                                }
                                let Some(f) = follower.upgrade() else { return };
                                f.quiet();
                            }
                            Ok(changed) => {
                                let Some(f) = follower.upgrade() else { return };
                                f.notified(changed);
                            }
                            Err(e) => break e.to_string(),
                        }
                        if follower.strong_count() == 0 {
                            return;
                        }
                    },
                };
                let Some(f) = follower.upgrade() else { return };
                f.lost();
                tracing::warn!(channel, error = %lost, "change listener lost; reading from the database until it is back");
            }
            Err(e) => {
                tracing::warn!(channel, error = %e, "change listener cannot connect; retrying");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(RECONNECT_MAX);
    }
}

pub struct Listener {
    conn: AsyncPgConnection,
}

impl Listener {
    /// Connects as `application_name` (so operators, and tests, can tell the
    /// session apart in `pg_stat_activity`) and listens on `channel`.
    pub async fn connect(database_url: &str, channel: &str, application_name: &str) -> Result<Self, StoreError> {
        let mut conn = DatabaseTarget::parse(database_url)?
            .with_application_name(application_name)
            .connect()
            .await
            .map_err(|e| StoreError::Pool(format!("cannot connect to listen: {e}")))?;
        diesel::sql_query(format!("LISTEN {channel}")).execute(&mut conn).await?;
        Ok(Self { conn })
    }

    /// Waits up to `max` for a notification, then takes every one already
    /// queued: their payloads, empty when the wait timed out. `Err`: the
    /// connection is lost (what was notified since cannot be told) and the
    /// listener must be made again.
    pub async fn wait(&mut self, max: Duration) -> Result<Vec<String>, StoreError> {
        let mut stream = std::pin::pin!(self.conn.notifications_stream());
        let first = match tokio::time::timeout(max, stream.next()).await {
            Err(_elapsed) => return Ok(Vec::new()),
            Ok(None) => return Err(StoreError::Pool("listen connection closed".to_owned())),
            Ok(Some(notification)) => notification?,
        };
        let mut payloads = vec![first.payload];
        while let Some(Some(more)) = stream.next().now_or_never() {
            payloads.push(more?.payload);
        }
        Ok(payloads)
    }

    /// The listening session itself, for what must be done on it (a
    /// session-level lock held while listening).
    pub(crate) fn session(&mut self) -> &mut AsyncPgConnection {
        &mut self.conn
    }

    /// A round trip on the connection: a listener that has heard nothing for
    /// a while checks that it is still connected (a peer that vanished
    /// without closing the connection would otherwise go unnoticed).
    pub async fn ping(&mut self) -> Result<(), StoreError> {
        diesel::sql_query("SELECT 1").execute(&mut self.conn).await?;
        Ok(())
    }
}
