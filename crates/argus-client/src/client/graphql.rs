//! GraphQL at the api-service: only the operations of the bundles granted
//! to the calling app run, sent as text or by their `sha256:` id.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ArgusClient, Call, Host};
use crate::error::{Error, GraphQlError, Result};

/// Which approved operation to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation<'a> {
    /// The operation's document, as its bundle has it.
    Document(&'a str),
    /// `sha256:<hex>` of the operation's normalised text (the bundle lists it).
    Id(&'a str),
}

#[derive(Serialize)]
struct Request<'a, V> {
    #[serde(skip_serializing_if = "Option::is_none")]
    query: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "operationName", skip_serializing_if = "Option::is_none")]
    operation_name: Option<&'a str>,
    variables: &'a V,
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    errors: Vec<GraphQlError>,
}

impl ArgusClient {
    /// `POST /graphql` with `X-Tenant-ID` (set it with
    /// [`ArgusClient::with_tenant`]): runs `operation` with `variables`
    /// and reads `data` into `R`. Any `errors` in the answer make it an
    /// [`Error::GraphQl`] with their codes and whatever `data` came too.
    ///
    /// ```no_run
    /// # async fn run(client: argus_client::ArgusClient) -> argus_client::Result<()> {
    /// use argus_client::Operation;
    /// use serde::Deserialize;
    ///
    /// #[derive(Deserialize)]
    /// #[serde(rename_all = "camelCase")]
    /// struct Created { create_incident: Incident }
    /// #[derive(Deserialize)]
    /// struct Incident { id: String }
    ///
    /// let created: Created = client
    ///     .graphql(
    ///         Operation::Id("sha256:…"),
    ///         None,
    ///         &serde_json::json!({ "input": { "title": "Gas leak", "severity": "CRITICAL" } }),
    ///     )
    ///     .await?;
    /// println!("incident {}", created.create_incident.id);
    /// # Ok(()) }
    /// ```
    pub async fn graphql<V: Serialize, R: DeserializeOwned>(
        &self,
        operation: Operation<'_>,
        operation_name: Option<&str>,
        variables: &V,
    ) -> Result<R> {
        let (query, id) = match operation {
            Operation::Document(text) => (Some(text), None),
            Operation::Id(id) => (None, Some(id)),
        };
        let request = Request { query, id, operation_name, variables };
        // Reads are not marked idempotent: a mutation sent twice acts twice.
        let response: Response = self.json(&Call::post(Host::Api, "/graphql").json(&request)?).await?;
        if !response.errors.is_empty() {
            return Err(Error::GraphQl { errors: response.errors, data: response.data });
        }
        Ok(serde_json::from_value(response.data.unwrap_or(Value::Null))?)
    }
}
