//! Local OTLP collectors for the exporter's tests: real servers on
//! 127.0.0.1, answering from a script (the last answer repeats) and
//! recording what they received, decoded on their own (not with the
//! exporter's code). TLS in front of them: [`crate::testing`].

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
use tokio::net::TcpListener;

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
