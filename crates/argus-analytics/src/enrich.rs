//! `intelligence.enrich.bulk`: normalise names, phone numbers, e-mail addresses, addresses and dates of birth,
//! find likely duplicates and suggest links, each with a score in 0..1 and the reasons for it.
//!
//! * Names: NFKC (`unicode-normalization`), whitespace collapsed, "Last, First" turned into "First Last" for
//!   people; the matching key is also transliterated to ASCII (`deunicode`, which strips diacritics), lower-cased
//!   and stripped of punctuation (and of legal suffixes such as "Ltd" for organisations).
//! * Phone numbers: parsed with `phonenumber` (libphonenumber's metadata), kept when valid, as E.164. Numbers
//!   without an international prefix are read in the entity's `country` attribute (ISO 3166-1 alpha-2) if it has
//!   one, else in the input's `default_region`, else in [`DEFAULT_REGION`].
//! * E-mail addresses: checked with `email_address`, lower-cased (the local part is case-sensitive in theory,
//!   not in practice).
//! * Addresses: ASCII-folded, lower-cased, punctuation removed, common abbreviations expanded ("St" → "street"
//!   or "saint", "Rd" → "road"...).
//! * Dates of birth: ISO 8601 from the common written forms (day/month order by region for `01/02/1980`).
//!
//! Duplicates are only looked for among entities of the same kind that share a blocking key (the Double Metaphone
//! code of the name, a phone number, an e-mail address, an address, a registration), so the work grows with the
//! size of the blocks rather than with n². Links are suggested between entities of different kinds that share
//! a phone number, an e-mail address or an address. The output order is deterministic: score descending, then ids.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::ControlFlow;
use std::str::FromStr;

use chrono::NaiveDate;
use rphonetic::DoubleMetaphone;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use unicode_normalization::UnicodeNormalization;

use crate::ComputeError;
use crate::progress::Progress;
// The input is the domain's: the API checks it without linking this crate.
pub use argus_domain::jobs::enrich::{EnrichInput, MAX_ENTITY_IDS, MAX_SUGGESTIONS};

/// Region for phone numbers written without an international prefix when neither the entity's `country` nor the
/// input's `default_region` says otherwise. US is libphonenumber's customary default; tenants elsewhere should
/// set `default_region`.
pub const DEFAULT_REGION: &str = "US";
/// Default threshold for duplicate suggestions.
pub const DEFAULT_MIN_SCORE: f64 = 0.75;
/// Default threshold for link suggestions.
pub const DEFAULT_MIN_LINK_SCORE: f64 = 0.5;
/// Default cap on each suggestion list.
pub const DEFAULT_MAX_SUGGESTIONS: usize = 1_000;
/// Blocks (entities sharing a key) larger than this are skipped: a key shared by hundreds of entities (a
/// switchboard number, a very common name) says little, and comparing all of their pairs is quadratic.
pub const MAX_BLOCK_SIZE: usize = 200;

/// The region phone numbers without an international prefix are read in:
/// the input's `default_region`, else [`DEFAULT_REGION`].
fn region(input: &EnrichInput) -> phonenumber::country::Id {
    input
        .default_region
        .as_deref()
        .and_then(parse_region)
        .or_else(|| parse_region(DEFAULT_REGION))
        .unwrap_or(phonenumber::country::Id::US)
}

fn parse_region(code: &str) -> Option<phonenumber::country::Id> {
    let code = code.trim();
    if code.len() != 2 || !code.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    phonenumber::country::Id::from_str(&code.to_ascii_uppercase()).ok()
}

/// An entity as loaded from the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityRecord {
    pub id: String,
    /// "person", "organisation", "vehicle", "location" (others are normalised and deduplicated the same way).
    pub kind: String,
    pub name: String,
    pub attributes: Map<String, Value>,
}

/// An entity's normalised values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NormalizedEntity {
    pub id: String,
    pub kind: String,
    /// NFKC, whitespace collapsed, "Last, First" as "First Last" for people.
    pub name: String,
    /// The matching form: ASCII, lower case, no punctuation (no legal suffix for organisations).
    pub name_key: String,
    /// Valid numbers in E.164, sorted.
    pub phones: Vec<String>,
    pub emails: Vec<String>,
    pub addresses: Vec<String>,
    /// ISO 8601.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<String>,
    /// Vehicle registration, upper case without spaces or punctuation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration: Option<String>,
    /// Values that could not be normalised, e.g. `invalid_phone:12345`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub issues: Vec<String>,
}

/// Two entities of the same kind that are probably the same.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuplicateSuggestion {
    /// In input order.
    pub entity_ids: [String; 2],
    pub kind: String,
    pub score: f64,
    /// E.g. `["name_similarity:0.96", "same_phone:+442079460000"]`.
    pub reasons: Vec<String>,
}

