//! Cursor pagination as every REST listing route speaks it
//! ([`argus_types::pagination`]), with the routes' error type.

use std::str::FromStr;

use argus_types::pagination::PageRequest;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::HttpError;

/// The query of a listing route that takes nothing but a page.
#[derive(Debug, Deserialize, IntoParams)]
pub struct PageQuery {
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The page asked for; a bad `limit` or `cursor` is a 400.
    pub fn request<C: FromStr>(&self) -> Result<PageRequest<C>, HttpError> {
        page_request(self.limit, self.cursor.as_deref())
    }
}

/// The page a listing's `limit` and `cursor` ask for; a bad one is a 400.
pub fn page_request<C: FromStr>(limit: Option<u32>, cursor: Option<&str>) -> Result<PageRequest<C>, HttpError> {
    PageRequest::from_query(limit, cursor).map_err(HttpError::Validation)
}
