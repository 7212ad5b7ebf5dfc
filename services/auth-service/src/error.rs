//! The service's one error type, shared with every service and mapped to
//! problem+json in `argus-http`.

pub use argus_http::HttpError as ApiError;
