//! TLS for tests, this crate's (the OTLP exporter against a TLS collector)
//! and other crates' (feature `testing`: AMQP over TLS, PostgreSQL with a
//! CA of its own): a test CA with a certificate it signed, and a
//! TLS-terminating front that forwards to a plain TCP backend.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};

/// A test CA (PEM) and a certificate it signed for `name`, with its key:
/// (CA, certificate, key, certificate DER).
pub fn pki(ca_name: &str, name: &str) -> (String, String, String, Vec<u8>) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, ca_name);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec![name.to_owned()]).unwrap().signed_by(&key, &issuer).unwrap();
    (ca_pem, cert.pem(), key.serialize_pem(), cert.der().to_vec())
}

/// A TLS front on a free port of 127.0.0.1, started by [`TlsFront::start`].
pub struct TlsFront {
    pub port: u16,
    presented: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl TlsFront {
    /// Terminates TLS with `cert_pem` and forwards to `backend` (`host:port`,
    /// or an `http://` URL of one); with `client_ca_pem`, only clients with a
    /// certificate it issued get through.
    pub async fn start(cert_pem: &str, key_pem: &str, client_ca_pem: Option<&str>, backend: &str) -> Self {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(cert_pem.as_bytes()).collect::<Result<_, _>>().unwrap();
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = match client_ca_pem {
            None => builder.with_no_client_auth(),
            Some(pem) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                    roots.add(cert.unwrap()).unwrap();
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .unwrap();
                builder.with_client_cert_verifier(verifier)
            }
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(builder.with_single_cert(certs, key).unwrap()));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let presented: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let (record, backend) = (presented.clone(), backend.trim_start_matches("http://").to_owned());
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let (acceptor, record, backend) = (acceptor.clone(), record.clone(), backend.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(inbound).await else { return };
                    let client = tls.get_ref().1.peer_certificates().and_then(|certs| certs.first());
                    record.lock().unwrap().push(client.map(|cert| cert.to_vec()).unwrap_or_default());
                    let Ok(mut upstream) = TcpStream::connect(&backend).await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
                });
            }
        });
        Self { port, presented }
    }

    /// `https://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The client certificate (DER) of each handshake that completed so
    /// far, or an empty one when the client presented none.
    pub fn presented(&self) -> Vec<Vec<u8>> {
        self.presented.lock().unwrap().clone()
    }
}
