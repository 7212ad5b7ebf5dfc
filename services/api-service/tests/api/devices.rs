//! Medical devices and their PHD observations through
//! `/api/v1/devices…`: enrol, list, observations simple and compound, bad
//! ones refused with nothing stored, an encounter marked changed, tenancy
//! and scopes on every route, and the OpenAPI examples as pasted.

use argus_domain::epcr::Encounter;
use argus_store::devices::EncounterDevices;
use argus_store::epcr::EncounterAccess;
use argus_store::{StoreError, WriteStamp};
use argus_types::{EncounterId, TenantId};
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::{Stack, drain_outbox};

const MDC: &str = "urn:iso:std:iso:11073:10101";
const BOTH: &[&str] = &["devices:read", "devices:write"];

/// A tenant's caller: its token and tenant id.
struct Caller<'a> {
    stack: &'a Stack,
    token: String,
    tenant: TenantId,
}

impl<'a> Caller<'a> {
    async fn new(stack: &'a Stack, scopes: &[&str]) -> Self {
        let client = stack.client(None, scopes).await;
        let token = stack.cc_token(&client, None).await;
        Self { stack, token, tenant: client.tenant }
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut request = self.stack.request(method, path, &self.token, &self.tenant);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// The status and JSON body of a request.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let r = self.send(method, path, body).await;
        (r.status().as_u16(), r.json().await.unwrap())
    }

    async fn enrol(&self, serial: &str, manufacturer: &str, device_type: &str) -> (u16, Value) {
        let body = json!({
            "serial_number": serial,
            "manufacturer": manufacturer,
            "model": "Model 1",
            "type": { "system": MDC, "code": device_type },
        });
        self.call(Method::POST, "/api/v1/devices/enrol", Some(body)).await
    }

    async fn enrolled(&self, serial: &str, device_type: &str) -> String {
        let (status, body) = self.enrol(serial, "Nonin Medical", device_type).await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    async fn list(&self, query: &str) -> (u16, Value) {
        self.call(Method::GET, &format!("/api/v1/devices?{query}"), None).await
    }

    async fn observe(&self, device: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, &format!("/api/v1/devices/{device}/observations"), Some(body)).await
    }
}

fn serials(list: &Value) -> Vec<&str> {
    list["devices"].as_array().unwrap().iter().map(|d| d["serial_number"].as_str().unwrap()).collect()
}

fn spo2(value: f64, unit: &str) -> Value {
    json!({
        "code": { "coding": [{ "system": MDC, "code": "150456" }, { "system": "http://loinc.org", "code": "59408-5" }] },
        "value_quantity": { "value": value, "unit": unit, "system": "http://unitsofmeasure.org" },
        "effective_date_time": "2026-05-08T09:30:00Z",
    })
}

fn nibp(systolic: f64, diastolic: f64, mean: f64) -> Value {
    let component = |code: &str, value: f64| json!({ "code": { "coding": [{ "system": MDC, "code": code }] }, "value_quantity": { "value": value, "unit": "mm[Hg]" } });
    json!({
        "code": { "coding": [{ "system": MDC, "code": "150020" }] },
        "component": [component("150021", systolic), component("150022", diastolic), component("150023", mean)],
        "effective_date_time": "2026-05-08T09:31:00Z",
    })
}

/// A 400 whose detail names `field`, as does its `invalid-params` (a
/// body's fields; a query parameter's problem has none).
fn assert_names(status: u16, body: &Value, field: &str) {
    assert_eq!(status, 400, "{body}");
    assert!(body["detail"].as_str().unwrap().contains(field), "{field} not named: {body}");
    if let Some(params) = body["invalid-params"].as_array() {
        let named = params
            .iter()
            .any(|p| format!("{}: {}", p["name"].as_str().unwrap(), p["reason"].as_str().unwrap()).contains(field));
        assert!(named, "{field} not in invalid-params: {body}");
    }
}

