//! Normalisation of names, phone numbers, e-mail addresses, addresses and dates of birth.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde_json::{Map, Value};
use unicode_normalization::UnicodeNormalization;

use super::{EntityRecord, NormalizedEntity, parse_region};

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

pub(super) fn normalize(e: &EntityRecord, default_region: phonenumber::country::Id) -> NormalizedEntity {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
