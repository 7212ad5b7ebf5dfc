//! Cursor pagination as every listing route speaks it
//! ([`argus_types::pagination`]), with this service's error type.

pub use argus_types::pagination::encode_cursor;

use crate::error::ApiError;

pub fn page_limit(limit: Option<u32>) -> Result<usize, ApiError> {
    argus_types::pagination::page_limit(limit).map_err(ApiError::Validation)
}

pub fn decode_cursor<T: std::str::FromStr>(raw: &str) -> Result<T, ApiError> {
    argus_types::pagination::decode_cursor(raw).map_err(ApiError::Validation)
}