/// What the FHIR export reads of an encounter (its record read as the
/// export reads it): `None` when the tenant has no such record.
async fn linked(stack: &Stack, tenant: &TenantId, id: &EncounterId) -> Option<EncounterDevices> {
    let access = EncounterAccess { actor: "test", client_id: "test", route: "test", trace_id: None };
    let record = stack.store.read_encounter(tenant, id, &access).await.unwrap()?;
    Some(stack.store.encounter_devices_and_observations(&record).await.unwrap())
}

async fn create_encounter(stack: &Stack, tenant: &TenantId, devices: &[&str]) -> Result<EncounterId, StoreError> {
    let body = json!({
        "patient": { "sex": "female" },
        "timeline": { "call_received": "2026-05-08T09:00:00Z" },
        "crew": [{ "name": "Sam Medic", "role": "paramedic" }],
        "devices": devices,
    });
    let record = Encounter::parse(body, chrono::Utc::now()).unwrap();
    Ok(stack.store.create_encounter(WriteStamp::Now, tenant, record, "test").await?.id)
}

#[tokio::test]
async fn devices_are_enrolled_once_per_tenant_and_listed_a_page_at_a_time() {
    let stack = Stack::start().await;
    let ours = Caller::new(&stack, BOTH).await;
    let theirs = Caller::new(&stack, BOTH).await;

    let (status, device) = ours.enrol("PO-1", "Nonin Medical", "528388").await;
    assert_eq!(status, 201, "{device}");
    assert!(device["id"].as_str().unwrap().starts_with("dev_"), "{device}");
    assert_eq!(device["type"], json!({ "system": MDC, "code": "528388", "display": "MDC_DEV_SPEC_PROFILE_PULS_OXIM" }));
    assert_eq!(device["manufacturer"], "Nonin Medical");
    ours.enrolled("PO-2", "528388").await;
    assert_eq!(ours.enrol("BP-1", "Omron", "528391").await.0, 201);

    // A serial number once per tenant; another tenant may have the same.
    let (status, problem) = ours.enrol("PO-1", "Masimo", "528388").await;
    assert_eq!(status, 409, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("PO-1"), "{problem}");
    assert_eq!(theirs.enrol("PO-1", "Nonin Medical", "528388").await.0, 201);

    // Bad fields are each named, and nothing is enrolled.
    let (status, problem) = ours.enrol(" ", "Nonin Medical", "150456").await;
    assert!(problem["invalid-params"].is_array(), "a body's bad fields are listed: {problem}");
    assert_names(status, &problem, "serial_number");
    assert_names(status, &problem, "type.code");
    let (status, problem) = ours
        .call(
            Method::POST,
            "/api/v1/devices/enrol",
            Some(json!({ "serial_number": "X", "manufacturer": "Y", "model": "Z", "type": { "system": "http://snomed.info/sct", "code": "528388" } })),
        )
        .await;
    assert_names(status, &problem, "type.system");

    let (status, all) = ours.list("").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(serials(&all), ["PO-1", "PO-2", "BP-1"], "nothing else was enrolled");
    assert!(all["next_cursor"].is_null());
    let (_, first) = ours.list("limit=2").await;
    assert_eq!(serials(&first), ["PO-1", "PO-2"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, rest) = ours.list(&format!("limit=2&cursor={cursor}")).await;
    assert_eq!(serials(&rest), ["BP-1"]);
    assert!(rest["next_cursor"].is_null());
    assert_eq!(serials(&ours.list("type=528388").await.1), ["PO-1", "PO-2"]);
    assert_eq!(serials(&ours.list("manufacturer=Omron").await.1), ["BP-1"]);
    assert_eq!(serials(&ours.list("serial_number=PO-2").await.1), ["PO-2"]);
    assert_eq!(serials(&ours.list("type=528391&manufacturer=Nonin%20Medical").await.1), Vec::<&str>::new());
    let (status, problem) = ours.list("type=999").await;
    assert_names(status, &problem, "type");
    assert_eq!(ours.list("limit=0").await.0, 400);
    assert_eq!(ours.list("cursor=nope").await.0, 400);
    assert_eq!(ours.list("colour=red").await.0, 400);

    // Each tenant lists its own.
    assert_eq!(serials(&theirs.list("").await.1), ["PO-1"]);
}

#[tokio::test]
async fn observations_are_checked_against_their_code_and_unit() {
    let stack = Stack::start().await;
    let ours = Caller::new(&stack, BOTH).await;
    let theirs = Caller::new(&stack, BOTH).await;
    let oximeter = ours.enrolled("PO-1", "528388").await;
    let monitor = ours.enrolled("BP-1", "528391").await;
    let own = create_encounter(&stack, &ours.tenant, &[]).await.unwrap();

    let (status, obs) = ours.observe(&oximeter, spo2(97.0, "%")).await;
    assert_eq!(status, 201, "{obs}");
    assert!(obs["id"].as_str().unwrap().starts_with("obs_"), "{obs}");
    assert_eq!(obs["device_id"], oximeter.as_str());
    assert_eq!(obs["code"]["coding"][0]["display"], "MDC_PULS_OXIM_SAT_O2");
    assert_eq!(
        obs["code"]["coding"][1],
        json!({ "system": "http://loinc.org", "code": "59408-5", "display": "Oxygen saturation in Arterial blood by Pulse oximetry" })
    );
    assert_eq!(
        obs["value_quantity"],
        json!({ "value": 97.0, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%" })
    );
    assert_eq!(obs["effective_date_time"], "2026-05-08T09:30:00Z");
    assert!(obs["encounter_id"].is_null());

    // Glucose's LOINC code follows its unit.
    let glucose = json!({
        "code": { "coding": [{ "system": MDC, "code": "160184" }] },
        "value_quantity": { "value": 5.4, "unit": "mmol/L" },
        "effective_date_time": "2026-05-08T09:32:00Z",
    });
    let (status, obs) = ours.observe(&oximeter, glucose).await;
    assert_eq!(status, 201, "{obs}");
    assert_eq!(obs["code"]["coding"][1]["code"], "15074-8");

    // The compound: non-invasive blood pressure.
    let (status, obs) = ours.observe(&monitor, nibp(128.0, 84.0, 98.7)).await;
    assert_eq!(status, 201, "{obs}");
    assert!(obs["value_quantity"].is_null(), "{obs}");
    assert_eq!(obs["code"]["coding"][1]["code"], "85354-9");
    let components = obs["component"].as_array().unwrap();
    let loinc: Vec<&str> = components.iter().map(|c| c["code"]["coding"][1]["code"].as_str().unwrap()).collect();
    assert_eq!(loinc, ["8480-6", "8462-4", "8478-0"]);
    assert_eq!(components[0]["value_quantity"]["value"], 128.0);
    assert_eq!(components[1]["value_quantity"]["unit"], "mm[Hg]");

    // Refused, naming the field, and nothing stored (these name our
    // encounter, so a stored one would show in its export's read).
    let with_encounter = |mut body: Value| {
        body["encounter_id"] = json!(own.as_str());
        body
    };
    let mut unknown = spo2(97.0, "%");
    unknown["code"]["coding"][0]["code"] = json!("123456");
    let (status, problem) = ours.observe(&oximeter, with_encounter(unknown)).await;
    assert_names(status, &problem, "code.coding[0].code");
    let (status, problem) = ours.observe(&oximeter, with_encounter(spo2(97.0, "/min"))).await;
    assert_names(status, &problem, "value_quantity.unit");
    let (status, problem) = ours.observe(&oximeter, with_encounter(spo2(130.0, "%"))).await;
    assert_names(status, &problem, "value_quantity.value");
    let mut wrong_loinc = spo2(97.0, "%");
    wrong_loinc["code"]["coding"][1]["code"] = json!("8867-4");
    let (status, problem) = ours.observe(&oximeter, with_encounter(wrong_loinc)).await;
    assert_names(status, &problem, "the LOINC code of 150456 in % is 59408-5");
    let (status, problem) = ours.observe(&monitor, with_encounter(nibp(80.0, 120.0, 90.0))).await;
    assert_names(status, &problem, "diastolic must be lower than systolic");
    let mut mixed = nibp(128.0, 84.0, 98.7);
    mixed["component"][1]["value_quantity"] = json!({ "value": 11.2, "unit": "kPa" });
    let (status, problem) = ours.observe(&monitor, with_encounter(mixed)).await;
    assert_names(status, &problem, "component[1].value_quantity.unit");
    let mut both = nibp(128.0, 84.0, 98.7);
    both["value_quantity"] = json!({ "value": 128, "unit": "mm[Hg]" });
    let (status, problem) = ours.observe(&monitor, with_encounter(both)).await;
    assert_names(status, &problem, "component: 150020 takes component, and no value_quantity");
    let mut future = spo2(97.0, "%");
    future["effective_date_time"] = json!("2999-01-01T00:00:00Z");
    let (status, problem) = ours.observe(&oximeter, with_encounter(future)).await;
    assert_names(status, &problem, "effective_date_time");
    let (status, problem) = ours.observe(&oximeter, json!({ "code": "150456" })).await;
    assert_names(status, &problem, "code");
    let export = linked(&stack, &ours.tenant, &own).await.unwrap();
    assert!(export.observations.is_empty(), "nothing stored: {:?}", export.observations);

    // No such device, or another tenant's: 404.
    let (status, _) = ours.observe("dev_01jdxaaaaaaaaaaaaaaaaaaaaa", spo2(97.0, "%")).await;
    assert_eq!(status, 404);
    assert_eq!(ours.observe("not-a-device", spo2(97.0, "%")).await.0, 404);
    assert_eq!(theirs.observe(&oximeter, spo2(97.0, "%")).await.0, 404);

    // Another tenant's encounter: a 400 naming encounter_id, and neither
    // record gains the observation.
    let foreign = create_encounter(&stack, &theirs.tenant, &[]).await.unwrap();
    let mut body = spo2(97.0, "%");
    body["encounter_id"] = json!(foreign.as_str());
    let (status, problem) = ours.observe(&oximeter, body).await;
    assert_names(status, &problem, "encounter_id");
    let export = linked(&stack, &theirs.tenant, &foreign).await.unwrap();
    assert!(export.observations.is_empty());
    assert!(linked(&stack, &ours.tenant, &foreign).await.is_none());
}

#[tokio::test]
async fn an_observation_for_an_encounter_marks_it_changed() {
    let stack = Stack::start().await;
    let ours = Caller::new(&stack, BOTH).await;
    let theirs = Caller::new(&stack, BOTH).await;
    let oximeter = ours.enrolled("PO-1", "528388").await;
    let monitor = ours.enrolled("BP-1", "528391").await;
    let other = theirs.enrolled("PO-9", "528388").await;

    // An encounter names only the tenant's devices.
    let Err(StoreError::Invalid(errors)) =
        create_encounter(&stack, &ours.tenant, &[oximeter.as_str(), other.as_str()]).await
    else {
        panic!("another tenant's device is refused");
    };
    assert_eq!(errors.0.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["devices[1]"]);
    let encounter = create_encounter(&stack, &ours.tenant, &[oximeter.as_str()]).await.unwrap();
    let before = drain_outbox(&stack).await;
    assert!(before.iter().any(|(_, kind)| kind == "epcr.created"), "{before:?}");

    let mut body = nibp(128.0, 84.0, 98.7);
    body["encounter_id"] = json!(encounter.as_str());
    let (status, obs) = ours.observe(&monitor, body).await;
    assert_eq!(status, 201, "{obs}");
    assert_eq!(obs["encounter_id"], encounter.as_str());
    let events = drain_outbox(&stack).await;
    assert_eq!(events, [(ours.tenant.to_string(), "epcr.updated".to_owned())]);
    // A refused observation announces nothing.
    let mut body = spo2(97.0, "kg");
    body["encounter_id"] = json!(encounter.as_str());
    assert_eq!(ours.observe(&oximeter, body).await.0, 400);
    assert!(drain_outbox(&stack).await.is_empty());

    // What the FHIR export reads: the observation, the device the record
    // names and the one that observed it.
    let export = linked(&stack, &ours.tenant, &encounter).await.unwrap();
    assert_eq!(export.observations.len(), 1);
    assert_eq!(export.observations[0].device_id.as_str(), monitor);
    let mut devices: Vec<&str> = export.devices.iter().map(|d| d.id.as_str()).collect();
    devices.sort_unstable();
    let mut expected = [oximeter.as_str(), monitor.as_str()];
    expected.sort_unstable();
    assert_eq!(devices, expected);
}

#[tokio::test]
async fn every_route_takes_its_scope_and_the_token_s_tenant() {
    let stack = Stack::start().await;
    let writer = Caller::new(&stack, &["devices:write"]).await;
    let in_tenant = async |scopes: &[&str]| Caller {
        token: stack.cc_token(&stack.client(Some(&writer.tenant), scopes).await, None).await,
        tenant: writer.tenant.clone(),
        stack: &stack,
    };
    let reader = in_tenant(&["devices:read"]).await;
    // `devices:write` implies `devices:read`, so listing is refused only
    // without either.
    let unrelated = in_tenant(&["jobs:read"]).await;
    let device = writer.enrolled("PO-1", "528388").await;
    let enrol = json!({ "serial_number": "PO-2", "manufacturer": "M", "model": "X", "type": { "system": MDC, "code": "528388" } });
    let observations = format!("/api/v1/devices/{device}/observations");
    let routes = [
        (Method::GET, "/api/v1/devices".to_owned(), None, &reader, &unrelated),
        (Method::POST, "/api/v1/devices/enrol".to_owned(), Some(enrol), &writer, &reader),
        (Method::POST, observations, Some(spo2(97.0, "%")), &writer, &reader),
    ];
    let other_tenant = stack.store.create_tenant("other").await.unwrap().id;
    for (method, path, body, allowed, unscoped) in &routes {
        let r = stack.http.request(method.clone(), format!("{}{path}", stack.api)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{method} {path} without a token");
        let r = unscoped.send(method.clone(), path, body.clone()).await;
        assert_eq!(r.status(), 403, "{method} {path} without its scope");
        let r = stack
            .request(method.clone(), path, &allowed.token, &other_tenant)
            .json(body.as_ref().unwrap_or(&Value::Null))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{method} {path} for another tenant");
    }
    let (_, list) = reader.list("").await;
    assert_eq!(serials(&list), ["PO-1"], "nothing was enrolled by a refused call");
    for (method, path, body, allowed, _) in routes {
        let r = allowed.send(method.clone(), &path, body).await;
        assert!(r.status().is_success(), "{method} {path}: {}", r.status());
    }
}

#[tokio::test]
async fn the_openapi_examples_succeed_as_pasted_on_an_empty_tenant() {
    let stack = Stack::start().await;
    let caller = Caller::new(&stack, BOTH).await;
    let doc: Value =
        stack.http.get(format!("{}/.well-known/openapi.json", stack.api)).send().await.unwrap().json().await.unwrap();
    let example =
        |path: &str| doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["example"].clone();
    let list = &doc["paths"]["/api/v1/devices"]["get"];
    assert!(list["responses"]["200"].is_object() && list["responses"]["403"].is_object(), "{list}");
    let schemas = &doc["components"]["schemas"];
    for (schema, property) in [
        ("EnrolDevice", "type"),
        ("DeviceView", "type"),
        ("SubmitObservation", "component"),
        ("ObservationView", "code"),
    ] {
        assert!(schemas[schema]["properties"][property].is_object(), "{schema}.{property}: {}", schemas[schema]);
    }

    let (status, device) =
        caller.call(Method::POST, "/api/v1/devices/enrol", Some(example("/api/v1/devices/enrol"))).await;
    assert_eq!(status, 201, "{device}");
    let observations = "/api/v1/devices/{deviceId}/observations";
    let path = observations.replace("{deviceId}", device["id"].as_str().unwrap());
    let (status, obs) = caller.call(Method::POST, &path, Some(example(observations))).await;
    assert_eq!(status, 201, "{obs}");
}
