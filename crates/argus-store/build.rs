//! A digest of the migrations' SQL, for the test template's name (see
//! `src/testing.rs`): a template must be rebuilt when a migration's content
//! changes, not only when one is added, and diesel's embedded migrations
//! expose their names but not their SQL.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

fn files_under(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, found);
        } else {
            found.push(path);
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    let mut files = Vec::new();
    files_under(Path::new("migrations"), &mut files);
    files.sort();
    let mut digest = DefaultHasher::new();
    for file in &files {
        file.hash(&mut digest);
        std::fs::read(file).unwrap_or_default().hash(&mut digest);
    }
    println!("cargo:rustc-env=ARGUS_MIGRATIONS_DIGEST={:016x}", digest.finish());
}
