//! Reads of one incident by id are served from memory; these tests hold
//! them to the database, whoever changes it.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{Stack, TestClient, op, post};

const BUNDLE: &str = "incident-webhook-configuration";

struct Reader {
    stack: Stack,
    ops: Vec<argus_store::bundles::BundleOperation>,
    client: TestClient,
    token: String,
}

impl Reader {
    async fn start() -> Self {
        let stack = Stack::start().await;
        let ops = stack.load_shipped_bundle(BUNDLE).await;
        let (client, token) = stack.granted_client(None, &["incidents:read", "incidents:write"], BUNDLE).await;
        let reader = Self { stack, ops, client, token };
        reader.wait_for_listener().await;
        reader
    }

    async fn call_as(&self, client: &TestClient, token: &str, name: &str, variables: Value) -> Value {
        let request = json!({ "id": format!("sha256:{}", op(&self.ops, name).sha256), "variables": variables });
        let r = post(&self.stack.http, &self.stack.api, Some(token), Some(client.tenant.as_str()), request).await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    async fn call(&self, name: &str, variables: Value) -> Value {
        self.call_as(&self.client, &self.token, name, variables).await
    }

    async fn create(&self, title: &str) -> String {
        let body = self.call("CreateIncident", json!({ "input": { "title": title, "severity": "LOW" } })).await;
        body["data"]["createIncident"]["id"].as_str().unwrap().to_owned()
    }

    /// The incident's title, or `None` when it is NOT_FOUND.
    async fn title(&self, id: &str) -> Option<String> {
        let body = self.call("IncidentById", json!({ "id": id })).await;
        match body["data"]["incident"]["title"].as_str() {
            Some(title) => Some(title.to_owned()),
            None => {
                assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND", "{body}");
                None
            }
        }
    }

    /// Polls until the incident reads as `expected`; false if it never did
    /// within 5 s.
    async fn reads_soon(&self, id: &str, expected: Option<&str>) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.title(id).await.as_deref() == expected {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// Runs SQL on the test's database, as another writer would.
    fn sql(&self, statement: &str) -> String {
        let out =
            std::process::Command::new("psql").arg(self.stack.db.url()).args(["-tAc", statement]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    async fn wait_for_listener(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND application_name = 'argus-incident-cache'",
        ) == "0"
        {
            assert!(Instant::now() < deadline, "the incident change listener never connected");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn an_incident_changed_by_another_writer_is_read_afresh() {
    let r = Reader::start().await;
    let id = r.create("One").await;
    assert_eq!(r.title(&id).await.as_deref(), Some("One"), "now kept in memory");

    r.sql(&format!("SET session_replication_role = replica; UPDATE incidents SET title = 'Silent' WHERE id = '{id}'"));
    assert_eq!(r.title(&id).await.as_deref(), Some("One"), "served from memory: the database was not asked");

    r.sql(&format!("UPDATE incidents SET title = 'Two' WHERE id = '{id}'"));
    assert!(r.reads_soon(&id, Some("Two")).await, "the notice made the service read it afresh");
    r.sql(&format!("DELETE FROM incidents WHERE id = '{id}'"));
    assert!(r.reads_soon(&id, None).await, "a deleted incident is not found");
}

#[tokio::test]
async fn a_mutation_reads_back_at_once_and_tenants_stay_apart() {
    let r = Reader::start().await;
    let id = r.create("Before").await;
    assert_eq!(r.title(&id).await.as_deref(), Some("Before"));

    let body = r.call("UpdateIncident", json!({ "id": id, "input": { "title": "After" } })).await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(r.title(&id).await.as_deref(), Some("After"), "this replica forgot it when it wrote");
    r.call("CloseIncident", json!({ "id": id })).await;
    let body = r.call("IncidentById", json!({ "id": id })).await;
    assert_eq!(body["data"]["incident"]["status"], "CLOSED", "{body}");

    // Another tenant's read of the same id, kept for its owner, is NOT_FOUND.
    let (other, token) = r.stack.granted_client(None, &["incidents:read"], BUNDLE).await;
    let body = r.call_as(&other, &token, "IncidentById", json!({ "id": id })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND", "{body}");
    assert!(body["data"]["incident"].is_null());
}

#[tokio::test]
async fn a_bulk_change_forgets_the_tenants_incidents() {
    let r = Reader::start().await;
    let id = r.create("Single").await;
    assert_eq!(r.title(&id).await.as_deref(), Some("Single"));
    let tenant = r.client.tenant.as_str();
    r.sql(&format!(
        "INSERT INTO incidents (id, tenant_id, title, severity, reporter) \
         SELECT 'inc_bulk' || lpad(i::text, 22, '0'), '{tenant}', 'Bulk ' || i, 'low', 'test' \
         FROM generate_series(1, 150) i"
    ));
    // One statement over 151 rows: one notice for the tenant, not one per row.
    r.sql(&format!("UPDATE incidents SET title = 'Renamed' WHERE tenant_id = '{tenant}'"));
    assert!(r.reads_soon(&id, Some("Renamed")).await);
}

impl Reader {
    async fn incident(&self, id: &str) -> Value {
        let body = self.call("IncidentById", json!({ "id": id })).await;
        assert!(body["errors"].is_null(), "{body}");
        body["data"]["incident"].clone()
    }

    /// The `data` of the incident's last `incident.updated` event: each
    /// update's time is after the one it changed, so the latest is the last.
    fn last_update_announced(&self, id: &str) -> Value {
        let data = self.sql(&format!(
            "SELECT envelope->'data' FROM events WHERE type = 'incident.updated' \
             AND envelope->'data'->>'id' = '{id}' \
             ORDER BY (envelope->'data'->>'updated_at')::timestamptz DESC LIMIT 1"
        ));
        serde_json::from_str(&data).unwrap()
    }

    fn updates_announced(&self, id: &str) -> usize {
        self.sql(&format!(
            "SELECT count(*) FROM events WHERE type = 'incident.updated' AND envelope->'data'->>'id' = '{id}'"
        ))
        .parse()
        .unwrap()
    }
}

/// An update starts from the copy this replica keeps. When another writer
/// changed the row and its notice has not arrived (here: never sent), the
/// update must not write the stale copy's fields back over that change.
#[tokio::test]
async fn an_update_from_a_stale_copy_keeps_another_writers_change() {
    let r = Reader::start().await;
    let id = r.create("Kept").await;
    assert_eq!(r.title(&id).await.as_deref(), Some("Kept"), "now kept in memory");
    r.sql(&format!(
        "SET session_replication_role = replica; UPDATE incidents SET location = 'Moved', \
         description = 'Written elsewhere', updated_at = now() WHERE id = '{id}'"
    ));
    assert_eq!(r.incident(&id).await["location"], Value::Null, "the copy is stale");

    let body = r.call("UpdateIncident", json!({ "id": id, "input": { "severity": "CRITICAL" } })).await;
    assert!(body["errors"].is_null(), "{body}");
    let updated = &body["data"]["updateIncident"];
    assert_eq!(updated["severity"], "CRITICAL");
    assert_eq!(updated["location"], "Moved", "the other writer's change is kept: {body}");
    let read = r.incident(&id).await;
    assert_eq!((&read["location"], &read["description"]), (&json!("Moved"), &json!("Written elsewhere")));
    assert_eq!(read["updatedAt"], updated["updatedAt"]);
    assert_eq!(r.updates_announced(&id), 1, "the retried update is announced once");
    let announced = r.last_update_announced(&id);
    assert_eq!(announced["description"], "Written elsewhere");
    assert_eq!(announced["severity"], "critical");

    // Closed, silently, since the copy was kept: the update is refused and
    // announces nothing.
    r.sql(&format!(
        "SET session_replication_role = replica; UPDATE incidents SET status = 'closed', closed_at = now(), \
         updated_at = now() WHERE id = '{id}'"
    ));
    let body = r.call("UpdateIncident", json!({ "id": id, "input": { "title": "Too late" } })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT", "{body}");
    assert_eq!(r.sql(&format!("SELECT title FROM incidents WHERE id = '{id}'")), "Kept");
    assert_eq!(r.updates_announced(&id), 1);

    // Deleted, silently: not found, and nothing announced.
    let gone = r.create("Gone").await;
    assert_eq!(r.title(&gone).await.as_deref(), Some("Gone"));
    r.sql(&format!("SET session_replication_role = replica; DELETE FROM incidents WHERE id = '{gone}'"));
    let body = r.call("UpdateIncident", json!({ "id": gone, "input": { "title": "Back" } })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND", "{body}");
    assert_eq!(r.updates_announced(&gone), 0);
}

/// The record an update answers and announces is computed, not read back:
/// it must be what the database keeps, to the microsecond, however fine the
/// time it was given.
#[tokio::test]
async fn an_update_answers_and_announces_what_the_database_keeps() {
    let r = Reader::start().await;
    let id = r.create("Precise").await;
    for occurred_at in ["1999-12-31T23:59:59.999999999Z", "2026-05-08T09:00:00.123456789Z"] {
        let body = r.call("UpdateIncident", json!({ "id": id, "input": { "occurredAt": occurred_at } })).await;
        assert!(body["errors"].is_null(), "{body}");
        let read = r.incident(&id).await;
        assert_eq!(read["updatedAt"], body["data"]["updateIncident"]["updatedAt"], "{occurred_at}");
        let announced = r.last_update_announced(&id);
        assert_eq!(announced["occurred_at"], read["occurredAt"], "{occurred_at}");
        assert_eq!(announced["updated_at"], read["updatedAt"], "{occurred_at}");
    }
    assert_eq!(
        r.sql(&format!("SELECT occurred_at = '2026-05-08T09:00:00.123456Z' FROM incidents WHERE id = '{id}'")),
        "t"
    );
}

/// Concurrent updates of one incident each change it once, in some order:
/// every one is announced, with a time of its own, and the row is the last.
#[tokio::test]
async fn concurrent_updates_of_one_incident_each_land_once() {
    let r = Reader::start().await;
    let id = r.create("Contended").await;
    let titles: Vec<String> = (0..24).map(|i| format!("Title {i}")).collect();
    let answers = futures_util::future::join_all(
        titles.iter().map(|t| r.call("UpdateIncident", json!({ "id": id, "input": { "title": t } }))),
    )
    .await;
    for body in &answers {
        assert!(body["errors"].is_null(), "{body}");
    }
    assert_eq!(r.updates_announced(&id), titles.len());
    let times = r.sql(&format!(
        "SELECT count(DISTINCT envelope->'data'->>'updated_at') FROM events \
         WHERE type = 'incident.updated' AND envelope->'data'->>'id' = '{id}'"
    ));
    assert_eq!(times, titles.len().to_string(), "each update is a version of its own");
    let last = r.last_update_announced(&id);
    let row = r.incident(&id).await;
    assert_eq!(row["title"], last["title"]);
    assert_eq!(row["updatedAt"], last["updated_at"]);
}
