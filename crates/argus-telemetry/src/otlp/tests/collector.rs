//! Local OTLP collectors for the exporter's tests: real servers on
//! 127.0.0.1, answering from a script (the last answer repeats) and
//! recording what they received, decoded on their own (not with the
//! exporter's code). And a TLS front with certificates from a test CA.

use std::collections::VecDeque;
use std::io::Read as _;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine as _;
use futures_util::StreamExt as _;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message as _;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};

use crate::otlp::grpc::{Any, ProtoDuration, RetryInfo, Status};

/// One request as the collector got it.
#[derive(Debug, Clone)]
pub(super) struct Received {
    pub(super) at: Instant,
    pub(super) headers: http::HeaderMap,
    /// For gRPC, the frame's compressed flag.
    pub(super) compressed_frame: bool,
    /// The body, inflated when its encoding says gzip, and decoded.
    pub(super) request: ExportTraceServiceRequest,
}

pub(super) struct Collector {
    pub(super) endpoint: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Collector {
    pub(super) fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn inflate(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).expect("gzip");
    out
}

/// An OTLP/HTTP answer: a status and its headers.
pub(super) type HttpAnswer = (u16, Vec<(&'static str, String)>);

/// An OTLP/HTTP collector answering `script` in turn.
pub(super) fn http_collector(script: Vec<HttpAnswer>) -> Collector {
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let record = received.clone();
    let server = HttpServer::new(move || {
        let (record, script) = (record.clone(), script.clone());
        App::new().route(
            "/v1/traces",
            // The raw payload: actix-web's extractors may inflate a body.
            web::post().to(move |request: HttpRequest, mut payload: web::Payload| {
                let (record, script) = (record.clone(), script.clone());
                async move {
                    let mut body = Vec::new();
                    while let Some(chunk) = payload.next().await {
                        body.extend_from_slice(&chunk.unwrap());
                    }
                    let gzipped = request.headers().get("content-encoding").is_some_and(|v| v == "gzip");
                    let body = if gzipped { inflate(&body) } else { body };
                    let mut headers = http::HeaderMap::new();
                    for (name, value) in request.headers() {
                        let name = http::HeaderName::from_bytes(name.as_str().as_bytes()).unwrap();
                        headers.append(name, http::HeaderValue::from_bytes(value.as_bytes()).unwrap());
                    }
                    record.lock().unwrap().push(Received {
                        at: Instant::now(),
                        headers,
                        compressed_frame: false,
                        request: ExportTraceServiceRequest::decode(body.as_slice()).unwrap(),
                    });
                    let (status, answer_headers) = {
                        let mut script = script.lock().unwrap();
                        if script.len() > 1 { script.pop_front().unwrap() } else { script[0].clone() }
                    };
                    let mut answer = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
                    answer.content_type("application/x-protobuf");
                    for (name, value) in answer_headers {
                        answer.insert_header((name, value));
                    }
                    let message = if status == 200 {
                        ExportTraceServiceResponse::default().encode_to_vec()
                    } else {
                        Status { code: 0, message: format!("scripted {status}"), details: Vec::new() }.encode_to_vec()
                    };
                    answer.body(message)
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    Collector { endpoint: format!("http://127.0.0.1:{port}"), received }
}

/// An OTLP/gRPC answer.
#[derive(Debug, Clone, Default)]
pub(super) struct GrpcAnswer {
    /// The gRPC status: 0 answers with a message and the status in the
    /// trailers, any other in the headers alone (trailers-only).
    pub(super) status: u32,
    /// A `RetryInfo` in the status's details.
    pub(super) retry_delay: Option<std::time::Duration>,
    /// The spans the answer says it refused.
    pub(super) rejected: i64,
    /// The answer's message gzipped (`grpc-encoding: gzip`).
    pub(super) gzip_answer: bool,
}

/// An OTLP/gRPC collector on HTTP/2 (h2, cleartext) answering `script`
/// in turn.
pub(super) async fn grpc_collector(script: Vec<GrpcAnswer>) -> Collector {
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let record = received.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let (record, script) = (record.clone(), script.clone());
            tokio::spawn(async move {
                let Ok(mut connection) = h2::server::handshake(socket).await else { return };
                while let Some(Ok((request, respond))) = connection.accept().await {
                    let answer = {
                        let mut script = script.lock().unwrap();
                        if script.len() > 1 { script.pop_front().unwrap() } else { script[0].clone() }
                    };
                    tokio::spawn(grpc_call(request, respond, answer, record.clone()));
                }
            });
        }
    });
    Collector { endpoint, received }
}

async fn grpc_call(
    request: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<web::Bytes>,
    answer: GrpcAnswer,
    record: Arc<Mutex<Vec<Received>>>,
) {
    assert_eq!(request.uri().path(), "/opentelemetry.proto.collector.trace.v1.TraceService/Export");
    let headers = request.headers().clone();
    let mut body = request.into_body();
    let mut framed = Vec::new();
    while let Some(Ok(data)) = body.data().await {
        let _ = body.flow_control().release_capacity(data.len());
        framed.extend_from_slice(&data);
    }
    let length = u32::from_be_bytes(framed[1..5].try_into().unwrap()) as usize;
    assert_eq!(length, framed.len() - 5, "one whole message");
    let compressed = framed[0] == 1;
    let message = if compressed { inflate(&framed[5..]) } else { framed[5..].to_vec() };
    record.lock().unwrap().push(Received {
        at: Instant::now(),
        headers,
        compressed_frame: compressed,
        request: ExportTraceServiceRequest::decode(message.as_slice()).unwrap(),
    });
    let mut head = http::Response::builder().status(200).header("content-type", "application/grpc");
    if answer.status != 0 {
        head = head.header("grpc-status", answer.status.to_string()).header("grpc-message", "scripted%20failure");
        if let Some(delay) = answer.retry_delay {
            let delay = ProtoDuration {
                seconds: i64::try_from(delay.as_secs()).unwrap(),
                nanos: i32::try_from(delay.subsec_nanos()).unwrap(),
            };
            let info = RetryInfo { retry_delay: Some(delay) };
            let type_url = "type.googleapis.com/google.rpc.RetryInfo".to_owned();
            let status = Status {
                code: i32::try_from(answer.status).unwrap(),
                message: "scripted failure".into(),
                details: vec![Any { type_url, value: info.encode_to_vec() }],
            };
            let details = base64::engine::general_purpose::STANDARD_NO_PAD.encode(status.encode_to_vec());
            head = head.header("grpc-status-details-bin", details);
        }
        let _ = respond.send_response(head.body(()).unwrap(), true);
        return;
    }
    if answer.gzip_answer {
        head = head.header("grpc-encoding", "gzip");
    }
    let Ok(mut send) = respond.send_response(head.body(()).unwrap(), false) else { return };
    let partial = (answer.rejected > 0)
        .then(|| ExportTracePartialSuccess { rejected_spans: answer.rejected, error_message: "too old".into() });
    let message = ExportTraceServiceResponse { partial_success: partial }.encode_to_vec();
    let message = if answer.gzip_answer { crate::otlp::encoding::gzip(&message) } else { message };
    let mut frame = vec![u8::from(answer.gzip_answer)];
    frame.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(&message);
    let _ = send.send_data(frame.into(), false);
    let mut trailers = http::HeaderMap::new();
    trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
    let _ = send.send_trailers(trailers);
}

/// A test CA (PEM) and a certificate it signed for `name`, with its key:
/// (CA, certificate, key, certificate DER).
pub(super) fn pki(ca_name: &str, name: &str) -> (String, String, String, Vec<u8>) {
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

/// Terminates TLS on a free port with `cert_pem` and forwards to the
/// collector at `backend`; with `client_ca_pem`, only clients with a
/// certificate it issued get through. Records each client certificate
/// (DER) that a completed handshake presented, or an empty one.
pub(super) async fn tls_front(
    cert_pem: &str,
    key_pem: &str,
    client_ca_pem: Option<&str>,
    backend: &str,
) -> (String, Arc<Mutex<Vec<Vec<u8>>>>) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(cert_pem.as_bytes()).collect::<Result<_, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let builder =
        rustls::ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions().unwrap();
    let builder = match client_ca_pem {
        None => builder.with_no_client_auth(),
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                roots.add(cert.unwrap()).unwrap();
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build().unwrap();
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
                let Ok(mut collector) = TcpStream::connect(&backend).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut collector).await;
            });
        }
    });
    (format!("https://127.0.0.1:{port}"), presented)
}
