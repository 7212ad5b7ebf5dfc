//! The machine-readable docs (`knogin.com/api/docs`, routed to this
//! service): `GET /api/docs` (the index, or with `?format=markdown` the
//! whole reference), `GET /api/docs/{topic}` (JSON or Markdown) and
//! `GET /llms.txt`, in English and German. Public: no token.
//!
//! The topics' text is `docs/topics/{en,de}/*.md`, compiled in; their
//! route sections come from the OpenAPI documents of both hosts. All of it
//! is rendered once, at start-up.

pub mod negotiate;
pub mod reference;
pub mod render;
pub mod topics;

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use argus_http::Endpoint;
use serde_json::Value;
use utoipa::OpenApi;

use crate::error::ApiError;
use negotiate::{DocsQuery, Format, Lang, format, language};
use render::{Rendered, Urls, render};

/// The rendered docs, per language, as the bodies they are served as.
pub struct Docs {
    by_lang: HashMap<Lang, Served>,
}

/// One language's bodies.
struct Served {
    index: Bytes,
    full_markdown: Bytes,
    llms_txt: Bytes,
    /// Each topic's JSON and Markdown.
    topics: HashMap<&'static str, (Bytes, Bytes)>,
}

impl From<Rendered> for Served {
    fn from(r: Rendered) -> Self {
        let json = |v: &Value| Bytes::from(serde_json::to_vec_pretty(v).unwrap_or_default());
        Self {
            index: json(&r.index),
            full_markdown: Bytes::from(r.full_markdown),
            llms_txt: Bytes::from(r.llms_txt),
            topics: r.topics.into_iter().map(|(id, t)| (id, (json(&t.json), Bytes::from(t.markdown)))).collect(),
        }
    }
}

impl Docs {
    /// The docs of the api-service at `api` and the auth-service at `auth`
    /// (their public URLs), with the index at `docs_url`.
    pub fn new(docs_url: &str, api: &str, auth: &str) -> Self {
        let to_value = |doc: utoipa::openapi::OpenApi| serde_json::to_value(doc).unwrap_or(Value::Null);
        let api_doc = to_value(crate::openapi::ApiDoc::openapi());
        let auth_doc = to_value(auth_service::ApiDoc::openapi());
        let routes = reference::routes(&[(api, &api_doc), (auth, &auth_doc)]);
        let urls = Urls::new(docs_url);
        Self { by_lang: Lang::ALL.into_iter().map(|lang| (lang, render(&urls, &routes, lang).into())).collect() }
    }
}

/// A docs answer: its media type, language and what it varied on.
fn answer(lang: Lang, content_type: &str, body: &Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CONTENT_LANGUAGE, lang.code()))
        .insert_header((header::VARY, "Accept, Accept-Language"))
        .body(body.clone())
}

fn in_language<'a>(docs: &'a Docs, req: &HttpRequest, query: &DocsQuery) -> Result<(Lang, &'a Served), ApiError> {
    let lang = language(req, query)?;
    let served = docs.by_lang.get(&lang).ok_or_else(|| ApiError::Internal(format!("no docs rendered in {lang:?}")))?;
    Ok((lang, served))
}

/// Docs index
///
/// The machine-readable index of the integration docs (the contract's
/// docs-index shape): topics with their sections, the quick start, the
/// partner portal. `?format=markdown` (or `Accept: text/markdown`) answers
/// the whole reference as one Markdown document. English by default;
/// German with `?lang=de` or `Accept-Language: de`.
#[utoipa::path(
    get,
    path = "/api/docs",
    tag = "Discovery",
    params(DocsQuery),
    responses(
        (status = 200, description = "The index (JSON), or the whole reference (Markdown)", content(
            ("application/json"),
            ("text/markdown")
        )),
        (status = 400, description = "`lang` or `format` is not one of ours"),
        (status = 406, description = "`Accept` allows neither JSON nor Markdown"),
    )
)]
pub async fn index(
    req: HttpRequest,
    query: web::Query<DocsQuery>,
    docs: web::Data<Docs>,
) -> Result<HttpResponse, ApiError> {
    let (lang, rendered) = in_language(&docs, &req, &query)?;
    let format = format(&req, &query, &[Format::Json, Format::Markdown])?;
    Ok(json_or_markdown(lang, format, &rendered.index, &rendered.full_markdown))
}

/// `json` or `markdown`, as `format` says.
fn json_or_markdown(lang: Lang, format: Format, json: &Bytes, markdown: &Bytes) -> HttpResponse {
    match format {
        Format::Json => answer(lang, format.content_type(), json),
        Format::Markdown => answer(lang, format.content_type(), markdown),
    }
}

/// A docs topic
///
/// One topic of the integration docs: JSON (its index entry, its routes
/// and its page as Markdown) by default, the page alone as Markdown with
/// `?format=markdown` or `Accept: text/markdown`.
#[utoipa::path(
    get,
    path = "/api/docs/{topic}",
    tag = "Discovery",
    params(("topic" = String, Path, description = "A topic id from the index, e.g. `async-jobs`"), DocsQuery),
    responses(
        (status = 200, description = "The topic (JSON or Markdown)", content(
            ("application/json"),
            ("text/markdown")
        )),
        (status = 400, description = "`lang` or `format` is not one of ours"),
        (status = 404, description = "No such topic"),
        (status = 406, description = "`Accept` allows neither JSON nor Markdown"),
    )
)]
pub async fn topic(
    req: HttpRequest,
    topic: web::Path<String>,
    query: web::Query<DocsQuery>,
    docs: web::Data<Docs>,
) -> Result<HttpResponse, ApiError> {
    let (lang, rendered) = in_language(&docs, &req, &query)?;
    let format = format(&req, &query, &[Format::Json, Format::Markdown])?;
    let (json, markdown) = rendered
        .topics
        .get(topic.as_str())
        .ok_or_else(|| ApiError::NotFound("no such docs topic; GET /api/docs lists them".into()))?;
    Ok(json_or_markdown(lang, format, json, markdown))
}

/// llms.txt
///
/// The docs for language models (llmstxt.org): the title, a summary, and
/// links to every topic as Markdown. `?lang=de` or `Accept-Language: de`
/// for German.
#[utoipa::path(
    get,
    path = "/llms.txt",
    tag = "Discovery",
    params(("lang" = Option<String>, Query, description = "`en` or `de`; without it, `Accept-Language` decides")),
    responses(
        (status = 200, description = "llms.txt", content_type = "text/plain"),
        (status = 400, description = "`lang` is not one of ours"),
    )
)]
pub async fn llms_txt(
    req: HttpRequest,
    query: web::Query<DocsQuery>,
    docs: web::Data<Docs>,
) -> Result<HttpResponse, ApiError> {
    let (lang, rendered) = in_language(&docs, &req, &query)?;
    Ok(answer(lang, "text/plain; charset=utf-8", &rendered.llms_txt))
}

/// Registers the docs routes, serving `docs`.
pub fn configure(docs: web::Data<Docs>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(docs)
            .service(Endpoint::new("/api/docs").get(index))
            .service(Endpoint::new("/api/docs/{topic}").get(topic))
            .service(Endpoint::new("/llms.txt").get(llms_txt));
    }
}
