//! Password checks, bounded. An argon2id check holds its memory cost
//! (19 MiB with the crate's defaults) for its whole run, so the number at
//! once is what bounds the service's memory under a sign-in flood, not the
//! request rate: checks run on at most `ARGUS_PASSWORD_CHECKS` blocking
//! threads, and a request that cannot get one within a short wait is
//! answered 503 with `Retry-After` instead of queuing more memory.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

/// How long a sign-in waits for a free password check before a 503.
const MAX_WAIT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct PasswordChecks {
    slots: Arc<Semaphore>,
}

/// No check could start in time: the caller answers 503.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

impl PasswordChecks {
    pub fn new(concurrent: usize) -> Self {
        Self { slots: Arc::new(Semaphore::new(concurrent.max(1))) }
    }

    /// Whether `password` matches the PHC string `stored`.
    pub async fn verify(&self, password: String, stored: String) -> Result<bool, Busy> {
        let permit = match tokio::time::timeout(MAX_WAIT, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) | Err(_) => return Err(Busy),
        };
        // The permit moves into the blocking task: a request dropped while
        // its hash runs still holds the slot until the hash is done.
        let check = tokio::task::spawn_blocking(move || {
            let matched = argus_crypto::verify_password(&password, &stored);
            drop(permit);
            matched
        });
        // A check that panicked matched nothing.
        Ok(check.await.unwrap_or(false))
    }
}
