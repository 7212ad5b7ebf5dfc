use super::*;
use crate::{OtlpCompression, OtlpProtocol};

fn read(vars: &[(&str, &str)]) -> Result<TelemetryConfig, TelemetryError> {
    TelemetryConfig::from_vars("api-service", "1.0.0", vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
}

fn refusal(vars: &[(&str, &str)]) -> String {
    read(vars).unwrap_err().to_string()
}

const ENDPOINT: (&str, &str) = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");

#[test]
fn an_unsupported_otel_variable_is_refused_by_its_name() {
    let message = refusal(&[ENDPOINT, ("OTEL_EXPORTER_OTLP_INSECURE", "true")]);
    assert!(message.starts_with("environment variable OTEL_EXPORTER_OTLP_INSECURE not supported"), "{message}");
    // Every one is named, a typo as much as a real one for another signal.
    let message =
        refusal(&[("OTEL_EXPORTER_OTLP_ENDPIONT", "x"), ("OTEL_BSP_EXPORT_TIMEOUT", "1"), ("OTEL_LOG_LEVEL", "debug")]);
    assert!(message.contains("OTEL_BSP_EXPORT_TIMEOUT, OTEL_EXPORTER_OTLP_ENDPIONT, OTEL_LOG_LEVEL"), "{message}");
    // Empty is unset; other prefixes are not the telemetry's to judge.
    assert!(read(&[("OTEL_EXPORTER_OTLP_INSECURE", " "), ("OTELX", "1"), ("HOME", "/root")]).is_ok());
}

#[test]
fn every_supported_variable_is_read() {
    let dir = std::env::temp_dir().join(format!("argus-telemetry-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = rcgen::generate_simple_self_signed(vec!["collector".to_owned()]).unwrap();
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, ca.cert.pem()).unwrap();
    std::fs::write(&key_file, ca.signing_key.serialize_pem()).unwrap();
    let (cert, key) = (cert_file.to_str().unwrap(), key_file.to_str().unwrap());
    let values: HashMap<&str, &str> = HashMap::from([
        ("OTEL_SDK_DISABLED", "false"),
        ("OTEL_SERVICE_NAME", "api"),
        ("OTEL_RESOURCE_ATTRIBUTES", "k8s.pod.name=api-1,team=a%20b"),
        ("OTEL_PROPAGATORS", "tracecontext"),
        ("OTEL_TRACES_EXPORTER", "otlp"),
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "64"),
        ("OTEL_SPAN_EVENT_COUNT_LIMIT", "32"),
        ("OTEL_SPAN_LINK_COUNT_LIMIT", "16"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "4096"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "256"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://traces:4318/in"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "a=1,b=2"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "b=3"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000"),
        ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2000"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "none"),
        ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip"),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent"),
        ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", cert),
        ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/nonexistent"),
        ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", cert),
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/nonexistent"),
        ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", key),
    ]);
    assert_eq!(values.len(), SUPPORTED_VARIABLES.len());
    assert!(SUPPORTED_VARIABLES.iter().all(|name| values.contains_key(name)));
    let vars: Vec<(&str, &str)> = values.into_iter().collect();
    let config = read(&vars).unwrap();
    assert_eq!(config.service, "api");
    let resource: Vec<String> =
        config.traces.resource_attributes.iter().map(|kv| format!("{}={}", kv.key, kv.value)).collect();
    assert_eq!(resource, ["k8s.pod.name=api-1", "team=a b"]);
    assert!(matches!(config.traces.sampler, Sampler::ParentBased(_)), "{:?}", config.traces.sampler);
    let limits = config.traces.span_limits;
    assert_eq!((limits.max_attributes_per_span, limits.max_events_per_span, limits.max_links_per_span), (64, 32, 16));
    // The _TRACES_ variable wins over the general one.
    let otlp = config.otlp.unwrap();
    assert_eq!(otlp.protocol, OtlpProtocol::HttpProtobuf);
    assert_eq!(otlp.endpoint.as_str(), "https://traces:4318/in");
    assert_eq!((&otlp.headers["a"], &otlp.headers["b"]), (&"1".parse().unwrap(), &"3".parse().unwrap()));
    assert_eq!(otlp.timeout, std::time::Duration::from_millis(2000));
    assert_eq!(otlp.compression, OtlpCompression::Gzip);
    assert_eq!((otlp.max_queue_size, otlp.max_export_batch_size), (4096, 256));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn samplers_are_the_standard_ones_and_their_argument_a_ratio() {
    let sampler = |vars: &[(&str, &str)]| read(vars).map(|config| format!("{:?}", config.traces.sampler));
    // The default: the caller's flag, else 50 traces a second.
    assert_eq!(sampler(&[]).unwrap(), "ParentBased(RateLimited(50/s))");
    let rate = [("OTEL_TRACES_SAMPLER", "parentbased_argus_rate_limited"), ("ARGUS_TRACE_SAMPLE_PER_SECOND", "0.5")];
    assert_eq!(sampler(&rate).unwrap(), "ParentBased(RateLimited(0.5/s))");
    assert_eq!(sampler(&[("ARGUS_TRACE_SAMPLE_PER_SECOND", "0")]).unwrap(), "ParentBased(RateLimited(0/s))");
    assert_eq!(sampler(&[("OTEL_TRACES_SAMPLER", "parentbased_always_on")]).unwrap(), "ParentBased(AlwaysOn)");
    assert_eq!(sampler(&[("OTEL_TRACES_SAMPLER", "always_off")]).unwrap(), "AlwaysOff");
    assert_eq!(sampler(&[("OTEL_TRACES_SAMPLER", "traceidratio")]).unwrap(), "TraceIdRatioBased(1.0)");
    let half = [("OTEL_TRACES_SAMPLER", "traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "0.5")];
    assert_eq!(sampler(&half).unwrap(), "TraceIdRatioBased(0.5)");
    for (vars, named) in [
        (&[("OTEL_TRACES_SAMPLER", "jaeger_remote")][..], "OTEL_TRACES_SAMPLER: `jaeger_remote` is not supported"),
        (
            &[("OTEL_TRACES_SAMPLER", "traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "1.5")],
            "OTEL_TRACES_SAMPLER_ARG: `1.5`",
        ),
        (
            &[("OTEL_TRACES_SAMPLER", "traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "NaN")],
            "OTEL_TRACES_SAMPLER_ARG: `NaN`",
        ),
        (&[("OTEL_TRACES_SAMPLER_ARG", "0.5")], "only the traceidratio samplers take an argument"),
        (&[("ARGUS_TRACE_SAMPLE_PER_SECOND", "-1")], "ARGUS_TRACE_SAMPLE_PER_SECOND: `-1` is not a number"),
        (&[("ARGUS_TRACE_SAMPLE_PER_SECOND", "inf")], "ARGUS_TRACE_SAMPLE_PER_SECOND: `inf` is not a number"),
        (
            &[("OTEL_TRACES_SAMPLER", "always_on"), ("ARGUS_TRACE_SAMPLE_PER_SECOND", "10")],
            "only the parentbased_argus_rate_limited sampler (the default) reads it, and the sampler is always_on",
        ),
    ] {
        let message = sampler(vars).unwrap_err().to_string();
        assert!(message.contains(named), "{message}");
    }
}

#[test]
fn slow_requests_are_kept_from_one_second_unless_turned_off() {
    let keep = |vars: &[(&str, &str)]| read(vars).map(|config| config.traces.keep_slower_than);
    assert_eq!(keep(&[]).unwrap(), Some(Duration::from_secs(1)));
    assert_eq!(keep(&[("ARGUS_TRACE_KEEP_SLOWER_THAN_MS", "250")]).unwrap(), Some(Duration::from_millis(250)));
    assert_eq!(keep(&[("ARGUS_TRACE_KEEP_SLOWER_THAN_MS", "0")]).unwrap(), None);
    let message = keep(&[("ARGUS_TRACE_KEEP_SLOWER_THAN_MS", "soon")]).unwrap_err().to_string();
    assert!(message.contains("ARGUS_TRACE_KEEP_SLOWER_THAN_MS"), "{message}");
}

#[test]
fn bad_values_of_supported_variables_are_refused_by_name() {
    for (vars, named) in [
        (&[("OTEL_PROPAGATORS", "tracecontext,baggage")][..], "OTEL_PROPAGATORS: `baggage` is not supported"),
        (&[("OTEL_TRACES_EXPORTER", "zipkin")], "OTEL_TRACES_EXPORTER: `zipkin`"),
        (&[("OTEL_TRACES_EXPORTER", "otlp")], "OTEL_TRACES_EXPORTER: otlp needs OTEL_EXPORTER_OTLP_ENDPOINT"),
        (&[("OTEL_SDK_DISABLED", "maybe")], "OTEL_SDK_DISABLED: `maybe` is not a boolean"),
        (&[("OTEL_SPAN_LINK_COUNT_LIMIT", "-1")], "OTEL_SPAN_LINK_COUNT_LIMIT: `-1`"),
        (&[("OTEL_RESOURCE_ATTRIBUTES", "novalue")], "OTEL_RESOURCE_ATTRIBUTES: `novalue` is not key=value"),
        (&[ENDPOINT, ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")], "OTEL_EXPORTER_OTLP_PROTOCOL: `http/json`"),
        (&[ENDPOINT, ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd")], "OTEL_EXPORTER_OTLP_COMPRESSION: `zstd`"),
        (
            &[ENDPOINT, ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0")],
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: must be at least 1",
        ),
        (&[ENDPOINT, ("OTEL_EXPORTER_OTLP_HEADERS", "bad key=1")], "OTEL_EXPORTER_OTLP_HEADERS: `bad key`"),
        (&[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317")], "OTEL_EXPORTER_OTLP_ENDPOINT: `collector:4317"),
        (
            &[ENDPOINT, ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/ca.pem")],
            "OTEL_EXPORTER_OTLP_CERTIFICATE: is for an https://",
        ),
    ] {
        let message = refusal(vars);
        assert!(message.contains(named), "{message}");
    }
}

#[test]
fn tls_files_that_cannot_be_used_are_refused_by_name() {
    let dir = std::env::temp_dir().join(format!("argus-telemetry-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let issued = rcgen::generate_simple_self_signed(vec!["collector".to_owned()]).unwrap();
    let write = |name: &str, contents: &str| {
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (cert, key, junk) =
        (write("c.pem", &issued.cert.pem()), write("k.pem", &issued.signing_key.serialize_pem()), write("j", "junk"));
    let https = ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318");
    for (vars, named) in [
        (
            vec![https, ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem")],
            "OTEL_EXPORTER_OTLP_CERTIFICATE: cannot read `/nonexistent/ca.pem`",
        ),
        (vec![https, ("OTEL_EXPORTER_OTLP_CERTIFICATE", &junk)], "holds no PEM certificate"),
        (
            vec![https, ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", &cert)],
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: needs both",
        ),
        (
            vec![https, ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", &key)],
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: needs both",
        ),
        (
            vec![https, ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", &junk), ("OTEL_EXPORTER_OTLP_CLIENT_KEY", &key)],
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: `",
        ),
        (
            vec![https, ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", &cert), ("OTEL_EXPORTER_OTLP_CLIENT_KEY", &junk)],
            "OTEL_EXPORTER_OTLP_CLIENT_KEY: `",
        ),
    ] {
        let message = refusal(&vars);
        assert!(message.contains(named), "{message}");
    }
    // A key that is not the certificate's.
    let other_key = write("other.pem", &rcgen::KeyPair::generate().unwrap().serialize_pem());
    let message = refusal(&[
        https,
        ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", &cert),
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", &other_key),
    ]);
    assert!(message.starts_with("the OTLP exporter cannot use its TLS settings"), "{message}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn export_is_off_without_an_endpoint_or_when_turned_off() {
    assert!(read(&[]).unwrap().otlp.is_none());
    assert!(read(&[ENDPOINT]).unwrap().otlp.is_some());
    assert!(read(&[ENDPOINT, ("OTEL_TRACES_EXPORTER", "none")]).unwrap().otlp.is_none());
    assert!(read(&[ENDPOINT, ("OTEL_SDK_DISABLED", "true")]).unwrap().otlp.is_none());
    let grpc = read(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317/ignored?x=1"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ]);
    assert_eq!(
        grpc.unwrap().otlp.unwrap().endpoint.as_str(),
        "http://collector:4317/opentelemetry.proto.collector.trace.v1.TraceService/Export"
    );
    let http = read(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]).unwrap().otlp.unwrap();
    assert_eq!(http.endpoint.as_str(), "http://collector:4318/v1/traces");
}

#[test]
fn the_service_name_is_otel_service_name_then_the_resource_attributes_then_the_binary() {
    assert_eq!(read(&[]).unwrap().service, "api-service");
    assert_eq!(read(&[("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs")]).unwrap().service, "from-attrs");
    let both = [("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs"), ("OTEL_SERVICE_NAME", "named")];
    assert_eq!(read(&both).unwrap().service, "named");
}

#[test]
fn key_values_follow_the_exporter_spec() {
    assert_eq!(
        key_values("api-key=a%20b%3D, x-tenant = t1 ,").unwrap(),
        [("api-key".to_owned(), "a b=".to_owned()), ("x-tenant".to_owned(), "t1".to_owned())]
    );
    assert!(key_values("novalue").is_err());
    assert!(key_values("=value").is_err());
    assert!(key_values("k=%FF").is_err(), "not UTF-8");
}

proptest::proptest! {
    #[test]
    fn any_key_value_list_is_read_without_panicking(list: String) {
        let _ = key_values(&list);
    }

    #[test]
    fn percent_encoded_pairs_read_back(pairs in proptest::collection::vec(("[a-z][a-z0-9._-]{0,12}", proptest::prelude::any::<String>()), 0..6)) {
        let list: Vec<String> = pairs
            .iter()
            .map(|(key, value)| {
                format!("{key}={}", percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC))
            })
            .collect();
        proptest::prop_assert_eq!(key_values(&list.join(",")).unwrap(), pairs);
    }
}
