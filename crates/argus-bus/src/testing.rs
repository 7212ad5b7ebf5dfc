//! Per-test RabbitMQ vhosts, made and removed with `rabbitmqctl` (the
//! management plugin need not be enabled), so tests that share one broker
//! cannot see each other's queues. The vhost is deleted when the value is
//! dropped, pass or fail.
//!
//! `ARGUS_TEST_AMQP_BASE` is the broker without a vhost (default
//! `amqp://guest:guest@127.0.0.1:5672`); `ARGUS_TEST_AMQP_USER` the user
//! granted the vhost (default `guest`); `ARGUS_RABBITMQCTL` the command
//! (default `rabbitmqctl`).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

fn rabbitmqctl() -> String {
    argus_types::env::var_or("ARGUS_RABBITMQCTL", "rabbitmqctl")
}

fn base_url() -> String {
    argus_types::env::var_or("ARGUS_TEST_AMQP_BASE", "amqp://guest:guest@127.0.0.1:5672")
}

fn user() -> String {
    argus_types::env::var_or("ARGUS_TEST_AMQP_USER", "guest")
}

fn run(args: &[&str]) -> Result<(), String> {
    let out = Command::new(rabbitmqctl()).args(args).output().map_err(|e| format!("cannot run rabbitmqctl: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "rabbitmqctl {} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Percent-encodes a vhost name for the path of an AMQP URL.
fn encode_path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A vhost of its own for one test; deleted when this value is dropped.
pub struct TestVhost {
    name: String,
    url: String,
}

impl TestVhost {
    /// Creates the vhost and grants the test user everything on it.
    /// `rabbitmqctl` is a blocking command, so it runs off the async workers.
    pub async fn create() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let name = format!("argus-test/{}-{nanos:x}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let vhost = name.clone();
        tokio::task::spawn_blocking(move || {
            run(&["add_vhost", &vhost])?;
            run(&["set_permissions", "-p", &vhost, &user(), ".*", ".*", ".*"])
        })
        .await
        .unwrap()
        .expect("create test vhost");
        let url = format!("{}/{}", base_url(), encode_path_segment(&name));
        Self { name, url }
    }

    /// The AMQP URL of this vhost.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestVhost {
    fn drop(&mut self) {
        if let Err(e) = run(&["delete_vhost", &self.name]) {
            eprintln!("could not delete test vhost {}: {e}", self.name);
        }
    }
}

/// A TCP proxy in front of the broker that can be cut: while down it drops
/// every connection, as a broker outage would look to the publisher.
pub struct BrokerProxy {
    pub port: u16,
    up: Arc<AtomicBool>,
    cut: watch::Sender<u32>,
}

impl BrokerProxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(false));
        let (cut, _) = watch::channel(0u32);
        let (accept_up, accept_cut) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else { return };
                if !accept_up.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let mut cut_rx = accept_cut.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        });
        Self { port, up, cut }
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        if !up {
            self.cut.send_modify(|n| *n += 1);
        }
    }

    /// The vhost URL, routed through the proxy.
    pub fn url(&self, vhost_url: &str) -> String {
        vhost_url.replacen("127.0.0.1:5672", &format!("127.0.0.1:{}", self.port), 1)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn vhost_names_are_percent_encoded() {
        assert_eq!(super::encode_path_segment("argus-test/1-a_b"), "argus-test%2F1-a_b");
        assert_eq!(super::encode_path_segment("/"), "%2F");
    }
}