/// A relationship worth adding between two entities of different kinds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkSuggestion {
    pub source_id: String,
    pub target_id: String,
    pub source_kind: String,
    pub target_kind: String,
    /// A relationship kind to propose: `resides_at` (person → location by address), `located_at`
    /// (organisation → location by address), otherwise `associated_with`.
    pub suggested_kind: String,
    pub score: f64,
    /// E.g. `["shared_address:221b baker street london"]`.
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EnrichStats {
    pub entities: usize,
    pub compared_pairs: usize,
    /// Blocking keys shared by more than [`MAX_BLOCK_SIZE`] entities, not compared.
    pub skipped_blocks: usize,
    /// Suggestions dropped by `max_suggestions`.
    pub truncated_duplicates: usize,
    pub truncated_links: usize,
}

/// The job result of `intelligence.enrich.bulk`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnrichOutput {
    pub normalized: Vec<NormalizedEntity>,
    pub duplicates: Vec<DuplicateSuggestion>,
    pub links: Vec<LinkSuggestion>,
    pub stats: EnrichStats,
}

/// Normalises `entities`, then suggests duplicates and links. `progress` is called with 0.0..=1.0 between
/// steps; returning `ControlFlow::Break(())` stops with [`ComputeError::Cancelled`]. If the input lists
/// `entity_ids`, each must be among `entities` ([`ComputeError::UnknownEntity`] otherwise) and only those are
/// used; `entity_kinds` filters the same way.
pub fn enrich(
    entities: &[EntityRecord],
    input: &EnrichInput,
    progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
) -> Result<EnrichOutput, ComputeError> {
    input.validate()?;
    let mut progress = Progress::new(progress);
    progress.report(0.0)?;

    let selected = select(entities, input)?;
    let region = region(input);
    let min_score = input.min_score.unwrap_or(DEFAULT_MIN_SCORE);
    let min_link_score = input.min_link_score.unwrap_or(DEFAULT_MIN_LINK_SCORE);
    let max_suggestions = input.max_suggestions.unwrap_or(DEFAULT_MAX_SUGGESTIONS);

    progress.phase(0.0, 0.4);
    let mut normalized = Vec::with_capacity(selected.len());
    for (i, e) in selected.iter().enumerate() {
        normalized.push(normalize(e, region));
        if i % 1024 == 1023 {
            progress.report(i as f64 / selected.len() as f64)?;
        }
    }

    let mut stats = EnrichStats { entities: normalized.len(), ..EnrichStats::default() };
    progress.phase(0.4, 0.4);
    let mut duplicates = find_duplicates(&normalized, min_score, &mut stats, &mut progress)?;
    progress.phase(0.8, 0.2);
    let mut links = find_links(&normalized, min_link_score, &mut stats, &mut progress)?;

    stats.truncated_duplicates = duplicates.len().saturating_sub(max_suggestions);
    duplicates.truncate(max_suggestions);
    stats.truncated_links = links.len().saturating_sub(max_suggestions);
    links.truncate(max_suggestions);
    progress.phase(0.0, 1.0);
    progress.report(1.0)?;
    Ok(EnrichOutput { normalized, duplicates, links, stats })
}

fn select<'a>(entities: &'a [EntityRecord], input: &EnrichInput) -> Result<Vec<&'a EntityRecord>, ComputeError> {
    let kinds: Option<HashSet<&str>> = input.entity_kinds().map(|k| k.iter().map(String::as_str).collect());
    let kind_ok = |e: &EntityRecord| kinds.as_ref().is_none_or(|k| k.contains(e.kind.as_str()));
    match input.entity_ids() {
        None => Ok(entities.iter().filter(|e| kind_ok(e)).collect()),
        Some(ids) => {
            let by_id: HashMap<&str, &EntityRecord> = entities.iter().map(|e| (e.id.as_str(), e)).collect();
            let mut seen = HashSet::new();
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let e = by_id.get(id.as_str()).ok_or_else(|| ComputeError::UnknownEntity(id.clone()))?;
                if seen.insert(id.as_str()) && kind_ok(e) {
                    out.push(*e);
                }
            }
            Ok(out)
        }
    }
}

// --- normalisation ---------------------------------------------------------------------------------------

const PHONE_KEYS: &[&str] = &["phone", "phones", "phone_number", "telephone", "mobile"];
const EMAIL_KEYS: &[&str] = &["email", "emails", "email_address"];
const ADDRESS_KEYS: &[&str] = &["address", "addresses"];
const DOB_KEYS: &[&str] = &["date_of_birth", "dob", "birth_date"];
const REGISTRATION_KEYS: &[&str] = &["registration", "registration_number", "plate"];

/// Strings under the given attribute keys: a string, an array of strings, or (for addresses) an object whose
/// string values are joined in order.
fn attribute_strings(attributes: &Map<String, Value>, keys: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for key in keys {
        match attributes.get(*key) {
            Some(Value::String(s)) => out.push(s.clone()),
            Some(Value::Array(items)) => out.extend(items.iter().filter_map(|v| v.as_str().map(str::to_owned))),
            Some(Value::Object(fields)) => {
                let joined: Vec<&str> = fields.values().filter_map(Value::as_str).collect();
                out.push(joined.join(", "));
            }
            _ => {}
        }
    }
    out.retain(|s| !s.trim().is_empty());
    out
}

