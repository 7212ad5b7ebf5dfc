//! The REST routes' one error type, shared with every service and mapped
//! to problem+json in `argus-http`. (The GraphQL transport answers in
//! GraphQL's own error format.)

pub use argus_http::HttpError as ApiError;
