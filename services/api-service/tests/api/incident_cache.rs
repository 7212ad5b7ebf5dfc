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
