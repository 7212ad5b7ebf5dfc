//! Both services fuzzed through their own OpenAPI documents by schemathesis
//! (scripts/schemathesis.sh: PyPI, pinned, in a virtualenv under target/),
//! with a real token of a tenant of the test's own and a bounded number of
//! examples per operation: no answer is a 5xx, and every answer has the
//! status, media type and schema its document gives it. The api-service's
//! document is run twice: against live, and against a sandbox API with a
//! sandbox token, which serves the sandbox-only routes (`/v1/webhooks…`,
//! the outbox) and answers `X-Sandbox-Scenario` with its scenarios.

use std::path::Path;
use std::time::Duration;

use api_service::config::Environment;
use argus_store::testing::{TestDatabase, current_signing_key_of};

use crate::helpers::{Stack, api_config, sign, spawn_api};

/// Examples per operation: with both documents (~60 operations) this keeps
/// the run to a couple of minutes on two cores.
const MAX_EXAMPLES: &str = "25";

/// The routes schemathesis leaves alone: the sign-in pages (HTML forms with
/// a CSRF cookie, not an API; their own tests drive them).
const EXCLUDED_PATHS: &str = "^/v1/oauth/authorize";
/// On the live API also the sandbox's webhook routes, whose only server is
/// the sandbox host (the sandbox run covers them; the auth-service's
/// document, live's).
const EXCLUDED_ON_LIVE_API: &str = "^(/v1/oauth/authorize|/v1/webhooks)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_openapi_documents_hold_under_schemathesis() {
    let stack = Stack::start().await;
    let tenant = stack.store.create_tenant("schemathesis").await.unwrap().id;
    let scopes: Vec<&str> = argus_types::SCOPE_CATALOG.iter().map(|s| s.name).collect();
    let token = stack.mint(&tenant, "argusctl", "api.knogin.com", &scopes).await;
    let sandbox_db = TestDatabase::sandbox().await;
    let sandbox_jwks = format!("{}{}", stack.auth, Environment::Sandbox.jwks_path());
    let sandbox = spawn_api(api_config(sandbox_db.url(), &sandbox_jwks, Environment::Sandbox)).await;
    let sandbox_key = current_signing_key_of(&stack.store, Environment::Sandbox).await;
    let sandbox_token = sign(&sandbox_key, &tenant, "argusctl", Environment::Sandbox.audience(), &scopes);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/schemathesis.sh");
    let mut failures = Vec::new();
    let runs = [
        (&stack.api, &token, EXCLUDED_ON_LIVE_API),
        (&stack.auth, &token, EXCLUDED_PATHS),
        (&sandbox, &sandbox_token, EXCLUDED_PATHS),
    ];
    for (base, token, excluded) in runs {
        let run = tokio::process::Command::new("bash")
            .arg(&script)
            .arg(format!("{base}/.well-known/openapi.json"))
            .args(["--url", base])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args(["--header", &format!("X-Tenant-ID: {tenant}")])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            ])
            .args(["--max-examples", MAX_EXAMPLES, "--seed", "22", "--generation-database", "none"])
            .args(["--phases", "examples,coverage,fuzzing", "--workers", "2", "--request-timeout", "10"])
            .args(["--exclude-path-regex", excluded, "--no-color", "--output-truncate", "true"])
            // revoke and introspect take their form as a plain string, from
            // which few generated bodies get through schemathesis' own filter.
            .args(["--suppress-health-check", "filter_too_much"])
            .kill_on_drop(true)
            .output();
        let out =
            tokio::time::timeout(Duration::from_secs(600), run).await.expect("schemathesis within 10 min").unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        println!("{base}:\n{text}");
        if !out.status.success() {
            failures.push(format!("{base}:\n{text}"));
        }
    }
    assert!(failures.is_empty(), "schemathesis found:\n{}", failures.join("\n"));
}
