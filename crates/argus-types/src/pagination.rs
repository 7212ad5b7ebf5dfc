//! Cursor pagination: the [`Page`] every listing returns, the `limit + 1`
//! fetch behind it, and the REST routes' query (`limit` 1 to 100, default
//! 50, and an opaque `cursor`: base64url of the last id). Errors are the
//! message for a 400.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 100;

fn page_limit(limit: Option<u32>) -> Result<usize, String> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(format!("limit must be between 1 and {MAX_PAGE}"));
    }
    Ok(limit as usize)
}

/// One page of a cursor-paginated listing: `next_cursor` is the id after
/// which the next page starts, absent on the last page.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// How many rows to fetch for a page of `limit`: one more, whose presence
/// says another page follows ([`Page::from_overfetch`] cuts it off).
pub fn fetch_limit(limit: usize) -> i64 {
    i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX)
}

impl<T> Page<T> {
    /// Cuts a [`fetch_limit`] fetch down to `limit` items and derives the
    /// cursor.
    pub fn from_overfetch(mut items: Vec<T>, limit: usize, id_of: impl Fn(&T) -> String) -> Self {
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(id_of)
        } else {
            None
        };
        Self { items, next_cursor }
    }

    /// The next page's cursor as the REST routes send it.
    pub fn encoded_cursor(&self) -> Option<String> {
        self.next_cursor.as_ref().map(|c| URL_SAFE_NO_PAD.encode(c))
    }

    /// The page as a REST listing sends it: its items as views `V`, and
    /// the next page's [`encoded_cursor`](Self::encoded_cursor).
    pub fn into_listing<V: From<T>>(self) -> (Vec<V>, Option<String>) {
        let next_cursor = self.encoded_cursor();
        (self.items.into_iter().map(V::from).collect(), next_cursor)
    }
}

/// What a REST listing's `limit` and `cursor` ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest<C> {
    /// The id after which the page starts.
    pub after: Option<C>,
    pub limit: usize,
}

impl<C: std::str::FromStr> PageRequest<C> {
    pub fn from_query(limit: Option<u32>, cursor: Option<&str>) -> Result<Self, String> {
        Ok(Self { limit: page_limit(limit)?, after: cursor.map(decode_cursor).transpose()? })
    }
}

fn decode_cursor<T: std::str::FromStr>(raw: &str) -> Result<T, String> {
    URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "cursor is not one this API issued".to_owned())
}

#[cfg(test)]
fn encode_cursor(c: Option<String>) -> Option<String> {
    Page::<()> { items: Vec::new(), next_cursor: c }.encoded_cursor()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IncidentId;

    proptest::proptest! {
        #[test]
        fn cursor_decoding_never_panics(raw in proptest::prop_oneof![
            proptest::prelude::any::<String>(),
            "[A-Za-z0-9_=+/é-]{0,60}",
        ]) {
            let _ = decode_cursor::<IncidentId>(&raw);
            let _ = decode_cursor::<u64>(&raw);
        }

        #[test]
        fn cursors_round_trip(last in proptest::prelude::any::<String>()) {
            let cursor = encode_cursor(Some(last.clone())).unwrap();
            proptest::prop_assert_eq!(decode_cursor::<String>(&cursor), Ok(last));
        }
    }

    #[test]
    fn issued_id_cursors_decode_and_others_are_refused() {
        let id = IncidentId::generate();
        let cursor = encode_cursor(Some(id.to_string())).unwrap();
        assert_eq!(decode_cursor::<IncidentId>(&cursor), Ok(id));
        assert!(decode_cursor::<IncidentId>("é").is_err());
        assert!(decode_cursor::<IncidentId>(&encode_cursor(Some("app_x".into())).unwrap()).is_err());
    }

    #[test]
    fn an_overfetch_is_cut_to_the_page_and_names_the_next() {
        assert_eq!(fetch_limit(50), 51);
        let page = Page::from_overfetch(vec![1, 2, 3], 2, u32::to_string);
        assert_eq!((page.items.as_slice(), page.next_cursor.as_deref()), ([1, 2].as_slice(), Some("2")));
        let last = Page::from_overfetch(vec![1, 2], 2, u32::to_string);
        assert_eq!((last.items.len(), last.encoded_cursor()), (2, None));
    }

    #[test]
    fn page_requests_check_limit_and_cursor() {
        let first = PageRequest::<u64>::from_query(None, None).unwrap();
        assert_eq!(first, PageRequest { after: None, limit: DEFAULT_PAGE as usize });
        let cursor = encode_cursor(Some("7".into())).unwrap();
        assert_eq!(PageRequest::<u64>::from_query(Some(3), Some(&cursor)).unwrap().after, Some(7));
        assert!(PageRequest::<u64>::from_query(Some(0), None).is_err());
        assert!(PageRequest::<u64>::from_query(None, Some("!")).is_err());
    }
}