fn normalize(e: &EntityRecord, default_region: phonenumber::country::Id) -> NormalizedEntity {
    let mut issues = Vec::new();
    let name = display_name(&e.kind, &e.name);
    let name_key = name_key(&e.kind, &name);

    let region = e.attributes.get("country").and_then(Value::as_str).and_then(parse_region).unwrap_or(default_region);
    let mut phones = BTreeSet::new();
    for raw in attribute_strings(&e.attributes, PHONE_KEYS) {
        match normalize_phone(&raw, region) {
            Some(p) => {
                phones.insert(p);
            }
            None => issues.push(format!("invalid_phone:{raw}")),
        }
    }
    let mut emails = BTreeSet::new();
    for raw in attribute_strings(&e.attributes, EMAIL_KEYS) {
        let trimmed = raw.trim();
        if email_address::EmailAddress::is_valid(trimmed) {
            emails.insert(trimmed.to_lowercase());
        } else {
            issues.push(format!("invalid_email:{raw}"));
        }
    }
    let mut addresses: BTreeSet<String> =
        attribute_strings(&e.attributes, ADDRESS_KEYS).iter().filter_map(|a| normalize_address(a)).collect();
    // A location's name is often its address.
    if e.kind == "location"
        && addresses.is_empty()
        && let Some(a) = normalize_address(&e.name)
    {
        addresses.insert(a);
    }
    let date_of_birth = attribute_strings(&e.attributes, DOB_KEYS).first().and_then(|raw| {
        let parsed = normalize_date(raw, region == phonenumber::country::Id::US);
        if parsed.is_none() {
            issues.push(format!("unparsed_date_of_birth:{raw}"));
        }
        parsed
    });
    let registration = attribute_strings(&e.attributes, REGISTRATION_KEYS).first().and_then(|raw| {
        let r: String = raw.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect();
        (!r.is_empty()).then_some(r)
    });
    NormalizedEntity {
        id: e.id.clone(),
        kind: e.kind.clone(),
        name,
        name_key,
        phones: phones.into_iter().collect(),
        emails: emails.into_iter().collect(),
        addresses: addresses.into_iter().collect(),
        date_of_birth,
        registration,
        issues,
    }
}

fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// NFKC, whitespace collapsed; for people "Last, First" becomes "First Last".
pub fn display_name(kind: &str, raw: &str) -> String {
    let name = collapse_whitespace(&raw.nfkc().collect::<String>());
    if kind == "person"
        && let Some((last, first)) = name.split_once(',')
        && !first.contains(',')
    {
        let (last, first) = (last.trim(), first.trim());
        if !last.is_empty() && !first.is_empty() {
            return format!("{first} {last}");
        }
    }
    name
}

/// Legal-form suffixes dropped from organisation names before matching ("Acme Ltd" = "ACME Limited").
const LEGAL_SUFFIXES: &[&str] = &[
    "ltd",
    "limited",
    "inc",
    "incorporated",
    "llc",
    "llp",
    "plc",
    "gmbh",
    "ag",
    "sa",
    "sarl",
    "bv",
    "nv",
    "corp",
    "corporation",
    "co",
    "company",
    "pty",
    "srl",
    "spa",
    "oy",
    "ab",
    "as",
];

/// ASCII (diacritics stripped by `deunicode`), lower case, punctuation as spaces, whitespace collapsed.
pub fn name_key(kind: &str, display: &str) -> String {
    let folded = deunicode::deunicode(display).to_lowercase();
    // Apostrophes join ("O'Brien" = "OBrien"); other punctuation separates.
    let cleaned: String =
        folded.chars().filter(|&c| c != '\'').map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' }).collect();
    let mut tokens: Vec<&str> = cleaned.split_whitespace().collect();
    if kind == "organisation" || kind == "organization" {
        let kept: Vec<&str> = tokens.iter().copied().filter(|t| !LEGAL_SUFFIXES.contains(t)).collect();
        if !kept.is_empty() {
            tokens = kept;
        }
    }
    tokens.join(" ")
}

/// E.164 if `raw` is a valid number (read in `region` when it has no international prefix).
pub(crate) fn normalize_phone(raw: &str, region: phonenumber::country::Id) -> Option<String> {
    let number = phonenumber::parse(Some(region), raw.trim()).ok()?;
    phonenumber::is_valid(&number).then(|| number.format().mode(phonenumber::Mode::E164).to_string())
}

