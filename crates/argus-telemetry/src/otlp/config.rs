//! Where and how spans are exported: the standard OTLP exporter variables,
//! each with its `_TRACES_` variant, which wins.

use std::time::Duration;

use argus_types::env::ConfigError;

use super::grpc::GRPC_EXPORT_PATH;
use crate::config::{TelemetryError, Vars, key_values};

/// The OTLP transport (`OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else
/// `OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// `http/protobuf` (the default): POST to `…/v1/traces`.
    HttpProtobuf,
    /// `grpc`: the unary `TraceService/Export` call over HTTP/2, cleartext
    /// (prior knowledge) for `http://` endpoints and TLS for `https://`.
    Grpc,
}

/// How a request's body is compressed (`OTEL_EXPORTER_OTLP_COMPRESSION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpCompression {
    /// `none` (the default).
    None,
    /// `gzip`: `Content-Encoding: gzip` over HTTP, `grpc-encoding: gzip`
    /// and compressed messages over gRPC.
    Gzip,
}

/// Where and how spans are exported: the standard OpenTelemetry variables.
#[derive(Debug, Clone)]
pub struct OtlpConfig {
    pub protocol: OtlpProtocol,
    /// Over HTTP/protobuf, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as given,
    /// else `OTEL_EXPORTER_OTLP_ENDPOINT` followed by `/v1/traces`. Over
    /// gRPC, the scheme, host and port of either, and [`GRPC_EXPORT_PATH`].
    pub endpoint: reqwest::Url,
    /// `OTEL_EXPORTER_OTLP_HEADERS`, then `OTEL_EXPORTER_OTLP_TRACES_HEADERS`:
    /// `key=value` pairs separated by commas, values percent-encoded.
    pub headers: reqwest::header::HeaderMap,
    pub compression: OtlpCompression,
    /// `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` or `OTEL_EXPORTER_OTLP_TIMEOUT`, in
    /// milliseconds (default 10000): how long one export may take, its
    /// retries included.
    pub timeout: Duration,
    /// `OTEL_BSP_SCHEDULE_DELAY`, in milliseconds (default 5000): how long a
    /// span may wait for a batch to fill.
    pub schedule_delay: Duration,
    /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` (default 512): spans per request,
    /// about (spans come in chunks of up to 128).
    pub max_export_batch_size: usize,
    /// `OTEL_BSP_MAX_QUEUE_SIZE` (default 2048): spans waiting to be sent at
    /// most; beyond, the oldest are dropped, so a collector that is down
    /// never holds more.
    pub max_queue_size: usize,
    /// The HTTP client, with the TLS settings in it: `_CERTIFICATE` (PEM
    /// certificates, the only ones trusted as the collector's issuers),
    /// `_CLIENT_CERTIFICATE` and `_CLIENT_KEY` (PEM, for mutual TLS). Built
    /// here, so a file that cannot be used stops the service at start-up.
    pub(crate) client: reqwest::Client,
}

impl OtlpConfig {
    /// `None` when neither endpoint variable is set.
    pub(crate) fn from_vars(vars: &Vars) -> Result<Option<Self>, TelemetryError> {
        let protocol = match vars.first(["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"]) {
            None | Some((_, "http/protobuf")) => OtlpProtocol::HttpProtobuf,
            Some((_, "grpc")) => OtlpProtocol::Grpc,
            Some((name, protocol)) => {
                let reason = format!("`{protocol}` is not supported: use http/protobuf or grpc");
                return Err(ConfigError { name, reason }.into());
            }
        };
        let Some(mut endpoint) = endpoint(vars, protocol)? else { return Ok(None) };
        if protocol == OtlpProtocol::Grpc {
            // A gRPC endpoint names the server; the method names the path.
            endpoint.set_path(GRPC_EXPORT_PATH);
            endpoint.set_query(None);
        }
        let mut headers = reqwest::header::HeaderMap::new();
        for name in ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"] {
            if let Some(list) = vars.get(name) {
                parse_headers(list, &mut headers).map_err(|reason| ConfigError { name, reason })?;
            }
        }
        let compression = match vars.first(["OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"])
        {
            None | Some((_, "none")) => OtlpCompression::None,
            Some((_, "gzip")) => OtlpCompression::Gzip,
            Some((name, other)) => {
                let reason = format!("`{other}` is not supported: use gzip or none");
                return Err(ConfigError { name, reason }.into());
            }
        };
        let timeout = match vars.get("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") {
            Some(_) => vars.positive("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", 10_000)?,
            None => vars.positive("OTEL_EXPORTER_OTLP_TIMEOUT", 10_000)?,
        };
        let client = client(vars, protocol, endpoint.scheme() == "https")?;
        Ok(Some(Self {
            protocol,
            endpoint,
            headers,
            compression,
            timeout: Duration::from_millis(timeout),
            schedule_delay: Duration::from_millis(vars.positive("OTEL_BSP_SCHEDULE_DELAY", 5_000)?),
            max_export_batch_size: usize::try_from(vars.positive("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)?)
                .unwrap_or(usize::MAX),
            max_queue_size: usize::try_from(vars.positive("OTEL_BSP_MAX_QUEUE_SIZE", 2_048)?).unwrap_or(usize::MAX),
            client,
        }))
    }
}

fn endpoint(vars: &Vars, protocol: OtlpProtocol) -> Result<Option<reqwest::Url>, ConfigError> {
    let (name, endpoint) =
        match (vars.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), vars.get("OTEL_EXPORTER_OTLP_ENDPOINT")) {
            (Some(traces), _) => ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces.to_owned()),
            (None, Some(base)) if protocol == OtlpProtocol::HttpProtobuf => {
                ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("{}/v1/traces", base.trim_end_matches('/')))
            }
            (None, Some(base)) => ("OTEL_EXPORTER_OTLP_ENDPOINT", base.to_owned()),
            (None, None) => return Ok(None),
        };
    reqwest::Url::parse(&endpoint)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .map(Some)
        .ok_or_else(|| ConfigError { name, reason: format!("`{endpoint}` is not an http(s) URL") })
}

/// `key=value,key2=value2`, values percent-decoded (the OTLP exporter spec).
fn parse_headers(list: &str, headers: &mut reqwest::header::HeaderMap) -> Result<(), String> {
    for (key, value) in key_values(list)? {
        let key = reqwest::header::HeaderName::from_bytes(key.as_bytes())
            .map_err(|_| format!("`{key}` is not a header name"))?;
        let value = reqwest::header::HeaderValue::from_str(&value)
            .map_err(|_| format!("the value of `{key}` is not a header value"))?;
        headers.insert(key, value);
    }
    Ok(())
}

/// The exporter's HTTP client, with the TLS files in it.
fn client(vars: &Vars, protocol: OtlpProtocol, https: bool) -> Result<reqwest::Client, TelemetryError> {
    let certificate = vars.first(["OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "OTEL_EXPORTER_OTLP_CERTIFICATE"]);
    let client_certificate =
        vars.first(["OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"]);
    let client_key = vars.first(["OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "OTEL_EXPORTER_OTLP_CLIENT_KEY"]);
    let mut builder = reqwest::Client::builder();
    if protocol == OtlpProtocol::Grpc {
        builder = builder.http2_prior_knowledge();
    }
    if let Some((name, _)) = certificate.or(client_certificate).or(client_key).filter(|_| !https) {
        let reason = "is for an https:// collector, and the endpoint is http://".to_owned();
        return Err(ConfigError { name, reason }.into());
    }
    if let Some((name, path)) = certificate {
        let roots = reqwest::Certificate::from_pem_bundle(&read(name, path)?)
            .ok()
            .filter(|roots| !roots.is_empty())
            .ok_or_else(|| ConfigError { name, reason: format!("`{path}` holds no PEM certificate") })?;
        builder = builder.tls_certs_only(roots);
    }
    match (client_certificate, client_key) {
        (None, None) => {}
        (Some((name, _)), None) | (None, Some((name, _))) => {
            let reason = "needs both the client certificate and its key (_CLIENT_CERTIFICATE and _CLIENT_KEY)".into();
            return Err(ConfigError { name, reason }.into());
        }
        (Some((certificate_name, certificate_path)), Some((key_name, key_path))) => {
            let mut pem = read(certificate_name, certificate_path)?;
            if reqwest::Certificate::from_pem_bundle(&pem).map_or(true, |chain| chain.is_empty()) {
                let reason = format!("`{certificate_path}` holds no PEM certificate");
                return Err(ConfigError { name: certificate_name, reason }.into());
            }
            pem.push(b'\n');
            pem.extend(read(key_name, key_path)?);
            let identity = reqwest::Identity::from_pem(&pem).map_err(|_| ConfigError {
                name: key_name,
                reason: format!("`{key_path}` holds no PEM private key (PKCS#8, PKCS#1 or SEC1)"),
            })?;
            builder = builder.identity(identity);
        }
    }
    builder.build().map_err(|e| TelemetryError::ExportClient(error_chain(&e)))
}

fn read(name: &'static str, path: &str) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|e| ConfigError { name, reason: format!("cannot read `{path}`: {e}") })
}

/// An error and its causes: reqwest's own text is only "builder error".
pub(super) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}
