//! The gRPC side of OTLP, by hand: a unary call is one length-prefixed
//! message each way on HTTP/2, and the outcome a status in the trailers
//! (docs/architecture.md, "OTLP over gRPC without tonic", has the
//! measurement behind not using a gRPC stack).

use std::time::Duration;

use base64::Engine as _;
use prost::Message as _;

/// The OTLP trace service's one method, as a gRPC path.
pub const GRPC_EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// A message's frame header: a compressed flag and a big-endian length.
pub(crate) const FRAME_HEADER: usize = 5;

/// `message` as a gRPC length-prefixed message; `compressed` says it was
/// compressed with the call's `grpc-encoding`. A message must be under
/// 4 GiB; batches are a few hundred spans.
pub(crate) fn frame(message: &[u8], compressed: bool) -> Vec<u8> {
    let mut framed = Vec::with_capacity(FRAME_HEADER + message.len());
    framed.push(u8::from(compressed));
    framed.extend_from_slice(&u32::try_from(message.len()).unwrap_or(u32::MAX).to_be_bytes());
    framed.extend_from_slice(message);
    framed
}

/// The one message of a unary answer, and whether it is compressed; `None`
/// unless `body` is exactly one well-formed frame.
pub(crate) fn unframe(body: &[u8]) -> Option<(bool, &[u8])> {
    let (header, message) = body.split_at_checked(FRAME_HEADER)?;
    let compressed = match header[0] {
        0 => false,
        1 => true,
        _ => return None,
    };
    let length = u32::from_be_bytes(header[1..].try_into().ok()?);
    (usize::try_from(length).ok()? == message.len()).then_some((compressed, message))
}

/// The `grpc-timeout` of a call that may take `remaining`: whole
/// milliseconds, at most the eight digits gRPC allows, at least 1.
pub(crate) fn timeout_header(remaining: Duration) -> String {
    format!("{}m", remaining.as_millis().clamp(1, 99_999_999))
}

/// What a call's status says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CallStatus {
    Ok,
    /// A failure the OTLP spec says to retry, with the delay the server
    /// asked for (`RetryInfo`), if any.
    Retryable {
        error: String,
        delay: Option<Duration>,
    },
    /// A failure that retrying would not mend.
    Failed(String),
}

/// The outcome of a call from its `grpc-status`, `grpc-message` and
/// `grpc-status-details-bin`, as `field` finds them (in the trailers, or
/// the headers of a trailers-only answer).
pub(crate) fn call_status<'a>(field: impl Fn(&str) -> Option<&'a str>) -> CallStatus {
    let Some(code) = field("grpc-status") else {
        return CallStatus::Failed("the collector's answer has no gRPC status".into());
    };
    let Ok(code) = code.parse::<u32>() else {
        return CallStatus::Failed(format!("the collector's answer has a malformed gRPC status `{code}`"));
    };
    if code == 0 {
        return CallStatus::Ok;
    }
    let message = percent_encoding::percent_decode_str(field("grpc-message").unwrap_or_default()).decode_utf8_lossy();
    let error = format!("the collector answered gRPC status {code} ({}): {message}", code_name(code));
    let delay = field("grpc-status-details-bin").and_then(retry_delay);
    match code {
        // The OTLP spec's retryable codes: CANCELLED, DEADLINE_EXCEEDED,
        // ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS; and
        // RESOURCE_EXHAUSTED only when the server says when to come back.
        1 | 4 | 10 | 11 | 14 | 15 => CallStatus::Retryable { error, delay },
        8 if delay.is_some() => CallStatus::Retryable { error, delay },
        _ => CallStatus::Failed(error),
    }
}

fn code_name(code: u32) -> &'static str {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    usize::try_from(code).ok().and_then(|code| NAMES.get(code)).copied().unwrap_or("unknown code")
}

/// The `google.rpc.RetryInfo` delay in a `grpc-status-details-bin` (a
/// base64 `google.rpc.Status`, padded or not).
fn retry_delay(details: &str) -> Option<Duration> {
    const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let status = Status::decode(BASE64.decode(details.trim()).ok()?.as_slice()).ok()?;
    let info = status.details.iter().find(|detail| detail.type_url.ends_with("/google.rpc.RetryInfo"))?;
    let delay = RetryInfo::decode(info.value.as_slice()).ok()?.retry_delay?;
    let seconds = u64::try_from(delay.seconds).ok()?;
    let nanos = u32::try_from(delay.nanos).ok().filter(|nanos| *nanos < 1_000_000_000)?;
    Some(Duration::new(seconds, nanos))
}

// The three `google.rpc`/`google.protobuf` messages a status's details
// need, declared here: opentelemetry-proto has none of them, and the crates
// that do (tonic-types, prost-types) would come for four fields.

