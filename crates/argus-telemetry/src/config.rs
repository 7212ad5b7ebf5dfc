//! How a service logs and traces: Argus's own variables and the standard
//! OpenTelemetry ones it supports, read once into [`TelemetryConfig`] from
//! the process's environment or one the caller gives.
//!
//! Any other non-empty `OTEL_*` variable stops the service at start-up. An
//! operator who sets one expects it to act, and the SDK would ignore it, or
//! (an unknown sampler, a span limit that is not a number) fall back to its
//! default without a word. The SDK's own reading of the process environment
//! is overridden: the sampler, span limits and resource attributes are read
//! here and handed to it.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use argus_types::env::{ConfigError, flag_value, parse_value};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::{Sampler, SpanLimits};

use crate::LogFormat;
use crate::held::REQUEST_BUDGET;
use crate::otlp::OtlpConfig;
use crate::sampling::{RATE_LIMITED, RateLimited};

/// Every `OTEL_*` variable Argus reads (docs/operations.md says what each
/// does, and every service's `--help` lists them).
pub(crate) const SUPPORTED_VARIABLES: &[&str] = &[
    "OTEL_SDK_DISABLED",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_PROPAGATORS",
    "OTEL_TRACES_EXPORTER",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_EVENT_COUNT_LIMIT",
    "OTEL_SPAN_LINK_COUNT_LIMIT",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_KEY",
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
];

/// Why the telemetry cannot start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// A variable Argus reads has a value it cannot use.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `OTEL_*` variables Argus does not read, which would do nothing.
    #[error(
        "environment variable {} not supported: Argus reads only the OTEL_ variables that docs/operations.md \
         lists (and --help shows); unset it",
        .names.join(", ")
    )]
    Unsupported { names: Vec<String> },
    /// The exporter's HTTP client refused the TLS settings.
    #[error("the OTLP exporter cannot use its TLS settings: {0}")]
    ExportClient(String),
}

/// The environment a configuration is read from. Values are trimmed, and
/// an empty one is as good as unset (as the OpenTelemetry spec says).
pub(crate) struct Vars(HashMap<String, String>);

