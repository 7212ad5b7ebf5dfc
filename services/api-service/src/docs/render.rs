//! The docs in each language, rendered once at start-up: the index (the
//! contract's docs-index shape), each topic as JSON and Markdown, the whole
//! reference as one Markdown document, and `/llms.txt`.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::negotiate::Lang;
use super::reference::Route;
use super::topics::{Outline, TOPICS, TopicSource, demoted, outline};

/// The contract version these docs describe.
pub const CONTRACT_VERSION: &str = "2026.4.0";

/// The topic whose page introduces the whole reference: its title and
/// description are the index's and llms.txt's, its first numbered list the
/// quick start.
const INTRODUCTION: &str = "api-reference";

/// Where the docs live: the index URL (`ARGUS_DOCS_URL`, `…/api/docs`).
pub struct Urls {
    pub index: String,
    /// The site the index is on (the index URL without `/api/docs`).
    pub base: String,
}

impl Urls {
    pub fn new(index: &str) -> Self {
        let index = index.trim_end_matches('/');
        let base = index.strip_suffix("/api/docs").unwrap_or(index);
        Self { index: index.to_owned(), base: base.to_owned() }
    }
}

/// One topic in one language, ready to serve.
pub struct RenderedTopic {
    pub json: Value,
    pub markdown: String,
}

/// Everything served in one language.
pub struct Rendered {
    pub index: Value,
    pub full_markdown: String,
    pub llms_txt: String,
    pub topics: HashMap<&'static str, RenderedTopic>,
}

/// `url` with `query` (`a=b&c=d`, may be empty) appended.
fn with_query(url: &str, query: &[&str]) -> String {
    let query: Vec<&str> = query.iter().copied().filter(|q| !q.is_empty()).collect();
    if query.is_empty() { url.to_owned() } else { format!("{url}?{}", query.join("&")) }
}

fn lang_query(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "",
        Lang::De => "lang=de",
    }
}

struct Page<'a> {
    source: &'a TopicSource,
    outline: Outline,
    routes: Vec<&'a Route>,
}

impl Page<'_> {
    fn url(&self, urls: &Urls, lang: Lang, markdown: bool) -> String {
        let format = if markdown { "format=markdown" } else { "" };
        with_query(&format!("{}/{}", urls.index, self.source.id), &[format, lang_query(lang)])
    }

    fn sections(&self) -> Vec<String> {
        let prose = self.outline.sections.iter().cloned();
        prose.chain(self.routes.iter().map(|r| r.section())).collect()
    }

    fn markdown(&self, lang: Lang) -> String {
        let mut text = self.source.text(lang).trim_end().to_owned();
        text.push('\n');
        if !self.routes.is_empty() {
            text.push_str(match lang {
                Lang::En => "\n## Routes\n",
                Lang::De => "\n## Routen\n",
            });
            for route in &self.routes {
                text.push('\n');
                text.push_str(&route.markdown(lang));
            }
        }
        text
    }

    fn entry(&self, urls: &Urls, lang: Lang) -> Value {
        json!({
            "id": self.source.id,
            "title": self.outline.title,
            "description": self.outline.description,
            "url": self.url(urls, lang, false),
            "sections": self.sections(),
            "lastUpdated": self.source.updated,
        })
    }
}

