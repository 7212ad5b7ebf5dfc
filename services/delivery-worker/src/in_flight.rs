//! The caps on requests in flight per webhook (or callback URL) and per
//! tenant.

use std::collections::HashMap;
use std::sync::Mutex;

/// Requests in flight per key (a webhook or callback URL, a tenant),
/// capped, so that one slow endpoint, or one tenant's many, holds at most
/// that many of the worker's requests (and events) at once.
pub struct InFlight {
    limit: usize,
    in_flight: Mutex<HashMap<String, usize>>,
}

impl InFlight {
    pub fn new(limit: u16) -> Self {
        Self { limit: usize::from(limit.max(1)), in_flight: Mutex::default() }
    }

    /// A slot for one request under `key`, or `None` when it has `limit`.
    pub(crate) fn claim(&self, key: &str) -> Option<Slot<'_>> {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = in_flight.entry(key.to_owned()).or_default();
        if *n >= self.limit {
            return None;
        }
        *n += 1;
        Some(Slot { owner: self, key: key.to_owned() })
    }
}

pub(crate) struct Slot<'a> {
    owner: &'a InFlight,
    key: String,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut in_flight = self.owner.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = in_flight.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                in_flight.remove(&self.key);
            }
        }
    }
}