// No maintained pure-Rust address normaliser exists (the libpostal bindings need the C library and a 2 GB
// model), so this is a small table of the common English street-type and unit abbreviations.
const ADDRESS_ABBREVIATIONS: &[(&str, &str)] = &[
    ("rd", "road"),
    ("ave", "avenue"),
    ("av", "avenue"),
    ("blvd", "boulevard"),
    ("ln", "lane"),
    ("dr", "drive"),
    ("ct", "court"),
    ("pl", "place"),
    ("sq", "square"),
    ("ter", "terrace"),
    ("terr", "terrace"),
    ("cres", "crescent"),
    ("cl", "close"),
    ("gdns", "gardens"),
    ("gro", "grove"),
    ("hwy", "highway"),
    ("pkwy", "parkway"),
    ("cir", "circle"),
    ("mt", "mount"),
    ("ft", "fort"),
    ("apt", "apartment"),
    ("ste", "suite"),
    ("fl", "floor"),
    ("bldg", "building"),
    ("n", "north"),
    ("s", "south"),
    ("e", "east"),
    ("w", "west"),
    ("ne", "northeast"),
    ("nw", "northwest"),
    ("se", "southeast"),
    ("sw", "southwest"),
];

/// ASCII, lower case, punctuation removed, abbreviations expanded, one space between tokens. "St" is "street"
/// at the end of a comma-separated part ("Downing St") and "saint" elsewhere ("St Johns Road").
pub fn normalize_address(raw: &str) -> Option<String> {
    let folded = deunicode::deunicode(&raw.nfkc().collect::<String>()).to_lowercase();
    let mut tokens: Vec<String> = Vec::new();
    for part in folded.split([',', '\n', ';']) {
        // Apostrophes join ("St John's" = "St Johns"); other punctuation separates.
        let cleaned: String = part
            .chars()
            .filter(|&c| c != '\'')
            .map(|c| if c.is_ascii_alphanumeric() || c == '&' { c } else { ' ' })
            .collect();
        let words: Vec<&str> = cleaned.split_whitespace().collect();
        for (i, word) in words.iter().enumerate() {
            let last = i + 1 == words.len();
            let expanded = match *word {
                "&" => "and",
                "st" | "str" if last => "street",
                "st" => "saint",
                w => ADDRESS_ABBREVIATIONS.iter().find(|(a, _)| *a == w).map_or(w, |(_, full)| *full),
            };
            tokens.push(expanded.to_owned());
        }
    }
    (!tokens.is_empty()).then(|| tokens.join(" "))
}

/// ISO 8601 from the usual written forms; `month_first` reads `01/02/1980` as January 2 (US) rather than 1
/// February.
pub fn normalize_date(raw: &str, month_first: bool) -> Option<String> {
    let raw = raw.trim();
    let slash = if month_first { ["%m/%d/%Y", "%m-%d-%Y"] } else { ["%d/%m/%Y", "%d-%m-%Y"] };
    let formats = ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%d.%m.%Y", "%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y"];
    // A timestamp ("1980-02-01T00:00:00Z") counts by its date.
    let date_part = raw.get(..10).filter(|_| raw.len() > 10 && raw.as_bytes().get(10) == Some(&b'T')).unwrap_or(raw);
    formats
        .iter()
        .chain(slash.iter())
        .find_map(|f| NaiveDate::parse_from_str(date_part, f).ok())
        .map(|d| d.format("%Y-%m-%d").to_string())
}

// --- duplicates ------------------------------------------------------------------------------------------

/// Mean of Jaro-Winkler and normalised Levenshtein (JW alone forgives different endings too easily), the
/// better of the names as written and with their words sorted ("smith john" = "john smith").
pub fn name_similarity(a: &str, b: &str) -> f64 {
    fn sim(a: &str, b: &str) -> f64 {
        (strsim::jaro_winkler(a, b) + strsim::normalized_levenshtein(a, b)) / 2.0
    }
    fn sorted(s: &str) -> String {
        let mut words: Vec<&str> = s.split_whitespace().collect();
        words.sort_unstable();
        words.join(" ")
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    sim(a, b).max(sim(&sorted(a), &sorted(b)))
}

fn blocking_keys(e: &NormalizedEntity, metaphone: &DoubleMetaphone) -> Vec<String> {
    let mut keys = Vec::new();
    let mut codes: Vec<String> = e
        .name_key
        .split_whitespace()
        .map(|w| metaphone.double_metaphone(w).primary())
        .filter(|c| !c.is_empty())
        .collect();
    if !codes.is_empty() {
        codes.sort_unstable();
        keys.push(format!("{}|name|{}", e.kind, codes.join(" ")));
    }
    keys.extend(e.phones.iter().map(|p| format!("{}|phone|{p}", e.kind)));
    keys.extend(e.emails.iter().map(|m| format!("{}|email|{m}", e.kind)));
    keys.extend(e.addresses.iter().map(|a| format!("{}|address|{a}", e.kind)));
    keys.extend(e.registration.iter().map(|r| format!("{}|registration|{r}", e.kind)));
    keys
}

fn combine(weights: &[f64]) -> f64 {
    1.0 - weights.iter().fold(1.0, |acc, w| acc * (1.0 - w))
}

fn round(score: f64) -> f64 {
    (score * 10_000.0).round() / 10_000.0
}

fn first_shared<'a>(a: &'a [String], b: &[String]) -> Option<&'a String> {
    a.iter().find(|x| b.contains(x))
}