/// `google.rpc.Status`: what OTLP/HTTP failures carry in their body, and
/// gRPC's `grpc-status-details-bin`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Status {
    #[prost(int32, tag = "1")]
    pub(crate) code: i32,
    #[prost(string, tag = "2")]
    pub(crate) message: String,
    #[prost(message, repeated, tag = "3")]
    pub(crate) details: Vec<Any>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Any {
    #[prost(string, tag = "1")]
    pub(crate) type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    pub(crate) retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ProtoDuration {
    #[prost(int64, tag = "1")]
    pub(crate) seconds: i64,
    #[prost(int32, tag = "2")]
    pub(crate) nanos: i32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn status_with_retry_delay(code: i32, delay: Option<ProtoDuration>) -> String {
        let info = RetryInfo { retry_delay: delay };
        let status = Status {
            code,
            message: "busy".into(),
            details: vec![
                Any { type_url: "type.googleapis.com/google.rpc.DebugInfo".into(), value: vec![1, 2] },
                Any { type_url: "type.googleapis.com/google.rpc.RetryInfo".into(), value: info.encode_to_vec() },
            ],
        };
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(status.encode_to_vec())
    }

    fn status_of<'a>(fields: &'a [(&str, &'a str)]) -> CallStatus {
        call_status(|name| fields.iter().find(|(key, _)| *key == name).map(|(_, value)| *value))
    }

    #[test]
    fn codes_are_retried_as_the_otlp_spec_says() {
        assert_eq!(status_of(&[("grpc-status", "0")]), CallStatus::Ok);
        for code in ["1", "4", "10", "11", "14", "15"] {
            assert!(matches!(status_of(&[("grpc-status", code)]), CallStatus::Retryable { delay: None, .. }), "{code}");
        }
        for code in ["2", "3", "5", "6", "7", "8", "9", "12", "13", "16", "17"] {
            assert!(matches!(status_of(&[("grpc-status", code)]), CallStatus::Failed(_)), "{code}");
        }
        let unavailable = status_of(&[("grpc-status", "14"), ("grpc-message", "shutting%20down")]);
        let CallStatus::Retryable { error, .. } = unavailable else { panic!("{unavailable:?}") };
        assert_eq!(error, "the collector answered gRPC status 14 (UNAVAILABLE): shutting down");
        assert!(matches!(status_of(&[]), CallStatus::Failed(_)), "no status is no success");
        assert!(matches!(status_of(&[("grpc-status", "OK")]), CallStatus::Failed(_)));
    }

    #[test]
    fn retry_info_sets_the_delay_and_makes_resource_exhausted_retryable() {
        let details = status_with_retry_delay(8, Some(ProtoDuration { seconds: 2, nanos: 500_000_000 }));
        let exhausted = status_of(&[("grpc-status", "8"), ("grpc-status-details-bin", &details)]);
        assert!(
            matches!(exhausted, CallStatus::Retryable { delay: Some(d), .. } if d == Duration::from_millis(2500)),
            "{exhausted:?}"
        );
        // Padded base64 is read too; a negative delay is no delay.
        let padded = base64::engine::general_purpose::STANDARD
            .encode(base64::engine::general_purpose::STANDARD_NO_PAD.decode(&details).unwrap());
        let unavailable = status_of(&[("grpc-status", "14"), ("grpc-status-details-bin", &padded)]);
        assert!(matches!(unavailable, CallStatus::Retryable { delay: Some(_), .. }), "{unavailable:?}");
        let negative = status_with_retry_delay(8, Some(ProtoDuration { seconds: -1, nanos: 0 }));
        let refused = status_of(&[("grpc-status", "8"), ("grpc-status-details-bin", &negative)]);
        assert!(matches!(refused, CallStatus::Failed(_)), "{refused:?}");
        let garbage = status_of(&[("grpc-status", "8"), ("grpc-status-details-bin", "%%%")]);
        assert!(matches!(garbage, CallStatus::Failed(_)), "{garbage:?}");
    }

    #[test]
    fn a_grpc_timeout_has_at_most_eight_digits_and_is_never_zero() {
        assert_eq!(timeout_header(Duration::from_millis(10_000)), "10000m");
        assert_eq!(timeout_header(Duration::from_micros(10)), "1m");
        assert_eq!(timeout_header(Duration::from_secs(10_000_000)), "99999999m");
    }

    proptest! {
        #[test]
        fn a_frame_reads_back_as_the_message_it_holds(message: Vec<u8>, compressed: bool) {
            let framed = frame(&message, compressed);
            prop_assert_eq!(unframe(&framed), Some((compressed, message.as_slice())));
            // A frame cut short, or followed by anything, is not one message.
            prop_assert_eq!(unframe(&framed[..framed.len() - 1]), None);
            let mut longer = framed.clone();
            longer.push(0);
            prop_assert_eq!(unframe(&longer), None);
        }

        #[test]
        fn any_answer_is_read_without_panicking(body: Vec<u8>) {
            if let Some((_, message)) = unframe(&body) {
                prop_assert_eq!(message.len() + FRAME_HEADER, body.len());
                prop_assert!(body[0] <= 1);
            }
        }

        #[test]
        fn any_status_fields_are_read_without_panicking(code: String, message: String, details: String) {
            let fields = [("grpc-status", code.as_str()), ("grpc-message", &message), ("grpc-status-details-bin", &details)];
            let _ = status_of(&fields);
        }
    }
}
