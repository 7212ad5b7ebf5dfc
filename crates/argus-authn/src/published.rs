//! The sandbox API's revocations: the auth-service's published list of
//! revoked sandbox tokens ([`SANDBOX_REVOCATIONS_PATH`], beside the sandbox
//! key set), polled. Revocations are written in the live database, which
//! the sandbox never reads; like the key set, the list comes over HTTP and
//! must say it is the sandbox's.
//!
//! The list is fetched whole every [`PublishedOptions::poll`], so a
//! revocation reaches the sandbox within about that. While no fetch has
//! succeeded for [`PublishedOptions::stale_after`] the list is not trusted:
//! a check fetches it itself, and fails (503), never passes, when it cannot.
//! So a revocation is refused on the sandbox within `stale_after` at the
//! latest, whatever happens.
//!
//! [`SANDBOX_REVOCATIONS_PATH`]: argus_types::environment::SANDBOX_REVOCATIONS_PATH

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use argus_types::Environment;
use argus_types::environment::RevocationList;

use crate::AuthnError;

#[derive(Debug, Clone)]
pub struct PublishedOptions {
    /// How often the list is fetched.
    pub poll: Duration,
    /// How long the last fetched list is trusted when fetches fail.
    pub stale_after: Duration,
    /// Timeout of one fetch.
    pub request_timeout: Duration,
    /// The largest list read (a revoked token is about 60 bytes of it);
    /// a larger one is a failed fetch.
    pub max_bytes: usize,
}

impl Default for PublishedOptions {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(1),
            stale_after: Duration::from_secs(10),
            request_timeout: Duration::from_secs(2),
            max_bytes: 8 << 20,
        }
    }
}

struct Fetched {
    /// jti → expiry (unix seconds).
    jtis: HashMap<Box<str>, i64>,
    /// When the list was last fetched whole; `None` before the first fetch.
    at: Option<Instant>,
}

pub struct PublishedRevocations {
    url: String,
    http: reqwest::Client,
    options: PublishedOptions,
    fetched: RwLock<Fetched>,
    /// When a check last fetched a stale list itself; a tokio mutex so
    /// concurrent checks wait for that one fetch instead of each starting one.
    last_on_demand: tokio::sync::Mutex<Option<Instant>>,
}

impl PublishedRevocations {
    /// A list not fetched yet: every check fails until the first fetch.
    pub fn new(url: impl Into<String>, options: PublishedOptions) -> Arc<Self> {
        let http = reqwest::Client::builder()
            .timeout(options.request_timeout)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Arc::new(Self {
            url: url.into(),
            http,
            options,
            fetched: RwLock::new(Fetched { jtis: HashMap::new(), at: None }),
            last_on_demand: tokio::sync::Mutex::new(None),
        })
    }

    /// Whether the token `jti` was revoked, from the last list fetched. A
    /// list too old to trust (or none yet: the API started before the
    /// auth-service answered) is fetched now, by one request at a time and
    /// at most once per `poll`; if that fails too, an error.
    pub async fn is_revoked(&self, jti: &str) -> Result<bool, AuthnError> {
        if let Some(revoked) = self.fresh_answer(jti) {
            return Ok(revoked);
        }
        let mut last = self.last_on_demand.lock().await;
        if self.fresh_answer(jti).is_none() && last.is_none_or(|t| t.elapsed() >= self.options.poll) {
            *last = Some(Instant::now());
            if let Err(e) = self.refresh().await {
                tracing::warn!(error = %e, "sandbox revocation list stale and not fetched; refusing tokens");
            }
        }
        drop(last);
        self.fresh_answer(jti).ok_or(AuthnError::RevocationUnknown)
    }

    /// The answer of a list fresh enough to trust, if there is one.
    fn fresh_answer(&self, jti: &str) -> Option<bool> {
        let fetched = self.fetched.read().unwrap_or_else(PoisonError::into_inner);
        let at = fetched.at?;
        (at.elapsed() <= self.options.stale_after).then(|| fetched.jtis.contains_key(jti))
    }