/// Scores a pair of entities of the same kind: each piece of evidence has a weight, combined as independent
/// evidence (1 - Π(1 - w)); a conflicting date of birth or registration, or clearly different names, cap it.
fn score_pair(a: &NormalizedEntity, b: &NormalizedEntity) -> (f64, Vec<String>) {
    let mut weights = Vec::new();
    let mut reasons = Vec::new();
    let similarity = name_similarity(&a.name_key, &b.name_key);
    reasons.push(format!("name_similarity:{similarity:.2}"));
    if similarity >= 0.85 {
        // 0.85 → 0, identical → 0.7: a name alone never reaches the default threshold.
        weights.push(0.7 * (similarity - 0.85) / 0.15);
    }
    if let Some(p) = first_shared(&a.phones, &b.phones) {
        weights.push(0.8);
        reasons.push(format!("same_phone:{p}"));
    }
    if let Some(m) = first_shared(&a.emails, &b.emails) {
        weights.push(0.9);
        reasons.push(format!("same_email:{m}"));
    }
    if let Some(addr) = first_shared(&a.addresses, &b.addresses) {
        weights.push(0.5);
        reasons.push(format!("same_address:{addr}"));
    }
    let mut cap: f64 = 1.0;
    match (&a.date_of_birth, &b.date_of_birth) {
        (Some(x), Some(y)) if x == y => {
            weights.push(0.6);
            reasons.push(format!("same_date_of_birth:{x}"));
        }
        (Some(_), Some(_)) => {
            cap = cap.min(0.3);
            reasons.push("different_date_of_birth".to_owned());
        }
        _ => {}
    }
    match (&a.registration, &b.registration) {
        (Some(x), Some(y)) if x == y => {
            weights.push(0.95);
            reasons.push(format!("same_registration:{x}"));
        }
        (Some(_), Some(_)) => {
            cap = cap.min(0.3);
            reasons.push("different_registration".to_owned());
        }
        _ => {}
    }
    if similarity < 0.6 {
        // Shared contact details with different names are a relationship, not the same entity.
        cap = cap.min(0.5);
        reasons.push("names_differ".to_owned());
    }
    (round(combine(&weights).min(cap)), reasons)
}

fn find_duplicates(
    entities: &[NormalizedEntity],
    min_score: f64,
    stats: &mut EnrichStats,
    progress: &mut Progress<'_>,
) -> Result<Vec<DuplicateSuggestion>, ComputeError> {
    let metaphone = DoubleMetaphone::default();
    let mut blocks: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, e) in entities.iter().enumerate() {
        for key in blocking_keys(e, &metaphone) {
            blocks.entry(key).or_default().push(i);
        }
    }
    let mut pairs: BTreeSet<(usize, usize)> = BTreeSet::new();
    for members in blocks.values() {
        if members.len() > MAX_BLOCK_SIZE {
            stats.skipped_blocks += 1;
            continue;
        }
        for (x, &i) in members.iter().enumerate() {
            for &j in &members[x + 1..] {
                if i != j {
                    pairs.insert((i.min(j), i.max(j)));
                }
            }
        }
    }
    stats.compared_pairs = pairs.len();
    let total = pairs.len().max(1) as f64;
    let mut out = Vec::new();
    for (n, (i, j)) in pairs.into_iter().enumerate() {
        let (a, b) = (&entities[i], &entities[j]);
        let (score, reasons) = score_pair(a, b);
        if score >= min_score && score > 0.0 {
            out.push(DuplicateSuggestion {
                entity_ids: [a.id.clone(), b.id.clone()],
                kind: a.kind.clone(),
                score,
                reasons,
            });
        }
        if n % 4096 == 4095 {
            progress.report(n as f64 / total)?;
        }
    }
    out.sort_by(|x, y| y.score.total_cmp(&x.score).then_with(|| x.entity_ids.cmp(&y.entity_ids)));
    Ok(out)
}

// --- links -----------------------------------------------------------------------------------------------

fn suggested_kind(source_kind: &str, target_kind: &str, by_address: bool) -> &'static str {
    match (source_kind, target_kind) {
        ("person", "location") if by_address => "resides_at",
        ("organisation" | "organization", "location") if by_address => "located_at",
        _ => "associated_with",
    }
}

