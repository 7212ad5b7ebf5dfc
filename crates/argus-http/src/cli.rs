//! The service binaries' `main`: `--help` and `--version` (the binaries
//! are configured by environment variables only: the help lists them), the
//! config, the telemetry, and the exit status.

use std::process::ExitCode;

/// The variables every service reads (the store, logging and tracing).
pub const SHARED_ENVIRONMENT: &str = "\
  ARGUS_DATABASE_URL             PostgreSQL URL (default postgres://postgres@127.0.0.1:5432/argus); TLS per sslmode
  ARGUS_DB_MAX_CONNECTIONS       pool size (default 16)
  ARGUS_LOG_FORMAT               json or pretty (default json)
  RUST_LOG                       log filter (default info)
  ARGUS_ENV                      live or sandbox (default live)
  OTEL_SERVICE_NAME              service.name of the spans (default: the binary's name)
  OTEL_RESOURCE_ATTRIBUTES       more resource attributes of exported spans: key=value,... (percent-encoded)
  OTEL_EXPORTER_OTLP_ENDPOINT    OTLP collector; unset: no export (also OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
  OTEL_EXPORTER_OTLP_PROTOCOL    http/protobuf or grpc (also OTEL_EXPORTER_OTLP_TRACES_PROTOCOL)
  OTEL_EXPORTER_OTLP_HEADERS     extra export headers (also OTEL_EXPORTER_OTLP_TRACES_HEADERS)
  OTEL_EXPORTER_OTLP_TIMEOUT     export timeout, retries included, ms (default 10000; also OTEL_EXPORTER_OTLP_TRACES_TIMEOUT)
  OTEL_EXPORTER_OTLP_COMPRESSION gzip or none (also OTEL_EXPORTER_OTLP_TRACES_COMPRESSION)
  OTEL_EXPORTER_OTLP_CERTIFICATE PEM file of the CAs trusted for an https collector (also OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE)
  OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE, OTEL_EXPORTER_OTLP_CLIENT_KEY
                                 PEM client certificate and key for mutual TLS (also
                                 OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE, OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY)
  OTEL_TRACES_EXPORTER           otlp (default) or none; OTEL_SDK_DISABLED=true turns export off too
  OTEL_BSP_SCHEDULE_DELAY        export batch delay, ms; OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE
  OTEL_TRACES_SAMPLER            parentbased_argus_rate_limited (default: the caller's flag decides, traces Argus
                                 starts are sampled up to ARGUS_TRACE_SAMPLE_PER_SECOND, default 50) or a standard
                                 sampler, with OTEL_TRACES_SAMPLER_ARG
  ARGUS_TRACE_KEEP_SLOWER_THAN_MS
                                 an unsampled request this slow keeps its spans, as a 5xx does (default 1000; 0: off)
  OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT
                                 span limits (default 128); OTEL_SPAN_EVENT_COUNT_LIMIT, OTEL_SPAN_LINK_COUNT_LIMIT
  OTEL_PROPAGATORS               tracecontext (the only one); any other OTEL_ variable stops the service
  ARGUS_TRACE_STORE              keep tenants' spans for the trace lookup (default true)
  ARGUS_TRACE_RETENTION_DAYS     how long they are kept (default 7)";

/// The variables of the two HTTP services' serving and start-up.
pub const SERVER_ENVIRONMENT: &str = "\
  ARGUS_SHUTDOWN_DRAIN_SECONDS   /readyz fails this long after SIGTERM (default 0)
  ARGUS_SHUTDOWN_TIMEOUT_SECONDS in-flight requests may finish this long (default 30)
  ARGUS_MIGRATE                  1: run migrations at start (default 0)";

/// The environment section of `--help`: the service's own `environment`
/// parts, then [`SHARED_ENVIRONMENT`].
pub fn environment_help(environment: &[&str]) -> String {
    let mut help = String::from("Environment (docs/operations.md has the whole story):");
    for part in environment.iter().chain([&SHARED_ENVIRONMENT]) {
        help.push('\n');
        help.push_str(part);
    }
    help
}

/// Answers `--help` and `--version` (and refuses any other argument) before
/// a service reads its environment; returns only when there are none.
fn answer_flags(name: &'static str, version: &'static str, about: &'static str, environment: &[&str]) {
    let help = environment_help(environment);
    clap::Command::new(name).version(version).about(about).after_help(help).get_matches();
}

/// What a service binary says of itself in `--help` and `--version`.
pub struct Binary {
    pub name: &'static str,
    pub version: &'static str,
    pub about: &'static str,
    /// The service's own parts of the environment section of `--help`.
    pub environment: &'static [&'static str],
}

/// The [`Binary`] of the crate this is written in: its package name and
/// version, with `about` and the service's own `environment` parts.
#[macro_export]
macro_rules! binary {
    ($about:expr, $environment:expr $(,)?) => {
        $crate::cli::Binary {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
            about: $about,
            environment: $environment,
        }
    };
}

/// A service binary's `main`, inside its tokio runtime: answers the flags,
/// reads the config with `read_config`, installs the telemetry (with the
/// span store) and runs the service with `run` until it stops. Exits 2 when
/// the config or the telemetry's settings are wrong, 1 when the service
/// cannot start or fails.
pub async fn run_service<C, E: std::fmt::Display, R: std::fmt::Display>(
    binary: Binary,
    read_config: impl FnOnce() -> Result<C, E>,
    run: impl AsyncFnOnce(C) -> Result<(), R>,
) -> ExitCode {
    let Binary { name, version, about, environment } = binary;
    answer_flags(name, version, about, environment);
    let config = match read_config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::from(2);
        }
    };
    let telemetry = match argus_spans::init_from_environment(name, version) {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::from(2);
        }
    };
    let result = run(config).await;
    telemetry.shutdown().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "{name} stopped");
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}
