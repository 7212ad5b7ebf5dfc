//! Content negotiation of the docs routes: the language (`?lang=` or
//! `Accept-Language`, RFC 9110 §12.5.4 with RFC 4647 basic filtering) and
//! the format (`?format=` or `Accept`, RFC 9110 §12.5.1), both with
//! q-values, `q=0` meaning "not this". The headers are parsed by actix-web's
//! typed headers; only the choice among our two languages and two formats
//! is ours.

use actix_web::HttpRequest;
use actix_web::http::header::{self, Accept, AcceptLanguage, Header, LanguageTag, Preference, Quality, QualityItem};
use serde::Deserialize;

use crate::error::ApiError;

/// The languages the topics are written in; the first is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    En,
    De,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::De];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.code().eq_ignore_ascii_case(code))
    }
}

/// What a docs route answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Markdown,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Markdown => "text/markdown; charset=utf-8",
        }
    }
}

/// `?lang=` and `?format=`, each overriding its header.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DocsQuery {
    /// `en` or `de`; without it, `Accept-Language` decides (default `en`)
    pub lang: Option<String>,
    /// `json` or `markdown`; without it, `Accept` decides (default `json`)
    pub format: Option<String>,
}

/// The language: `?lang=` if given (an unknown one is a 400), else the
/// first of ours that `Accept-Language` ranks highest, else English.
pub fn language(req: &HttpRequest, query: &DocsQuery) -> Result<Lang, ApiError> {
    if let Some(code) = &query.lang {
        return Lang::from_code(code).ok_or_else(|| ApiError::Validation("`lang` must be `en` or `de`".into()));
    }
    // A header that does not parse is as good as none: language is a preference.
    let Ok(AcceptLanguage(items)) = AcceptLanguage::parse(req) else { return Ok(Lang::En) };
    Ok(choose(&items, &Lang::ALL, |pref, lang| match pref {
        Preference::Any => Match::Any,
        Preference::Specific(tag) => Match::exact(language_matches(tag, lang)),
    })
    .unwrap_or(Lang::En))
}

/// Basic filtering (RFC 4647 §3.3.1): `de` and `de-CH` both take German.
fn language_matches(tag: &LanguageTag, lang: Lang) -> bool {
    tag.primary_language().eq_ignore_ascii_case(lang.code())
}

/// The format: `?format=` if given (an unknown one is a 400), else the
/// first of `offered` that `Accept` ranks highest; `offered[0]` without an
/// `Accept`, and a 406 when it allows none of them.
pub fn format(req: &HttpRequest, query: &DocsQuery, offered: &[Format]) -> Result<Format, ApiError> {
    if let Some(name) = &query.format {
        return match name.as_str() {
            "json" if offered.contains(&Format::Json) => Ok(Format::Json),
            "markdown" | "md" if offered.contains(&Format::Markdown) => Ok(Format::Markdown),
            _ => Err(ApiError::Validation("`format` must be `json` or `markdown`".into())),
        };
    }
    let default = offered.first().copied().unwrap_or(Format::Json);
    if !req.headers().contains_key(header::ACCEPT) {
        return Ok(default);
    }
    let Ok(Accept(items)) = Accept::parse(req) else {
        return Err(ApiError::NotAcceptable("the Accept header could not be parsed".into()));
    };
    choose(&items, offered, |mime, format| {
        let (kind, sub) = (mime.type_().as_str(), mime.subtype().as_str());
        match (kind, sub, format) {
            ("*", "*", _) => Match::Any,
            ("application", "json" | "*", Format::Json) | ("text", "markdown" | "*", Format::Markdown) => Match::Exact,
            _ => Match::No,
        }
    })
    .ok_or_else(|| ApiError::NotAcceptable("these docs are served as application/json or text/markdown".into()))
}

/// How a ranged item of a header matches one of our variants.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Match {
    /// The item names this variant (or a range that holds it).
    Exact,
    /// A wildcard: any variant not otherwise refused.
    Any,
    No,
}

impl Match {
    fn exact(yes: bool) -> Self {
        if yes { Match::Exact } else { Match::No }
    }
}

