//! The start-up check that a process is in the environment `ARGUS_ENV`
//! says (issue 23): its database's claim, the worker's vhost marker. A
//! service may start while its database or broker is down (it reports that
//! through `/readyz`); then the check runs again every second in the
//! background until it gets an answer, and a refusal then ends the process,
//! as it would have refused to start.

use std::future::Future;
use std::time::Duration;

use argus_store::{Store, StoreError};
use argus_types::Environment;

/// What one check found.
#[derive(Debug)]
pub enum Check {
    Passed,
    /// The other environment's, or unclaimed: never serve.
    Refused(String),
    /// No answer (the database or broker is down): ask again.
    Unreachable(String),
}

/// How often a check that got no answer is made again.
const RECHECK_EVERY: Duration = Duration::from_secs(1);

/// Runs `check` now: a refusal is the error to stop start-up with. Without
/// an answer it runs again in the background until it gets one; a refusal
/// then ends the process (exit status 1) with the message logged.
pub async fn check_at_start<F, Fut>(what: &'static str, check: F) -> Result<(), String>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Check> + Send,
{
    match check().await {
        Check::Passed => Ok(()),
        Check::Refused(why) => Err(why),
        Check::Unreachable(why) => {
            tracing::warn!(check = what, error = %why, "cannot check the environment at start; checking again until it answers");
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(RECHECK_EVERY).await;
                    match check().await {
                        Check::Passed => {
                            tracing::info!(check = what, "environment checked");
                            return;
                        }
                        Check::Refused(why) => {
                            tracing::error!(check = what, error = %why, "refusing to run in the wrong environment");
                            eprintln!("{why}");
                            std::process::exit(1);
                        }
                        Check::Unreachable(_) => {}
                    }
                }
            });
            Ok(())
        }
    }
}

/// The database's half: `store` must be claimed for `environment`
/// (`claim` first claims an unclaimed one, as `ARGUS_MIGRATE=1` does).
async fn database(store: &Store, environment: Environment, claim: bool) -> Check {
    let checked =
        if claim { store.claim_environment(environment).await } else { store.check_environment(environment).await };
    match checked {
        Ok(()) => Check::Passed,
        Err(e @ StoreError::Pool(_)) => Check::Unreachable(e.to_string()),
        Err(e) => Check::Refused(e.to_string()),
    }
}

/// [`check_at_start`] of the database's claim: `store` must belong to
/// `environment` (`claim`: claim it first if no one has).
pub async fn check_database(store: &Store, environment: Environment, claim: bool) -> Result<(), String> {
    let store = store.clone();
    check_at_start("database", move || {
        let store = store.clone();
        async move { database(&store, environment, claim).await }
    })
    .await
}
