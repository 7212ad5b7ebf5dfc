//! Duplicate detection within blocks of entities of one kind, and link suggestions across kinds.

use std::collections::{BTreeMap, BTreeSet};

use rphonetic::DoubleMetaphone;

use super::{DuplicateSuggestion, EnrichStats, LinkSuggestion, MAX_BLOCK_SIZE, NormalizedEntity};
use crate::ComputeError;
use crate::progress::Progress;

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
    for (identifier, x, y, weight) in [
        ("date_of_birth", &a.date_of_birth, &b.date_of_birth, 0.6),
        ("registration", &a.registration, &b.registration, 0.95),
    ] {
        match (x, y) {
            (Some(x), Some(y)) if x == y => {
                weights.push(weight);
                reasons.push(format!("same_{identifier}:{x}"));
            }
            (Some(_), Some(_)) => {
                cap = cap.min(0.3);
                reasons.push(format!("different_{identifier}"));
            }
            _ => {}
        }
    }
    if similarity < 0.6 {
        // Shared contact details with different names are a relationship, not the same entity.
        cap = cap.min(0.5);
        reasons.push("names_differ".to_owned());
    }
    (round(combine(&weights).min(cap)), reasons)
}

pub(super) fn find_duplicates(
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

pub(super) fn find_links(
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
