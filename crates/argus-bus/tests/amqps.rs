//! `amqps://` with the CA from `ARGUS_AMQP_CA_FILE`. The local RabbitMQ has
//! no TLS listener (and is not reconfigured for tests), so the test puts a
//! TLS-terminating proxy with a certificate from its own CA in front of it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use argus_bus::testing::TestVhost;
use argus_bus::{Broker, Topology};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};

const WAIT: Duration = Duration::from_secs(10);

/// A CA (PEM) and a certificate for 127.0.0.1 it signed, with its key.
fn pki(ca_name: &str) -> (String, String, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, ca_name);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap().signed_by(&key, &issuer).unwrap();
    (ca_pem, cert.pem(), key.serialize_pem())
}

/// Terminates TLS on a free port and forwards to the broker; counts the
/// handshakes that completed.
async fn tls_front(cert_pem: &str, key_pem: &str) -> (u16, Arc<AtomicUsize>) {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(cert_pem.as_bytes()).collect::<Result<_, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let counted = handshakes.clone();
    tokio::spawn(async move {
        loop {
            let Ok((inbound, _)) = listener.accept().await else { return };
            let (acceptor, counted) = (acceptor.clone(), counted.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(inbound).await else { return };
                counted.fetch_add(1, Ordering::SeqCst);
                let Ok(mut broker) = TcpStream::connect("127.0.0.1:5672").await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut broker).await;
            });
        }
    });
    (port, handshakes)
}

#[tokio::test]
async fn amqps_trusts_the_ca_file_and_nothing_else() {
    let vhost = TestVhost::create().await;
    let (ca_pem, cert_pem, key_pem) = pki("Argus test broker CA");
    let (port, handshakes) = tls_front(&cert_pem, &key_pem).await;
    let url =
        vhost.url().replacen("amqp://", "amqps://", 1).replacen("127.0.0.1:5672", &format!("127.0.0.1:{port}"), 1);
    let dir = std::env::temp_dir().join(format!("argus-amqps-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let (ca_file, other_ca_file) = (dir.join("ca.pem"), dir.join("other-ca.pem"));
    std::fs::write(&ca_file, &ca_pem).unwrap();
    std::fs::write(&other_ca_file, pki("Some other CA").0).unwrap();

    // With the CA file: connects over TLS and works (declares the topology).
    let broker = Broker::with_ca_file(url.clone(), Some(&ca_file)).unwrap();
    let connection = argus_bus::connect(&broker, "amqps-test", WAIT).await.unwrap();
    Topology::new("argus", vec![200]).declare(&connection.create_channel().await.unwrap()).await.unwrap();
    assert_eq!(handshakes.load(Ordering::SeqCst), 1, "the connection went through TLS");

    // Without it, or with another CA: the certificate is refused.
    for broker in [Broker::new(url.clone()), Broker::with_ca_file(url.clone(), Some(&other_ca_file)).unwrap()] {
        let err = argus_bus::connect(&broker, "amqps-test", WAIT).await.unwrap_err().to_string();
        assert!(err.to_lowercase().contains("certificate") || err.contains("UnknownIssuer"), "{err}");
    }
    assert_eq!(handshakes.load(Ordering::SeqCst), 1, "no other handshake completed");
    std::fs::remove_dir_all(&dir).unwrap();
}
