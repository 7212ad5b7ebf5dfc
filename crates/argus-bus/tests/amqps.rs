//! `amqps://` with the CA from `ARGUS_AMQP_CA_FILE`. The local RabbitMQ has
//! no TLS listener (and is not reconfigured for tests), so the test puts a
//! TLS-terminating proxy with a certificate from its own CA in front of it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use argus_bus::testing::TestVhost;
use argus_bus::{Broker, Topology};
use argus_telemetry::testing::{TlsFront, pki};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn amqps_trusts_the_ca_file_and_nothing_else() {
    let vhost = TestVhost::create().await;
    let (ca_pem, cert_pem, key_pem, _) = pki("Argus test broker CA", "127.0.0.1");
    let front = TlsFront::start(&cert_pem, &key_pem, None, "127.0.0.1:5672").await;
    let port = front.port;
    let url =
        vhost.url().replacen("amqp://", "amqps://", 1).replacen("127.0.0.1:5672", &format!("127.0.0.1:{port}"), 1);
    let dir = std::env::temp_dir().join(format!("argus-amqps-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let (ca_file, other_ca_file) = (dir.join("ca.pem"), dir.join("other-ca.pem"));
    std::fs::write(&ca_file, &ca_pem).unwrap();
    std::fs::write(&other_ca_file, pki("Some other CA", "127.0.0.1").0).unwrap();

    // With the CA file: connects over TLS and works (declares the topology).
    let broker = Broker::with_ca_file(url.clone(), Some(&ca_file)).unwrap();
    let connection = argus_bus::connect(&broker, "amqps-test", WAIT).await.unwrap();
    Topology::new("argus", vec![200]).declare(&connection.create_channel().await.unwrap()).await.unwrap();
    assert_eq!(front.presented().len(), 1, "the connection went through TLS");

    // Without it, or with another CA: the certificate is refused.
    for broker in [Broker::new(url.clone()), Broker::with_ca_file(url.clone(), Some(&other_ca_file)).unwrap()] {
        let err = argus_bus::connect(&broker, "amqps-test", WAIT).await.unwrap_err().to_string();
        assert!(err.to_lowercase().contains("certificate") || err.contains("UnknownIssuer"), "{err}");
    }
    assert_eq!(front.presented().len(), 1, "no other handshake completed");
    std::fs::remove_dir_all(&dir).unwrap();
}