impl Vars {
    /// Refuses every non-empty `OTEL_*` variable Argus does not read.
    fn new(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, TelemetryError> {
        let vars: HashMap<String, String> = vars.into_iter().collect();
        let mut names: Vec<String> = vars
            .iter()
            .filter(|(name, value)| {
                name.starts_with("OTEL_") && !value.trim().is_empty() && !SUPPORTED_VARIABLES.contains(&name.as_str())
            })
            .map(|(name, _)| name.clone())
            .collect();
        if !names.is_empty() {
            names.sort();
            return Err(TelemetryError::Unsupported { names });
        }
        Ok(Self(vars))
    }

    pub(crate) fn get(&self, name: &'static str) -> Option<&str> {
        debug_assert!(!name.starts_with("OTEL_") || SUPPORTED_VARIABLES.contains(&name), "{name} is not listed");
        self.0.get(name).map(|value| value.trim()).filter(|value| !value.is_empty())
    }

    /// The first of `names` that is set, and its value: a signal's own
    /// variable before the general one.
    pub(crate) fn first(&self, names: [&'static str; 2]) -> Option<(&'static str, &str)> {
        names.into_iter().find_map(|name| Some((name, self.get(name)?)))
    }

    pub(crate) fn parse<T: FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        parse_value(name, self.get(name), default)
    }

    /// A whole number of at least 1.
    pub(crate) fn positive(&self, name: &'static str, default: u64) -> Result<u64, ConfigError> {
        match self.parse(name, default)? {
            0 => Err(ConfigError { name, reason: "must be at least 1".into() }),
            n => Ok(n),
        }
    }
}

/// Traces Argus starts that are sampled per second by default
/// (`ARGUS_TRACE_SAMPLE_PER_SECOND`).
pub const SAMPLE_PER_SECOND: f64 = 50.0;
/// An unsampled request this slow keeps its spans by default
/// (`ARGUS_TRACE_KEEP_SLOWER_THAN_MS`).
pub const KEEP_SLOWER_THAN: Duration = Duration::from_millis(1000);

/// The settings of the spans themselves: which are recorded and kept.
#[derive(Debug, Clone)]
pub struct TracesConfig {
    /// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`: by default
    /// `parentbased_argus_rate_limited`, the caller's flag deciding and the
    /// traces Argus starts sampled at most `ARGUS_TRACE_SAMPLE_PER_SECOND`
    /// (default 50) a second; or a standard one (the ratio samplers'
    /// argument defaults to 1).
    pub sampler: Sampler,
    /// `ARGUS_TRACE_KEEP_SLOWER_THAN_MS` (default 1000; 0: none): an
    /// unsampled request that takes this long keeps its spans in the span
    /// store, as one answered with a 5xx always does.
    pub keep_slower_than: Option<Duration>,
    /// The memory one unsampled request's spans may take while they wait
    /// for its end (default 256 KiB); beyond, they are dropped and counted.
    pub keep_budget_bytes: usize,
    /// `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`, `OTEL_SPAN_EVENT_COUNT_LIMIT` and
    /// `OTEL_SPAN_LINK_COUNT_LIMIT` (default 128 each).
    pub span_limits: SpanLimits,
    /// `OTEL_RESOURCE_ATTRIBUTES`: `key=value` pairs separated by commas,
    /// values percent-encoded, added to the exported spans' resource.
    pub resource_attributes: Vec<KeyValue>,
}

impl Default for TracesConfig {
    fn default() -> Self {
        Self {
            sampler: RateLimited::parent_based(SAMPLE_PER_SECOND),
            keep_slower_than: Some(KEEP_SLOWER_THAN),
            keep_budget_bytes: REQUEST_BUDGET,
            span_limits: SpanLimits::default(),
            resource_attributes: Vec::new(),
        }
    }
}

/// How a service logs and traces. Every service reads the same variables.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// `OTEL_SERVICE_NAME`, else a `service.name` in
    /// `OTEL_RESOURCE_ATTRIBUTES`, else the binary's name: `service.name` of
    /// every span, and the `service` of the spans it stores.
    pub service: String,
    /// `service.version`.
    pub version: &'static str,
    /// `ARGUS_ENV` (default `live`): `deployment.environment.name`.
    pub environment: String,
    /// `ARGUS_LOG_FORMAT` (`json` or `pretty`, default json) and `RUST_LOG`.
    pub log_format: LogFormat,
    pub log_filter: String,
    pub traces: TracesConfig,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` (unset: no export): OTLP over
    /// HTTP/protobuf to `$endpoint/v1/traces`, or gRPC, with the standard
    /// variables [`OtlpConfig`] lists. `OTEL_TRACES_EXPORTER=none` or
    /// `OTEL_SDK_DISABLED=true` turn it off (not the span store).
    pub otlp: Option<OtlpConfig>,
}

impl TelemetryConfig {
    /// Reads the process's environment.
    pub fn from_environment(service: &'static str, version: &'static str) -> Result<Self, TelemetryError> {
        // A value that is not UTF-8 is read as it shows, so a variable is
        // refused (or fails to parse) by its name rather than skipped.
        let vars = std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.to_string_lossy().into_owned())));
        Self::from_vars(service, version, vars)
    }

    /// Reads `vars`, an environment's variables: `service` is the binary's
    /// name, the default `service.name`.
    pub fn from_vars(
        service: &'static str,
        version: &'static str,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, TelemetryError> {
        let vars = Vars::new(vars)?;
        let resource = match vars.get("OTEL_RESOURCE_ATTRIBUTES") {
            Some(list) => {
                key_values(list).map_err(|reason| ConfigError { name: "OTEL_RESOURCE_ATTRIBUTES", reason })?
            }
            None => Vec::new(),
        };
        let service = vars
            .get("OTEL_SERVICE_NAME")
            .or_else(|| resource.iter().find(|(key, _)| key == "service.name").map(|(_, value)| value.as_str()))
            .unwrap_or(service)
            .to_owned();
        propagators(&vars)?;
        Ok(Self {
            service,
            version,
            environment: vars.get("ARGUS_ENV").unwrap_or("live").to_owned(),
            log_format: vars.parse("ARGUS_LOG_FORMAT", LogFormat::Json)?,
            log_filter: vars.get("RUST_LOG").unwrap_or("info").to_owned(),
            traces: TracesConfig {
                sampler: sampler(&vars)?,
                keep_slower_than: keep_slower_than(&vars)?,
                keep_budget_bytes: REQUEST_BUDGET,
                span_limits: span_limits(&vars)?,
                resource_attributes: resource.into_iter().map(|(key, value)| KeyValue::new(key, value)).collect(),
            },
            otlp: export(&vars)?,
        })
    }
}

/// The OTLP export, unless `OTEL_SDK_DISABLED` or `OTEL_TRACES_EXPORTER`
/// turn it off.
fn export(vars: &Vars) -> Result<Option<OtlpConfig>, TelemetryError> {
    let exporter = vars.get("OTEL_TRACES_EXPORTER");
    if !matches!(exporter, None | Some("otlp" | "none")) {
        let reason = format!("`{}` is not supported: use otlp or none", exporter.unwrap_or_default());
        return Err(ConfigError { name: "OTEL_TRACES_EXPORTER", reason }.into());
    }
    if flag_value("OTEL_SDK_DISABLED", vars.get("OTEL_SDK_DISABLED"), false)? || exporter == Some("none") {
        return Ok(None);
    }
    let otlp = OtlpConfig::from_vars(vars)?;
    if otlp.is_none() && exporter == Some("otlp") {
        let reason = "otlp needs OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT): Argus has no default collector";
        return Err(ConfigError { name: "OTEL_TRACES_EXPORTER", reason: reason.into() }.into());
    }
    Ok(otlp)
}

/// `OTEL_PROPAGATORS`: Argus propagates W3C Trace Context and nothing else
/// ([`crate::propagation`]), so only `tracecontext` may be named.
fn propagators(vars: &Vars) -> Result<(), ConfigError> {
    let Some(list) = vars.get("OTEL_PROPAGATORS") else { return Ok(()) };
    match list.split(',').map(str::trim).find(|name| *name != "tracecontext") {
        None => Ok(()),
        Some(other) => Err(ConfigError {
            name: "OTEL_PROPAGATORS",
            reason: format!("`{other}` is not supported: Argus propagates tracecontext only"),
        }),
    }
}

fn sampler(vars: &Vars) -> Result<Sampler, ConfigError> {
    let name = vars.get("OTEL_TRACES_SAMPLER").unwrap_or(RATE_LIMITED);
    let argument = vars.get("OTEL_TRACES_SAMPLER_ARG");
    let per_second = vars.get("ARGUS_TRACE_SAMPLE_PER_SECOND");
    if per_second.is_some() && name != RATE_LIMITED {
        return Err(ConfigError {
            name: "ARGUS_TRACE_SAMPLE_PER_SECOND",
            reason: format!("only the {RATE_LIMITED} sampler (the default) reads it, and the sampler is {name}"),
        });
    }
    let ratio = || match argument {
        None => Ok(1.0),
        Some(raw) => raw.parse::<f64>().ok().filter(|ratio| (0.0..=1.0).contains(ratio)).ok_or_else(|| ConfigError {
            name: "OTEL_TRACES_SAMPLER_ARG",
            reason: format!("`{raw}` is not a ratio from 0 to 1"),
        }),
    };
    let sampler = match name {
        RATE_LIMITED => RateLimited::parent_based(match per_second {
            None => SAMPLE_PER_SECOND,
            Some(raw) => {
                raw.parse::<f64>().ok().filter(|rate| rate.is_finite() && *rate >= 0.0).ok_or_else(|| ConfigError {
                    name: "ARGUS_TRACE_SAMPLE_PER_SECOND",
                    reason: format!("`{raw}` is not a number of traces per second (0 or more)"),
                })?
            }
        }),
        "traceidratio" => return Ok(Sampler::TraceIdRatioBased(ratio()?)),
        "parentbased_traceidratio" => return Ok(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio()?)))),
        "always_on" => Sampler::AlwaysOn,
        "always_off" => Sampler::AlwaysOff,
        "parentbased_always_on" => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        "parentbased_always_off" => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        other => {
            return Err(ConfigError {
                name: "OTEL_TRACES_SAMPLER",
                reason: format!(
                    "`{other}` is not supported: use {RATE_LIMITED} (the default), always_on, always_off, \
                     traceidratio or parentbased_ one of those"
                ),
            });
        }
    };
    match argument {
        None => Ok(sampler),
        Some(_) => Err(ConfigError {
            name: "OTEL_TRACES_SAMPLER_ARG",
            reason: format!("only the traceidratio samplers take an argument, and the sampler is {name}"),
        }),
    }
}

/// `ARGUS_TRACE_KEEP_SLOWER_THAN_MS`: 0 turns the slow rule off.
fn keep_slower_than(vars: &Vars) -> Result<Option<Duration>, ConfigError> {
    let millis = vars.parse("ARGUS_TRACE_KEEP_SLOWER_THAN_MS", KEEP_SLOWER_THAN.as_millis() as u64)?;
    Ok((millis > 0).then(|| Duration::from_millis(millis)))
}

fn span_limits(vars: &Vars) -> Result<SpanLimits, ConfigError> {
    let mut limits = SpanLimits::default();
    limits.max_attributes_per_span = vars.parse("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", limits.max_attributes_per_span)?;
    limits.max_events_per_span = vars.parse("OTEL_SPAN_EVENT_COUNT_LIMIT", limits.max_events_per_span)?;
    limits.max_links_per_span = vars.parse("OTEL_SPAN_LINK_COUNT_LIMIT", limits.max_links_per_span)?;
    Ok(limits)
}

/// `key=value,key2=value2`, values percent-decoded: the format of the OTLP
/// exporter's headers and of the resource attributes.
pub(crate) fn key_values(list: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for pair in list.split(',').map(str::trim).filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').ok_or_else(|| format!("`{pair}` is not key=value"))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("`{pair}` has no key"));
        }
        let value = percent_encoding::percent_decode_str(value.trim())
            .decode_utf8()
            .map_err(|_| format!("the value of `{key}` is not UTF-8 once percent-decoded"))?;
        pairs.push((key.to_owned(), value.into_owned()));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests;
