//! Which tenant each finished span belongs to: a span naming a tenant
//! claims its descendants in this process, including those that ended
//! before it and wait here a while for it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry::trace::{SpanId, TraceId};

use super::{FastMap, FastSet, SpanMeta};

/// How long a span without a tenant waits for an ancestor to claim it.
const CLAIM_WAIT: Duration = Duration::from_secs(30);
/// Spans waiting for a claim, at most; the oldest go first beyond it.
const MAX_UNCLAIMED: usize = 50_000;
/// How long a claimed span id is remembered at least (at most twice that),
/// for children that end after their parent.
const REMEMBER_CLAIMED: Duration = Duration::from_secs(15);

/// A span waiting for an ancestor to claim it, with its own copy of its
/// bytes.
struct Unclaimed {
    meta: SpanMeta,
    bytes: Vec<u8>,
    since: Instant,
}

/// Which tenant each span belongs to.
pub(super) struct Claims {
    /// Tenants of recently claimed spans, by span id, for descendants that
    /// end later; in two generations, the older dropped whole every
    /// [`REMEMBER_CLAIMED`], so nothing is scanned entry by entry.
    claimed: FastMap<SpanId, Arc<str>>,
    claimed_before: FastMap<SpanId, Arc<str>>,
    claimed_since: Instant,
    /// Spans ended without a tenant, by trace, waiting for an ancestor.
    unclaimed: FastMap<TraceId, Vec<Unclaimed>>,
    unclaimed_count: usize,
    /// Every tenant seen, so a span naming one costs no allocation.
    tenants: FastSet<Arc<str>>,
}

impl Default for Claims {
    fn default() -> Self {
        Self {
            claimed: FastMap::default(),
            claimed_before: FastMap::default(),
            claimed_since: Instant::now(),
            unclaimed: FastMap::default(),
            unclaimed_count: 0,
            tenants: FastSet::default(),
        }
    }
}

/// Receives each span attributed to a tenant.
type Claimed<'a> = dyn FnMut(&Arc<str>, &SpanMeta, &[u8]) + 'a;

impl Claims {
    /// Passes to `claimed` the spans that can now be attributed: this span,
    /// when it or a remembered ancestor names a tenant, and its waiting
    /// descendants.
    pub(super) fn resolve(&mut self, meta: SpanMeta, tenant: Option<&str>, bytes: &[u8], claimed: &mut Claimed<'_>) {
        let tenant = match tenant {
            Some(tenant) => self.tenant(tenant),
            None => match self.tenant_of_parent(&meta.parent_span_id) {
                Some(tenant) => tenant,
                None => return self.wait(meta, bytes),
            },
        };
        self.claimed.insert(meta.span_id, tenant.clone());
        claimed(&tenant, &meta, bytes);
        let Some(mut waiting) = self.unclaimed.remove(&meta.trace_id) else { return };
        // Breadth first: each newly claimed span claims its waiting children,
        // which claim theirs in turn.
        let mut owners = vec![meta.span_id];
        let mut next = 0;
        while next < owners.len() && !waiting.is_empty() {
            let owner = owners[next];
            let mut i = 0;
            while i < waiting.len() {
                if waiting[i].meta.parent_span_id == owner {
                    let child = waiting.swap_remove(i);
                    self.claimed.insert(child.meta.span_id, tenant.clone());
                    claimed(&tenant, &child.meta, &child.bytes);
                    owners.push(child.meta.span_id);
                    self.unclaimed_count -= 1;
                } else {
                    i += 1;
                }
            }
            next += 1;
        }
        if !waiting.is_empty() {
            self.unclaimed.insert(meta.trace_id, waiting);
        }
    }

    fn tenant(&mut self, tenant: &str) -> Arc<str> {
        if let Some(known) = self.tenants.get(tenant) {
            return known.clone();
        }
        let tenant: Arc<str> = Arc::from(tenant);
        self.tenants.insert(tenant.clone());
        tenant
    }

    fn tenant_of_parent(&self, parent: &SpanId) -> Option<Arc<str>> {
        self.claimed.get(parent).or_else(|| self.claimed_before.get(parent)).cloned()
    }

