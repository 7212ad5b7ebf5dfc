//! Cursor pagination as every listing route speaks it
//! ([`argus_types::pagination`]), with this service's error type.

use argus_types::pagination::PageRequest;

use crate::error::ApiError;

pub fn page_request<C: std::str::FromStr>(
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<PageRequest<C>, ApiError> {
    PageRequest::from_query(limit, cursor).map_err(ApiError::Validation)
}