    /// Fetches the list and replaces the one held; on failure the held one
    /// is kept (until it goes stale). Returns how many tokens it names.
    pub async fn refresh(&self) -> Result<usize, AuthnError> {
        let failed = |reason: String| AuthnError::RevocationList { url: self.url.clone(), reason };
        let mut response = self.http.get(&self.url).send().await.map_err(|e| failed(e.to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!("answered {}", response.status())));
        }
        let body =
            argus_jwks::read_capped(&mut response, self.options.max_bytes).await.map_err(|e| failed(e.to_string()))?;
        let list: RevocationList = serde_json::from_slice(&body).map_err(|e| failed(e.to_string()))?;
        // The gate, as for the key set: only the sandbox's list is trusted.
        if list.key_set != Environment::Sandbox {
            return Err(failed(format!("it is the {} list; only the sandbox's is trusted", list.key_set)));
        }
        let jtis: HashMap<Box<str>, i64> = list.revoked.into_iter().map(|r| (r.jti.into_boxed_str(), r.exp)).collect();
        let n = jtis.len();
        *self.fetched.write().unwrap_or_else(PoisonError::into_inner) = Fetched { jtis, at: Some(Instant::now()) };
        Ok(n)
    }

    /// Fetches the list every `poll` until the returned handle is aborted
    /// or the list dropped.
    pub fn spawn_polling(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        // A weak reference, so a dropped verifier ends the task.
        let this = Arc::downgrade(self);
        let poll = self.options.poll;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(poll).await;
                let Some(list) = this.upgrade() else { return };
                if let Err(e) = list.refresh().await {
                    tracing::warn!(error = %e, "sandbox revocation list not fetched; keeping the last one until stale");
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server answering every request with `body` as JSON; its list URL.
    async fn serving(body: &'static str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/.well-known/sandbox/revocations.json", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                // The whole request head, so closing sends no reset.
                let mut request = Vec::new();
                while !request.ends_with(b"\r\n\r\n") {
                    let mut chunk = [0u8; 1024];
                    socket.readable().await.unwrap();
                    match socket.try_read(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => request.extend_from_slice(&chunk[..n]),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => break,
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                socket.writable().await.unwrap();
                let _ = socket.try_write(response.as_bytes());
            }
        });
        url
    }

    const SANDBOX_LIST: &str = r#"{"key_set":"sandbox","revoked":[{"jti":"gone","exp":4102444800}]}"#;

    #[tokio::test]
    async fn a_sandbox_list_is_fetched_when_needed_and_answers() {
        let list = PublishedRevocations::new(serving(SANDBOX_LIST).await, PublishedOptions::default());
        // Never fetched: the first check fetches it.
        assert!(list.is_revoked("gone").await.unwrap());
        assert!(!list.is_revoked("kept").await.unwrap());
        assert_eq!(list.refresh().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_list_that_is_not_the_sandboxs_or_cannot_be_read_is_never_trusted() {
        let small = PublishedOptions { max_bytes: 16, ..PublishedOptions::default() };
        let cases = [
            ("the live list", serving(r#"{"key_set":"live","revoked":[]}"#).await, PublishedOptions::default()),
            ("not a list", serving("[]").await, PublishedOptions::default()),
            ("too large", serving(SANDBOX_LIST).await, small),
            ("nobody there", "http://127.0.0.1:1/.well-known/sandbox/revocations.json".to_owned(), Default::default()),
        ];
        for (what, url, options) in cases {
            let list = PublishedRevocations::new(url, options);
            assert!(matches!(list.refresh().await, Err(AuthnError::RevocationList { .. })), "{what}");
            assert!(matches!(list.is_revoked("gone").await, Err(AuthnError::RevocationUnknown)), "{what}");
        }
    }
}
