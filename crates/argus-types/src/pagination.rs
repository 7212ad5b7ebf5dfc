//! Cursor pagination as every listing route speaks it: `limit` 1 to 100
//! (default 50) and an opaque `cursor` (base64url of the last id). Errors
//! are the message for a 400.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 100;

pub fn page_limit(limit: Option<u32>) -> Result<usize, String> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(format!("limit must be between 1 and {MAX_PAGE}"));
    }
    Ok(limit as usize)
}

pub fn decode_cursor<T: std::str::FromStr>(raw: &str) -> Result<T, String> {
    URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "cursor is not one this API issued".to_owned())
}

pub fn encode_cursor(c: Option<String>) -> Option<String> {
    c.map(|c| URL_SAFE_NO_PAD.encode(c))
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
}
