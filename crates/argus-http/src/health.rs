//! `GET /healthz` (the process is up) and `GET /readyz` (its dependencies
//! answer), the same on every service.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use actix_web::{HttpResponse, web};
use futures_util::future::{BoxFuture, join_all};
use serde_json::{Map, Value, json};

use crate::endpoint::Endpoint;

type Check = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// How long one dependency check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// How long the public status (`/v1/status`) reuses one round of checks:
/// public callers must not drive the dependency checks at their own rate.
const PUBLIC_STATUS_TTL: Duration = Duration::from_secs(5);

/// The named checks `/readyz` runs, and whether the process is draining.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<(&'static str, Check)>,
    draining: Arc<AtomicBool>,
    /// The public status's last round: when, and whether all passed.
    public: Arc<tokio::sync::Mutex<Option<(Instant, bool)>>>,
}

impl Readiness {
    pub fn new() -> Self {
        Self::default()
    }

    /// From now on `/readyz` answers 503, so load balancers stop sending
    /// new work while in-flight work finishes.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Adds a dependency check, e.g. `("database", || store.ping())`.
    pub fn with<F, Fut>(mut self, name: &'static str, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.checks.push((name, Arc::new(move || Box::pin(check()))));
        self
    }
}

/// Process is up
#[utoipa::path(get, path = "/healthz", tag = "Operations", responses((status = 200, description = "Up")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// Dependencies are reachable
///
/// 200 when every dependency answers, 503 naming the ones that do not.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "Operations",
    responses(
        (status = 200, description = "Ready"),
        (status = 503, description = "Not ready", content_type = "application/json"),
    )
)]
pub async fn readyz(readiness: web::Data<Readiness>) -> HttpResponse {
    if readiness.draining.load(Ordering::SeqCst) {
        return HttpResponse::ServiceUnavailable().json(json!({ "status": "draining" }));
    }
    let (ready, checks) = readiness.run_checks().await;
    let body = json!({ "status": if ready { "ready" } else { "not ready" }, "checks": checks });
    if ready { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

impl Readiness {
    /// Runs every check at once: whether all passed, and each one's result.
    async fn run_checks(&self) -> (bool, Map<String, Value>) {
        let results = join_all(self.checks.iter().map(|(name, check)| {
            let check = check.clone();
            async move {
                let outcome = match tokio::time::timeout(CHECK_TIMEOUT, check()).await {
                    Ok(r) => r,
                    Err(_) => Err("timed out".to_owned()),
                };
                (*name, outcome)
            }
        }))
        .await;
        let mut checks = Map::new();
        let mut ready = true;
        for (name, outcome) in results {
            match outcome {
                Ok(()) => {
                    checks.insert(name.to_owned(), Value::from("ok"));
                }
                Err(e) => {
                    tracing::warn!(dependency = name, error = %e, "readiness check failed");
                    ready = false;
                    checks.insert(name.to_owned(), Value::from("unreachable"));
                }
            }
        }
        (ready, checks)
    }
}

/// Whether the service can serve, for the public status document: the
/// checks of `/readyz`, run at most once per [`PUBLIC_STATUS_TTL`] (callers
/// meanwhile share the last answer; one round runs at a time).
pub(crate) async fn public_status(readiness: &Readiness) -> bool {
    if readiness.draining.load(Ordering::SeqCst) {
        return false;
    }
    let mut last = readiness.public.lock().await;
    if let Some((at, ok)) = *last
        && at.elapsed() < PUBLIC_STATUS_TTL
    {
        return ok;
    }
    let (ok, _) = readiness.run_checks().await;
    *last = Some((Instant::now(), ok));
    ok
}

/// Registers `/healthz` and `/readyz` (a `Readiness` must be in app data).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/healthz").get(healthz)).service(Endpoint::new("/readyz").get(readyz));
}

/// A readiness check for the database behind `store`.
pub fn database_check(
    store: argus_store::Store,
) -> impl Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync + 'static {
    move || {
        let store = store.clone();
        Box::pin(async move { store.ping().await.map_err(|e| e.to_string()) })
    }
}
