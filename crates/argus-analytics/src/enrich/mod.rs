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

mod matching;
mod normalize;

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ComputeError;
use crate::progress::Progress;
pub use matching::name_similarity;
use matching::{find_duplicates, find_links};
use normalize::normalize;
pub use normalize::{display_name, name_key, normalize_address, normalize_date};
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::normalize::normalize_phone;
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