/// The docs in `lang`, with `routes` (both hosts' operations) placed under
/// the topics that document their tags.
pub fn render(urls: &Urls, routes: &[Route], lang: Lang) -> Rendered {
    let pages: Vec<Page> = TOPICS
        .iter()
        .map(|source| Page {
            source,
            outline: outline(source.text(lang)),
            routes: routes.iter().filter(|r| source.tags.contains(&r.tag.as_str())).collect(),
        })
        .collect();
    let intro = pages.iter().find(|p| p.source.id == INTRODUCTION).map(|p| &p.outline);
    let (title, summary, steps) =
        intro.map(|o| (o.title.as_str(), o.description.as_str(), o.steps.clone())).unwrap_or_default();
    let updated = TOPICS.iter().map(|t| t.updated).max().unwrap_or_default();
    let q = lang_query(lang);
    let index = json!({
        "version": CONTRACT_VERSION,
        "lastUpdated": updated,
        "description": summary,
        "baseUrl": urls.base,
        "endpoints": {
            "index": with_query(&urls.index, &[q]),
            "fullMarkdown": with_query(&urls.index, &["format=markdown", q]),
            "topic": with_query(&format!("{}/{{topic}}", urls.index), &[q]),
            "llmsTxt": with_query(&format!("{}/llms.txt", urls.base), &[q]),
        },
        "topics": pages.iter().map(|p| p.entry(urls, lang)).collect::<Vec<_>>(),
        "quickStart": { "steps": steps, "cliInstall": "" },
        "partnerPortal": partner_portal(urls),
    });
    let topics = pages
        .iter()
        .map(|page| {
            let markdown = page.markdown(lang);
            let mut json = page.entry(urls, lang);
            json["language"] = json!(lang.code());
            json["markdownUrl"] = json!(page.url(urls, lang, true));
            json["routes"] = json!(page.routes);
            json["markdown"] = json!(markdown);
            (page.source.id, RenderedTopic { json, markdown })
        })
        .collect::<HashMap<_, _>>();
    let mut full_markdown = format!("# {title}\n\n> {summary}\n");
    for page in &pages {
        full_markdown.push('\n');
        full_markdown.push_str(&demoted(&topics[page.source.id].markdown));
    }
    let llms_txt = llms_txt(urls, lang, title, summary, &pages);
    Rendered { index, full_markdown, llms_txt, topics }
}

/// `/llms.txt` (llmstxt.org): the title, the summary as a blockquote, and
/// sections of links to the Markdown topics; "Optional" holds what a
/// reader with little room can skip.
fn llms_txt(urls: &Urls, lang: Lang, title: &str, summary: &str, pages: &[Page]) -> String {
    let (note, topics, full, full_note, openapi) = match lang {
        Lang::En => (
            "Route names, headers and payloads are canonical English in every language. Each topic below is Markdown; the index is JSON.",
            "Topics",
            "Full reference",
            "every topic in one Markdown document",
            "the OpenAPI 3.1 document of",
        ),
        Lang::De => (
            "Routennamen, Header und Payloads bleiben in jeder Sprache in kanonischem Englisch. Jedes Thema unten ist Markdown; der Index ist JSON.",
            "Themen",
            "Vollständige Referenz",
            "alle Themen in einem Markdown-Dokument",
            "das OpenAPI-3.1-Dokument von",
        ),
    };
    let mut out = format!("# {title}\n\n> {summary}\n\n{note}\n\n## {topics}\n\n");
    for page in pages {
        out.push_str(&format!(
            "- [{}]({}): {}\n",
            page.outline.title,
            page.url(urls, lang, true),
            page.outline.description
        ));
    }
    out.push_str("\n## Optional\n\n");
    out.push_str(&format!(
        "- [{full}]({}): {full_note}\n",
        with_query(&urls.index, &["format=markdown", lang_query(lang)])
    ));
    out.push_str(&format!("- [Docs index (JSON)]({})\n", with_query(&urls.index, &[lang_query(lang)])));
    let hosts: Vec<&String> = {
        let mut hosts: Vec<&String> = pages.iter().flat_map(|p| p.routes.iter().flat_map(|r| &r.hosts)).collect();
        hosts.sort();
        hosts.dedup();
        hosts
    };
    for host in hosts {
        let name = host.split("://").nth(1).unwrap_or(host);
        out.push_str(&format!("- [OpenAPI: {name}]({host}/.well-known/openapi.json): {openapi} {name}\n"));
    }
    out
}

/// The contract's partner portal: the partner-only contract files (served
/// to entitled tenants) and the SDK this project ships.
fn partner_portal(urls: &Urls) -> Value {
    json!({
        "contractVersion": CONTRACT_VERSION,
        "requestAccessUrl": format!("{}/en/docs/integration-guide#vendor-contact", urls.base),
        "graphqlBundle": {
            "path": "/partners/contract/v2026.4/external.graphql",
            "availability": "approved_partner"
        },
        "openapiBundle": {
            "path": "/partners/contract/v2026.4/external-openapi.json",
            "availability": "approved_partner"
        },
        "sdkPackages": [{
            "name": "argus-client",
            "language": "rust",
            "version": env!("CARGO_PKG_VERSION"),
            "availability": "approved_partner"
        }]
    })
}
