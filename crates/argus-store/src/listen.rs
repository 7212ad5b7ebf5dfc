//! Dedicated `LISTEN` connections: PostgreSQL tells a process as soon as
//! another commits a change it cares about. Not pooled: a LISTEN belongs to
//! its session.

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::{FutureExt, StreamExt};

use crate::StoreError;

pub struct Listener {
    conn: AsyncPgConnection,
}

impl Listener {
    /// Connects as `application_name` (so operators, and tests, can tell the
    /// session apart in `pg_stat_activity`) and listens on `channel`.
    pub async fn connect(database_url: &str, channel: &str, application_name: &str) -> Result<Self, StoreError> {
        let mut conn = AsyncPgConnection::establish(&named(database_url, application_name))
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

    /// A round trip on the connection: a listener that has heard nothing for
    /// a while checks that it is still connected (a peer that vanished
    /// without closing the connection would otherwise go unnoticed).
    pub async fn ping(&mut self) -> Result<(), StoreError> {
        diesel::sql_query("SELECT 1").execute(&mut self.conn).await?;
        Ok(())
    }
}

/// The connection string with `application_name` added: a query pair on a
/// `postgres://` URL, a `key=value` pair on a libpq keyword string (both
/// are accepted wherever a database URL is).
fn named(database_url: &str, application_name: &str) -> String {
    match url::Url::parse(database_url) {
        Ok(mut url) if matches!(url.scheme(), "postgres" | "postgresql") => {
            url.query_pairs_mut().append_pair("application_name", application_name);
            url.into()
        }
        _ => format!("{database_url} application_name='{application_name}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::named;

    #[test]
    fn the_application_name_joins_either_form_of_connection_string() {
        assert_eq!(
            named("postgres://u@db:5432/argus", "argus-x"),
            "postgres://u@db:5432/argus?application_name=argus-x"
        );
        assert_eq!(
            named("postgresql://u@db/argus?sslmode=require", "argus-x"),
            "postgresql://u@db/argus?sslmode=require&application_name=argus-x"
        );
        assert_eq!(named("host=db dbname=argus", "argus-x"), "host=db dbname=argus application_name='argus-x'");
    }
}