/// The variant the header ranks highest: items by falling q (the header's
/// order among equal q), each taking the first of `ours` it matches that no
/// `q=0` item refuses; `None` when nothing matches.
fn choose<T, V: Copy>(items: &[QualityItem<T>], ours: &[V], matches: impl Fn(&T, V) -> Match) -> Option<V> {
    let refused = |v: V| items.iter().any(|i| i.quality == Quality::ZERO && matches(&i.item, v) == Match::Exact);
    let mut ranked: Vec<&QualityItem<T>> = items.iter().filter(|i| i.quality > Quality::ZERO).collect();
    ranked.sort_by_key(|i| std::cmp::Reverse(i.quality));
    ranked
        .into_iter()
        .find_map(|item| ours.iter().copied().find(|&v| matches(&item.item, v) != Match::No && !refused(v)))
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn lang(accept_language: Option<&str>, query: Option<&str>) -> Result<Lang, ApiError> {
        let mut req = TestRequest::default();
        if let Some(value) = accept_language {
            req = req.insert_header((header::ACCEPT_LANGUAGE, value));
        }
        language(&req.to_http_request(), &DocsQuery { lang: query.map(str::to_owned), format: None })
    }

    fn fmt(accept: Option<&str>, query: Option<&str>) -> Result<Format, ApiError> {
        let mut req = TestRequest::default();
        if let Some(value) = accept {
            req = req.insert_header((header::ACCEPT, value));
        }
        format(
            &req.to_http_request(),
            &DocsQuery { lang: None, format: query.map(str::to_owned) },
            &[Format::Json, Format::Markdown],
        )
    }

    #[test]
    fn languages_by_q_value_and_basic_filtering() {
        assert_eq!(lang(None, None).ok(), Some(Lang::En));
        assert_eq!(lang(Some("de"), None).ok(), Some(Lang::De));
        assert_eq!(lang(Some("de-CH"), None).ok(), Some(Lang::De));
        assert_eq!(lang(Some("en;q=0.5, de;q=0.8"), None).ok(), Some(Lang::De));
        assert_eq!(lang(Some("fr, de;q=0.3, en;q=0.2"), None).ok(), Some(Lang::De), "fr is skipped");
        assert_eq!(lang(Some("fr"), None).ok(), Some(Lang::En), "none of ours: the default");
        assert_eq!(lang(Some("en;q=0, *"), None).ok(), Some(Lang::De), "q=0 refuses");
        assert_eq!(lang(Some("*"), None).ok(), Some(Lang::En));
        assert_eq!(lang(Some(";;;"), None).ok(), Some(Lang::En), "an unparsable header is ignored");
        assert_eq!(lang(Some("de"), Some("en")).ok(), Some(Lang::En), "?lang= wins");
        assert_eq!(lang(None, Some("DE")).ok(), Some(Lang::De));
        assert!(matches!(lang(None, Some("fr")), Err(ApiError::Validation(_))));
    }

    #[test]
    fn formats_by_q_value() {
        assert_eq!(fmt(None, None).ok(), Some(Format::Json));
        assert_eq!(fmt(Some("text/markdown"), None).ok(), Some(Format::Markdown));
        assert_eq!(fmt(Some("text/*"), None).ok(), Some(Format::Markdown));
        assert_eq!(fmt(Some("application/json;q=0.4, text/markdown;q=0.9"), None).ok(), Some(Format::Markdown));
        assert_eq!(fmt(Some("text/html, */*;q=0.1"), None).ok(), Some(Format::Json));
        assert_eq!(fmt(Some("application/json;q=0, */*"), None).ok(), Some(Format::Markdown));
        assert_eq!(fmt(Some("text/markdown"), Some("json")).ok(), Some(Format::Json), "?format= wins");
        assert!(matches!(fmt(Some("image/png"), None), Err(ApiError::NotAcceptable(_))));
        assert!(matches!(fmt(Some("text/markdown;q=0"), None), Err(ApiError::NotAcceptable(_))));
        assert!(matches!(fmt(Some("not a media type"), None), Err(ApiError::NotAcceptable(_))));
        assert!(matches!(fmt(None, Some("html")), Err(ApiError::Validation(_))));
    }
}
