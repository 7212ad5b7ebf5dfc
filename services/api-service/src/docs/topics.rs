//! The topic pages, `docs/topics/{en,de}/<id>.md`, compiled into the
//! binary (the service reads no file at run time), and what the index takes
//! from each: the title (the `#` heading), the description (the paragraph
//! under it) and the sections (the `##` headings).

use super::negotiate::Lang;

/// A topic as written: its id (the contract's), when its text last
/// changed, the OpenAPI tags whose routes it documents, and its page in
/// each language.
pub struct TopicSource {
    pub id: &'static str,
    pub updated: &'static str,
    pub tags: &'static [&'static str],
    en: &'static str,
    de: &'static str,
}

impl TopicSource {
    pub fn text(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::En => self.en,
            Lang::De => self.de,
        }
    }
}

/// One entry per topic: a page missing in either language fails the build.
macro_rules! topics {
    ($(($id:literal, $updated:literal, [$($tag:literal),*])),+ $(,)?) => {
        &[$(TopicSource {
            id: $id,
            updated: $updated,
            tags: &[$($tag),*],
            en: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/topics/en/", $id, ".md")),
            de: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/topics/de/", $id, ".md")),
        }),+]
    };
}

/// The topics in the contract's order (docs-index-2026.4.json). The tags
/// are the OpenAPI documents' (both hosts): every public route's tag is
/// one topic's.
pub const TOPICS: &[TopicSource] = topics![
    ("api-reference", "2026-12-06", []),
    ("identity-app-registration", "2026-12-06", ["Identity and app registration"]),
    ("oauth-service-tokens", "2026-12-06", ["OAuth and service tokens"]),
    ("jwks-token-verification", "2026-12-06", ["JWKS and token verification"]),
    ("event-delivery-webhooks", "2026-12-06", ["Event delivery and webhooks"]),
    ("graphql-transport-contract", "2026-12-06", ["GraphQL transport", "ePCR", "Devices"]),
    ("observability-and-tracing", "2026-12-06", ["Observability"]),
    ("async-jobs", "2026-12-06", ["Async jobs"]),
    ("sandbox-environment", "2026-12-06", ["Sandbox environment"]),
    ("provenance-and-compliance", "2026-12-06", ["Provenance"]),
    ("discovery-and-governance", "2026-12-06", ["Discovery", "Partner contract"]),
];

/// The tags of routes that are not for integrators (health and readiness).
pub const UNDOCUMENTED_TAGS: &[&str] = &["Operations"];

/// What the index shows of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outline {
    pub title: String,
    pub description: String,
    /// The `##` headings, in order.
    pub sections: Vec<String>,
    /// The items of the page's first numbered list.
    pub steps: Vec<String>,
}

/// The outline of a page: its `#` title, the paragraph after it, its `##`
/// headings and its first numbered list, outside code blocks.
pub fn outline(text: &str) -> Outline {
    let mut outline =
        Outline { title: String::new(), description: String::new(), sections: Vec::new(), steps: Vec::new() };
    let mut paragraph: Option<Vec<&str>> = None;
    // Set once the first numbered list has ended.
    let mut steps_done = false;
    for line in prose_lines(text).flatten() {
        if let Some(title) = line.strip_prefix("# ") {
            outline.title = title.trim().to_owned();
            paragraph = Some(Vec::new());
            continue;
        }
        if let Some(lines) = &mut paragraph {
            if !line.trim().is_empty() {
                lines.push(line.trim());
            } else if !lines.is_empty() {
                outline.description = lines.join(" ");
                paragraph = None;
            }
            continue;
        }
        if let Some(section) = line.strip_prefix("## ") {
            outline.sections.push(section.trim().to_owned());
            steps_done |= !outline.steps.is_empty();
        } else if let Some(step) = numbered_item(line) {
            if !steps_done {
                outline.steps.push(step.to_owned());
            }
        } else if !line.trim().is_empty() {
            steps_done |= !outline.steps.is_empty();
        }
    }
    if let Some(lines) = paragraph.filter(|l| !l.is_empty()) {
        outline.description = lines.join(" ");
    }
    outline
}

/// `1. text` → `text`.
fn numbered_item(line: &str) -> Option<&str> {
    let (number, rest) = line.split_once(". ")?;
    (!number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())).then_some(rest.trim())
}

/// The page's lines, each code block's lines as `None`.
fn prose_lines(text: &str) -> impl Iterator<Item = Option<&str>> {
    let mut in_code = false;
    text.lines().map(move |line| {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            return None;
        }
        (!in_code).then_some(line)
    })
}

/// The page with every heading one level down (`#` → `##`), for the
/// whole reference in one document.
pub fn demoted(text: &str) -> String {
    let mut in_code = false;
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        }
        if !in_code && line.starts_with('#') {
            out.push('#');
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outline_skips_code_blocks() {
        let page = "# Title\n\nThe description\nin two lines.\n\n## First\n\n```bash\n## not a heading\n1. not a step\n```\n\n1. one\n2. two\n\n3. three\n\n## Second\n\n1. another list\n";
        assert_eq!(
            outline(page),
            Outline {
                title: "Title".into(),
                description: "The description in two lines.".into(),
                sections: vec!["First".into(), "Second".into()],
                steps: vec!["one".into(), "two".into(), "three".into()],
            }
        );
        assert_eq!(demoted("# A\n```\n# b\n```\n## C\n"), "## A\n```\n# b\n```\n### C\n");
    }

    #[test]
    fn every_page_has_a_title_a_description_and_sections() {
        for topic in TOPICS {
            for lang in Lang::ALL {
                let o = outline(topic.text(lang));
                assert!(!o.title.is_empty() && !o.description.is_empty(), "{} {lang:?}", topic.id);
                assert!(!o.sections.is_empty(), "{} {lang:?} has no ## sections", topic.id);
            }
        }
    }
}
