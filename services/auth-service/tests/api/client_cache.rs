//! The token endpoint keeps authenticated clients in memory; these tests
//! hold it to the database, whoever changes it and whatever happens to the
//! connection that tells it.

use std::time::{Duration, Instant};

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::helpers::{TestApp, confidential_app};

const CC: [(&str, &str); 1] = [("grant_type", "client_credentials")];

struct Client {
    app: TestApp,
    client_id: String,
    secret: String,
}

impl Client {
    async fn registered() -> Self {
        let app = TestApp::spawn().await;
        let (_, admin) = app.tenant("A").await;
        let (client_id, secret) = app.register(&admin, confidential_app()).await;
        let client = Self { app, client_id, secret: secret.unwrap() };
        client.listener().await;
        client
    }

    async fn token_status(&self) -> u16 {
        self.app.form("/v1/oauth/token", &CC, Some((&self.client_id, &self.secret))).await.status().as_u16()
    }

    /// A connection of the test's own: another replica, or argusctl.
    async fn elsewhere(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(self.app.database_url()).await.unwrap()
    }

    /// The service's change listener's backend, once it is connected.
    async fn listener(&self) -> i32 {
        #[derive(diesel::QueryableByName)]
        struct Backend {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            pid: i32,
        }
        let mut conn = self.elsewhere().await;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found: Vec<Backend> = diesel::sql_query(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1",
            )
            .bind::<Text, _>("argus-client-cache")
            .load(&mut conn)
            .await
            .unwrap();
            if let Some(b) = found.into_iter().next() {
                return b.pid;
            }
            assert!(Instant::now() < deadline, "the client change listener never connected");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Deletes the client's secrets without telling anyone (triggers off
    /// for this session): a change whose notice is lost.
    async fn delete_secrets_silently(&self) {
        let mut conn = self.elsewhere().await;
        diesel::sql_query("SET session_replication_role = replica").execute(&mut conn).await.unwrap();
        diesel::sql_query("DELETE FROM client_secrets WHERE client_id = $1")
            .bind::<Text, _>(&self.client_id)
            .execute(&mut conn)
            .await
            .unwrap();
    }

    /// Polls until the token endpoint refuses the secret; false if it never did within 5 s.
    async fn refused_soon(&self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            match self.token_status().await {
                401 => return true,
                200 => tokio::time::sleep(Duration::from_millis(20)).await,
                other => panic!("unexpected status {other}"),
            }
        }
        false
    }
}

#[tokio::test]
async fn a_change_committed_by_another_writer_reaches_the_cached_client() {
    let c = Client::registered().await;
    assert_eq!(c.token_status().await, 200, "the client is now kept in memory");

    c.delete_secrets_silently().await;
    assert_eq!(c.token_status().await, 200, "served from memory: the database was not asked");

    // Any committed change to the app tells every replica to forget it.
    diesel::sql_query("UPDATE apps SET updated_at = now() WHERE client_id = $1")
        .bind::<Text, _>(&c.client_id)
        .execute(&mut c.elsewhere().await)
        .await
        .unwrap();
    assert!(c.refused_soon().await, "the notice made the service read the client afresh");
}

#[tokio::test]
async fn a_secret_expired_elsewhere_stops_working_at_once() {
    let c = Client::registered().await;
    assert_eq!(c.token_status().await, 200);
    diesel::sql_query("UPDATE client_secrets SET expires_at = now() WHERE client_id = $1")
        .bind::<Text, _>(&c.client_id)
        .execute(&mut c.elsewhere().await)
        .await
        .unwrap();
    assert!(c.refused_soon().await);
}

#[tokio::test]
async fn a_listener_that_reconnects_forgets_what_it_kept() {
    let c = Client::registered().await;
    assert_eq!(c.token_status().await, 200);
    let before = c.listener().await;

    // The listener's connection drops; meanwhile a change's notice is lost.
    diesel::sql_query("SELECT pg_terminate_backend($1)")
        .bind::<diesel::sql_types::Integer, _>(before)
        .execute(&mut c.elsewhere().await)
        .await
        .unwrap();
    c.delete_secrets_silently().await;

    let deadline = Instant::now() + Duration::from_secs(10);
    while c.listener().await == before {
        assert!(Instant::now() < deadline, "the listener did not reconnect");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(c.token_status().await, 401, "nothing kept from before the outage is served");
}
