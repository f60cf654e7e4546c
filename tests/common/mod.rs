//! Helpers shared by the integration tests that compare store states and archives.

#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::fs;
use std::path::Path;

/// Everything in a store directory (names only, recursively): what "unchanged" means.
/// Lock files are left out: they are empty coordination files that hold no store data
/// and are kept for reuse (removing them would race with other builders).
pub fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "lock") {
                continue;
            }
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() && !p.is_symlink() {
                todo.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The sha256 of a file, as hex.
pub fn sha(path: &Path) -> String {
    Sha256::digest(fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