fn find_links(
    entities: &[NormalizedEntity],
    min_score: f64,
    stats: &mut EnrichStats,
    progress: &mut Progress<'_>,
) -> Result<Vec<LinkSuggestion>, ComputeError> {
    // Identifier → entities, across kinds.
    let mut groups: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    for (i, e) in entities.iter().enumerate() {
        for p in &e.phones {
            groups.entry(("shared_phone", p)).or_default().push(i);
        }
        for m in &e.emails {
            groups.entry(("shared_email", m)).or_default().push(i);
        }
        for a in &e.addresses {
            groups.entry(("shared_address", a)).or_default().push(i);
        }
    }
    let mut evidence: BTreeMap<(usize, usize), Vec<(f64, String)>> = BTreeMap::new();
    for ((what, value), members) in &groups {
        if members.len() > MAX_BLOCK_SIZE {
            stats.skipped_blocks += 1;
            continue;
        }
        let weight = match *what {
            "shared_email" => 0.8,
            "shared_phone" => 0.7,
            _ => 0.6,
        };
        for (x, &i) in members.iter().enumerate() {
            for &j in &members[x + 1..] {
                if entities[i].kind != entities[j].kind {
                    evidence.entry((i.min(j), i.max(j))).or_default().push((weight, format!("{what}:{value}")));
                }
            }
        }
    }
    progress.report(0.5)?;
    let mut out = Vec::new();
    for ((i, j), items) in evidence {
        let weights: Vec<f64> = items.iter().map(|(w, _)| *w).collect();
        let score = round(combine(&weights));
        if score < min_score {
            continue;
        }
        // Point at the location when there is one, otherwise keep input order.
        let (s, t) = if entities[i].kind == "location" { (j, i) } else { (i, j) };
        let by_address = items.iter().any(|(_, r)| r.starts_with("shared_address:"));
        let (source, target) = (&entities[s], &entities[t]);
        out.push(LinkSuggestion {
            source_id: source.id.clone(),
            target_id: target.id.clone(),
            source_kind: source.kind.clone(),
            target_kind: target.kind.clone(),
            suggested_kind: suggested_kind(&source.kind, &target.kind, by_address).to_owned(),
            score,
            reasons: items.into_iter().map(|(_, r)| r).collect(),
        });
    }
    out.sort_by(|x, y| {
        y.score.total_cmp(&x.score).then_with(|| (&x.source_id, &x.target_id).cmp(&(&y.source_id, &y.target_id)))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_domain_knows_exactly_the_regions_phonenumber_reads() {
        for r in argus_domain::jobs::enrich::PHONE_REGIONS {
            assert!(parse_region(r).is_some(), "{r}");
        }
        for a in 'A'..='Z' {
            for b in 'A'..='Z' {
                let code = format!("{a}{b}");
                assert_eq!(
                    parse_region(&code).is_some(),
                    argus_domain::jobs::enrich::phone_region(&code).is_some(),
                    "{code}"
                );
            }
        }
    }

    fn entity(id: &str, kind: &str, name: &str, attributes: Value) -> EntityRecord {
        let Value::Object(attributes) = attributes else { panic!("attributes must be an object") };
        EntityRecord { id: id.into(), kind: kind.into(), name: name.into(), attributes }
    }

    fn run(entities: &[EntityRecord], input: Value) -> EnrichOutput {
        let input = EnrichInput::from_json(input).unwrap();
        enrich(entities, &input, &mut |_| ControlFlow::Continue(())).unwrap()
    }

    fn duplicate<'a>(out: &'a EnrichOutput, a: &str, b: &str) -> Option<&'a DuplicateSuggestion> {
        out.duplicates.iter().find(|d| d.entity_ids == [a.to_owned(), b.to_owned()])
    }

    #[test]
    fn phone_formats_normalise_to_one_e164_and_make_a_duplicate() {
        let entities = [
            entity("ent_1", "person", "John Smith", json!({"phone": "020 7946 0000"})),
            entity("ent_2", "person", "Jon Smith", json!({"phone": "+44 (0)20-7946-0000"})),
            entity("ent_3", "person", "John Smith", json!({"phones": ["0044 20 7946 0000", "not a number"]})),
        ];
        let out = run(&entities, json!({"default_region": "GB"}));
        for n in &out.normalized {
            assert_eq!(n.phones, ["+442079460000"], "{}", n.id);
        }
        assert_eq!(out.normalized[2].issues, ["invalid_phone:not a number"]);
        let d = duplicate(&out, "ent_1", "ent_2").expect("duplicate by phone");
        assert!(d.score >= DEFAULT_MIN_SCORE, "{d:?}");
        assert!(d.reasons.contains(&"same_phone:+442079460000".to_owned()), "{:?}", d.reasons);
        assert!(d.reasons[0].starts_with("name_similarity:0.9"), "{:?}", d.reasons);
        assert_eq!(d.kind, "person");
    }

    #[test]
    fn default_region_decides_national_numbers_and_country_overrides_it() {
        let us = region(&EnrichInput::default());
        assert_eq!(normalize_phone("(201) 555-0123", us).as_deref(), Some("+12015550123"));
        let entities = [entity("ent_1", "person", "A", json!({"phone": "020 7946 0000", "country": "gb"}))];
        assert_eq!(run(&entities, json!({})).normalized[0].phones, ["+442079460000"]);
    }

    #[test]
    fn last_first_and_case_and_spacing_variants_match() {
        assert_eq!(display_name("person", "Smith,  John"), "John Smith");
        assert_eq!(display_name("organisation", "Smith, Jones & Co"), "Smith, Jones & Co");
        let a = name_key("person", &display_name("person", "Smith, John"));
        let b = name_key("person", &display_name("person", "john  SMITH"));
        assert_eq!(a, "john smith");
        assert_eq!(a, b);
        let entities = [
            entity("ent_1", "person", "Smith, John", json!({"date_of_birth": "1980-02-01"})),
            entity("ent_2", "person", "john  SMITH", json!({"date_of_birth": "01/02/1980"})),
        ];
        let out = run(&entities, json!({"default_region": "GB"}));
        let d = duplicate(&out, "ent_1", "ent_2").expect("same name and date of birth");
        assert_eq!(d.reasons, ["name_similarity:1.00", "same_date_of_birth:1980-02-01"]);
        assert!(d.score > 0.85, "{d:?}");
    }

    #[test]
    fn diacritics_are_stripped_for_matching_but_kept_for_display() {
        assert_eq!(display_name("person", "José  Müller"), "José Müller");
        assert_eq!(name_key("person", "José Müller"), "jose muller");
        assert_eq!(name_key("person", "Seán O’Brien"), name_key("person", "Sean OBrien"));
        // NFKC folds compatibility forms (the "ﬁ" ligature, full-width letters) first.
        assert_eq!(name_key("person", "Ｆrançois Deﬁnot"), "francois definot");
        assert_eq!(name_similarity(&name_key("person", "Zoë Brontë"), &name_key("person", "zoe bronte")), 1.0);
    }

    #[test]
    fn organisation_legal_suffixes_do_not_prevent_a_match() {
        assert_eq!(name_key("organisation", "ACME Trading Ltd."), name_key("organisation", "Acme Trading Limited"));
        let entities = [
            entity("ent_1", "organisation", "ACME Trading Ltd.", json!({"email": "Info@Acme.example"})),
            entity("ent_2", "organisation", "Acme Trading Limited", json!({"email": "info@acme.example"})),
        ];
        let out = run(&entities, json!({}));
        let d = duplicate(&out, "ent_1", "ent_2").unwrap();
        assert!(d.reasons.contains(&"same_email:info@acme.example".to_owned()));
    }

    #[test]
    fn addresses_expand_abbreviations() {
        assert_eq!(normalize_address("10 Downing St., London").as_deref(), Some("10 downing street london"));
        assert_eq!(normalize_address("10  downing street,LONDON").as_deref(), Some("10 downing street london"));
        assert_eq!(normalize_address("5 St. John's Rd").as_deref(), Some("5 saint johns road"));
        assert_eq!(
            normalize_address("1600 Pennsylvania Ave NW").as_deref(),
            Some("1600 pennsylvania avenue northwest")
        );
        assert_eq!(normalize_address("Flat 2, 3 Rue de l'Église").as_deref(), Some("flat 2 3 rue de leglise"));
        assert_eq!(normalize_address(" ,; "), None);
    }

    #[test]
    fn dates_of_birth_are_iso() {
        assert_eq!(normalize_date("01/02/1980", false).as_deref(), Some("1980-02-01"));
        assert_eq!(normalize_date("01/02/1980", true).as_deref(), Some("1980-01-02"));
        assert_eq!(normalize_date("1 February 1980", false).as_deref(), Some("1980-02-01"));
        assert_eq!(normalize_date("1980-02-01T00:00:00Z", false).as_deref(), Some("1980-02-01"));
        assert_eq!(normalize_date("sometime in 1980", false), None);
    }

    #[test]
    fn different_people_with_different_data_are_not_duplicates() {
        let entities = [
            entity(
                "ent_1",
                "person",
                "John Smith",
                json!({"phone": "+44 20 7946 0000", "date_of_birth": "1980-02-01"}),
            ),
            entity("ent_2", "person", "Jon Smyth", json!({"phone": "+44 20 7946 0999", "date_of_birth": "1975-07-12"})),
            entity("ent_3", "person", "Jane Doe", json!({"email": "jane@example.com"})),
            entity("ent_4", "person", "Peter Jones", json!({"email": "peter@example.com"})),
        ];
        let out = run(&entities, json!({"min_score": 0.3}));
        assert!(out.duplicates.is_empty(), "{:?}", out.duplicates);
        // Smith/Smyth share a phonetic block and were compared; the dates of birth kept them apart.
        assert!(out.stats.compared_pairs >= 1);
    }

    #[test]
    fn shared_phone_with_a_different_name_is_not_a_duplicate() {
        let entities = [
            entity("ent_1", "person", "John Smith", json!({"phone": "+44 20 7946 0000"})),
            entity("ent_2", "person", "Mary Watson", json!({"phone": "+44 20 7946 0000"})),
        ];
        let out = run(&entities, json!({}));
        assert!(out.duplicates.is_empty(), "{:?}", out.duplicates);
    }

    #[test]
    fn vehicles_match_on_registration() {
        let entities = [
            entity("ent_1", "vehicle", "Ford Focus", json!({"registration": "ab12 cde"})),
            entity("ent_2", "vehicle", "Ford Focus", json!({"registration": "AB12-CDE"})),
            entity("ent_3", "vehicle", "Ford Focus", json!({"registration": "XY99 ZZZ"})),
        ];
        let out = run(&entities, json!({}));
        assert_eq!(out.duplicates.len(), 1, "{:?}", out.duplicates);
        assert!(out.duplicates[0].reasons.contains(&"same_registration:AB12CDE".to_owned()));
    }

    #[test]
    fn person_and_location_sharing_an_address_are_linked() {
        let entities = [
            entity("ent_p", "person", "Sherlock Holmes", json!({"address": "221B Baker St., London"})),
            entity("ent_l", "location", "221b Baker Street, London", json!({})),
            entity("ent_o", "organisation", "Holmes Consulting", json!({"phone": "+44 20 7946 0000"})),
            entity("ent_q", "person", "John Watson", json!({"phone": "020 7946 0000"})),
        ];
        let out = run(&entities, json!({"default_region": "GB"}));
        let home = out.links.iter().find(|l| l.source_id == "ent_p").unwrap();
        assert_eq!(home.target_id, "ent_l");
        assert_eq!(home.suggested_kind, "resides_at");
        assert_eq!(home.reasons, ["shared_address:221b baker street london"]);
        assert_eq!((home.source_kind.as_str(), home.target_kind.as_str()), ("person", "location"));
        let work = out.links.iter().find(|l| l.source_id == "ent_o").unwrap();
        assert_eq!(work.target_id, "ent_q");
        assert_eq!(work.suggested_kind, "associated_with");
        assert_eq!(work.reasons, ["shared_phone:+442079460000"]);
        assert!(out.duplicates.is_empty());
        // Sorted by score: the e-mail/phone/address weights decide.
        assert!(out.links.windows(2).all(|w| w[0].score >= w[1].score));
    }

    #[test]
    fn output_is_deterministic_and_serialises() {
        let entities: Vec<EntityRecord> = (0..40)
            .map(|i| {
                entity(
                    &format!("ent_{i:02}"),
                    "person",
                    &format!("Person {}", i % 5),
                    json!({"phone": format!("+44 20 7946 00{:02}", i % 7)}),
                )
            })
            .collect();
        let a = run(&entities, json!({"min_score": 0.5}));
        let mut reversed = entities.clone();
        reversed.reverse();
        let b = run(&reversed, json!({"min_score": 0.5}));
        assert!(!a.duplicates.is_empty());
        let sorted = |o: &EnrichOutput| {
            let mut d: Vec<(Vec<String>, u64)> = o
                .duplicates
                .iter()
                .map(|d| {
                    let mut ids = d.entity_ids.to_vec();
                    ids.sort();
                    (ids, d.score.to_bits())
                })
                .collect();
            d.sort();
            d
        };
        assert_eq!(sorted(&a), sorted(&b));
        assert_eq!(run(&entities, json!({"min_score": 0.5})), a);
        let json = serde_json::to_value(&a).unwrap();
        assert!(json["duplicates"][0]["reasons"].is_array());
        assert_eq!(json["stats"]["entities"], 40);
    }

    #[test]
    fn entity_ids_select_and_unknown_ids_fail() {
        let entities = [entity("ent_1", "person", "A", json!({})), entity("ent_2", "location", "B", json!({}))];
        let out = run(&entities, json!({"entity_ids": ["ent_2"]}));
        assert_eq!(out.normalized.len(), 1);
        let out = run(&entities, json!({"entity_kinds": ["person"]}));
        assert_eq!(out.normalized[0].id, "ent_1");
        let input = EnrichInput::from_json(json!({"entity_ids": ["ent_9"]})).unwrap();
        let err = enrich(&entities, &input, &mut |_| ControlFlow::Continue(())).unwrap_err();
        assert_eq!(err, ComputeError::UnknownEntity("ent_9".into()));
    }

    #[test]
    fn cancel_stops_the_job() {
        let entities = [entity("ent_1", "person", "A", json!({}))];
        let err = enrich(&entities, &EnrichInput::default(), &mut |_| ControlFlow::Break(())).unwrap_err();
        assert_eq!(err, ComputeError::Cancelled);
    }

    #[test]
    fn bad_input_is_rejected_with_a_clear_message() {
        let cases = [
            (json!({"default_region": "XX"}), "`default_region` must be an ISO 3166-1 alpha-2 region code"),
            (json!({"default_region": "GBR"}), "got \"GBR\""),
            (json!({"min_score": 1.5}), "`min_score` must be between 0 and 1, got 1.5"),
            (json!({"min_link_score": -0.1}), "`min_link_score` must be between 0 and 1"),
            (json!({"entity_ids": []}), "`entity_ids` must not be empty"),
            (json!({"entity_ids": ["ent_1", " "]}), "`entity_ids[1]` must not be empty"),
            (json!({"max_suggestions": 0}), "`max_suggestions` must be between 1 and 100000, got 0"),
            (json!({"region": "GB"}), "unknown field `region`"),
        ];
        for (value, expected) in cases {
            let message = EnrichInput::from_json(value.clone()).unwrap_err().to_string();
            assert!(message.contains(expected), "{value}: `{message}` lacks `{expected}`");
        }
        assert!(EnrichInput::from_json(json!({"default_region": "gb"})).is_ok());
    }
}
