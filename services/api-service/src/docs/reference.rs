//! The route reference of the docs, read from the OpenAPI documents of
//! both hosts: each public operation with its hosts, summary, description,
//! auth and request example, under the topic that documents its tag.

use serde::Serialize;
use serde_json::Value;

use super::negotiate::Lang;

/// One operation, as the docs show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Route {
    pub method: String,
    pub path: String,
    /// Every host that serves it (the discovery routes are on both).
    pub hosts: Vec<String>,
    #[serde(skip)]
    pub tag: String,
    pub summary: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Whether it takes no token.
    pub public: bool,
    /// The OAuth scopes it asks for (empty: any valid token, or public).
    pub scopes: Vec<String>,
    #[serde(skip)]
    example: Option<Value>,
}

const METHODS: [&str; 6] = ["get", "post", "put", "patch", "delete", "head"];

/// The operations of `documents` (each a host's base URL and its OpenAPI
/// document), in document order, one per method and path.
pub fn routes(documents: &[(&str, &Value)]) -> Vec<Route> {
    let mut routes: Vec<Route> = Vec::new();
    for (host, doc) in documents {
        let Some(paths) = doc["paths"].as_object() else { continue };
        for (path, item) in paths {
            for method in METHODS {
                let op = &item[method];
                if !op.is_object() {
                    continue;
                }
                let method = method.to_ascii_uppercase();
                if let Some(known) = routes.iter_mut().find(|r| r.method == method && r.path == *path) {
                    known.hosts.push((*host).to_owned());
                    continue;
                }
                routes.push(route(host, method, path, op));
            }
        }
    }
    routes
}

fn route(host: &str, method: String, path: &str, op: &Value) -> Route {
    let text = |v: &Value| v.as_str().unwrap_or_default().trim().to_owned();
    let security = op["security"].as_array();
    let public = security.is_none_or(|s| s.iter().any(|r| r.as_object().is_some_and(|o| o.is_empty())));
    let mut scopes: Vec<String> = security
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|r| r.values())
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect();
    scopes.dedup();
    let example = op["requestBody"]["content"]
        .as_object()
        .and_then(|content| content.values().find_map(|media| media.get("example").cloned()));
    let summary = match text(&op["summary"]) {
        s if s.is_empty() => text(&op["operationId"]),
        s => s,
    };
    Route {
        method,
        path: path.to_owned(),
        hosts: vec![host.to_owned()],
        tag: text(&op["tags"][0]),
        summary,
        description: text(&op["description"]),
        public,
        scopes,
        example,
    }
}

impl Route {
    /// `GET /v1/jobs · List jobs`, as the contract's index names sections.
    pub fn section(&self) -> String {
        format!("{} {} · {}", self.method, self.path, self.summary)
    }

    /// The route's entry in a topic page. Labels follow `lang`; the route,
    /// its summary and description, scopes and payloads stay in English.
    pub fn markdown(&self, lang: Lang) -> String {
        let (host, auth, public, token, scopes, example) = match lang {
            Lang::En => ("Host", "Auth", "public, no token", "bearer token", "with scope", "Example request body"),
            Lang::De => {
                ("Host", "Auth", "öffentlich, ohne Token", "Bearer-Token", "mit Scope", "Beispiel für den Request-Body")
            }
        };
        let hosts: Vec<String> = self.hosts.iter().map(|h| format!("`{h}`")).collect();
        let auth_text = match (self.public, self.scopes.as_slice()) {
            (true, _) => public.to_owned(),
            (false, []) => token.to_owned(),
            (false, names) => {
                let names: Vec<String> = names.iter().map(|s| format!("`{s}`")).collect();
                format!("{token} {scopes} {}", names.join(" / "))
            }
        };
        let mut out = format!("### {}\n\n- {host}: {}\n- {auth}: {auth_text}\n", self.section(), hosts.join(", "));
        if !self.description.is_empty() {
            out.push('\n');
            out.push_str(&self.description);
            out.push('\n');
        }
        if let Some(body) = self.example.as_ref().and_then(|e| serde_json::to_string_pretty(e).ok()) {
            out.push_str(&format!("\n{example}:\n\n```json\n{body}\n```\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn operations_of_both_hosts_once_each_with_their_auth() {
        let api = json!({"paths": {
            "/v1/jobs": {"get": {"tags": ["Async jobs"], "summary": "List jobs", "security": [{"bearer": []}, {"oauth2": ["jobs:read"]}]},
                         "post": {"tags": ["Async jobs"], "summary": "Enqueue a job", "security": [{"bearer": []}],
                                  "requestBody": {"content": {"application/json": {"example": {"kind": "graph.compute"}}}}}},
            "/v1/status": {"get": {"tags": ["Discovery"], "summary": "Public status"}},
        }});
        let auth = json!({"paths": {"/v1/status": {"get": {"tags": ["Discovery"], "summary": "Public status"}}}});
        let routes = routes(&[("https://api", &api), ("https://auth", &auth)]);
        assert_eq!(routes.len(), 3);
        let list = &routes[0];
        assert_eq!(
            (list.section().as_str(), list.public, list.scopes.as_slice()),
            ("GET /v1/jobs · List jobs", false, &["jobs:read".to_owned()][..])
        );
        assert!(routes[1].markdown(Lang::En).contains("\"kind\": \"graph.compute\""));
        assert!(routes[1].markdown(Lang::De).contains("- Auth: Bearer-Token\n"));
        assert_eq!(routes[2].hosts, ["https://api", "https://auth"]);
        assert!(routes[2].public && routes[2].markdown(Lang::En).contains("public, no token"));
    }
}