    fn wait(&mut self, meta: SpanMeta, bytes: &[u8]) {
        if self.unclaimed_count >= MAX_UNCLAIMED {
            self.expire_older_than(Duration::ZERO);
        }
        self.unclaimed_count += 1;
        self.unclaimed.entry(meta.trace_id).or_default().push(Unclaimed {
            meta,
            bytes: bytes.to_vec(),
            since: Instant::now(),
        });
    }

    pub(super) fn expire(&mut self) {
        self.expire_older_than(CLAIM_WAIT);
        if self.claimed_since.elapsed() >= REMEMBER_CLAIMED {
            // Sized as the last generation was, so it does not rehash its
            // way back up to that size.
            let next = FastMap::with_capacity_and_hasher(self.claimed.len(), Default::default());
            self.claimed_before = std::mem::replace(&mut self.claimed, next);
            self.claimed_since = Instant::now();
            // Tenants are few; forgetting them with the claims bounds the
            // set all the same.
            self.tenants.clear();
        }
    }

    fn expire_older_than(&mut self, age: Duration) {
        let now = Instant::now();
        let mut count = 0;
        self.unclaimed.retain(|_, spans| {
            spans.retain(|span| now.duration_since(span.since) < age);
            count += spans.len();
            !spans.is_empty()
        });
        self.unclaimed_count = count;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn meta(trace: u128, id: u64, parent: u64) -> SpanMeta {
        SpanMeta {
            trace_id: TraceId::from(trace),
            span_id: SpanId::from(id),
            parent_span_id: SpanId::from(parent),
            start: SystemTime::now(),
        }
    }

    /// The spans claimed, as (tenant, span id, bytes), sorted.
    fn resolve(claims: &mut Claims, meta: SpanMeta, tenant: Option<&str>) -> Vec<(String, u64, Vec<u8>)> {
        let bytes = meta.span_id.to_bytes();
        let mut resolved = Vec::new();
        claims.resolve(meta, tenant, &bytes, &mut |tenant, meta, bytes| {
            resolved.push((tenant.to_string(), u64::from_be_bytes(meta.span_id.to_bytes()), bytes.to_vec()));
        });
        resolved.sort();
        resolved
    }

    fn ids(resolved: &[(String, u64, Vec<u8>)]) -> Vec<(&str, u64)> {
        resolved
            .iter()
            .map(|(tenant, id, bytes)| {
                assert_eq!(bytes.as_slice(), id.to_be_bytes(), "each span keeps its own bytes");
                (tenant.as_str(), *id)
            })
            .collect()
    }

    #[test]
    fn descendants_that_end_first_are_claimed_by_their_tenant_ancestor() {
        let mut claims = Claims::default();
        // grandchild 3 and child 2 end before request span 1, which names the tenant.
        assert!(resolve(&mut claims, meta(7, 3, 2), None).is_empty());
        assert!(resolve(&mut claims, meta(7, 2, 1), None).is_empty());
        // A span of the same trace under another parent is not claimed.
        assert!(resolve(&mut claims, meta(7, 9, 8), None).is_empty());
        let resolved = resolve(&mut claims, meta(7, 1, 0), Some("ten_a"));
        assert_eq!(ids(&resolved), vec![("ten_a", 1), ("ten_a", 2), ("ten_a", 3)]);
        // A child ending after its claimed parent is claimed at once.
        assert_eq!(ids(&resolve(&mut claims, meta(7, 4, 1), None)), vec![("ten_a", 4)]);
        assert_eq!(claims.unclaimed_count, 1);
        claims.expire_older_than(Duration::ZERO);
        assert_eq!(claims.unclaimed_count, 0);
    }

    #[test]
    fn a_span_naming_another_tenant_keeps_its_own() {
        let mut claims = Claims::default();
        assert!(resolve(&mut claims, meta(7, 2, 1), None).is_empty());
        let own = resolve(&mut claims, meta(7, 5, 1), Some("ten_b"));
        assert_eq!(ids(&own), vec![("ten_b", 5)]);
        let parent = resolve(&mut claims, meta(7, 1, 0), Some("ten_a"));
        assert_eq!(ids(&parent), vec![("ten_a", 1), ("ten_a", 2)]);
    }
}
